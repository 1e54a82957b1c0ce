"""Variational autoencoder: q(z|x) = N(mu, sigma^2), p(z) = N(0, I), p(x|z) from the decoder.

Training minimises  beta * KL(q(z|x) || p(z)) - E_q[log p(x|z)]; with beta = 1 this is the
negative ELBO, an upper bound on -log p(x), reported in nats per image.
"""

import math
import numbers

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_genai import _checks, losses
from keras_genai.models._base import (
    GenerativeModel, deserialize_nets, draw_for_replica, images_of, minimize, serialize_nets, to_numpy,
)

LIKELIHOODS = {"bernoulli", "gaussian"}
# Starting pixel standard deviation of the Gaussian decoder. Starting at 1 (wider than the whole
# [0, 1] pixel range) makes the reconstruction term so weak that the KL term keeps the code almost
# switched off (posterior collapse) for a long time while the learned sigma slowly shrinks.
GAUSSIAN_INITIAL_STD = 0.1


@keras.saving.register_keras_serializable(package="keras_genai")
class VAE(GenerativeModel):
    """encoder: x -> [z_mean, z_log_var]; decoder: z -> logits (no output activation).

    likelihood="bernoulli": pixels ~ Bernoulli(sigmoid(logits)).
    likelihood="gaussian": pixels ~ N(sigmoid(logits), sigma^2) with one learned log sigma^2
    (`decoder_log_var`, starting at sigma = GAUSSIAN_INITIAL_STD).
    """

    def __init__(self, encoder, decoder, beta=1.0, likelihood="bernoulli", seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(encoder.output, (list, tuple)) or len(encoder.output) != 2:
            raise ValueError("the VAE encoder must output [z_mean, z_log_var] (build it with variational=True)")
        activation = getattr(decoder.layers[-1], "activation", None)
        if activation is not None and getattr(activation, "__name__", "linear") != "linear":
            raise ValueError(
                "the VAE decoder must output logits (output_activation=None); "
                f"its last layer applies {activation.__name__}"
            )
        self.encoder, self.decoder = encoder, decoder
        if not isinstance(beta, numbers.Real) or not beta >= 0:  # also rejects NaN
            raise ValueError(f"beta must be a number >= 0, got {beta!r}")
        self.beta = float(beta)
        self.likelihood = _checks.check_choice(likelihood, LIKELIHOODS, "likelihood")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.data_shape = self._input_shape(encoder, "encoder")
        self.latent_dim = int(encoder.output[0].shape[-1])
        if int(encoder.output[1].shape[-1]) != self.latent_dim:
            raise ValueError(
                f"z_mean has {self.latent_dim} dimensions but z_log_var has {encoder.output[1].shape[-1]}"
            )
        if self._input_shape(decoder, "decoder") != (self.latent_dim,):
            raise ValueError(f"the decoder takes inputs of shape {self._input_shape(decoder, 'decoder')}, "
                             f"but the encoder's latent codes have shape ({self.latent_dim},)")
        if tuple(decoder.output_shape[1:]) != self.data_shape:
            raise ValueError(
                f"decoder output shape {decoder.output_shape[1:]} differs from encoder input {self.data_shape}"
            )
        if self.likelihood == "gaussian":
            self.decoder_log_var = self.add_weight(
                shape=(), initializer=keras.initializers.Constant(2.0 * math.log(GAUSSIAN_INITIAL_STD)),
                name="decoder_log_var",
            )
        self._make_trackers("loss", "reconstruction", "kl", "neg_elbo")
        self.built = True

    @staticmethod
    def _input_shape(net, name):
        """The per-example shape of a network's one input (images for the encoder, z for the decoder)."""
        if isinstance(net.input_shape, list):
            raise ValueError(f"the {name} takes {len(net.input_shape)} inputs; a VAE's networks take one "
                             "(for label-conditioned networks use keras_genai.models.ConditionalVAE)")
        return tuple(net.input_shape[1:])

    # The hooks a label-conditioned subclass overrides; here the labels are always None.
    @staticmethod
    def _split(data):
        return images_of(data), None

    def _encode(self, x, labels, training):
        return self.encoder(x, training=training)

    def _decode(self, z, labels, training):
        return self.decoder(z, training=training)

    def reparameterize(self, z_mean, z_log_var, seed_generator=None):
        """z = mu + sigma * eps with eps ~ N(0, I): the randomness sits outside the gradient path."""
        seed_generator = seed_generator or self.seed_generator
        eps = draw_for_replica(
            lambda n: keras.random.normal((n, self.latent_dim), seed=seed_generator), ops.shape(z_mean)[0]
        )
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def reconstruction_nll(self, x, logits):
        if self.likelihood == "bernoulli":
            return losses.bernoulli_nll(x, logits)
        log_var = ops.broadcast_to(self.decoder_log_var, ops.shape(x))
        return losses.gaussian_nll(x, ops.sigmoid(logits), log_var)

    def _figures(self, x, labels, training, seed_generator=None):
        """Per-example reconstruction NLL and KL, both in nats."""
        z_mean, z_log_var = (_checks.full_precision(t) for t in self._encode(x, labels, training))
        z = self.reparameterize(z_mean, z_log_var, seed_generator)
        reconstruction = self.reconstruction_nll(x, self._decode(z, labels, training))
        kl = losses.gaussian_kl(z_mean, z_log_var)
        return reconstruction, kl

    def _report(self, reconstruction, kl):
        return self._update_trackers(
            loss=ops.mean(reconstruction + self.beta * kl),
            reconstruction=ops.mean(reconstruction),
            kl=ops.mean(kl),
            neg_elbo=ops.mean(reconstruction + kl),
        )

    def train_step(self, data):
        x, labels = self._split(data)
        with tf.GradientTape() as tape:
            reconstruction, kl = self._figures(x, labels, training=True)
            loss = losses.reduce_for_replicas(reconstruction + self.beta * kl)
        minimize(self.optimizer, tape, loss, self.trainable_weights)
        return self._report(reconstruction, kl)

    def test_step(self, data):
        x, labels = self._split(data)
        return self._report(*self._figures(x, labels, training=False))

    def call(self, x, training=False):
        """Reconstruction from the posterior mean (deterministic)."""
        z_mean, _ = self.encoder(x, training=training)
        return ops.sigmoid(self.decoder(z_mean, training=training))

    def encode(self, x):
        """Posterior parameters (z_mean, z_log_var) as NumPy arrays."""
        z_mean, z_log_var = self.encoder(self.check_inputs(x), training=False)
        return to_numpy(z_mean), to_numpy(z_log_var)

    def decode(self, z):
        """Mean image (pixel probabilities) for each latent vector."""
        z = self._latent(z=z)
        return to_numpy(ops.sigmoid(self.decoder(z, training=False)))

    def generate(self, n=None, z=None, seed=None):
        """Sample z ~ N(0, I) (or use the given z) and decode it to mean images."""
        return self.decode(self._latent(n, z, seed))

    def reconstruct(self, x):
        return to_numpy(self(self.check_inputs(x), training=False))

    def negative_elbo(self, x, batch_size=500, seed=0):
        """Per-example negative ELBO (nats), one posterior sample per example.

        The KL term is exact (closed form); the reconstruction term is estimated with one
        z ~ q(z|x) drawn from `seed`, so the same seed gives the same numbers.
        """
        return self._negative_elbo(self.check_inputs(x), None, batch_size, seed)

    def _negative_elbo(self, x, labels, batch_size, seed):
        batch_size = _checks.check_positive_int(batch_size, "batch_size")
        generator = keras.random.SeedGenerator(seed)
        values = []
        for start in range(0, len(x), batch_size):
            part = slice(start, start + batch_size)
            reconstruction, kl = self._figures(x[part], None if labels is None else labels[part], False, generator)
            values.append(ops.convert_to_numpy(reconstruction + kl))
        return np.concatenate(values)

    def get_config(self):
        return {
            **super().get_config(),
            **serialize_nets(encoder=self.encoder, decoder=self.decoder),
            "beta": self.beta,
            "likelihood": self.likelihood,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_nets(dict(config), "encoder", "decoder"))
