"""What `python -m week5_caption.caption` does: train and export; its parser and main.

The command line and docstring live in week5_caption/caption.py, which imports
this module only once TensorFlow has been imported quietly. evaluate and
predict are in caption_evaluate.py.
"""

import os

import keras
import tensorflow as tf

from common import lifecycle
from common.argtypes import count, input_path
from common.batching import ordered_batches, shuffled_batches
from common.cli import UsageError, add_input_limit_flag, add_run_flags, add_training_flags
from common.cli import command_parser
from common.configs import add_config_flags, config_from_args
from common.export import check_export_dir, save_servable
from common.image_encoders import add_encoder_flags, check_encoder, grid_features, is_frozen
from common.model_size import available_bytes, check_fits
from common.optimizers import DenseReplicaCheck, WholeBatchClipCheck
from common.runs import RunDir
from common.tokens import TokenVocab
from common.training import Progress
from week5_caption import caption_data, scene_world
from week5_caption.caption_config import PRESETS, CaptionConfig
from week5_caption.caption_model import build_caption_model, build_encoder, estimated_size
from week5_caption.caption_servable import DEFAULT_BEAM, CaptionServable

KIND = "caption"
MAX_BEAM = 64
DATASETS = (caption_data.COCO,)
# The fields that decide the model's shapes or its encoder (not how it trains).
MODEL_FIELDS = ("arch", "encoder", "weights", "image_size", "cnn_width", "cnn_blocks", "units",
                "embedding_dim", "attention_dim", "gating", "grid_positions", "state_to_output")


def data_settings(args):
    """What names the data (saved in config.json, re-read by evaluate)."""
    if args.data_dir and args.dataset:
        raise UsageError("pass --data_dir (Flickr8k) or --dataset coco_captions, not both")
    if args.data_dir:
        # A wrong folder fails before anything else; the digests let evaluate and --resume
        # refuse data that changed since.
        digests = {part: caption_data.flickr_digest(args.data_dir, part, args.max_bytes)
                   for part in caption_data.PARTS}
        return {"data": "flickr8k", "data_dir": os.path.abspath(args.data_dir),
                "digests": digests}
    if args.dataset:
        return {"data": "coco"}
    return {"data": "generated"}


def check_sizes(config, settings):
    """UsageError before any data is read or made when the model (at the vocabulary's
    bound) or the images cannot fit in this machine's memory."""
    check_encoder(config.encoder, config.image_size)
    low, high = scene_world.MIN_IMAGE_SIZE, scene_world.MAX_IMAGE_SIZE
    if settings["data"] == "generated" and not low <= config.image_size <= high:
        raise UsageError(f"the scene world draws images of {low} to {high} pixels a side, "
                         f"not --image_size {config.image_size}")
    vocab_bound = 64 if settings["data"] == "generated" else config.max_vocab_size
    check_fits(estimated_size(config, vocab_bound),
               "--units, --image_size, --cnn_width, --max_length or --batch_size")
    count = (sum(caption_data.scene_counts(config.scenes).values())
             if settings["data"] == "generated" else 2 * config.max_images)
    needed = count * config.image_size ** 2 * 3
    available = available_bytes()
    if available is not None and needed > available // 2:
        raise UsageError(f"{count:,} images of {config.image_size}x{config.image_size} pixels "
                         f"take {needed / 2 ** 30:,.1f} GiB, more than half of the "
                         f"{available / 2 ** 30:,.1f} GiB this machine has available; lower "
                         f"{'--scenes' if settings['data'] == 'generated' else '--max_images'}"
                         " or --image_size")


def seeded_encoder(config, seed):
    """The config's encoder; a frozen one with random weights is seeded, so a run's reload
    builds the very encoder its grids came from."""
    keras.utils.set_random_seed(seed)
    return build_encoder(config, seed)


def model_inputs(config, images, seed):
    """(what the model reads per image, its input name): uint8 images, or the frozen
    encoder's grids computed once."""
    if is_frozen(config.encoder):
        print(f"computing the {config.encoder} grids of {len(images):,} images once")
        return grid_features(seeded_encoder(config, seed), images), "grid"
    return images, "images"


def as_inputs(pixels, name):
    """shuffled_batches' transform: {"image", "ids" (B, T+1)} -> (inputs, targets (B, T))."""
    pixels = tf.constant(pixels)

    def transform(batch):
        ids = tf.cast(batch["ids"], tf.int32)
        return ({name: tf.gather(pixels, batch["image"]), "decoder_ids": ids[:, :-1]},
                ids[:, 1:])
    return transform


def train(config, out_dir, parts, settings, seed=0, resume=False, strategy="default",
          verbose=1):
    """Trains (or resumes) a captioner on parts {"train", "validation"} (caption_data's dicts);
    returns (model, state, vocab).

    `strategy` (default, mirrored, multi_worker): batch_size is the global batch, split
    across the replicas; the model is built (or loaded) in the strategy's scope by the
    lifecycle. Keras divides each replica's loss (the token mean of its captions) and the
    decoder's add_loss penalty (the mean over its captions) by the replica count, so the
    summed gradient is the mean over the replicas' parts (the global batch's mean where
    the parts hold as many words); the clipping measures that whole gradient
    (common.optimizers). A frozen encoder's grids are computed before, outside the
    scope: every worker computes the same ones (its weights come from `seed`). small_cnn's
    batch norm normalises each replica's part of the batch (each worker keeps its own moving
    averages; the chief's are saved), and the dropout layers draw the same masks on every
    replica, so with several replicas a run differs a little from one device's; one
    replica (the CPU, one GPU) trains exactly what --strategy default trains."""
    train_tokens = caption_data.caption_tokens(parts["train"]["captions"], config.max_length)
    vocab = caption_data.build_vocab(train_tokens, config)
    pairs = caption_data.training_pairs(train_tokens, vocab)
    batch_size = min(config.batch_size, len(pairs["image"]))
    if batch_size < 1:
        raise UsageError("the training data holds no captions")
    check_fits(estimated_size(config, len(vocab), batch_size),
               "--units, --image_size, --cnn_width, --max_length or --batch_size")
    pixels, name = model_inputs(config, parts["train"]["images"], seed)
    val_tokens = caption_data.caption_tokens(parts["validation"]["captions"], config.max_length)
    val_pairs = caption_data.training_pairs(val_tokens, vocab)
    val_pixels, _ = model_inputs(config, parts["validation"]["images"], seed)
    counts = {part: len(parts[part]["images"]) for part in ("train", "validation")}
    job = lifecycle.TrainJob(
        kind=KIND, config=config, out_dir=out_dir, seed=seed, resume=resume,
        strategy=strategy, verbose=verbose,
        settings={**settings, "images": counts, "captions": len(pairs["image"])},
        may_change=("epochs", "data_dir"),
        metadata={"vocab.json": vocab.to_json()},
        # A checkpoint from before WholeBatchClipAdam is refused on several replicas.
        callbacks=lambda state: [WholeBatchClipCheck(), DenseReplicaCheck()],
        build_model=lambda: build_caption_model(config, len(vocab), seed),
        # Not bucketed by length: the scene world's 9- and 10-word captions would put each
        # relation in batches of its own (82% exact captions instead of 100%, measured).
        train_data=lambda first_epoch: shuffled_batches(
            pairs, batch_size, seed, first_epoch, transform=as_inputs(pixels, name)),
        steps_per_epoch=len(pairs["image"]) // batch_size,
        validation_data=ordered_batches(val_pairs, batch_size,
                                        transform=as_inputs(val_pixels, name)),
        progress=Progress(batch_size, "captions",
                          plot_ylabel="cross-entropy per word (teacher forcing)"),
        describe=lambda model: (
            f"{config.arch} on {settings['data']}: {counts['train']:,} training / "
            f"{counts['validation']:,} validation images, {len(pairs['image']):,} captions, "
            f"vocabulary {len(vocab)}, encoder {config.encoder}; "
            f"{model.count_params():,} parameters"))
    model, state = lifecycle.train(job)
    return model, state, vocab


def load_run(run_dir_path, checkpoint="best"):
    """(servable, config, saved config dict, vocab) of a caption run."""
    run_dir = RunDir(run_dir_path)
    saved = run_dir.read_config(KIND)
    config = run_dir.read_run_config(KIND, CaptionConfig)
    vocab = TokenVocab.load(run_dir.read_path("vocab.json"))
    model = run_dir.load_model(KIND, checkpoint)
    if model.name != f"caption_{config.arch}":
        raise UsageError(f"{run_dir.path}: the {checkpoint} checkpoint holds a {model.name!r} "
                         f"model, not the {config.arch} model config.json names (edited, or "
                         "from another run); restore it or retrain")
    decoder = model.get_layer("decoder")
    # The model keeps the config it was built with: an edited config.json (another encoder
    # would even be downloaded) is refused before anything is built from it.
    edited = [name for name in MODEL_FIELDS
              if getattr(config, name) != getattr(decoder.config_, name)]
    if edited:
        raise UsageError(f"{run_dir.file('config.json')} gives {edited[0]} "
                         f"{getattr(config, edited[0])!r} but the {checkpoint} checkpoint was "
                         f"built with {getattr(decoder.config_, edited[0])!r} (edited, or from "
                         "another run); restore it or retrain")
    if len(vocab) != decoder.vocab_size:
        raise UsageError(f"{run_dir.file('vocab.json')} has {len(vocab)} tokens but the model "
                         f"reads {decoder.vocab_size}; the vocabulary was edited or belongs to "
                         "another run")
    if is_frozen(config.encoder):
        seed = saved.get("seed", 0)
        encoder = seeded_encoder(config, seed if isinstance(seed, int) else 0)
    else:
        encoder = model.get_layer("encoder")
    return CaptionServable(model, encoder, vocab, config), config, saved, vocab


def export(run_dir_path, export_dir, overwrite=False, checkpoint="best"):
    """A SavedModel: uint8 images in, caption strings (and attention) out."""
    check_export_dir(export_dir, overwrite, run_dir_path)
    servable, _, saved, vocab = load_run(run_dir_path, checkpoint)
    info = {"vocabulary": vocab.tokens, "config": saved, "default_beam": DEFAULT_BEAM}
    return save_servable(servable, export_dir, servable.signatures(), overwrite,
                         run_dir_path, KIND, info)


def add_beam_flag(parser):
    parser.add_argument("--beam", type=count(MAX_BEAM), default=DEFAULT_BEAM,
                        help="beam search with this many hypotheses; 1: greedy decoding")


def build_parser():
    parser = command_parser("week5_caption.caption")

    p = parser.verb("train", help="train (or --resume) a captioner")
    p.add_argument("--data_dir", type=input_path,
                   help="a Flickr8k folder: Flicker8k_Dataset/, Flickr8k.token.txt and the "
                        "Flickr_8k.{train,dev,test}Images.txt splits (default: the generated "
                        "scene world)")
    p.add_argument("--dataset", choices=DATASETS,
                   help="coco_captions: tensorflow-datasets' COCO captions (downloaded once; "
                        "needs internet)")
    add_encoder_flags(p)
    add_config_flags(p, CaptionConfig, PRESETS)
    add_training_flags(p, "runs/caption", PRESETS, "scenes")
    add_input_limit_flag(p)

    p = parser.verb("evaluate", help="BLEU-1..4, exact match and (scene world, "
                                     "show_attend_tell) the attention hit rate on the test "
                                     "images; results.json")
    add_run_flags(p)
    add_beam_flag(p)
    p.add_argument("--data_dir", type=input_path,
                   help="a Flickr8k run's data where it is now: without it, evaluate re-reads "
                        "the folder config.json names and refuses it if it moved or changed")
    add_input_limit_flag(p)

    p = parser.verb("predict", help="print a caption for each image")
    add_run_flags(p)
    add_beam_flag(p)
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...)")
    p.add_argument("--out", help="show_attend_tell runs: write each image's attention per "
                                 "word (PNG): FOLDER/attention-N.png for an existing folder "
                                 "(or a path ending in /), else PREFIX-N.png (NAME.png for "
                                 "one image)")
    add_input_limit_flag(p)

    parser.export_verb(help="a SavedModel: uint8 images in, captions (and attention) out",
                       formats=("saved_model",))
    return parser


def main(argv=None):
    from week5_caption import caption_evaluate

    args = build_parser().parse_args(argv)
    if args.command == "train":
        config = config_from_args(args, PRESETS)
        settings = data_settings(args)
        check_sizes(config, settings)
        parts = {part: caption_data.read_part(settings, part, config, args.max_bytes)
                 for part in ("train", "validation")}
        train(config, args.out_dir, parts, settings, seed=args.seed, resume=args.resume,
              strategy=args.strategy, verbose=args.verbose)
        lifecycle.print_next_steps(args.out_dir, lifecycle.next_commands(
            "week5_caption.caption", args.out_dir, [
                ("evaluate", ""), ("predict", "IMAGE.png --out attention/"),
                ("export", "--export_dir exports/{name}")]))
    elif args.command == "evaluate":
        caption_evaluate.evaluate_command(args)
    elif args.command == "predict":
        caption_evaluate.predict_command(args)
    elif args.command == "export":
        path = export(args.run_dir, args.export_dir, args.overwrite, args.checkpoint)
        size = RunDir(args.run_dir).read_run_config(KIND, CaptionConfig).image_size
        # The example runs as printed: the run's size, not a placeholder S.
        print(f"wrote {path}; it takes uint8 images (n, {size}, {size}, 3):\n"
              f"  python -c \"import tensorflow as tf; "
              f"f = tf.saved_model.load('{path}').signatures['serving_default']; "
              f"print(f(images=tf.zeros([1, {size}, {size}, 3], tf.uint8))['captions'])\"")


