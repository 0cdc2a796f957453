"""A caption run's configuration (CaptionConfig: one field per flag) and its presets.

caption_model builds the encoder and decoders from it; the fields are the
flags of `caption train` (common.configs) and the saved config.json.
"""

import dataclasses

from common.argtypes import count, fraction, non_negative_float, positive_float
from common.configs import setting

ARCHS = ("show_attend_tell", "show_tell")


@dataclasses.dataclass(frozen=True)
class CaptionConfig:
    arch: str = setting("show_attend_tell", "show_attend_tell: soft attention over the CNN's "
                        "grid at every word (Xu et al. 2015); show_tell: the averaged image "
                        "vector starts the LSTM (Vinyals et al. 2015)", choices=ARCHS)
    encoder: str = "small_cnn"      # set by --encoder (common.image_encoders)
    weights: str = "imagenet"       # set by --weights (application encoders only)
    image_size: int = setting(64, "images are resized to this many pixels a side",
                              count(1024))
    cnn_width: int = setting(32, "small_cnn: channels of its first block (doubled per block)",
                             count(1024))
    cnn_blocks: int = setting(3, "small_cnn: conv blocks, each halving the grid (64 pixels, "
                              "3 blocks: an 8x8 grid)", count(6))
    units: int = setting(256, "LSTM units", count(8192))
    embedding_dim: int = setting(128, "word embedding size", count(8192))
    attention_dim: int = setting(128, "show_attend_tell: size of the attention's hidden "
                                 "layer", count(8192))
    gating: bool = setting(True, "show_attend_tell: the gating scalar beta_t on the context")
    grid_positions: bool = setting(True, "show_attend_tell: add a learned embedding per grid "
                                   "cell to its features")
    state_to_output: bool = setting(True, "show_attend_tell: the deep output reads the LSTM "
                                    "state (L_h h_t) beside the word and the context; off: "
                                    "each word must come from what it attends to")
    context_dropout: float = setting(0.0, "show_attend_tell: dropout on the context z_t where "
                                     "the LSTM reads it (not where the output reads it), so "
                                     "a word must come from what its step attends to, not "
                                     "from what the LSTM remembers", fraction)
    attention_penalty: float = setting(1.0, "show_attend_tell: lambda of the doubly "
                                       "stochastic regulariser", non_negative_float)
    dropout_rate: float = setting(0.0, "dropout on the image features", fraction)
    max_length: int = setting(20, "most words per caption: longer training captions are cut "
                              "there, generation stops there", count(200))
    max_vocab_size: int = setting(10_000, "most tokens per vocabulary (specials included)",
                                  count(1_000_000))
    min_count: int = setting(5, "words seen fewer times in training captions read as <unk>",
                             count(1_000_000))
    scenes: int = setting(20_000, "generated scene world: training scenes (validation and "
                          "test scenes are generated apart)", count(200_000))
    max_images: int = setting(100_000, "Flickr8k / COCO: read at most this many images per "
                              "part", count(1_000_000))
    batch_size: int = setting(64, "images per batch", count(65_536))
    epochs: int = 10
    learning_rate: float = setting(1e-3, "Adam learning rate", positive_float)
    grad_clip: float = setting(5.0, "clip gradients to this global norm; 0: off",
                               non_negative_float)

    @property
    def widths(self):
        return tuple(self.cnn_width * 2 ** i for i in range(self.cnn_blocks))


PRESETS = {
    # Seconds on any data: small images, a tiny CNN and LSTM, a few hundred scenes.
    "test": CaptionConfig(image_size=32, cnn_width=8, units=32, embedding_dim=16,
                          attention_dim=16, max_length=12, scenes=400, max_images=200,
                          batch_size=32, epochs=2, learning_rate=3e-3, min_count=1,
                          attention_penalty=0.01),
    # benchmarks/caption_scenes.py: the generated scene world, both archs. No doubly
    # stochastic penalty: with 64 cells and 10 words it pulls attention off the two objects.
    "scenes": CaptionConfig(image_size=64, cnn_width=16, units=128, embedding_dim=64,
                            attention_dim=64, context_dropout=0.5, attention_penalty=0.0,
                            max_length=12, scenes=12_000, batch_size=64, epochs=6,
                            learning_rate=2e-3, min_count=1),
    # Flickr8k (Xu et al.'s setting, scaled to one machine): 5 captions per image.
    "flickr8k": CaptionConfig(image_size=224, units=512, embedding_dim=256, attention_dim=256,
                              dropout_rate=0.5, max_length=20, min_count=5, batch_size=64,
                              epochs=20, learning_rate=1e-3, attention_penalty=1.0),
}
