"""How good learned features are: a linear probe and a k-nearest-neighbour classifier trained on them.

Both ask how easily labels can be read off a representation that never saw them: through one linear
boundary (the probe) or through cosine neighbourhoods (kNN). Choose every setting (the probe's L2
strength, kNN's k) by accuracy on a validation split carved out of the training data, then score the
test split once with the chosen setting. A setting picked by its test accuracy makes that accuracy
an optimistic, tuned-to-test number (keras-io's SimCLR example reports one).
"""

import dataclasses

import numpy as np
from scipy import optimize, special

from keras_genai import _checks
from keras_genai.evaluation.images import _feature_pair

L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)


def _labels(labels, n, name):
    """Integer class indices >= 0, one per feature row (the number of classes is not known yet)."""
    return _checks.check_labels(labels, np.iinfo(np.int32).max, n, name)


def _features_and_labels(train_features, train_labels, other_features, other_labels, other):
    train, other_x = _feature_pair(train_features, other_features, ("train_features", f"{other}_features"), 1)
    return (train, _labels(train_labels, len(train), "train_labels"),
            other_x, _labels(other_labels, len(other_x), f"{other}_labels"))


@dataclasses.dataclass
class LinearProbe:
    """Multinomial logistic regression on standardised features, fitted on the training split only."""

    weights: np.ndarray  # (feature_dim, classes)
    bias: np.ndarray  # (classes,)
    mean: np.ndarray  # the training features' mean and standard deviation, per feature
    std: np.ndarray
    l2: float  # the chosen L2 strength
    validation_accuracies: dict  # validation accuracy of each L2 strength tried

    def predict(self, features):
        x = _checks.check_finite(_checks.as_float_array(features, "features"), "features")
        _checks.check_shape(x, self.mean.shape, "features")
        return np.argmax(((x - self.mean) / self.std) @ self.weights + self.bias, axis=1)

    def accuracy(self, features, labels):
        """Accuracy on a labelled split: score the test split here, once, after choosing on validation."""
        predictions = self.predict(features)
        return float(np.mean(predictions == _labels(labels, len(predictions), "labels")))


def _fit_logistic(x, y, num_classes, l2, max_iter):
    """Minimise mean cross-entropy + l2/2 ||W||^2 (bias unpenalised) with L-BFGS from zero weights."""
    n, d = x.shape
    onehot = np.eye(num_classes)[y]

    def loss_and_gradient(flat):
        w, b = flat[:-num_classes].reshape(d, num_classes), flat[-num_classes:]
        log_p = special.log_softmax(x @ w + b, axis=1)
        residual = (np.exp(log_p) - onehot) / n  # d(mean cross-entropy) / d(logits)
        loss = -np.sum(onehot * log_p) / n + 0.5 * l2 * np.sum(w**2)
        return loss, np.concatenate([(x.T @ residual + l2 * w).ravel(), residual.sum(0)])

    start = np.zeros((d + 1) * num_classes)
    flat = optimize.minimize(loss_and_gradient, start, jac=True, method="L-BFGS-B", options={"maxiter": max_iter}).x
    return flat[:-num_classes].reshape(d, num_classes), flat[-num_classes:]


def linear_probe(train_features, train_labels, val_features, val_labels, l2_grid=L2_GRID, max_iter=500):
    """Fit a logistic-regression probe on the training features for each L2 strength in l2_grid and keep
    the one with the best accuracy on the validation features. Returns (probe, validation accuracy).

    The test split plays no part: score it afterwards with probe.accuracy(test_features, test_labels).
    Features are standardised with the training mean and standard deviation (stored in the probe).
    """
    x, y, val_x, val_y = _features_and_labels(train_features, train_labels, val_features, val_labels, "val")
    if not l2_grid or any(not l2 >= 0 for l2 in l2_grid):
        raise ValueError(f"l2_grid must be a non-empty sequence of numbers >= 0, got {l2_grid!r}")
    max_iter = _checks.check_positive_int(max_iter, "max_iter")
    num_classes = int(max(y.max(), val_y.max())) + 1
    mean, std = x.mean(0), x.std(0)
    std[std == 0] = 1.0  # a constant feature carries nothing; leave it at 0 instead of dividing by 0
    x = (x - mean) / std
    probes = {float(l2): LinearProbe(*_fit_logistic(x, y, num_classes, float(l2), max_iter), mean, std, float(l2), {})
              for l2 in l2_grid}
    accuracies = {l2: probe.accuracy(val_x, val_y) for l2, probe in probes.items()}
    best = max(accuracies, key=accuracies.get)  # a tie goes to the L2 strength listed first
    return dataclasses.replace(probes[best], validation_accuracies=accuracies), accuracies[best]


def knn_accuracy(train_features, train_labels, query_features, query_labels, k=5, block=1000):
    """Accuracy of a k-nearest-neighbour vote under cosine similarity: each query takes the majority
    label of its k most similar training rows (a tie goes to the tied class with the nearest member).

    Choose k with validation queries; pass the test split as queries only once, with that k.
    """
    x, y, q, q_y = _features_and_labels(train_features, train_labels, query_features, query_labels, "query")
    k = _checks.check_positive_int(k, "k")
    if k > len(x):
        raise ValueError(f"k={k} neighbours asked of {len(x)} training rows")
    x, q = _unit_rows(x), _unit_rows(q)
    predictions = np.concatenate([_vote(y[_nearest(q[i:i + block], x, k)]) for i in range(0, len(q), block)])
    return float(np.mean(predictions == q_y))


def _unit_rows(a):
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)  # a zero row stays zero


def _nearest(queries, train, k):
    """Indices of the k most similar training rows of each query, most similar first."""
    similarity = queries @ train.T
    top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(similarity, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


def _vote(neighbour_labels):
    """The majority label of each row of neighbour labels (sorted nearest first); ties to the nearest."""
    rows = np.arange(len(neighbour_labels))[:, None]
    counts = np.zeros((len(neighbour_labels), neighbour_labels.max() + 1), int)
    np.add.at(counts, (rows, neighbour_labels), 1)
    votes = counts[rows, neighbour_labels]  # each neighbour's class count
    return neighbour_labels[rows[:, 0], np.argmax(votes == votes.max(1, keepdims=True), axis=1)]
