"""Numbers that say how good a generative model is, computed rather than claimed.

The digit classifier is the domain "feature extractor": a small CNN trained on real
digits (cached on disk after its first training) that labels samples and provides
features for distribution metrics.
"""

import dataclasses
import functools
import os
import re

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops
from scipy import special

from keras_genai import _checks, config, datasets
from keras_genai.losses import LOG_2PI
from keras_genai.models._base import in_batches


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
        return _predict_in_full_batches(self.model, _to_unit_range(images, value_range))

    def features(self, images, value_range=(0.0, 1.0)):
        return _predict_in_full_batches(self._feature_extractor, _to_unit_range(images, value_range))

    @functools.cached_property
    def _feature_extractor(self):
        # Built once: a new Model per call would retrace its predict function every time.
        return keras.Model(self.model.input, self.model.get_layer("features").output)


def _predict_in_full_batches(model, x, batch_size=500):
    """predict() with x padded to whole batches: one traced input shape, so scoring many sets of
    different sizes does not retrace (and warn) each time. Rows are independent at inference."""
    padding = np.zeros((-len(x) % batch_size, *x.shape[1:]), x.dtype)
    return model.predict(np.concatenate([x, padding]), batch_size=batch_size, verbose=0)[: len(x)]


def _to_unit_range(images, value_range):
    x = _checks.check_images(images, datasets.IMAGE_SHAPE, value_range, "images")
    low, high = value_range
    return (x - low) / (high - low)


def digit_classifier(data=None, epochs=8, seed=0, cache=True, verbose=True):
    """Train (or load from the cache) the digit classifier on `data` (default: load_mnist()).

    The cache key is the data source, its size, epochs and seed, so full MNIST and the
    embedded subset (or two training settings) never mix.
    """
    data = data or datasets.load_mnist(verbose=False)
    key = re.sub(r"[^a-z0-9]+", "_", data.source.lower()).strip("_")
    path = os.path.join(config.cache_dir(), f"digit_classifier_{key}_{len(data.x_train)}_e{epochs}_s{seed}.keras")
    x_test = datasets.scale_images(data.x_test, "ae")
    if cache and os.path.exists(path):
        model = keras.saving.load_model(path)
    else:
        model = _compiled_classifier(seed)
        model.fit(datasets.scale_images(data.x_train, "ae"), data.y_train, batch_size=64, epochs=epochs, verbose=0)
        if cache:  # write then rename, so a process reading the cache never sees half a file
            partial = f"{path}.{os.getpid()}.keras"
            model.save(partial)
            os.replace(partial, path)
    accuracy = float(np.mean(model.predict(x_test, batch_size=500, verbose=0).argmax(1) == data.y_test))
    if verbose:
        print(f"Digit classifier: test accuracy {accuracy:.3f} on {len(x_test):,} held-out digits ({data.source})")
    return DigitClassifier(model, accuracy, data.source)


def _compiled_classifier(seed, augmentation=None):
    keras.utils.set_random_seed(seed)
    net = _digit_classifier_net()
    model = net if augmentation is None else keras.Sequential([augmentation, net], name="augmented_classifier")
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def fit_digit_classifier(images, labels, test_images, test_labels, steps=400, batch_size=64, augmentation=None,
                         extra=None, seed=0):
    """The digit classifier's network trained from scratch for `steps` batches, with its test accuracy.

    For data-augmentation experiments: the same number of updates whatever the training set's size.
    images: digits (n, 28, 28, 1) in [0, 1]; augmentation: a layer applied to every training batch
    (e.g. keras_genai.layers.digit_augmentation(seed=0)), inactive at test time;
    extra: (images, labels) of generated digits that fill half of every batch, the real ones the other half.
    """
    steps, batch_size = _checks.check_positive_int(steps, "steps"), _checks.check_positive_int(batch_size, "batch_size")
    x = _to_unit_range(images, (0.0, 1.0))
    y = _checks.check_labels(labels, 10, len(x), "labels")
    x_test = _to_unit_range(test_images, (0.0, 1.0))
    y_test = _checks.check_labels(test_labels, 10, len(x_test), "test_labels")
    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed).repeat()
    if extra is not None:
        x_extra = _to_unit_range(extra[0], (0.0, 1.0))
        generated = tf.data.Dataset.from_tensor_slices(
            (x_extra, _checks.check_labels(extra[1], 10, len(x_extra), "extra labels"))
        ).shuffle(len(x_extra), seed=seed + 1).repeat()
        data = tf.data.Dataset.sample_from_datasets([data, generated], [0.5, 0.5], seed=seed)
    model = _compiled_classifier(seed, augmentation)
    model.fit(data.batch(batch_size), steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)
    # Eager calls, not predict(): a new model per experiment would trace a new predict function each time.
    accuracy = float(np.mean(in_batches(model, x_test, 500).argmax(1) == y_test))
    return DigitClassifier(model, accuracy, f"{len(x):,} real digits" + ("" if extra is None else
                                                                          f" + {len(x_extra):,} generated"))


@dataclasses.dataclass
class ConfidenceReport:
    """How a classifier trained on real digits sees a set of samples."""

    confident_fraction: float  # share of samples whose top class has probability >= threshold
    classes_found: int  # distinct digits among the confident samples (one confident sample is enough)
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


# --- Input checks shared by the metrics --------------------------------------------------

def _feature_matrix(x, name, min_rows=2):
    """A finite float64 (n, d) array with at least `min_rows` rows."""
    _checks.as_float_array(x, name)  # numeric and non-empty; float64 is kept below
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (n_samples, n_features), got {x.shape}")
    _checks.check_finite(x, name)
    if len(x) < min_rows:
        raise ValueError(f"{name} has {len(x)} sample(s); this metric needs at least {min_rows}")
    return x


def _feature_pair(a, b, names, min_rows=2):
    a, b = _feature_matrix(a, names[0], min_rows), _feature_matrix(b, names[1], min_rows)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{names[0]} has {a.shape[1]} features per sample but {names[1]} has {b.shape[1]}; "
            "compute both with the same feature extractor"
        )
    return a, b


# --- Distribution distances on classifier features (FID, KID) --------------------------

def frechet_distance(features_a, features_b):
    """Fréchet distance between Gaussians fitted to two feature sets (n, d), in float64:

        ||mu_a - mu_b||^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^{1/2}).

    With the centred features factored as A = Q_a R_a and B = Q_b R_b (QR), S_a S_b has the
    same non-zero eigenvalues as (R_a R_b^T)(R_a R_b^T)^T / ((n_a - 1)(n_b - 1)), so the
    trace term is the sum of singular values of R_a R_b^T, scaled. This avoids the matrix
    square root: scipy.linalg.sqrtm of S_a S_b can return round-off imaginary parts, and
    square roots of round-off eigenvalues (dead ReLU features give exactly singular
    covariances; 1e-16 becomes 1e-8) would cost about half of float64's digits.
    """
    a, b = _feature_pair(features_a, features_b, ("features_a", "features_b"))
    centred_a, centred_b = a - a.mean(0), b - b.mean(0)
    r_a, r_b = np.linalg.qr(centred_a, mode="r"), np.linalg.qr(centred_b, mode="r")
    scale = np.sqrt((len(a) - 1) * (len(b) - 1))
    trace_sqrt = np.linalg.svd(r_a @ r_b.T, compute_uv=False).sum() / scale
    trace_a = np.sum(centred_a**2) / (len(a) - 1)
    trace_b = np.sum(centred_b**2) / (len(b) - 1)
    mean_term = np.sum((a.mean(0) - b.mean(0)) ** 2)
    distance = mean_term + trace_a + trace_b - 2.0 * trace_sqrt
    return float(max(distance, 0.0))  # round-off can give -1e-13 for identical sets


def fid(classifier, images_a, images_b, value_range=(0.0, 1.0)):
    """Fréchet distance between the digit classifier's "features" of two image sets.

    The MNIST analogue of FID (which uses Inception-v3 features of natural images).
    Lower is better; two samples of the same distribution score near 0, but the estimate
    is biased upwards for small sets, so compare only numbers computed with equal sizes.
    """
    return frechet_distance(
        classifier.features(images_a, value_range), classifier.features(images_b, value_range)
    )


def _polynomial_kernel(x, y):
    """k(x, y) = (x.y / d + 1)^3, the kernel of KID (Binkowski et al. 2018)."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _mmd2_unbiased(x, y):
    """Unbiased MMD^2: within-set kernel means leave out the diagonal (k(x_i, x_i))."""
    m, n = len(x), len(y)
    k_xx, k_yy = _polynomial_kernel(x, x), _polynomial_kernel(y, y)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return within_x + within_y - 2.0 * _polynomial_kernel(x, y).mean()


def kid(features_a, features_b, subsets=50, subset_size=500, seed=0):
    """Kernel Inception Distance: unbiased MMD^2 with the cubic polynomial kernel.

    Averaged over `subsets` random subsets of `subset_size` samples from each set.
    Returns (mean, standard error of the mean over subsets). Unbiased, so two samples of
    the same distribution give values scattered around 0 (negative ones included). The
    standard error only covers the choice of subsets of these two sets, not the variation
    between fresh samples; the subsets overlap heavily, so it is only a rough guide (notebook 07
    compares it with the spread over fresh samples: the two are of the same order).
    """
    a, b = _feature_pair(features_a, features_b, ("features_a", "features_b"))
    subsets = _checks.check_positive_int(subsets, "subsets")
    subset_size = _checks.check_positive_int(subset_size, "subset_size")
    if subsets < 2:
        raise ValueError("kid needs subsets >= 2 to estimate its standard error")
    if not 2 <= subset_size <= min(len(a), len(b)):
        raise ValueError(
            f"subset_size must be between 2 and the smaller set size {min(len(a), len(b))}, got {subset_size}"
        )
    rng = np.random.default_rng(seed)
    values = [
        _mmd2_unbiased(
            a[rng.choice(len(a), subset_size, replace=False)],
            b[rng.choice(len(b), subset_size, replace=False)],
        )
        for _ in range(subsets)
    ]
    return float(np.mean(values)), float(np.std(values, ddof=1) / np.sqrt(subsets))


# --- Inception-score analogue -----------------------------------------------------------

def inception_score(probabilities, splits=10):
    """exp(E_x KL(p(y|x) || p(y))) from class probabilities (n, classes), per split.

    High when each sample is classified confidently (peaked p(y|x)) and the classes are
    balanced (flat p(y)): between 1 and the number of classes. Returns (mean, std over
    splits), as in Salimans et al. (2016). It never looks at real data, so it cannot see
    samples that are confident but unlike the data.
    """
    splits = _checks.check_positive_int(splits, "splits")
    p = _feature_matrix(probabilities, "probabilities", min_rows=splits)
    sums = p.sum(axis=1)
    if p.min() < 0 or p.max() > 1 or np.abs(sums - 1).max() > 1e-3:
        raise ValueError(
            "probabilities must be rows of class probabilities (e.g. softmax outputs) summing to 1; "
            f"got values in [{p.min():.3g}, {p.max():.3g}] and row sums in [{sums.min():.4g}, {sums.max():.4g}]"
        )
    scores = []
    for part in np.array_split(p, splits):
        kl = special.rel_entr(part, part.mean(axis=0)).sum(axis=1)  # rel_entr: 0 log 0 = 0
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


# --- Precision/recall (Kynkäänniemi et al. 2019), density/coverage (Naeem et al. 2020) ---

def _pairwise_distances(a, b):
    d2 = (a**2).sum(1)[:, None] - 2.0 * a @ b.T + (b**2).sum(1)[None]
    return np.sqrt(np.maximum(d2, 0.0))


def knn_radii(x, k=3, block=1000):
    """Distance from each point (row of x, shape (n, d)) to its k-th nearest other point of the same
    set: the radius of its ball in precision/recall and density/coverage."""
    k = _checks.check_positive_int(k, "k")
    x = _feature_matrix(x, "x", min_rows=k + 1)
    radii = []
    for start in range(0, len(x), block):
        d = _pairwise_distances(x[start:start + block], x)
        d[np.arange(len(d)), start + np.arange(len(d))] = np.inf  # a point is not its own neighbour
        radii.append(np.partition(d, k - 1, axis=1)[:, k - 1])
    return np.concatenate(radii)


def _inside_manifold(queries, points, radii, block=1000):
    """Whether each query lies in at least one ball B(point_i, radius_i)."""
    return np.concatenate([
        (_pairwise_distances(queries[start:start + block], points) <= radii[None]).any(axis=1)
        for start in range(0, len(queries), block)
    ])


def precision_recall(real_features, fake_features, k=3):
    """Improved precision and recall for generative models (Kynkäänniemi et al. 2019).

    Each set's manifold is the union of balls around its points with radius the distance to
    the k-th nearest neighbour in the same set. Precision: share of fake samples inside the
    real manifold (quality). Recall: share of real samples inside the fake manifold
    (diversity; near 0 for a collapsed generator). Returns (precision, recall).

    Give the real set several times more points than the fake one (image_scores uses every
    training digit). With equally few real points, outliers among them get large balls that
    swallow whole regions of feature space: uniform noise then scored precision 0.57 at
    n = 1,000 and 1.0 at n = 500 against 128-D digit features.
    """
    k = _checks.check_positive_int(k, "k")
    real, fake = _feature_pair(real_features, fake_features, ("real_features", "fake_features"), min_rows=k + 1)
    precision = _inside_manifold(fake, real, knn_radii(real, k)).mean()
    recall = _inside_manifold(real, fake, knn_radii(fake, k)).mean()
    return float(precision), float(recall)


def _balls_containing(queries, points, radii, block=1000):
    """For each query, how many balls B(point_i, radius_i) contain it; and for each ball whether
    any query falls inside it."""
    counts, hit = [], np.zeros(len(points), bool)
    for start in range(0, len(queries), block):
        inside = _pairwise_distances(queries[start:start + block], points) <= radii[None]
        counts.append(inside.sum(axis=1))
        hit |= inside.any(axis=0)
    return np.concatenate(counts), hit


def density_coverage(real_features, fake_features, k=3):
    """Density and coverage (Naeem et al. 2020), built on the real k-NN balls only.

    density = 1/(k M) sum_j #{real balls containing fake_j}: about 1 when samples are spread
        like the real data, above 1 where they crowd into dense real regions, near 0 off the
        manifold. An outlier's big ball holds one vote out of the k a typical sample gets, so a
        few real outliers cannot make noise look good (they fool precision).
    coverage = share of real balls that contain at least one fake sample: diversity measured
        on the real side, so it cannot be inflated by fake outliers (which fool recall).
    Both depend on how many fake samples there are per real point; compare rows computed with
    the same sizes (image_scores' ceiling row shows what real digits score). k = 3 rather than
    the paper's 5: on the digit classifier's features, k = 5 balls are large enough that blank
    images fall inside one (precision 1.0, density 0.2 at n = 1,000), k = 3 keeps them out.
    Returns (density, coverage).
    """
    k = _checks.check_positive_int(k, "k")
    real, fake = _feature_pair(real_features, fake_features, ("real_features", "fake_features"), min_rows=k + 1)
    counts, hit = _balls_containing(fake, real, knn_radii(real, k))
    return float(counts.mean() / k), float(hit.mean())


def manifold_scores(train_features, sample_features, k=3, seed=0):
    """Precision, recall, density and coverage of samples against real training features, as a dict.

    Precision, recall and density use every training point: a reference several times larger
    than the sample keeps the real balls small, so noise cannot score (see precision_recall).
    Coverage uses a random subset of as many training points as there are samples (the paper's
    setting): it asks which share of the real distribution the samples reach, and with many
    more balls than samples even real digits would leave most balls empty (0.07 at n = 100
    against 4,000 balls). Fake outliers cannot inflate it either way.
    """
    real, fake = _feature_pair(train_features, sample_features, ("train_features", "sample_features"), min_rows=k + 1)
    if len(real) < len(fake):
        raise ValueError(f"train_features has {len(real)} rows, fewer than the {len(fake)} samples: "
                         "the real manifold needs at least as many points as the samples")
    precision, recall = precision_recall(real, fake, k=k)
    density, _ = density_coverage(real, fake, k=k)
    subset = np.random.default_rng(seed).choice(len(real), len(fake), replace=False)
    _, coverage = density_coverage(real[subset], fake, k=k)
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


# --- Likelihood bounds for VAEs ---------------------------------------------------------

def _log_weights(vae, x, labels, eps):
    """log p(x|z) + log p(z) - log q(z|x) at z = mu + sigma * eps; eps (k, batch, latent) -> (k, batch).
    For a ConditionalVAE every term is conditioned on the labels: log p(x|z,y), log q(z|x,y)."""
    z_mean, z_log_var = (ops.convert_to_numpy(t).astype(np.float64) for t in vae._encode(x, labels, False))
    z = z_mean + np.exp(0.5 * z_log_var) * eps
    log_q = -0.5 * np.sum(LOG_2PI + z_log_var + eps**2, axis=-1)  # N(z; mu, sigma^2) with (z - mu)/sigma = eps
    log_prior = -0.5 * np.sum(LOG_2PI + z**2, axis=-1)
    log_likelihood = np.stack([
        -ops.convert_to_numpy(vae.reconstruction_nll(x, vae._decode(z_j.astype("float32"), labels, False)))
        for z_j in z
    ])
    return log_likelihood + log_prior - log_q


def iwae_bound(vae, x, k=100, batch_size=500, seed=0, labels=None):
    """Importance-weighted bound (Burda et al. 2016) per image, negated, in nats.

    L_k = log (1/k) sum_j p(x, z_j) / q(z_j|x) with z_j ~ q(z|x), and
    E[L_1] = ELBO <= E[L_k] <= E[L_{k+1}] <= log p(x). Returns -L_k, like VAE.negative_elbo:
    an upper bound on -log p(x) (lower is better) that tightens as k grows; k = 1 is the
    negative ELBO with a one-sample KL. eps ~ N(0, I) is drawn per batch, shape
    (k, batch, latent_dim), from np.random.default_rng(seed). With the Bernoulli likelihood on
    grey (non-binary) pixels this is a cross-entropy, not a density: compare it only between
    models with the same likelihood and data. labels: required for a ConditionalVAE, whose bound
    is on -log p(x | y).
    """
    x = vae.check_inputs(x)
    if hasattr(vae, "num_classes"):
        if labels is None:
            raise ValueError("a ConditionalVAE bounds -log p(x | y): pass the labels of x")
        labels = vae.check_labels(labels, len(x))
    elif labels is not None:
        raise ValueError(f"labels were given, but {type(vae).__name__} is not conditioned on labels")
    k = _checks.check_positive_int(k, "k")
    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    rng = np.random.default_rng(seed)
    bounds = []
    for start in range(0, len(x), batch_size):
        batch = x[start:start + batch_size]
        batch_labels = None if labels is None else labels[start:start + batch_size]
        log_w = _log_weights(vae, batch, batch_labels, rng.standard_normal((k, len(batch), vae.latent_dim)))
        bounds.append(np.log(k) - special.logsumexp(log_w, axis=0))  # -log mean exp
    return np.concatenate(bounds)


def bits_per_dim(nats, dims):
    """Negative log-likelihood in nats per example -> bits per dimension: nats / (dims ln 2)."""
    dims = _checks.check_positive_int(dims, "dims")
    _checks.as_float_array(nats, "nats")
    values = _checks.check_finite(np.asarray(nats, dtype=np.float64), "nats")
    result = values / (dims * np.log(2.0))
    return float(result) if result.ndim == 0 else result


# --- Reconstruction quality: PSNR and SSIM ----------------------------------------------

def _image_pair(a, b, data_range):
    """Two batches (n, height, width[, channels]) of the same shape as float64 (n, h, w, c)."""
    _checks.as_float_array(a, "a")
    _checks.as_float_array(b, "b")
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if a.ndim not in (3, 4):
        raise ValueError(f"expected a batch of images (n, height, width[, channels]), got shape {a.shape}")
    _checks.check_finite(a, "a")
    _checks.check_finite(b, "b")
    if isinstance(data_range, bool) or not isinstance(data_range, (int, float, np.number)) or not data_range > 0:
        raise ValueError(f"data_range must be a positive number (1 for [0, 1], 2 for [-1, 1]), got {data_range!r}")
    span = max(a.max(), b.max()) - min(a.min(), b.min())
    if span > data_range * (1 + 1e-6):
        raise ValueError(
            f"the images span {span:.4g}, more than data_range={data_range}: pass the range of their pixel scale"
        )
    if a.ndim == 3:
        a, b = a[..., None], b[..., None]
    return a, b


def psnr(a, b, data_range=1.0):
    """Peak signal-to-noise ratio per image in dB: 10 log10(data_range^2 / MSE); inf if identical."""
    a, b = _image_pair(a, b, data_range)
    mse = ((a - b) ** 2).reshape(len(a), -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range**2 / mse)


SSIM_WINDOW, SSIM_SIGMA, SSIM_K1, SSIM_K2 = 11, 1.5, 0.01, 0.03


def _gaussian_window(size=SSIM_WINDOW, sigma=SSIM_SIGMA):
    offsets = np.arange(size) - (size - 1) / 2
    weights = np.exp(-(offsets**2) / (2 * sigma**2))
    return weights / weights.sum()


def _window_means(x, weights):
    """Gaussian-weighted mean over every full window (separable: rows, then columns)."""
    for axis in (1, 2):
        x = np.lib.stride_tricks.sliding_window_view(x, len(weights), axis=axis) @ weights
    return x


def ssim(a, b, data_range=1.0):
    """Mean structural similarity per image (Wang et al. 2004), 1 for identical images.

    Over every full 11x11 Gaussian window (sigma 1.5) and channel:
    SSIM = (2 mu_a mu_b + C1)(2 s_ab + C2) / ((mu_a^2 + mu_b^2 + C1)(s_a^2 + s_b^2 + C2)),
    C1 = (0.01 L)^2, C2 = (0.03 L)^2, L = data_range.
    """
    a, b = _image_pair(a, b, data_range)
    if min(a.shape[1:3]) < SSIM_WINDOW:
        raise ValueError(f"ssim needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, got {a.shape[1:3]}")
    w = _gaussian_window()
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    mu_a, mu_b = _window_means(a, w), _window_means(b, w)
    var_a = _window_means(a * a, w) - mu_a**2
    var_b = _window_means(b * b, w) - mu_b**2
    cov = _window_means(a * b, w) - mu_a * mu_b
    ssim_map = (2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return ssim_map.reshape(len(a), -1).mean(axis=1)


# --- Everything at once ------------------------------------------------------------------

def image_scores(classifier, samples, real_test, real_train, value_range=(0.0, 1.0), seed=0,
                 train_features=None):
    """The standard numbers for a batch of generated digits, as a dict.

    fid, kid, kid_se: samples against the training digits (the distribution the model was fit
    to); kid is the unbiased MMD^2 as computed (not multiplied by 1,000). precision, recall,
    density, coverage: manifold_scores (k = 3), whose real manifold is every training digit, so
    noise cannot hide in the large balls of a few real outliers. Heavy blur is the case they do
    not all catch: the classifier's features keep blurred digits close to real ones, so their
    precision stays near the ceiling while density, coverage, FID and confident_fraction drop.
    confident_fraction, classes_found: from confidence_report. memorised_fraction: share of
    samples closer (in pixels) to a training digit than 99% of held-out real digits are
    (memorisation_check); real_test supplies that baseline. All images in `value_range`.
    train_features: optionally
    classifier.features(real_train, value_range), computed once when many sets are scored
    against the same training digits.
    """
    for name, real in (("real_test", real_test), ("real_train", real_train)):
        _check_real_digits_range(real, value_range, name)
    sample_features = classifier.features(samples, value_range)
    if train_features is None:
        train_features = classifier.features(real_train, value_range)
    elif np.ndim(train_features) != 2 or len(train_features) != len(real_train):
        raise ValueError(
            f"train_features has shape {np.shape(train_features)}; expected the classifier's features of "
            f"real_train, one row per image ({len(real_train)})"
        )
    n = min(len(sample_features), len(train_features))
    kid_mean, kid_se = kid(sample_features, train_features, 50, min(1000, max(2, n // 2)), seed)
    report = confidence_report(classifier, samples, value_range)
    memorised = memorisation_check(*(_to_unit_range(x, value_range) for x in (samples, real_train, real_test)))
    return {
        "fid": frechet_distance(sample_features, train_features),
        "kid": kid_mean,
        "kid_se": kid_se,
        **manifold_scores(train_features, sample_features, seed=seed),
        "confident_fraction": report.confident_fraction,
        "classes_found": report.classes_found,
        "memorised_fraction": memorised["fraction_closer_than_test_1pct"],
    }


def _check_real_digits_range(images, value_range, name):
    """Real digits have a background at the bottom of their pixel range: digits in [0, 1]
    passed with value_range (-1, 1) lie inside the range but would be scored wrongly."""
    x = _checks.check_images(images, datasets.IMAGE_SHAPE, value_range, name)
    low, high = value_range
    if x.min() > low + 0.05 * (high - low):
        raise ValueError(
            f"{name} spans [{x.min():.3g}, {x.max():.3g}], but value_range is {tuple(value_range)}: real digits "
            "have their background at the bottom of the range. Pass the samples and the real digits in the "
            "same pixel range and give that range as value_range."
        )


CEILING = "real held-out digits (ceiling)"


def scorecard(classifier, samples, real_test, real_train, value_range=(0.0, 1.0), seed=0):
    """image_scores for each set of samples in `samples` ({name: images}), after a first row
    (CEILING) for as many held-out real digits as the largest set: what real digits score, the
    best a model can hope for with this many samples. Print it with score_table.
    """
    if not isinstance(samples, dict) or not samples:
        raise ValueError("samples must be a non-empty dict {name: images}")
    n = max(len(images) for images in samples.values())
    if n > len(real_test):
        raise ValueError(f"the largest sample set has {n} images, more than the {len(real_test)} held-out "
                         "digits of the ceiling row; score fewer samples (FID depends on the sample size)")
    train_features = classifier.features(real_train, value_range)
    candidates = {CEILING: real_test[:n], **samples}
    return {name: image_scores(classifier, images, real_test, real_train, value_range, seed=seed,
                               train_features=train_features)
            for name, images in candidates.items()}


# --- Conditional generators ------------------------------------------------------------------

@dataclasses.dataclass
class LabelAccuracy:
    """How often the digit classifier reads a conditional sample as the label it was asked for."""

    overall: float  # share of all samples classified as their requested label
    per_label: np.ndarray  # the same share for each requested label (NaN where none was requested)
    counts: np.ndarray  # samples requested per label

    @property
    def worst(self):
        return float(np.nanmin(self.per_label))

    def __str__(self):
        shares = " ".join(f"{label}:{share:.0%}" for label, share in enumerate(self.per_label))
        return f"{self.overall:.1%} classified as the requested label (worst {self.worst:.0%}); per label {shares}"


def label_accuracy(classifier, images, labels, value_range=(0.0, 1.0)):
    """The share of samples the classifier assigns to their requested label, overall and per label.

    Real held-out digits score the classifier's test accuracy (classifier.test_accuracy): that is
    the ceiling, since the classifier errs on some real digits too."""
    labels = _checks.check_labels(labels, 10, len(images), "labels")
    predicted = classifier.probabilities(images, value_range).argmax(axis=1)
    counts = np.bincount(labels, minlength=10)
    hits = np.bincount(labels[predicted == labels], minlength=10)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_label = np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)
    return LabelAccuracy(float(np.mean(predicted == labels)), per_label, counts)


def per_class_scores(classifier, samples, sample_labels, real, real_labels, value_range=(0.0, 1.0), seed=0):
    """FID, precision, recall, density and coverage of each class's samples against the real digits of
    that class, as {label: {score: value}} (score_table prints it).

    A conditional model can score well overall while one class is blurred or collapsed; per class, it
    cannot hide. Give several times more real digits per class than samples (manifold_scores)."""
    sample_labels = _checks.check_labels(sample_labels, 10, len(samples), "sample_labels")
    real_labels = _checks.check_labels(real_labels, 10, len(real), "real_labels")
    _check_real_digits_range(real, value_range, "real")
    sample_features = classifier.features(samples, value_range)
    real_features = classifier.features(real, value_range)
    results = {}
    for label in np.unique(sample_labels):
        fake, true = sample_features[sample_labels == label], real_features[real_labels == label]
        if len(true) < len(fake):
            raise ValueError(f"label {label}: {len(true)} real digits for {len(fake)} samples; each class needs at "
                             "least as many real digits as samples")
        results[int(label)] = {"fid": frechet_distance(fake, true), **manifold_scores(true, fake, seed=seed)}
    return results


# --- Tables of scores ---------------------------------------------------------------------

# key -> (column header, format of its value); KID shows its standard error (kid_se) next to it.
# Papers often print KID x 10^3 of Inception-v3 features; these KIDs are the unscaled MMD^2 of the
# digit classifier's 128 features, so neither the scale nor the feature space matches theirs.
SCORE_COLUMNS = {
    "fid": ("FID", "{:.2f}"),
    "kid": ("KID ± se (not ×10³)", "{:.3f}"),
    "precision": ("precision", "{:.3f}"),
    "recall": ("recall", "{:.3f}"),
    "density": ("density", "{:.3f}"),
    "coverage": ("coverage", "{:.3f}"),
    "confident_fraction": ("confident", "{:.1%}"),
    "classes_found": ("digits", "{}/10"),
    "memorised_fraction": ("copies", "{:.1%}"),
    "inception_score": ("IS", "{:.2f}"),
    "label_accuracy": ("label acc.", "{:.1%}"),
    "worst_label_accuracy": ("worst label", "{:.1%}"),
    "neg_elbo": ("-ELBO (nats)", "{:.1f}"),
    "iwae": ("IWAE (nats)", "{:.1f}"),
    "bits_per_dim": ("bits/dim", "{:.3f}"),
    "psnr": ("PSNR (dB)", "{:.2f}"),
    "ssim": ("SSIM", "{:.3f}"),
    "sharpness": ("sharpness", "{:.2f}"),
}


def score_table(results, markdown=False, leading=(), name=""):
    """A table of scores, one row per entry of `results` ({name: {key: value}}), as a string.

    Columns: the SCORE_COLUMNS keys that at least one row holds (a missing value shows "–"),
    after the row name (column header `name`) and the `leading` keys (text columns such as
    training settings, shown as they are). Other keys are ignored. markdown=True gives a
    Markdown table, otherwise aligned plain text for printing.
    """
    if not isinstance(results, dict) or not all(isinstance(r, dict) for r in results.values()):
        raise TypeError("results must be a dict {name: {score name: value}}, e.g. of image_scores outputs")
    if not results:
        raise ValueError("results is empty: nothing to tabulate")
    keys = [k for k in SCORE_COLUMNS if any(k in r for r in results.values())]

    def cell(row, key):
        if key not in row or row[key] is None:
            return "–"
        text = SCORE_COLUMNS[key][1].format(row[key])
        return text + (f" ± {row['kid_se']:.3f}" if key == "kid" and "kid_se" in row else "")

    header = [name, *leading, *(SCORE_COLUMNS[k][0] for k in keys)]
    rows = [[str(row_name), *(str(r.get(k, "–")) for k in leading), *(cell(r, k) for k in keys)]
            for row_name, r in results.items()]
    if markdown:
        lines = [header, ["---"] * len(header), *rows]
        return "\n".join("| " + " | ".join(line) + " |" for line in lines)
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(text.ljust(w) if i == 0 else text.rjust(w) for i, (text, w) in enumerate(zip(line, widths)))
        for line in [header, *rows]
    )
