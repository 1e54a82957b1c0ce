"""Video as next-frame prediction: p(frame t+1 | frames 0..t), one frame at a time.

Trained with teacher forcing on clips (batch, time, h, w, c) in [0, 1]: the network reads frames
0..T-2 and is scored on frames 1..T-1 with a per-pixel Bernoulli likelihood (the VAE decoder's
loss). Prediction rolls forward: each predicted frame (its mean) is appended to the input and
the network run again, so errors compound with the horizon, which is what the notebook measures.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_genai import _checks, losses
from keras_genai.models._base import GenerativeModel, deserialize_nets, images_of, minimize, serialize_nets


@keras.saving.register_keras_serializable(package="keras_genai")
class FramePredictor(GenerativeModel):
    """Next-frame prediction with a causal network such as nets.frame_predictor."""

    def __init__(self, network, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        shape = network.input_shape
        if len(shape) != 5:
            raise ValueError(f"the network must take clips (batch, time, height, width, channels), got input {shape}")
        self.data_shape = tuple(shape[2:])
        self._make_trackers("loss")

    def check_inputs(self, x, name="x", min_frames=2):
        """Clips (n, time, *frame shape) in [0, 1] with at least min_frames frames (2 to train), as float32."""
        x = _checks.as_float_array(x, name)
        if x.ndim != 5 or tuple(x.shape[2:]) != self.data_shape or len(x) == 0:
            raise ValueError(f"{name} must be clips (n, time, {', '.join(map(str, self.data_shape))}), got {x.shape}")
        if x.shape[1] < min_frames:
            raise ValueError(f"{name} has {x.shape[1]} frame(s) per clip; at least {min_frames} needed")
        return _checks.check_range(_checks.check_finite(x, name), 0.0, 1.0, name)

    def _check_data(self, data, name):
        if data is None:
            raise ValueError(f"fit()/evaluate() needs data: {name} is None")
        if hasattr(data, "element_spec"):
            data = next(iter(data.take(1)))
            name = f"{name} (first batch)"
        self.check_inputs(np.asarray(images_of(data)), name)

    def call(self, clips, training=False):
        return self.network(clips, training=training)

    def _loss(self, data, training):
        clips = images_of(data)
        logits = self(clips[:, :-1], training=training)
        # per clip, nats per predicted frame: the Bernoulli NLL summed over a frame's pixels
        return losses.bernoulli_nll(clips[:, 1:], logits) / ops.cast(ops.shape(logits)[1], "float32")

    def train_step(self, data):
        with tf.GradientTape() as tape:
            per_clip = self._loss(data, training=True)
            loss = losses.reduce_for_replicas(per_clip)
        minimize(self.optimizer, tape, loss, self.trainable_weights)
        return self._update_trackers(loss=ops.mean(per_clip))

    def test_step(self, data):
        return self._update_trackers(loss=ops.mean(self._loss(data, training=False)))

    def predict_frames(self, context, horizon, batch_size=64):
        """The next `horizon` frames after each clip of `context` (n, t, *frame), as mean images in [0, 1].

        Each predicted frame is fed back as the input of the next step (the network re-reads the
        growing clip, which for the horizons of a notebook costs less than managing its state).
        """
        context = self.check_inputs(context, "context", min_frames=1)
        horizon = _checks.check_positive_int(horizon, "horizon")
        batch_size = _checks.check_positive_int(batch_size, "batch_size")
        step = tf.function(lambda clip: _checks.full_precision(ops.sigmoid(self.network(clip, training=False)[:, -1])),
                           reduce_retracing=True)
        out = []
        for i in range(0, len(context), batch_size):
            clip = ops.convert_to_tensor(context[i:i + batch_size])
            predicted = []
            for _ in range(horizon):
                frame = step(clip)
                predicted.append(frame)
                clip = ops.concatenate([clip, frame[:, None]], axis=1)
            out.append(ops.convert_to_numpy(ops.stack(predicted, axis=1)))
        return np.concatenate(out)

    def get_config(self):
        return {**super().get_config(), **serialize_nets(network=self.network)}

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_nets(config, "network"))
