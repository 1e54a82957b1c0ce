"""GAN: a generator G(z) and a discriminator D(x) (a logit), trained in alternation.

    min_G max_D  V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))]

The discriminator *maximises* V (it minimises the BCE of real -> 1, fake -> 0); the
generator *minimises* it, or in the non-saturating form minimises -log D(G(z)).
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_genai import _checks, losses
from keras_genai.models._base import (
    GenerativeModel, deserialize_nets, draw_for_replica, images_of, loss_scaled, minimize, serialize_nets, to_numpy,
)


def default_gan_optimizer():
    """Adam with beta_1 = 0.5, the DCGAN paper's setting (momentum 0.9 oscillates)."""
    return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)


@keras.saving.register_keras_serializable(package="keras_genai")
class GAN(GenerativeModel):
    """Generator and discriminator with separate optimizers.

    d_steps: discriminator updates per generator update, all on the same real batch; the
        last one uses the fakes that the generator update then reuses, earlier ones fresh z.
    value_range: the range of real examples; (-1, 1) matches a tanh generator.

    compile() keeps Keras' jit_compile="auto", which means plain graph mode on a CPU: XLA did not
    make the DCGAN's train step faster there (benchmarks/dcgan_benchmark.py measures both).
    Under tf.distribute, build and compile the model inside strategy.scope() (as for any Keras
    model); compile() creates the optimizers' variables there. Under a mixed_float16 policy (set
    before building the networks), compile() wraps each optimizer in its own LossScaleOptimizer.
    """

    TRACKERS = ("d_loss", "g_loss", "d_acc")
    NETWORKS = ("generator", "discriminator")  # the config keys of the two networks

    def __init__(self, generator, discriminator, d_steps=1, value_range=(-1.0, 1.0), seed=None, **kwargs):
        super().__init__(**kwargs)
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim, self.data_shape = self._network_shapes(generator, discriminator)
        if tuple(generator.output_shape[1:]) != self.data_shape:
            raise ValueError(
                f"generator output shape {generator.output_shape[1:]} differs from the "
                f"discriminator input shape {self.data_shape}"
            )
        if tuple(discriminator.output_shape[1:]) != (1,):
            raise ValueError(f"the discriminator must output one logit per example, got {discriminator.output_shape}")
        self.d_steps = _checks.check_positive_int(d_steps, "d_steps")
        if len(value_range) != 2 or not float(value_range[0]) < float(value_range[1]):
            raise ValueError(f"value_range must be (low, high) with low < high, got {value_range!r}")
        self.value_range = tuple(float(v) for v in value_range)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._make_trackers(*self.TRACKERS)
        self.built = True

    @staticmethod
    def _network_shapes(generator, discriminator):
        """(latent_dim, data_shape) of single-input networks z -> x and x -> logit."""
        for name, net in (("generator", generator), ("discriminator", discriminator)):
            if isinstance(net.input_shape, list):
                raise ValueError(f"the {name} takes {len(net.input_shape)} inputs; GAN networks take one "
                                 "(for label-conditioned networks use keras_genai.models.ConditionalGAN)")
        return int(generator.input_shape[-1]), tuple(discriminator.input_shape[1:])

    def compile(self, d_optimizer=None, g_optimizer=None, loss="non_saturating", label_smoothing=0.0, **kwargs):
        """loss: "non_saturating" or "minimax" generator loss.
        label_smoothing: one-sided; real labels become 1 - label_smoothing, fake stay 0.
        """
        super().compile(**kwargs)
        if d_optimizer is not None and d_optimizer is g_optimizer:
            raise ValueError("use two optimizer instances: each keeps its own state for its own network")
        for name, optimizer in (("d_optimizer", d_optimizer), ("g_optimizer", g_optimizer)):
            if optimizer is not None and not isinstance(optimizer, keras.optimizers.Optimizer):
                raise TypeError(f"{name} must be a keras.optimizers.Optimizer instance, got {type(optimizer).__name__}")
        self.d_optimizer = loss_scaled(d_optimizer or default_gan_optimizer(), self)
        self.g_optimizer = loss_scaled(g_optimizer or default_gan_optimizer(), self)
        self._build_optimizers()
        self.loss_name = _checks.check_choice(loss, set(losses.GENERATOR_LOSSES), "loss")
        self.generator_loss = losses.GENERATOR_LOSSES[loss]
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.label_smoothing = float(label_smoothing)

    def get_compile_config(self):
        return {
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "loss": self.loss_name,
            "label_smoothing": self.label_smoothing,
        }

    def compile_from_config(self, config):
        config = deserialize_nets(dict(config), "d_optimizer", "g_optimizer")
        self.compile(**config)

    def _build_optimizers(self):
        # Created here, not lazily inside the first train step: under tf.distribute, variables must
        # be created in the strategy's scope, and load_model restores saved slots into them.
        for optimizer, net in ((self.d_optimizer, self.discriminator), (self.g_optimizer, self.generator)):
            if not optimizer.built:
                optimizer.build(net.trainable_variables)

    # The hooks a label-conditioned subclass overrides: what a batch holds, how fakes are made and
    # how the discriminator scores a batch. Here the labels are always None.
    @staticmethod
    def _split(data):
        return images_of(data), None

    def _noise(self, batch_size):
        return draw_for_replica(
            lambda n: keras.random.normal((n, self.latent_dim), seed=self.seed_generator), batch_size
        )

    def _fake(self, batch_size, labels, training):
        return self._fake_from(self._noise(batch_size), labels, training)

    def _fake_from(self, z, labels, training):
        return self.generator(z, training=training)

    def _score(self, x, labels, training):
        return self.discriminator(x, training=training)

    def _discriminator_figures(self, real, fake, labels, training):
        real_logits = self._score(real, labels, training)
        fake_logits = self._score(fake, labels, training)
        per_example = losses.discriminator_loss(real_logits, fake_logits, 1.0 - self.label_smoothing)
        correct = ops.concatenate([ops.cast(real_logits > 0, "float32"), ops.cast(fake_logits < 0, "float32")])
        return per_example, ops.mean(correct)

    def _discriminator_step(self, real, fake, labels):
        with tf.GradientTape() as tape:
            d_per_example, d_acc = self._discriminator_figures(real, fake, labels, training=True)
            d_loss = losses.reduce_for_replicas(d_per_example)
        minimize(self.d_optimizer, tape, d_loss, self.discriminator.trainable_weights)
        return d_per_example, d_acc

    def train_step(self, data):
        real, labels = self._split(data)
        batch_size = ops.shape(real)[0]
        # One generator forward pass serves both updates (as in PyTorch's DCGAN example):
        # D is updated on these fakes first, then G is scored by the *updated* D, so the
        # updates still alternate but G runs forward once per step instead of twice.
        with tf.GradientTape() as g_tape:
            fake = self._fake(batch_size, labels, training=True)
            with g_tape.stop_recording():
                for _ in range(self.d_steps - 1):  # extra D updates, each on fresh fakes
                    self._discriminator_step(real, self._fake(batch_size, labels, training=True), labels)
                d_per_example, d_acc = self._discriminator_step(real, fake, labels)
            g_per_example = self.generator_loss(self._score(fake, labels, training=True))
            g_loss = losses.reduce_for_replicas(g_per_example)
        minimize(self.g_optimizer, g_tape, g_loss, self.generator.trainable_weights)
        return self._update_trackers(d_loss=ops.mean(d_per_example), g_loss=ops.mean(g_per_example), d_acc=d_acc)

    def test_step(self, data):
        real, labels = self._split(data)
        fake = self._fake(ops.shape(real)[0], labels, training=False)
        d_per_example, d_acc = self._discriminator_figures(real, fake, labels, training=False)
        g_per_example = self.generator_loss(self._score(fake, labels, training=False))
        return self._update_trackers(d_loss=ops.mean(d_per_example), g_loss=ops.mean(g_per_example), d_acc=d_acc)

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def generate(self, n=None, z=None, seed=None, batch_size=1000):
        """Samples G(z) for z ~ N(0, I) drawn with `seed` (or the given z), in value_range."""
        return self._generate_in_batches(self._latent(n, z, seed), None, batch_size)

    def _generate_in_batches(self, z, labels, batch_size):
        batch_size = _checks.check_positive_int(batch_size, "batch_size")
        # Plain calls, not predict(): predict retraces (and warns) for every new final-batch size.
        parts = []
        for start in range(0, len(z), batch_size):
            part = slice(start, start + batch_size)
            parts.append(self._fake_from(z[part], None if labels is None else labels[part], training=False))
        return np.concatenate([to_numpy(p) for p in parts])

    def discriminate(self, x):
        """D's probability that each example is real."""
        return to_numpy(ops.sigmoid(self.discriminator(self.check_inputs(x), training=False)))[:, 0]

    def get_config(self):
        generator_key, discriminator_key = self.NETWORKS
        return {
            **super().get_config(),
            **serialize_nets(**{generator_key: self.generator, discriminator_key: self.discriminator}),
            "d_steps": self.d_steps,
            "value_range": list(self.value_range),
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_nets(dict(config), *cls.NETWORKS))
