"""Reusable layers that hold no training logic."""

import keras
import numpy as np
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
        # Scores and softmax in float32 under any dtype policy: -1e9 (the mask) overflows float16.
        scores = ops.cast(self.compute_scores(queries, keys), "float32")
        if key_mask is not None:
            # Padding gets a score of -1e9: after the softmax its weight is exactly 0.
            scores = ops.where(ops.cast(key_mask, "bool")[:, None, :], scores, -1e9)
        weights = ops.softmax(scores, axis=-1)
        return ops.einsum("bts,bsd->btd", ops.cast(weights, keys.dtype), keys), weights

    def get_config(self):
        return {**super().get_config(), "units": self.units, "score": self.score}


# --- Transformer pieces ------------------------------------------------------------------------

POSITIONS = ("learned", "sinusoidal")


def sinusoidal_table(length, dim):
    """Vaswani et al.'s positions: PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(same)."""
    positions = np.arange(length)[:, None]
    rates = 1.0 / 10000 ** (np.arange(0, dim, 2) / dim)
    table = np.zeros((length, dim), dtype="float32")
    table[:, 0::2] = np.sin(positions * rates)
    table[:, 1::2] = np.cos(positions * rates)[:, : dim // 2]
    return table


@keras.saving.register_keras_serializable(package="keras_genai")
class PositionalEmbedding(layers.Layer):
    """Adds a vector per position to token embeddings (b, t, d), positions start..start+t-1.

    Self-attention alone is blind to order (it sees a set of vectors); these vectors say where
    each token is. kind="learned": one trained vector per position up to max_length;
    "sinusoidal": the fixed table of `sinusoidal_table`.
    """

    def __init__(self, max_length, dim, kind="learned", **kwargs):
        super().__init__(**kwargs)
        if kind not in POSITIONS:
            raise ValueError(f"kind must be one of {POSITIONS}, got {kind!r}")
        self.max_length, self.dim, self.kind = int(max_length), int(dim), kind

    def build(self, input_shape=None):
        if self.kind == "learned":
            self.table = self.add_weight(shape=(self.max_length, self.dim), initializer=keras.initializers.RandomNormal(stddev=0.02), name="table")
        else:  # a NumPy array, made a tensor inside each call (a tensor made here would belong to whichever graph built the layer)
            self.table = sinusoidal_table(self.max_length, self.dim)
        self.built = True

    def call(self, x, start=0):
        length = ops.shape(x)[1]
        return x + ops.slice(ops.convert_to_tensor(self.table), (start, 0), (length, self.dim))[None]

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length, "dim": self.dim, "kind": self.kind}


def _write_positions(cache, start, new):
    """cache (b, heads, max_length, d_h) with positions start..start+t-1 replaced by new (b, heads, t, d_h).

    One fixed-shape update (dynamic-update-slice): every generation step runs the same graph on
    same-shaped tensors, so the step function is traced once for all positions.
    """
    length, t = cache.shape[2], new.shape[2]
    if isinstance(start, (int, np.integer)) and None not in (length, t) and not 0 <= start <= length - t:
        # dynamic-update-slice would clamp the start and overwrite earlier positions without a word
        raise ValueError(f"positions {start}..{start + t - 1} do not fit in a key/value cache of {length} positions")
    zero = ops.zeros((), "int32")
    return ops.slice_update(cache, (zero, zero, ops.cast(start, "int32"), zero), new)


@keras.saving.register_keras_serializable(package="keras_genai")
class SelfAttention(layers.Layer):
    """Multi-head scaled dot-product self-attention, written out, with an optional key/value cache.

    Q = X W_q, K = X W_k, V = X W_v, split into heads of size d_h;
    A = softmax(Q K^T / sqrt(d_h) + M), output = concat_heads(A V) W_o,
    where M is -inf above the diagonal when causal (position t sees only positions <= t).

    The cache, a pair (keys, values) of shape (b, heads, max_length, d_h), holds the keys and values
    of past positions: a call with x of t new positions starting at `start` writes theirs at
    start..start+t-1 and attends over positions 0..start+t-1 only, so a new token costs one position
    of projections and one row of attention, not a re-run of the prefix. In the cache, heads come
    before positions, so that the products with it are batched matrix products without a copy of
    the cache; without a cache, the (b, t, heads, d_h) layout of the projections is faster to train.
    call(...) -> (output, updated cache or None, weights (b, heads, t, s) or None).
    """

    def __init__(self, num_heads, head_dim, causal=True, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.head_dim, self.causal, self.dropout = int(num_heads), int(head_dim), bool(causal), float(dropout)
        self.qkv = layers.Dense(3 * self.num_heads * self.head_dim, name="qkv")
        self.drop = layers.Dropout(self.dropout)
        self.out = None

    def build(self, input_shape):
        self.qkv.build(input_shape)
        self.out = layers.Dense(input_shape[-1], name="out")
        self.out.build((*input_shape[:-1], self.num_heads * self.head_dim))
        self.built = True

    def call(self, x, cache=None, start=0, key_mask=None, training=False, return_weights=False):
        b, t = ops.shape(x)[0], ops.shape(x)[1]
        q, k, v = ops.split(ops.reshape(self.qkv(x), (b, t, 3, self.num_heads, self.head_dim)), 3, axis=2)
        q, k, v = q[:, :, 0], k[:, :, 0], v[:, :, 0]  # (b, t, heads, d_h)
        keys = "bshd"  # the layout of k and v in the products below
        if cache is not None:  # attend over the whole cache; positions not yet written are in the future
            k = _write_positions(cache[0], start, ops.transpose(k, (0, 2, 1, 3)))
            v = _write_positions(cache[1], start, ops.transpose(v, (0, 2, 1, 3)))
            cache, keys = (k, v), "bhsd"
        # Scores and softmax in float32 under any dtype policy: -1e9 (the mask) overflows float16.
        scores = ops.cast(ops.einsum(f"bthd,{keys}->bhts", q, k), "float32") / np.sqrt(self.head_dim).astype("float32")
        query_pos = start + ops.arange(t)[:, None]
        key_pos = ops.arange(ops.shape(k)[keys.index("s")])[None, :]
        allowed = (key_pos <= query_pos if self.causal or cache is not None else ops.ones_like(key_pos, "bool"))[None, None]
        if key_mask is not None:
            allowed = ops.logical_and(allowed, ops.cast(key_mask, "bool")[:, None, None, :])
        scores = ops.where(allowed, scores, -1e9)
        # softmax over the keys, written out (ops.softmax warns when one key is all there is)
        weights = ops.exp(scores - ops.max(scores, axis=-1, keepdims=True))
        weights = weights / ops.sum(weights, axis=-1, keepdims=True)
        mixed = ops.einsum(f"bhts,{keys}->bthd", ops.cast(self.drop(weights, training=training), v.dtype), v)
        out = self.out(ops.reshape(mixed, (b, t, self.num_heads * self.head_dim)))
        return out, cache, (weights if return_weights else None)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "head_dim": self.head_dim,
                "causal": self.causal, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="keras_genai")
class TransformerBlock(layers.Layer):
    """Pre-norm block: x + Attention(LayerNorm(x)), then x + MLP(LayerNorm(x)) with a GELU MLP."""

    def __init__(self, num_heads, head_dim, mlp_dim, causal=True, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.head_dim, self.mlp_dim = int(num_heads), int(head_dim), int(mlp_dim)
        self.causal, self.dropout = bool(causal), float(dropout)
        self.norm_1 = layers.LayerNormalization(epsilon=1e-5, name="norm_1")
        self.attention = SelfAttention(num_heads, head_dim, causal, dropout, name="attention")
        self.norm_2 = layers.LayerNormalization(epsilon=1e-5, name="norm_2")
        self.mlp_in = layers.Dense(self.mlp_dim, activation="gelu", name="mlp_in")
        self.mlp_out = None
        self.drop = layers.Dropout(self.dropout)

    def build(self, input_shape):
        self.norm_1.build(input_shape)
        self.attention.build(input_shape)
        self.norm_2.build(input_shape)
        self.mlp_in.build(input_shape)
        self.mlp_out = layers.Dense(input_shape[-1], name="mlp_out")
        self.mlp_out.build((*input_shape[:-1], self.mlp_dim))
        self.built = True

    def call(self, x, cache=None, start=0, key_mask=None, training=False, return_weights=False):
        """-> (output, updated cache or None, attention weights (b, heads, t, s) or None)."""
        attended, cache, weights = self.attention(self.norm_1(x), cache=cache, start=start, key_mask=key_mask,
                                                  training=training, return_weights=return_weights)
        x = x + self.drop(attended, training=training)
        x = x + self.drop(self.mlp_out(self.mlp_in(self.norm_2(x))), training=training)
        return x, cache, weights

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "head_dim": self.head_dim,
                "mlp_dim": self.mlp_dim, "causal": self.causal, "dropout": self.dropout}


# --- Diffusion pieces --------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="keras_genai")
class TimeEmbedding(layers.Layer):
    """Sinusoidal features of a diffusion time t in [0, 1], shape (b,) -> (b, dim).

    The same frequencies as `sinusoidal_table`, for a real-valued position 1000 t: nearby noise
    levels get similar vectors, and the network can still tell 1,000 levels apart.
    """

    def __init__(self, dim, **kwargs):
        super().__init__(**kwargs)
        if int(dim) < 2 or int(dim) % 2:
            raise ValueError(f"dim must be an even integer >= 2, got {dim!r}")
        self.dim = int(dim)

    def call(self, t):
        rates = 1.0 / 10000 ** (np.arange(0, self.dim, 2, dtype="float32") / self.dim)
        angles = 1000.0 * ops.cast(ops.reshape(t, (-1, 1)), "float32") * rates[None]
        return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim}


@keras.saving.register_keras_serializable(package="keras_genai")
class Framewise(layers.Wrapper):
    """Apply a layer to every frame of a clip (batch, time, ...) by folding time into the batch.

    What keras.layers.TimeDistributed does, but as one reshape. TimeDistributed vectorises a loop
    over the frames (pfor), and here that loop failed with "slice index out of bounds" once a
    traced model was called on a longer clip, which is what rolling a prediction forward does.
    """

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build((None, *input_shape[2:]))
        self.built = True

    def call(self, clips, training=None):
        batch, time = ops.shape(clips)[0], ops.shape(clips)[1]
        frames = self.layer(ops.reshape(clips, (-1, *clips.shape[2:])), training=training)
        return ops.reshape(frames, (batch, time, *frames.shape[1:]))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:2], *self.layer.compute_output_shape((None, *input_shape[2:]))[1:])


# --- Augmentation for contrastive learning ---------------------------------------------------

def digit_augmentation(image_shape=(28, 28, 1), translation=0.15, rotation=0.04, zoom=0.2, seed=None,
                       name="digit_augmentation"):
    """A random shift (fraction of the side), rotation (fraction of a full turn: 0.04 is +-14 degrees)
    and zoom of each image, for digits in [0, 1] on a black background (uncovered pixels are black).

    Digits have no colour to jitter, so the views differ in geometry only: strong enough that the
    two views of a digit are not the same pixels, mild enough that a 6 does not become a 9.
    Every layer draws from its own SeedGenerator: the same seed gives the same views, call after call.
    Runs inside a train_step (graph mode); call it with training=True to augment.
    """
    seeds = [None if seed is None else seed + i for i in range(3)]
    return keras.Sequential([
        keras.Input(tuple(image_shape)),
        layers.RandomTranslation(translation, translation, fill_mode="constant", seed=seeds[0]),
        layers.RandomRotation(rotation, fill_mode="constant", seed=seeds[1]),
        layers.RandomZoom(zoom, fill_mode="constant", seed=seeds[2]),
    ], name=name)
