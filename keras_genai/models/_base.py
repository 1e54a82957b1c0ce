"""What every model of the package shares: trackers, input checks, sub-network config."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_genai import _checks


def serialize_nets(**nets):
    return {name: keras.saving.serialize_keras_object(net) for name, net in nets.items()}


def deserialize_nets(config, *names):
    for name in names:
        config[name] = keras.saving.deserialize_keras_object(config[name])
    return config


def images_of(data):
    """A batch from fit() is images, or (images, labels/targets): keep the images."""
    return data[0] if isinstance(data, (tuple, list)) else data


def draw_for_replica(draw, batch_size):
    """This replica's rows of one random draw for the global batch; `draw(n)` returns n rows.

    Under tf.distribute every replica holds a copy of the model's SeedGenerator in the same state,
    so each replica drawing its own rows would give every replica the *same* noise. Instead each
    draws the rows of the whole global batch (identical everywhere) and keeps its own slice, which
    are the numbers one device draws for those examples: training is the same with or without
    the strategy (tests/test_distribute.py). On one device this is draw(batch_size). A last batch
    split unevenly between replicas can give two examples the same noise; keep batches whole
    (drop_remainder=True, as datasets.image_dataset does by default).
    """
    context = tf.distribute.get_replica_context()
    replicas = 1 if context is None else context.num_replicas_in_sync
    if replicas == 1:
        return draw(batch_size)
    start = context.replica_id_in_sync_group * batch_size
    return draw(batch_size * replicas)[start:start + batch_size]


def loss_scaled(optimizer, model):
    """optimizer wrapped in a LossScaleOptimizer when `model` computes in float16 (mixed_float16).

    Keras' compile() does this for `optimizer` only; the optimizers a model keeps under other names (a
    GAN's d_optimizer and g_optimizer, PolicyGradient's) need it too, each with its own scale, so that
    one network's overflow skips only its own update. bfloat16 has float32's range: no scaling.
    """
    if model.dtype_policy.name == "mixed_float16" and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return keras.optimizers.LossScaleOptimizer(optimizer, name=f"{optimizer.name}_loss_scale")
    return optimizer


def minimize(optimizer, tape, loss, variables):
    """One update of `variables` down the gradient of `loss` (recorded on `tape`): what every train_step does.

    optimizer.scale_loss is the identity for a plain optimizer and multiplies by the dynamic scale for
    a LossScaleOptimizer, whose apply() divides it out again and skips a step whose gradients overflowed.
    Keras' own train_step scales; a custom one must do it itself, or float16 gradients underflow to 0.
    """
    with tape:  # re-entering the finished tape records the scaling on it too
        scaled = optimizer.scale_loss(loss)
    optimizer.apply(tape.gradient(scaled, variables), variables)


def in_batches(net, x, batch_size):
    """net(x, training=False) as NumPy, one slice of batch_size rows at a time.

    Eager calls on slices: no graph to trace per model, bounded memory for big arrays.
    """
    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    parts = [net(x[i:i + batch_size], training=False) for i in range(0, len(x), batch_size)]
    return np.concatenate([to_numpy(p) for p in parts])


def to_numpy(x):
    """A network's output as NumPy, float32 even under a mixed-precision policy."""
    return ops.convert_to_numpy(_checks.full_precision(x))


def _in_memory(data):
    """Arrays and tensors (which fit() can check and shuffle), as opposed to pipelines and generators."""
    images = images_of(data)
    return isinstance(images, (np.ndarray, list)) or keras.ops.is_tensor(images)


class GenerativeModel(keras.Model):
    """Base class: Mean trackers exposed by `metrics`, and early input checks in fit/evaluate.

    Subclasses set `self.data_shape` (per-example shape) and `self.value_range`.
    """

    value_range = (0.0, 1.0)

    def _make_trackers(self, *names):
        self._trackers = {name: keras.metrics.Mean(name=name) for name in names}

    @property
    def metrics(self):
        # Listed here so Keras resets them at each epoch and the progress bar shows each once.
        return list(self._trackers.values())

    def _update_trackers(self, **values):
        for name, value in values.items():
            self._trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self._trackers.items()}

    def check_inputs(self, x, name="x"):
        """Validate a NumPy batch of examples; returns it as float32."""
        return _checks.check_images(x, self.data_shape, self.value_range, name)

    def _check_data(self, data, name):
        """Shape, dtype, range and NaN checks on arrays, or on a tf.data pipeline's element spec and
        first batch, before Keras traces anything."""
        if data is None:
            raise ValueError(f"fit()/evaluate() needs data: {name} is None")
        if hasattr(data, "element_spec"):
            spec = images_of(data.element_spec)
            if tuple(spec.shape[1:]) != tuple(self.data_shape):
                raise ValueError(f"{name} yields examples of shape {tuple(spec.shape[1:])}, expected {tuple(self.data_shape)}")
            if not spec.dtype.is_floating:
                raise ValueError(
                    f"{name} yields {spec.dtype.name} examples; this model trains on floats in {self.value_range} "
                    "(scale uint8 digits with keras_genai.datasets.scale_images before building the pipeline)"
                )
            batch = images_of(next(iter(data.take(1))))
            array = self.check_inputs(np.asarray(batch), f"{name} (first batch)")
        elif _in_memory(data):
            array = self.check_inputs(images_of(data), name)
        else:  # a generator or keras.utils.PyDataset: nothing to inspect before Keras streams it
            return
        low, high = self.value_range
        if len(self.data_shape) == 3 and low < 0 <= array.min():
            # [0, 1] digits lie inside a GAN's [-1, 1], so the range check alone passes them; but images
            # scaled to a range around 0 have their dark pixels below 0.
            raise ValueError(
                f"{name} spans [{array.min():.3g}, {array.max():.3g}] with no negative pixel, but this model's "
                f"value_range is {tuple(self.value_range)}: the data look scaled for another model family "
                '(the AE/VAE\'s [0, 1]). Use keras_genai.datasets.scale_images(x, "gan") for [-1, 1].'
            )

    def _check_fit_data(self, x, y, validation_data):
        # Arrays given as x and y are checked like a validation_data tuple (x, y).
        self._check_data(x if y is None else (x, y), "x")
        if validation_data is not None:
            self._check_data(validation_data, "validation_data")

    def fit(self, x=None, y=None, *args, validation_data=None, **kwargs):
        self._check_fit_data(x, y, validation_data)
        if not _in_memory(x):  # a pipeline or generator shuffles itself; Keras warns about shuffle=True
            kwargs.setdefault("shuffle", False)
        return super().fit(x, y, *args, validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self._check_fit_data(x, y, None)
        return super().evaluate(x, y, *args, **kwargs)

    # Keras saves a model's own variables but not the state of a SeedGenerator it holds, so after
    # load_weights (e.g. keras.callbacks.BackupAndRestore resuming a killed run) the noise would
    # restart from the first draw and the resumed run would differ from an uninterrupted one.
    _SEED_KEY = "seed_generator_state"

    def save_own_variables(self, store):
        super().save_own_variables(store)
        if getattr(self, "seed_generator", None) is not None:
            store[self._SEED_KEY] = self.seed_generator.state

    def load_own_variables(self, store):
        if getattr(self, "seed_generator", None) is not None and self._SEED_KEY in store.keys():
            self.seed_generator.state.assign(store[self._SEED_KEY])
            store = {key: store[key] for key in store.keys() if key != self._SEED_KEY}
        super().load_own_variables(store)

    # Under MultiWorkerMirroredStrategy Keras 3.15 averages each step's logs with
    # strategy.reduce("MEAN", v, axis=0), which fails on scalars ("Invalid reduction dimension 0",
    # tensorflow/tensorflow#72388). Logs of shape (1,) reduce to the same mean, as a scalar.
    def make_train_function(self, force=False):
        if self.train_function is None or force:
            self.train_function = self._make_function(self._multi_worker_safe(self.train_step))
        return self.train_function

    def make_test_function(self, force=False):
        if self.test_function is None or force:
            self.test_function = self._make_function(self._multi_worker_safe(self.test_step))
        return self.test_function

    def _multi_worker_safe(self, step):
        strategy = self.distribute_strategy
        if not (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
                and strategy.extended._in_multi_worker_mode()):
            return step
        return lambda data: {name: tf.reshape(value, (1,)) for name, value in step(data).items()}

    # model.quantize("int8") swaps a layer's float kernel for int8 values and scales. A functional
    # sub-network records that in its layers' configs, but layers this class creates in __init__
    # are rebuilt as float on loading and then refuse the int8 variables. So the build config
    # lists them by path and build_from_config quantizes them again before the weights are read.
    def get_build_config(self):
        config = super().get_build_config()
        quantized = {layer.path: layer.quantization_mode for layer in self._flatten_layers(include_self=False)
                     if layer.quantization_mode is not None}
        return {**(config or {}), "quantized_layers": quantized} if quantized else config

    def build_from_config(self, config):
        config = dict(config)
        quantized = config.pop("quantized_layers", {})
        super().build_from_config(config)
        for layer in self._flatten_layers(include_self=False):
            if layer.path in quantized and layer.quantization_mode is None:
                layer.quantize(quantized[layer.path])

    def save(self, filepath, *args, **kwargs):
        # The legacy HDF5 format stores no custom train_step, compile() or sub-network config:
        # keras.saving.load_model then fails with "Unknown layer". Refuse it while the user can react.
        if str(filepath).lower().endswith((".h5", ".hdf5")):
            raise ValueError(
                f"cannot save {type(self).__name__} to {filepath!r}: the legacy HDF5 format cannot restore this "
                "model (keras.saving.load_model would fail with \"Unknown layer\"). Save to a .keras file, "
                "e.g. model.save(\"model.keras\"), which round-trips the networks and optimizer state."
            )
        return super().save(filepath, *args, **kwargs)

    def _latent(self, n=None, z=None, seed=None):
        """z given, or n draws from N(0, I) with a NumPy seed (same seed -> same samples)."""
        if z is None:
            n = _checks.check_positive_int(n, "n")
            z = np.random.default_rng(seed).standard_normal((n, self.latent_dim))
        z = _checks.as_float_array(z, "z")
        _checks.check_shape(z, (self.latent_dim,), "z")
        return _checks.check_finite(z, "z")


class LabelConditioned:
    """Mixin for models that generate from a class label as well as a latent code.

    Training data are (images, labels): fit(x, y=labels) or a tf.data pipeline of (images, labels)
    pairs, labels being integer class indices in [0, num_classes).
    """

    def _set_num_classes(self, num_classes):
        self.num_classes = _checks.check_positive_int(num_classes, "num_classes")
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")

    def check_labels(self, labels, n=None, name="labels"):
        return _checks.check_labels(labels, self.num_classes, n, name)

    @staticmethod
    def _split(data):
        return data[0], ops.reshape(ops.cast(data[1], "int32"), (-1,))

    def _condition_help(self):
        return (f"{type(self).__name__} trains on (images, labels): pass fit(x, y=labels) or a dataset of "
                f"(images, labels) pairs, with integer labels in [0, {self.num_classes - 1}]")

    def _check_data(self, data, name):
        super()._check_data(data, name)
        need = self._condition_help()
        if hasattr(data, "element_spec"):
            spec = data.element_spec
            if not isinstance(spec, (tuple, list)) or len(spec) < 2:
                raise ValueError(f"{name} yields images only. {need}")
            if not spec[1].dtype.is_integer:
                raise TypeError(f"{name} yields {spec[1].dtype.name} labels. {need}")
            images, labels = next(iter(data.take(1)))[:2]
            self.check_labels(np.asarray(labels), len(images), f"{name} labels (first batch)")
        elif _in_memory(data):
            if not isinstance(data, (tuple, list)) or len(data) < 2 or data[1] is None:
                raise ValueError(f"{name} comes without labels. {need}")
            self.check_labels(data[1], len(data[0]), f"{name} labels")

    def _labels_and_latent(self, n, labels, z, seed):
        """The checked labels and latent codes of a generate() call: one label per sample, or a
        single label for all n samples (or all rows of z)."""
        if labels is None:
            raise ValueError(f"{type(self).__name__}.generate needs labels=: the class of each sample "
                             f"(integers in [0, {self.num_classes - 1}]), or one class for all n samples")
        if z is not None:
            z = self._latent(z=z)
        count = len(z) if z is not None else n
        if np.ndim(labels) == 0:
            if count is None:
                raise ValueError("a single label needs n (or z) to say how many samples to generate")
            labels = np.full(_checks.check_positive_int(count, "n"), labels)
        labels = self.check_labels(labels, count)
        return labels, (self._latent(len(labels), None, seed) if z is None else z)
