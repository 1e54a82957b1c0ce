"""WGAN-GP: a critic f estimates the Wasserstein-1 distance, a gradient penalty keeps f 1-Lipschitz.

    W(p_data, p_G) = max_{||f||_L <= 1}  E_x f(x) - E_z f(G(z))          (Kantorovich-Rubinstein)

    critic loss     E_z f(G(z)) - E_x f(x) + lambda * E_xhat (||grad f(xhat)||_2 - 1)^2
    generator loss  -E_z f(G(z))

f(x) is an unbounded score, higher for "more real" (no sigmoid). Gulrajani et al. (2017), Algorithm 1.
"""

import keras
import tensorflow as tf
from keras import layers, ops

from keras_genai import _checks, losses
from keras_genai.models._base import draw_for_replica, minimize, to_numpy
from keras_genai.models.gan import GAN


def default_wgan_optimizer():
    """Adam(1e-4, beta_1=0, beta_2=0.9), the WGAN-GP paper's setting: momentum hurts a critic
    whose target moves with every generator step."""
    return keras.optimizers.Adam(learning_rate=1e-4, beta_1=0.0, beta_2=0.9)


def _uses_batchnorm(net):
    return any(isinstance(layer, layers.BatchNormalization) for layer in net._flatten_layers())


@keras.saving.register_keras_serializable(package="keras_genai")
class WGANGP(GAN):
    """Generator and critic trained with the Wasserstein loss and a gradient penalty.

    n_critic: critic updates per generator update (5 in the paper). Each uses fresh z and fresh
        interpolation weights, and the same real batch (as keras-io's wgan_gp example does),
        so one epoch is one pass over the data for both networks.
    gp_weight: lambda, the weight of the gradient penalty (10 in the paper).
    The critic must not use BatchNormalization: it mixes the examples of a batch, so the
    gradient at one interpolate would depend on the others and the per-example penalty would
    no longer constrain f (the paper drops it, or uses layer normalization).

    Tracks critic_loss (Wasserstein term plus lambda * penalty), g_loss, gp (the penalty before
    lambda) and wasserstein, the critic's estimate E f(x) - E f(G(z)) on the batch: it falls as
    the generator improves, which the discriminator loss of a plain GAN does not show. `d_optimizer`
    in compile() is the critic's optimizer; `discriminator` is the critic (also `critic`).
    """

    TRACKERS = ("critic_loss", "g_loss", "gp", "wasserstein")
    NETWORKS = ("generator", "critic")

    def __init__(self, generator, critic, n_critic=5, gp_weight=10.0, value_range=(-1.0, 1.0), seed=None,
                 **kwargs):
        if _uses_batchnorm(critic):
            raise ValueError("the WGAN-GP critic must not use BatchNormalization: the gradient penalty is per "
                             "example, and batch statistics tie each example's score to the rest of the batch "
                             "(use no normalization, or LayerNormalization)")
        if isinstance(gp_weight, bool) or not isinstance(gp_weight, (int, float)) or not gp_weight >= 0:
            raise ValueError(f"gp_weight must be a number >= 0, got {gp_weight!r}")
        self.gp_weight = float(gp_weight)
        super().__init__(generator, critic, d_steps=_checks.check_positive_int(n_critic, "n_critic"),
                         value_range=value_range, seed=seed, **kwargs)

    @property
    def critic(self):
        return self.discriminator

    @property
    def n_critic(self):
        return self.d_steps

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """d_optimizer (the critic's) and g_optimizer default to default_wgan_optimizer()."""
        super().compile(d_optimizer or default_wgan_optimizer(), g_optimizer or default_wgan_optimizer(), **kwargs)

    def get_compile_config(self):
        config = super().get_compile_config()
        return {"d_optimizer": config["d_optimizer"], "g_optimizer": config["g_optimizer"]}

    def _interpolation_weights(self, batch_size):
        shape = (1,) * len(self.data_shape)  # one alpha per example, broadcast over its pixels
        return draw_for_replica(lambda n: keras.random.uniform((n, *shape), seed=self.seed_generator), batch_size)

    def _critic_figures(self, real, fake, labels, training):
        """Per-example Wasserstein term f(G(z)) - f(x) and gradient penalty."""
        wasserstein_term = losses.wasserstein_critic_loss(
            self._score(real, labels, training), self._score(fake, labels, training)
        )
        alpha = self._interpolation_weights(ops.shape(real)[0])
        penalty = losses.gradient_penalty(lambda x: self._score(x, labels, training), real, fake, alpha)
        return wasserstein_term, penalty

    def _critic_step(self, real, labels):
        fake = self._fake(ops.shape(real)[0], labels, training=True)
        with tf.GradientTape() as tape:
            wasserstein_term, penalty = self._critic_figures(real, fake, labels, training=True)
            loss = losses.reduce_for_replicas(wasserstein_term + self.gp_weight * penalty)
        minimize(self.d_optimizer, tape, loss, self.critic.trainable_weights)
        return wasserstein_term, penalty

    def _generator_step(self, batch_size, labels):
        with tf.GradientTape() as tape:
            fake = self._fake(batch_size, labels, training=True)
            per_example = losses.wasserstein_generator_loss(self._score(fake, labels, training=True))
            loss = losses.reduce_for_replicas(per_example)
        minimize(self.g_optimizer, tape, loss, self.generator.trainable_weights)
        return per_example

    def _report(self, wasserstein_term, penalty, g_per_example):
        return self._update_trackers(
            critic_loss=ops.mean(wasserstein_term + self.gp_weight * penalty),
            g_loss=ops.mean(g_per_example),
            gp=ops.mean(penalty),
            wasserstein=-ops.mean(wasserstein_term),
        )

    def train_step(self, data):
        real, labels = self._split(data)
        for _ in range(self.n_critic):
            wasserstein_term, penalty = self._critic_step(real, labels)
        g_per_example = self._generator_step(ops.shape(real)[0], labels)
        return self._report(wasserstein_term, penalty, g_per_example)

    def test_step(self, data):
        real, labels = self._split(data)
        fake = self._fake(ops.shape(real)[0], labels, training=False)
        wasserstein_term, penalty = self._critic_figures(real, fake, labels, training=False)
        g_per_example = losses.wasserstein_generator_loss(self._score(fake, labels, training=False))
        return self._report(wasserstein_term, penalty, g_per_example)

    def discriminate(self, x):
        """The critic's score f(x) of each example (a real number, not a probability)."""
        return to_numpy(self.critic(self.check_inputs(x), training=False))[:, 0]

    def get_config(self):
        config = super().get_config()
        config["n_critic"] = config.pop("d_steps")
        config["gp_weight"] = self.gp_weight
        return config
