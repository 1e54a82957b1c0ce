"""Contrastive representation learning (SimCLR, Chen et al. 2020) without labels.

Each image is augmented twice; encoder h = f(x) and projection head z = g(h) map both views, and
the NT-Xent loss (keras_genai.losses.nt_xent) teaches the pair to pick each other out among the
2N - 1 other views of the batch. The encoder's features h are the product: a linear probe or a
kNN classifier on them (keras_genai.evaluation.linear_probe, knn_accuracy) says how good they are.
"""

import keras
import tensorflow as tf
from keras import ops

from keras_genai import _checks, layers, losses
from keras_genai.models._base import GenerativeModel, deserialize_nets, images_of, in_batches, minimize, serialize_nets

NETS = ("encoder", "projection_head", "augmentation")


@keras.saving.register_keras_serializable(package="keras_genai")
class ContrastiveModel(GenerativeModel):
    """encoder: image in [0, 1] -> features (n, feature_dim); projection_head: features -> (n, projection_dim).

    augmentation: a layer mapping a batch of images to a random view of it, called with training=True;
    None gives keras_genai.layers.digit_augmentation seeded by `seed`. temperature: of the NT-Xent loss.
    Training updates the encoder and the head only. Tracked: "loss" (nats per view) and
    "contrastive_accuracy", the fraction of views whose most similar other view is their positive.
    Under tf.distribute each replica's loss takes its negatives from its own share of the batch only.
    """

    def __init__(self, encoder, projection_head, augmentation=None, temperature=0.5, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.data_shape = tuple(encoder.input_shape[1:])
        if len(encoder.output_shape) != 2:
            raise ValueError(f"the encoder must output flat features (n, feature_dim), got {encoder.output_shape} "
                             "(end it with global pooling, as nets.contrastive_encoder does)")
        if tuple(projection_head.input_shape[1:]) != tuple(encoder.output_shape[1:]):
            raise ValueError(f"the projection head takes inputs of shape {projection_head.input_shape[1:]}, "
                             f"but the encoder's features have shape {encoder.output_shape[1:]}")
        self.encoder, self.projection_head = encoder, projection_head
        if augmentation is None:
            augmentation = layers.digit_augmentation(self.data_shape, seed=seed)
        self.augmentation = augmentation
        self.temperature = _checks.check_positive_number(temperature, "temperature")
        self.seed = seed
        self._make_trackers("loss", "contrastive_accuracy")
        self.built = True

    def call(self, x, training=False):
        """The representation: encoder features (no augmentation, no head)."""
        return self.encoder(x, training=training)

    def _project_views(self, x, training):
        """Projections (z1, z2) of two independent random views of each image. The views are random in
        test_step too (training=True), so evaluate() scores the same task that training learns."""
        views = [self.augmentation(x, training=True) for _ in range(2)]
        return [self.projection_head(self.encoder(view, training=training), training=training) for view in views]

    def _report(self, z1, z2, per_view_loss):
        logits, positives = losses.contrastive_logits(z1, z2, self.temperature)
        hits = ops.cast(ops.equal(ops.argmax(logits, axis=1), ops.cast(positives, "int64")), "float32")
        return self._update_trackers(loss=ops.mean(per_view_loss), contrastive_accuracy=ops.mean(hits))

    def train_step(self, data):
        weights = self.encoder.trainable_weights + self.projection_head.trainable_weights
        with tf.GradientTape() as tape:
            z1, z2 = self._project_views(images_of(data), training=True)
            per_view_loss = losses.nt_xent(z1, z2, self.temperature)
            loss = losses.reduce_for_replicas(per_view_loss)
        minimize(self.optimizer, tape, loss, weights)
        return self._report(z1, z2, per_view_loss)

    def test_step(self, data):
        z1, z2 = self._project_views(images_of(data), training=False)
        return self._report(z1, z2, losses.nt_xent(z1, z2, self.temperature))

    def encode(self, images, batch_size=500):
        """Encoder features (n, feature_dim) of images in [0, 1], as NumPy: what a probe is trained on."""
        return in_batches(self.encoder, self.check_inputs(images, "images"), batch_size)

    def get_config(self):
        return {
            **super().get_config(),
            **serialize_nets(encoder=self.encoder, projection_head=self.projection_head,
                             augmentation=self.augmentation),
            "temperature": self.temperature,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_nets(dict(config), *NETS))
