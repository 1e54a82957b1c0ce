"""Early, readable checks of user input (shapes, dtypes, ranges, NaN).

Every public entry point that accepts arrays calls these before TensorFlow sees the
data, so a learner gets "expected values in [0, 1], got max 255" instead of a
stack trace from deep inside a graph.
"""

import numbers

import keras
import numpy as np


def as_float_array(x, name="x"):
    """Convert to a float32 NumPy array, rejecting non-numeric or empty input."""
    try:
        array = np.asarray(x)
    except Exception as error:  # pragma: no cover - numpy's own message is kept
        raise TypeError(f"{name} must be array-like, got {type(x).__name__}") from error
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == bool
    ):
        raise TypeError(f"{name} must hold numbers, got dtype {array.dtype}")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}); expected at least one example")
    return array.astype("float32", copy=False)


HALF_PRECISION = ("float16", "bfloat16")


def full_precision(x):
    """x as float32 when it is half precision (what layers return under a mixed-precision policy);
    anything else unchanged, so float32 and float64 computations stay as they were."""
    return keras.ops.cast(x, "float32") if keras.backend.standardize_dtype(x.dtype) in HALF_PRECISION else x


def check_finite(array, name="x"):
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return array


def check_shape(array, expected, name="x"):
    """`expected` is a per-example shape; the batch dimension is added here."""
    expected = tuple(expected)
    if array.shape[1:] != expected:
        raise ValueError(
            f"{name} must have shape (batch, {', '.join(map(str, expected))}), "
            f"got {array.shape}"
        )
    return array


def check_range(array, low, high, name="x"):
    lo, hi = float(np.min(array)), float(np.max(array))
    if lo < low - 1e-6 or hi > high + 1e-6:
        hint = ""
        if hi > 1.5 and high <= 1:
            hint = " (did you forget to scale pixel values, e.g. with keras_genai.datasets.scale_images?)"
        raise ValueError(
            f"{name} must have values in [{low}, {high}], got min {lo:.4g} and max {hi:.4g}{hint}"
        )
    return array


def check_images(x, shape, value_range, name="x"):
    """All checks for a batch of images: numeric, non-empty, shape, finite, range."""
    array = as_float_array(x, name)
    check_shape(array, shape, name)
    check_finite(array, name)
    check_range(array, value_range[0], value_range[1], name)
    return array


def check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_choice(value, choices, name):
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def check_labels(labels, num_classes, n=None, name="labels"):
    """Class labels: integers in [0, num_classes), shape (n,); returns them as int32."""
    array = np.asarray(labels)
    if array.size == 0:
        raise ValueError(f"{name} is empty; expected at least one label")
    if array.ndim != 1:
        hint = " (one-hot rows? pass labels.argmax(axis=1))" if array.ndim == 2 and array.shape[1] > 1 else ""
        raise ValueError(f"{name} must have shape (n,), one class index per example, got shape {array.shape}{hint}")
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        hint = " (float labels: use labels.astype(int) for whole numbers)" if array.dtype.kind == "f" else ""
        raise TypeError(f"{name} must be integer class indices in [0, {num_classes - 1}], got dtype {array.dtype}{hint}")
    if n is not None and len(array) != n:
        raise ValueError(f"{name} has {len(array)} labels for {n} examples: give one label per example")
    if array.min() < 0 or array.max() >= num_classes:
        raise ValueError(f"{name} must lie in [0, {num_classes - 1}], got min {array.min()} and max {array.max()}")
    return array.astype("int32")


def check_positive_number(value, name):
    """A real number > 0 (NaN and booleans rejected); returns it as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    return float(value)
