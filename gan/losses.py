"""The GAN losses, as small pure functions of D's outputs, chosen by `--loss`.

D (the critic, for the Wasserstein loss) always ends in one linear unit; each
loss reads its raw output (batch, 1) its own way:

    minimax         D: -log D(x) - log(1 - D(G(z)))     G: log(1 - D(G(z)))
                    with D = sigmoid(output): Goodfellow et al.'s original game.
                    G's gradient vanishes while D easily rejects its samples
                    (the loss saturates), so it is here for the comparison.
    non_saturating  D as minimax;  G: -log D(G(z))  (the paper's practical
                    choice and the default; strong gradients early on)
    lsgan           least squares on the linear output (Mao et al. 2017, a=0,
                    b=1, c=1):  D: 1/2 (D(x) - 1)^2 + 1/2 D(G(z))^2,
                    G: 1/2 (D(G(z)) - 1)^2
    wgan_gp         Wasserstein critic (Gulrajani et al. 2017):
                    D: D(G(z)) - D(x) + 10 (||grad D(x_hat)|| - 1)^2 on random
                    interpolates x_hat = e x + (1 - e) G(z), e ~ U[0, 1] per image;
                    G: -D(G(z)). Trained here like every loss, one critic step
                    per G step with the preset's Adam, so that the losses
                    compare at equal settings (the paper: 5 critic steps,
                    Adam(1e-4, beta_1 0, beta_2 0.9)).
    hinge           D: relu(1 - D(x)) + relu(1 + D(G(z))),  G: -D(G(z))
                    (Lim & Ye 2017; Miyato et al. 2018)

Every term is a mean over the batch. Under tf.distribute each replica sees
its slice of the global batch, so every mean is also divided by the number
of replicas, as Keras's own losses do: the gradients the strategy sums are
then those of the global batch's mean.

The gradient penalty is per image: each interpolate's gradient must be its
own. Batch norm mixes the images of a batch, so a wgan_gp critic uses layer
normalization (over each image's features) instead (gan.model).
"""

import dataclasses
from typing import Callable

import keras
import tensorflow as tf

GRADIENT_PENALTY_WEIGHT = 10.0  # lambda of Gulrajani et al.


def batch_mean(values):
    """The mean of `values` over this replica's batch, divided by the replica count."""
    mean = tf.reduce_mean(values)
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return mean / replicas if replicas > 1 else mean


def cross_entropy(logits, target):
    """Mean sigmoid cross-entropy of `logits` against the label `target` (0 or 1).

    Keras's BinaryCrossentropy (which divides by the replica count itself):
    the numbers are those the DCGAN had before --loss existed.
    """
    labels = tf.ones_like(logits) if target else tf.zeros_like(logits)
    return keras.losses.BinaryCrossentropy(from_logits=True)(labels, logits)


# real, fake: D's outputs (batch, 1) on real images and on G's images.

def logistic_discriminator(real, fake):
    return cross_entropy(real, 1) + cross_entropy(fake, 0)


def minimax_generator(fake):
    # log(1 - sigmoid(l)) = -(cross-entropy of l against 0)
    return -cross_entropy(fake, 0)


def non_saturating_generator(fake):
    return cross_entropy(fake, 1)


def least_squares_discriminator(real, fake, a=0.0, b=1.0):
    return 0.5 * batch_mean(tf.square(real - b)) + 0.5 * batch_mean(tf.square(fake - a))


def least_squares_generator(fake, c=1.0):
    return 0.5 * batch_mean(tf.square(fake - c))


def wasserstein_discriminator(real, fake):
    return batch_mean(fake) - batch_mean(real)


def hinge_discriminator(real, fake):
    return batch_mean(tf.nn.relu(1.0 - real)) + batch_mean(tf.nn.relu(1.0 + fake))


def critic_generator(fake):
    """-D(G(z)): the generator loss of both wgan_gp and hinge."""
    return -batch_mean(fake)


def gradient_penalty(critic, real_images, fake_images, mix):
    """Mean over images of (||d critic / d x_hat|| - 1)^2, x_hat = mix x + (1 - mix) G(z).

    real_images, fake_images: (batch, H, W, C); mix: (batch, 1, 1, 1) in [0, 1].
    Differentiable in the critic's weights (the caller's tape sees the inner one).
    """
    mixed = mix * real_images + (1.0 - mix) * fake_images
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        # Summed over the batch: each image's gradient is its own only because
        # the critic treats images independently (no batch norm).
        scores = tf.reduce_sum(critic(mixed, training=True))
    grads = tape.gradient(scores, mixed)  # (batch, H, W, C)
    # The small constant keeps the norm's own gradient finite at 0.
    norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) + 1e-12)  # (batch,)
    return batch_mean(tf.square(norms - 1.0))


@dataclasses.dataclass(frozen=True)
class AdversarialLoss:
    """What a `--loss` needs from the model: two losses, a penalty, a kind of critic."""

    name: str
    discriminator: Callable  # (real outputs, fake outputs) -> scalar
    generator: Callable  # fake outputs -> scalar
    penalty_weight: float = 0.0  # > 0: add this times gradient_penalty to D's loss
    probabilities: bool = False  # D's output is the logit of P(real)
    layer_norm_critic: bool = False  # per-image critic: layer norm instead of batch norm

    def reading(self, outputs):
        """What d_real / d_fake log: mean P(real) for logistic losses, else mean output."""
        return tf.reduce_mean(tf.sigmoid(outputs) if self.probabilities else outputs)

    @property
    def ylabel(self):
        return "cross-entropy" if self.probabilities else f"{self.name} loss"


LOSSES = {loss.name: loss for loss in (
    AdversarialLoss("minimax", logistic_discriminator, minimax_generator, probabilities=True),
    AdversarialLoss("non_saturating", logistic_discriminator, non_saturating_generator,
                    probabilities=True),
    AdversarialLoss("lsgan", least_squares_discriminator, least_squares_generator),
    AdversarialLoss("wgan_gp", wasserstein_discriminator, critic_generator,
                    penalty_weight=GRADIENT_PENALTY_WEIGHT, layer_norm_critic=True),
    AdversarialLoss("hinge", hinge_discriminator, critic_generator),
)}
LOSS_NAMES = tuple(LOSSES)
