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

    def _check_fit_data(self, x, validation_data):
        if isinstance(x, (np.ndarray, list)):
            self.check_inputs(x, "x")
        elif x is None:
            raise ValueError("fit()/evaluate() needs data: x is None")
        elif hasattr(x, "element_spec"):
            spec = images_of(x.element_spec)
            shape = tuple(spec.shape[1:])
            if shape != tuple(self.data_shape):
                raise ValueError(
                    f"dataset yields examples of shape {shape}, expected {tuple(self.data_shape)}"
                )
        if validation_data is not None and isinstance(images_of(validation_data), np.ndarray):
            self.check_inputs(images_of(validation_data), "validation_data")

    def fit(self, x=None, y=None, *args, validation_data=None, **kwargs):
        self._check_fit_data(x, validation_data)
        if hasattr(x, "element_spec"):  # a tf.data pipeline shuffles itself; Keras warns about shuffle=True
            kwargs.setdefault("shuffle", False)
        return super().fit(x, y, *args, validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self._check_fit_data(x, None)
        return super().evaluate(x, y, *args, **kwargs)

    def _latent(self, n=None, z=None, seed=None):
        """z given, or n draws from N(0, I) with a NumPy seed (same seed -> same samples)."""
        if z is None:
            n = _checks.check_positive_int(n, "n")
            z = np.random.default_rng(seed).standard_normal((n, self.latent_dim))
        z = _checks.as_float_array(z, "z")
        _checks.check_shape(z, (self.latent_dim,), "z")
        return _checks.check_finite(z, "z")
