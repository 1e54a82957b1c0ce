"""Reusable layers that hold no training logic."""

import keras
from keras import layers, ops

SCORES = ("additive", "multiplicative")


@keras.saving.register_keras_serializable(package="keras_genai")
class Attention(layers.Layer):
    """Attention of queries over keys (= values), masked at padding, returning the weights too.

    score="additive" (Bahdanau):      e_ts = v^T tanh(W_q q_t + W_k k_s)
    score="multiplicative" (Luong):   e_ts = q_t^T W k_s
    alpha_ts = softmax_s(e_ts) over the unmasked s;  context_t = sum_s alpha_ts k_s.
    call(queries (b, t, dq), keys (b, s, dk), key_mask (b, s)) -> context (b, t, dk), alpha (b, t, s).
    """

    def __init__(self, units, score="additive", **kwargs):
        super().__init__(**kwargs)
        if score not in SCORES:
            raise ValueError(f"score must be one of {SCORES}, got {score!r}")
        self.units, self.score = int(units), score
        if score == "additive":
            self.query_proj = layers.Dense(self.units, use_bias=False, name="w_q")
            self.key_proj = layers.Dense(self.units, use_bias=True, name="w_k")
            self.v = layers.Dense(1, use_bias=False, name="v")
        else:
            self.query_proj = None
            self.key_proj = layers.Dense(self.units, use_bias=False, name="w")

    def build(self, query_shape, key_shape=None, mask_shape=None):
        key_shape = query_shape if key_shape is None else key_shape
        self.key_proj.build(key_shape)
        if self.score == "additive":
            self.query_proj.build(query_shape)
            self.v.build((None, None, None, self.units))
        self.built = True

    def compute_scores(self, queries, keys):
        """Unnormalised scores e (b, t, s)."""
        if self.score == "additive":
            q = self.query_proj(queries)[:, :, None, :]  # (b, t, 1, u)
            k = self.key_proj(keys)[:, None, :, :]  # (b, 1, s, u)
            return ops.squeeze(self.v(ops.tanh(q + k)), -1)
        return ops.einsum("btu,bsu->bts", queries, self.key_proj(keys))

    def call(self, queries, keys, key_mask=None):
        scores = self.compute_scores(queries, keys)
        if key_mask is not None:
            # Padding gets a score of -1e9: after the softmax its weight is exactly 0.
            scores = ops.where(ops.cast(key_mask, "bool")[:, None, :], scores, -1e9)
        weights = ops.softmax(scores, axis=-1)
        return ops.einsum("bts,bsd->btd", weights, keys), weights

    def get_config(self):
        return {**super().get_config(), "units": self.units, "score": self.score}
