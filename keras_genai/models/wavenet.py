"""WaveNet (van den Oord et al. 2016): raw audio, one mu-law sample at a time, p(x) = prod_t p(x_t | x_<t).

Embedding of the ids -> residual blocks of dilated causal convolutions -> softmax over the levels.
Block i reads its input at t and t - d_i (kernel size 2), with dilations 1, 2, 4, ..., 2^(k-1)
repeated, so a handful of layers sees hundreds of past samples. Inside a block,

    z = tanh(W_f * x) . sigmoid(W_g * x)          (gated activation; * a dilated causal convolution)
    x <- x + W_r z,    skip_i = W_s z             (1x1 residual and skip projections)

and the output is softmax(W_2 relu(W_1 relu(sum_i skip_i))). Training is teacher forcing on windows
of true audio; the loss is the cross-entropy in nats per sample.

Generation keeps, for every layer, a queue of its last (kernel_size - 1) * d inputs (fast WaveNet,
Paine et al. 2016): a new sample costs one step of each layer instead of a pass over the receptive
field. The whole loop runs as one graph compiled with XLA.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from keras_genai import _checks, losses
from keras_genai.datasets.audio import check_audio_ids, mu_law_encode
from keras_genai.evaluation.text import LN2
from keras_genai.models._base import GenerativeModel, minimize

# The cached loop is compiled with XLA: on a 2-core CPU it was about 15x faster than a plain
# tf.function once compiled (benchmarks/wavenet_generation_results.md has both timings).
# XLA's Philox gives other uniforms than TensorFlow's kernel, so a seed's samples depend on this switch.
JIT_COMPILE = True


@keras.saving.register_keras_serializable(package="keras_genai")
class ResidualBlock(layers.Layer):
    """Gated dilated causal convolution with residual and skip 1x1 projections."""

    def __init__(self, channels, skip_channels, kernel_size, dilation, residual=True, **kwargs):
        super().__init__(**kwargs)
        self.channels, self.dilation = channels, dilation
        # One convolution gives filter and gate halves: the same as two convolutions, one kernel call.
        self.dilated = layers.Conv1D(2 * channels, kernel_size, dilation_rate=dilation, padding="causal",
                                     name="dilated")
        # The last block feeds only the skip sum: a residual projection there would never be trained.
        self.residual = layers.Dense(channels, name="residual") if residual else None
        self.skip = layers.Dense(skip_channels, name="skip")

    def build(self, input_shape):
        self.dilated.build(input_shape)
        if self.residual is not None:
            self.residual.build(input_shape)
        self.skip.build(input_shape)

    def call(self, x):
        """x (batch, time, channels) -> (x + residual, skip), both per time step."""
        return self._gated(x, self.dilated(x))

    def step(self, taps):
        """taps (batch, kernel_size, channels): the block's inputs at t - (k-1)d, ..., t - d, t.

        The convolution at one time step is one matrix product of the taps with the kernel
        (kernel_size, channels, 2 channels) flattened to (kernel_size * channels, 2 channels).
        """
        # The variables stay float32 under a mixed-precision policy; compute in the taps' dtype.
        kernel = ops.cast(ops.reshape(self.dilated.kernel, (-1, 2 * self.channels)), taps.dtype)
        flat = ops.reshape(taps, (ops.shape(taps)[0], -1))
        return self._gated(taps[:, -1], ops.matmul(flat, kernel) + ops.cast(self.dilated.bias, taps.dtype))

    def _gated(self, x, pre):
        filters, gates = ops.split(pre, 2, axis=-1)
        z = ops.tanh(filters) * ops.sigmoid(gates)
        return (x if self.residual is None else x + self.residual(z)), self.skip(z)


def gumbel_draw(logits, temperature, seed, step):
    """One id per row from softmax(logits / temperature), by the Gumbel-max trick:

    argmax_i (logits_i / T + g_i), g_i = -log(-log u_i), u_i ~ U(0, 1), is distributed as softmax(logits / T).
    The uniforms come from a stateless generator keyed by (seed, step), so the cached and the uncached
    path (and a reloaded model) draw the same numbers at the same step.
    """
    key = tf.stack([tf.cast(seed, tf.int64), tf.cast(step, tf.int64)])
    u = tf.random.stateless_uniform(tf.shape(logits), key, minval=np.finfo("float32").tiny, maxval=1.0,
                                    alg="philox")
    return tf.argmax(logits / temperature - tf.math.log(-tf.math.log(u)), axis=-1, output_type=tf.int32)


@keras.saving.register_keras_serializable(package="keras_genai")
class WaveNet(GenerativeModel):
    """Autoregressive model of mu-law ids in [0, levels).

    Train on windows of length + 1 ids (`datasets.audio_windows`): it reads window[:, :-1] and is scored
    on window[:, 1:]. `loss` is nats per sample (every position of a window counts, the first ones with
    less than a full receptive field of context), `bits_per_sample` the same in bits.
    """

    def __init__(self, levels=256, channels=32, skip_channels=None, kernel_size=2, num_blocks=2,
                 layers_per_block=8, **kwargs):
        super().__init__(**kwargs)
        self.levels = _checks.check_positive_int(levels, "levels")
        if self.levels < 2:
            raise ValueError(f"levels must be at least 2, got {levels}")
        self.channels = _checks.check_positive_int(channels, "channels")
        self.skip_channels = self.channels if skip_channels is None else _checks.check_positive_int(
            skip_channels, "skip_channels")
        self.kernel_size = _checks.check_positive_int(kernel_size, "kernel_size")
        self.num_blocks = _checks.check_positive_int(num_blocks, "num_blocks")
        self.layers_per_block = _checks.check_positive_int(layers_per_block, "layers_per_block")
        self.embedding = layers.Embedding(self.levels, self.channels, name="embedding")
        self.blocks = [
            ResidualBlock(self.channels, self.skip_channels, self.kernel_size, d,
                          residual=i < len(self.dilations) - 1, name=f"block_{i}")
            for i, d in enumerate(self.dilations)
        ]
        self.hidden = layers.Dense(self.skip_channels, activation="relu", name="hidden")
        self.head = layers.Dense(self.levels, name="logits")
        self._make_trackers("loss", "bits_per_sample")
        self._graphs = {}

    @property
    def dilations(self):
        """1, 2, 4, ..., 2^(layers_per_block - 1), repeated num_blocks times."""
        return [2 ** i for _ in range(self.num_blocks) for i in range(self.layers_per_block)]

    @property
    def receptive_field(self):
        """How many samples x_{t-R+1}, ..., x_t the prediction of x_{t+1} depends on:

        R = 1 + (kernel_size - 1) * sum_i d_i.

        The embedding sees one sample; a causal convolution of dilation d and kernel size k reaches
        (k - 1) d samples further back, and the reaches of stacked layers add. For 2 blocks of
        dilations 1..128 and k = 2: R = 1 + 2 * 255 = 511.
        """
        return 1 + (self.kernel_size - 1) * sum(self.dilations)

    @property
    def silence_id(self):
        """The id of amplitude 0: where generation starts without a prompt."""
        return int(mu_law_encode(0.0, self.levels))

    def build(self, input_shape=None):
        self.embedding.build((None, None))
        for block in self.blocks:
            block.build((None, None, self.channels))
        self.hidden.build((None, None, self.skip_channels))
        self.head.build((None, None, self.skip_channels))
        self.built = True

    def call(self, ids, training=False):
        """ids (batch, time) -> logits (batch, time, levels) of the sample after each position."""
        x, skips = self.embedding(ids), 0.0
        for block in self.blocks:
            x, skip = block(x)
            skips = skips + skip
        return self._logits(skips)

    def _logits(self, skips):
        return self.head(self.hidden(ops.relu(skips)))

    # --- training -----------------------------------------------------------------------------

    def _nats(self, data, training):
        """Cross-entropy of each window, in nats per sample: (batch,)."""
        ids = data[0] if isinstance(data, (tuple, list)) else data
        logits = _checks.full_precision(self(ids[:, :-1], training=training))
        nll = ops.sparse_categorical_crossentropy(ids[:, 1:], logits, from_logits=True)
        return ops.mean(nll, axis=1)

    def _record(self, nats):
        # Every window has the same length, so the mean over windows is the mean over samples.
        self._trackers["loss"].update_state(nats)
        self._trackers["bits_per_sample"].update_state(nats / LN2)
        return {name: tracker.result() for name, tracker in self._trackers.items()}

    def train_step(self, data):
        with tf.GradientTape() as tape:
            nats = self._nats(data, training=True)
            loss = losses.reduce_for_replicas(nats)
        minimize(self.optimizer, tape, loss, self.trainable_weights)
        return self._record(nats)

    def test_step(self, data):
        return self._record(self._nats(data, training=False))

    def _check_data(self, data, name):
        if data is None:
            raise ValueError(f"fit()/evaluate() needs data: {name} is None")
        if isinstance(data, tf.data.Dataset):
            spec = data.element_spec
            if not isinstance(spec, tf.TensorSpec) or not spec.dtype.is_integer or spec.shape.rank != 2:
                raise ValueError(f"{name} yields {spec}; {self._data_help()}")
            data, name = next(iter(data.take(1))), f"{name} (first batch)"
        elif isinstance(data, (tuple, list)):
            data = data[0]
        elif not (isinstance(data, np.ndarray) or keras.ops.is_tensor(data)):
            return  # a generator or PyDataset: nothing to inspect before Keras streams it
        self.check_windows(np.asarray(data), name)

    def check_windows(self, ids, name="ids"):
        """Training windows: integer ids (batch, length + 1) in [0, levels), length >= 1."""
        ids = check_audio_ids(ids, self.levels, name)
        if ids.ndim != 2 or ids.shape[1] < 2:
            raise ValueError(f"{name} must have shape (batch, length + 1) with length >= 1, got {ids.shape}; "
                             f"{self._data_help()}")
        return ids

    def _data_help(self):
        return (f"WaveNet trains on int windows (batch, length + 1) of mu-law ids in [0, {self.levels}), "
                "e.g. from keras_genai.datasets.audio_windows")

    # --- generation ---------------------------------------------------------------------------

    def generate(self, n=1, length=8000, prompt=None, temperature=1.0, seed=None, cached=True):
        """n rows of `length` new mu-law ids (int32, (n, length)), the prompt not included.

        prompt: ids (samples,) shared by all rows, or (n, samples); None starts from one silent sample.
        Only its last receptive_field ids can matter, so a longer prompt is cut to those.
        temperature > 0 divides the logits (below 1: more conservative, above 1: noisier). A fixed seed
        gives the same ids, with cached=True (per-layer queues, one step per sample) or cached=False
        (re-run the network over the last receptive_field ids for every sample: the slow reference).
        The first cached call for each (n, prompt length, length) compiles the loop: a few seconds.
        """
        n = _checks.check_positive_int(n, "n")
        length = _checks.check_positive_int(length, "length")
        temperature = tf.constant(_checks.check_positive_number(temperature, "temperature"), tf.float32)
        if seed is None:
            seed = np.random.default_rng().integers(2 ** 31)
        elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0 or None, got {seed!r}")
        prompt, seed = tf.constant(self._prompt(prompt, n)), tf.constant(seed, tf.int64)
        loop = self._cached_graph() if cached else self._uncached
        return np.asarray(loop(prompt, length, temperature, seed))

    def _prompt(self, prompt, n):
        if prompt is None:
            return np.full((n, 1), self.silence_id, dtype="int32")
        prompt = check_audio_ids(prompt, self.levels, "prompt")
        if prompt.ndim == 1:
            prompt = np.tile(prompt, (n, 1))
        elif prompt.ndim != 2 or len(prompt) != n:
            raise ValueError(f"prompt must be ids of shape (samples,) for every row or (n, samples) = ({n}, samples), "
                             f"got shape {prompt.shape}")
        return prompt[:, -self.receptive_field:].astype("int32")

    def _step(self, current, queues):
        """Ids at time t (n,) and each layer's queue of its last (k-1)d inputs -> logits for t + 1, new queues."""
        x, skips, new_queues = self.embedding(current), 0.0, []
        for block, queue in zip(self.blocks, queues):
            window = ops.concatenate([queue, x[:, None]], axis=1)  # inputs at t - (k-1)d, ..., t
            new_queues.append(window[:, 1:])
            x, skip = block.step(window[:, ::block.dilation])
            skips = skips + skip
        return _checks.full_precision(self._logits(skips)), new_queues

    def _cached_loop(self, prompt, length, temperature, seed):
        n = tf.shape(prompt)[0]
        queues = [tf.zeros((n, (self.kernel_size - 1) * d, self.channels), self.compute_dtype) for d in self.dilations]
        for i in tf.range(tf.shape(prompt)[1] - 1):  # the prompt fills the queues
            _, queues = self._step(prompt[:, i], queues)
        current, out = prompt[:, -1], tf.TensorArray(tf.int32, size=length)
        for t in tf.range(length):
            logits, queues = self._step(current, queues)
            current = gumbel_draw(logits, temperature, seed, t)
            out = out.write(t, current)
        return tf.transpose(out.stack())

    def _cached_graph(self):
        # length is a Python int: a graph per length asked for (jit_compile needs a static TensorArray size).
        if "cached" not in self._graphs:
            self._graphs["cached"] = tf.function(self._cached_loop, jit_compile=JIT_COMPILE)
        return self._graphs["cached"]

    def _uncached(self, prompt, length, temperature, seed):
        if "last" not in self._graphs:
            self._graphs["last"] = tf.function(lambda ids: _checks.full_precision(self(ids)[:, -1]), reduce_retracing=True)
            # Compiled like the cached loop: XLA's Philox draws other numbers than TensorFlow's kernel.
            self._graphs["draw"] = tf.function(gumbel_draw, jit_compile=JIT_COMPILE)
        window, out = prompt, []
        for t in range(length):
            current = self._graphs["draw"](self._graphs["last"](window), temperature, seed, tf.constant(t))
            window = tf.concat([window, current[:, None]], axis=1)[:, -self.receptive_field:]
            out.append(current)
        return tf.stack(out, axis=1)

    def get_config(self):
        config = super().get_config()
        config.update(
            levels=self.levels, channels=self.channels, skip_channels=self.skip_channels,
            kernel_size=self.kernel_size, num_blocks=self.num_blocks, layers_per_block=self.layers_per_block,
        )
        return config
