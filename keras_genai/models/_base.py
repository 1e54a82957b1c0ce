"""What every model of the package shares: trackers, input checks, sub-network config."""

import keras
import numpy as np

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

    def _check_fit_data(self, x, validation_data):
        self._check_data(x, "x")
        if validation_data is not None:
            self._check_data(validation_data, "validation_data")

    def fit(self, x=None, y=None, *args, validation_data=None, **kwargs):
        self._check_fit_data(x, validation_data)
        if not _in_memory(x):  # a pipeline or generator shuffles itself; Keras warns about shuffle=True
            kwargs.setdefault("shuffle", False)
        return super().fit(x, y, *args, validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self._check_fit_data(x, None)
        return super().evaluate(x, y, *args, **kwargs)

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
