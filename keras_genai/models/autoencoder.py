"""Autoencoder: x -> encoder -> z -> decoder -> x_hat, with an optional denoising mode."""

import keras
import tensorflow as tf
from keras import ops

from keras_genai import _checks, losses
from keras_genai.models._base import GenerativeModel, deserialize_nets, images_of, serialize_nets


@keras.saving.register_keras_serializable(package="keras_genai")
class Autoencoder(GenerativeModel):
    """Deterministic autoencoder trained to reconstruct images in [0, 1].

    loss: "bce" (binary cross-entropy summed over pixels) or "mse" (squared error summed
    over pixels). noise_std > 0 makes it a denoising autoencoder: the encoder sees
    x + noise (clipped to [0, 1]) and the loss compares with the clean x.
    """

    def __init__(self, encoder, decoder, loss="bce", noise_std=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder
        self.loss_name = _checks.check_choice(loss, {"bce", "mse"}, "loss")
        if noise_std < 0:
            raise ValueError(f"noise_std must be >= 0, got {noise_std}")
        self.noise_std = float(noise_std)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.data_shape = tuple(encoder.input_shape[1:])
        self.latent_dim = int(encoder.output_shape[-1])
        if tuple(decoder.output_shape[1:]) != self.data_shape:
            raise ValueError(
                f"decoder output shape {decoder.output_shape[1:]} differs from encoder input {self.data_shape}"
            )
        self._make_trackers("loss", "mse")
        self.built = True

    def add_noise(self, x):
        if not self.noise_std:
            return x
        noise = keras.random.normal(ops.shape(x), stddev=self.noise_std, seed=self.seed_generator)
        return ops.clip(x + noise, 0.0, 1.0)

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
            reconstruction = self(self.add_noise(x), training=True)
            per_example, mse = self._figures(x, reconstruction)
            loss = losses.reduce_for_replicas(per_example)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return self._update_trackers(loss=ops.mean(per_example), mse=mse)

    def test_step(self, data):
        x = images_of(data)
        per_example, mse = self._figures(x, self(self.add_noise(x), training=False))
        return self._update_trackers(loss=ops.mean(per_example), mse=mse)

    def encode(self, x):
        return ops.convert_to_numpy(self.encoder(self.check_inputs(x), training=False))

    def decode(self, z):
        return ops.convert_to_numpy(self.decoder(self._latent(z=z), training=False))

    def reconstruct(self, x):
        return ops.convert_to_numpy(self(self.check_inputs(x), training=False))

    def get_config(self):
        return {
            **super().get_config(),
            **serialize_nets(encoder=self.encoder, decoder=self.decoder),
            "loss": self.loss_name,
            "noise_std": self.noise_std,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_nets(dict(config), "encoder", "decoder"))
