"""Numbers that say how good a generative model is, computed rather than claimed.

The digit classifier is the domain "feature extractor": a small CNN trained on real
digits (cached on disk after its first training) that labels samples and provides
features for distribution metrics.
"""

import dataclasses
import os
import re

import keras
import numpy as np
from keras import layers

from keras_genai import _checks, config, datasets


def _digit_classifier_net():
    x = keras.Input(datasets.IMAGE_SHAPE, name="image")
    h = layers.Conv2D(32, 3, activation="relu", padding="same")(x)
    h = layers.MaxPooling2D()(h)
    h = layers.Conv2D(64, 3, activation="relu", padding="same")(h)
    h = layers.MaxPooling2D()(h)
    h = layers.Flatten()(h)
    h = layers.Dropout(0.3)(h)
    features = layers.Dense(128, activation="relu", name="features")(h)
    probs = layers.Dense(10, activation="softmax", name="probs")(layers.Dropout(0.3)(features))
    return keras.Model(x, probs, name="digit_classifier")


@dataclasses.dataclass
class DigitClassifier:
    """A trained classifier of 28x28 digits in [0, 1] and its held-out accuracy."""

    model: keras.Model
    test_accuracy: float
    source: str

    def probabilities(self, images, value_range=(0.0, 1.0)):
        x = _to_unit_range(images, value_range)
        return self.model.predict(x, batch_size=500, verbose=0)

    def features(self, images, value_range=(0.0, 1.0)):
        x = _to_unit_range(images, value_range)
        extractor = keras.Model(self.model.input, self.model.get_layer("features").output)
        return extractor.predict(x, batch_size=500, verbose=0)


def _to_unit_range(images, value_range):
    x = _checks.check_images(images, datasets.IMAGE_SHAPE, value_range, "images")
    low, high = value_range
    return (x - low) / (high - low)


def digit_classifier(data=None, epochs=8, seed=0, cache=True, verbose=True):
    """Train (or load from the cache) the digit classifier on `data` (default: load_mnist()).

    The cache key is the data source, so full MNIST and the embedded subset never mix.
    """
    data = data or datasets.load_mnist(verbose=False)
    key = re.sub(r"[^a-z0-9]+", "_", data.source.lower()).strip("_")
    path = os.path.join(config.cache_dir(), f"digit_classifier_{key}_{len(data.x_train)}.keras")
    x_test = datasets.scale_images(data.x_test, "ae")
    if cache and os.path.exists(path):
        model = keras.saving.load_model(path)
    else:
        keras.utils.set_random_seed(seed)
        model = _digit_classifier_net()
        model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(datasets.scale_images(data.x_train, "ae"), data.y_train, batch_size=64, epochs=epochs, verbose=0)
        if cache:
            model.save(path)
    accuracy = float(np.mean(model.predict(x_test, batch_size=500, verbose=0).argmax(1) == data.y_test))
    if verbose:
        print(f"Digit classifier: test accuracy {accuracy:.3f} on {len(x_test):,} held-out digits ({data.source})")
    return DigitClassifier(model, accuracy, data.source)


@dataclasses.dataclass
class ConfidenceReport:
    """How a classifier trained on real digits sees a set of samples."""

    confident_fraction: float  # share of samples whose top class has probability >= threshold
    classes_found: int  # distinct digits among the confident samples
    class_counts: np.ndarray  # confident samples per digit
    threshold: float

    def __str__(self):
        return (
            f"{self.confident_fraction:.1%} of samples classified with confidence >= {self.threshold}; "
            f"{self.classes_found}/10 digits found; per digit: {self.class_counts.tolist()}"
        )


def confidence_report(classifier, images, value_range=(0.0, 1.0), threshold=0.9):
    probs = classifier.probabilities(images, value_range)
    confident = probs.max(axis=1) >= threshold
    counts = np.bincount(probs.argmax(axis=1)[confident], minlength=10)
    return ConfidenceReport(float(confident.mean()), int(np.count_nonzero(counts)), counts, threshold)


def nearest_neighbours(queries, reference, batch_size=500):
    """Euclidean distance from each query to its nearest reference example, and its index."""
    q = _checks.as_float_array(queries, "queries").reshape(len(queries), -1)
    r = _checks.as_float_array(reference, "reference").reshape(len(reference), -1)
    if q.shape[1] != r.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} values per example, reference {r.shape[1]}")
    r_norms = (r**2).sum(1)
    distances, indices = [], []
    for start in range(0, len(q), batch_size):
        block = q[start:start + batch_size]
        d2 = (block**2).sum(1)[:, None] - 2 * block @ r.T + r_norms[None]
        idx = d2.argmin(1)
        indices.append(idx)
        distances.append(np.sqrt(np.maximum(d2[np.arange(len(block)), idx], 0)))
    return np.concatenate(distances), np.concatenate(indices)


def memorisation_check(samples, train, test):
    """Compare sample->train nearest distances with test->train ones (same scale).

    If samples sit much closer to training images than held-out real images do, the
    model is copying. Returns a dict of medians and the fraction of samples closer to
    the training set than the closest 1% of test images.
    """
    sample_d, sample_idx = nearest_neighbours(samples, train)
    test_d, _ = nearest_neighbours(test, train)
    threshold = np.quantile(test_d, 0.01)
    return {
        "median_sample_to_train": float(np.median(sample_d)),
        "median_test_to_train": float(np.median(test_d)),
        "fraction_closer_than_test_1pct": float(np.mean(sample_d < threshold)),
        "sample_distances": sample_d,
        "sample_neighbours": sample_idx,
    }
