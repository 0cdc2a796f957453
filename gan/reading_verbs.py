"""evaluate, generate, interpolate, arithmetic and export of a generative run: gan.dcgan, gan.vae.

The two commands differ only in how a run's model is loaded and exported, so
`run_reading_verb` takes those as functions:

    generator(run_dir, checkpoint) -> keras generator, noise z -> images in [-1, 1]
    evaluate(run_dir, data, dataset, num, seed, checkpoint, classifier, epochs)
    export(args, config) -> the export's path
"""

import dataclasses

from common.cli import UsageError
from common.export import check_export_dir
from common.runs import RunDir
from common.outputs import check_out_file
from gan.arithmetic import GROUPS, ClassMeans, run_arithmetic
from gan.data import DATASETS, load_dataset
from gan.sampling import save_generated_grid, save_interpolation_row


def run_reading_verb(args, kind, generator, evaluate, export, read_config=None):
    """Runs `args.command` (evaluate, generate, interpolate, arithmetic or export) on a
    `kind` run."""
    config = (read_config or (lambda path: RunDir(path).read_config(kind)))(args.run_dir)
    if args.command == "evaluate":
        dataset = args.dataset or config.get("source")
        if dataset not in DATASETS:
            raise UsageError(f"{args.run_dir} was trained on {config.get('source')}, not on a "
                             f"built-in data set; pass --dataset ({', '.join(DATASETS)}) to "
                             "score it anyway")
        data = load_dataset(dataset, args.data_dir, args.max_bytes, args.max_files)
        evaluate(args.run_dir, data, dataset, args.num, args.seed, args.checkpoint,
                 args.classifier, args.classifier_epochs)
    elif args.command == "generate":
        check_out_file(args.out, read_runs=[args.run_dir])
        save_generated_grid(generator(args.run_dir, args.checkpoint), args.num, args.seed,
                            args.out, args.scale)
        print(f"wrote {args.out} ({args.num} images, seed {args.seed})")
    elif args.command == "interpolate":
        check_out_file(args.out, read_runs=[args.run_dir])
        save_interpolation_row(generator(args.run_dir, args.checkpoint), args.seed_a,
                               args.seed_b, args.steps, args.out, args.scale)
        print(f"wrote {args.out} ({args.steps} images from seed {args.seed_a} to "
              f"{args.seed_b})")
    elif args.command == "arithmetic":
        # The namespace stops here: gan.arithmetic takes plain values and a ClassMeans.
        class_means = ClassMeans(**{field.name: getattr(args, field.name)
                                    for field in dataclasses.fields(ClassMeans)})
        run_arithmetic({name: getattr(args, name) for name in GROUPS}, args.out,
                       scale=args.scale, run_dir=args.run_dir, checkpoint=args.checkpoint,
                       config=config, load_generator=generator, class_means=class_means)
    elif args.command == "export":
        check_export_dir(args.export_dir, args.overwrite, args.run_dir)
        path = export(args, config)
        if args.format == "litert":
            print(f"wrote {path}/decode.tflite: float32 z [N, {config['latent_dim']}] -> "
                  "uint8 images (resize the input tensor to N rows)")
        else:
            print(f"wrote {path}; try:\n  python -c \"import tensorflow as tf; "
                  f"g = tf.saved_model.load('{path}').signatures['generate']; "
                  f"print(g(count=tf.constant(4), seed=tf.constant(0))['images'].shape)\"")
