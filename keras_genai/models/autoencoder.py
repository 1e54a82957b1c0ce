"""Autoencoder: x -> encoder -> z -> decoder -> x_hat, with optional training corruption.

Corrupting the *input* during training while keeping the *clean* image as the target
turns it into a denoising autoencoder (Gaussian noise) or an inpainting one (a blanked
square). Reconstruction, encoding and decoding never corrupt.
"""

import numbers

import keras
import tensorflow as tf
from keras import ops

from keras_genai import _checks, losses
from keras_genai.models._base import (
    GenerativeModel, deserialize_nets, draw_for_replica, images_of, in_batches, minimize, serialize_nets,
)


@keras.saving.register_keras_serializable(package="keras_genai")
class Autoencoder(GenerativeModel):
    """Deterministic autoencoder trained to reconstruct images in [0, 1].

    encoder: image -> one latent vector (n, latent_dim); decoder: (n, latent_dim) -> image
    in [0, 1] (a sigmoid output).
    loss: "bce" (binary cross-entropy summed over pixels) or "mse" (squared error summed
    over pixels); both are reported per image, and "mse" is also tracked per pixel.
    noise_std > 0: the encoder sees clip(x + N(0, noise_std^2), 0, 1) in training and in
    evaluate(), and the loss compares with the clean x (a denoising autoencoder).
    mask_size > 0: a random mask_size x mask_size square of the input is set to 0 in
    training and in evaluate() (an inpainting autoencoder). Both can be combined.
    """

    def __init__(self, encoder, decoder, loss="bce", noise_std=0.0, mask_size=0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(encoder.output_shape, list):
            raise ValueError(
                f"the Autoencoder encoder must output one latent vector, got {len(encoder.output_shape)} outputs "
                "(for [z_mean, z_log_var] build it with variational=False, or use keras_genai.VAE)"
            )
        self.encoder, self.decoder = encoder, decoder
        self.loss_name = _checks.check_choice(loss, {"bce", "mse"}, "loss")
        if isinstance(noise_std, bool) or not isinstance(noise_std, numbers.Real) or not noise_std >= 0:
            raise ValueError(f"noise_std must be a number >= 0, got {noise_std!r}")
        self.noise_std = float(noise_std)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.data_shape = tuple(encoder.input_shape[1:])
        if len(encoder.output_shape) != 2:
            raise ValueError(f"the encoder must output flat latent vectors (n, latent_dim), got {encoder.output_shape}")
        self.latent_dim = int(encoder.output_shape[-1])
        if tuple(decoder.input_shape[1:]) != (self.latent_dim,):
            raise ValueError(
                f"decoder input shape {decoder.input_shape[1:]} does not match the encoder's "
                f"latent vectors ({self.latent_dim},)"
            )
        if tuple(decoder.output_shape[1:]) != self.data_shape:
            raise ValueError(
                f"decoder output shape {decoder.output_shape[1:]} differs from encoder input {self.data_shape}"
            )
        if mask_size:
            mask_size = _checks.check_positive_int(mask_size, "mask_size")
            if len(self.data_shape) != 3 or mask_size > min(self.data_shape[:2]):
                raise ValueError(f"mask_size={mask_size} needs images (height, width, channels) at least that big, got {self.data_shape}")
        self.mask_size = int(mask_size)
        self._make_trackers("loss", "mse")
        self.built = True

    def add_noise(self, x):
        if not self.noise_std:
            return x
        noise = draw_for_replica(
            lambda n: keras.random.normal((n, *self.data_shape), stddev=self.noise_std, seed=self.seed_generator),
            ops.shape(x)[0],
        )
        return ops.clip(x + noise, 0.0, 1.0)

    def mask_square(self, x):
        """Set one random mask_size x mask_size square of each image to 0."""
        if not self.mask_size:
            return x
        height, width = self.data_shape[:2]
        top, left = (
            draw_for_replica(
                lambda n, side=side: keras.random.randint((n, 1, 1, 1), 0, side - self.mask_size + 1,
                                                          seed=self.seed_generator),
                ops.shape(x)[0],
            )
            for side in (height, width)
        )
        rows = ops.reshape(ops.arange(height), (1, height, 1, 1))
        cols = ops.reshape(ops.arange(width), (1, 1, width, 1))
        inside = (rows >= top) & (rows < top + self.mask_size) & (cols >= left) & (cols < left + self.mask_size)
        return ops.where(inside, ops.zeros_like(x), x)

    def corrupt(self, x):
        """The training input: masked, then noisy (x itself when both are off)."""
        return self.add_noise(self.mask_square(x))

    def call(self, x, training=False):
        return self.decoder(self.encoder(x, training=training), training=training)

    def _figures(self, x, reconstruction):
        per_example = (
            losses.binary_crossentropy(x, reconstruction)
            if self.loss_name == "bce"
            else losses.squared_error(x, reconstruction)
        )
        mse = ops.mean(ops.square(x - reconstruction))
        return per_example, mse

    def train_step(self, data):
        x = images_of(data)
        with tf.GradientTape() as tape:
            reconstruction = self(self.corrupt(x), training=True)
            per_example, mse = self._figures(x, reconstruction)
            loss = losses.reduce_for_replicas(per_example)
        minimize(self.optimizer, tape, loss, self.trainable_weights)
        return self._update_trackers(loss=ops.mean(per_example), mse=mse)

    def test_step(self, data):
        x = images_of(data)
        per_example, mse = self._figures(x, self(self.corrupt(x), training=False))
        return self._update_trackers(loss=ops.mean(per_example), mse=mse)

    def encode(self, x, batch_size=500):
        """Latent vectors (n, latent_dim) of images in [0, 1]."""
        return in_batches(self.encoder, self.check_inputs(x), batch_size)

    def decode(self, z, batch_size=500):
        """Images decoded from latent vectors (n, latent_dim)."""
        return in_batches(self.decoder, self._latent(z=z), batch_size)

    def reconstruct(self, x, batch_size=500):
        """decode(encode(x)) without any corruption: pass noisy or masked images to restore them."""
        return self.decode(self.encode(x, batch_size), batch_size)

    def get_config(self):
        return {
            **super().get_config(),
            **serialize_nets(encoder=self.encoder, decoder=self.decoder),
            "loss": self.loss_name,
            "noise_std": self.noise_std,
            "mask_size": self.mask_size,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_nets(dict(config), "encoder", "decoder"))
