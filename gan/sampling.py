"""Sampling from a trained generator: seeded noise, grids, interpolation, the servable.

The noise for a seed comes from a stateless generator, so `generate --seed S`,
the exported SavedModel's `generate(count, seed=S)` and every epoch's fixed
grid give the same latent points on any machine and in any process.
"""

import numpy as np
import tensorflow as tf

from gan.data import to_uint8

# The most images one call of the exported generate(count, seed) makes.
MAX_EXPORT_COUNT = 10_000


def noise_for_seed(count, latent_dim, seed):
    """(count, latent_dim) standard normal noise, a pure function of the seed."""
    seed = tf.stack([tf.cast(seed, tf.int32), tf.constant(0, tf.int32)])
    return tf.random.stateless_normal(tf.stack([count, latent_dim]), seed=seed)


def images_from_noise(generator, noise, batch_size=256):
    """G(noise) as uint8 numpy (count, H, W, C), in batches (inference-mode batch norm)."""
    parts = [to_uint8(generator(noise[i:i + batch_size], training=False)).numpy()
             for i in range(0, int(noise.shape[0]), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, *generator.output_shape[1:]),
                                                        np.uint8)


def generate_images(generator, count, seed):
    latent_dim = generator.input_shape[-1]
    return images_from_noise(generator, noise_for_seed(count, latent_dim, seed))


def interpolation_noise(latent_dim, seed_a, seed_b, steps):
    """`steps` latent points on the straight line from seed_a's point to seed_b's.

    Radford et al. walk the latent space linearly; smooth changes in the row
    of images show G did not memorize training images.
    """
    start = noise_for_seed(1, latent_dim, seed_a)  # (1, latent_dim)
    end = noise_for_seed(1, latent_dim, seed_b)
    weights = tf.linspace(0.0, 1.0, steps)[:, None]  # (steps, 1)
    return (1.0 - weights) * start + weights * end  # (steps, latent_dim)


class GeneratorServable(tf.Module):
    """A generator with its noise sampling and pixel conversion, for serving alone.

    `generator` is any model z (N, latent_dim) -> images in [-1, 1]: the DCGAN's
    G, or the VAE's decoder mean rescaled (gan.vae_model.build_generator).

    generate(count, seed)  int32 scalars -> uint8 images [count, H, W, C]; the
                           same seed gives the same images (stateless noise)
    decode(z)              float32 latent points [N, latent_dim] -> uint8 images
                           [N, H, W, C] (no random ops, so it converts to LiteRT)
    """

    def __init__(self, generator):
        super().__init__()
        self.generator = generator
        self.latent_dim = int(generator.input_shape[-1])
        self.decode = tf.function(
            self._decode,
            input_signature=[tf.TensorSpec([None, self.latent_dim], tf.float32, name="z")])

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32, name="count"),
                                  tf.TensorSpec([], tf.int32, name="seed")])
    def generate(self, count, seed):
        """uint8 images [count, H, W, C] for `count` latent points drawn with `seed`."""
        tf.debugging.assert_non_negative(count, message="count must be zero or more")
        tf.debugging.assert_less_equal(count, MAX_EXPORT_COUNT,
                                       message=f"count must be at most {MAX_EXPORT_COUNT}")
        noise = noise_for_seed(count, self.latent_dim, seed)
        return {"images": to_uint8(self.generator(noise, training=False))}

    def _decode(self, z):
        return {"images": to_uint8(self.generator(z, training=False))}

    def signatures(self):
        return {"generate": self.generate, "serving_default": self.generate,
                "decode": self.decode}


def save_generated_grid(generator, num, seed, out, scale=2):
    """`generate --num N --out PNG --seed S`: a square grid of N images from seed S."""
    from gan.grids import make_grid, save_png

    save_png(make_grid(generate_images(generator, num, seed)), out, scale)


def save_interpolation_row(generator, seed_a, seed_b, steps, out, scale=2):
    """`interpolate`: one row of `steps` images from seed_a's latent point to seed_b's."""
    from gan.grids import make_grid, save_png

    noise = interpolation_noise(generator.input_shape[-1], seed_a, seed_b, steps)
    save_png(make_grid(images_from_noise(generator, noise), columns=steps), out, scale)


def export_generator(generator, kind, export_dir, overwrite, run_dir, fmt, info):
    """The DCGAN's and the VAE's export: generate(count, seed) and decode(z) as a
    SavedModel, or decode.tflite for LiteRT; `info` adds to the metadata."""
    from common.export import save_litert, save_servable

    servable = GeneratorServable(generator)
    info = {**info, "image_shape": list(generator.output_shape[1:]),
            "latent_dim": servable.latent_dim, "max_count": MAX_EXPORT_COUNT}
    if fmt == "litert":
        return save_litert({"decode": servable.decode.get_concrete_function()}, export_dir,
                           overwrite, run_dir, kind, info)
    return save_servable(servable, export_dir, servable.signatures(), overwrite, run_dir,
                         kind, info)

