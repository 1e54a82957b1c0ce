"""Metrics of keras_genai.evaluation against independent computations and known targets.

The independent versions are written out here the plain way (scipy.linalg.sqrtm, explicit
loops over pairs and windows, scipy.stats densities), so a shared mistake is unlikely.
"""

import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.spatial
from scipy import ndimage, stats

from keras_genai import datasets, evaluation, nets
from keras_genai.models import VAE


# --- Fixtures: the real digit classifier and digits --------------------------------------

@pytest.fixture(scope="module")
def digits():
    data = datasets.load_mnist(verbose=False)
    classifier = evaluation.digit_classifier(data, verbose=False)
    train = datasets.scale_images(data.x_train, "ae")  # every training digit, as the notebooks score
    test = datasets.scale_images(data.x_test[:1000], "ae")
    return {
        "classifier": classifier,
        "train": train,
        "test": test,
        "train_features": classifier.features(train).astype(np.float64),
        "test_features": classifier.features(test).astype(np.float64),
    }


@pytest.fixture(scope="module")
def scores(digits):
    """image_scores of held-out real digits, uniform noise and a collapsed generator."""
    test, train, classifier = digits["test"], digits["train"], digits["classifier"]
    candidates = {
        "real": test,
        "noise": np.random.default_rng(0).uniform(0, 1, test.shape).astype("float32"),
        "collapsed": np.repeat(test[:1], len(test), axis=0),
    }
    return {name: evaluation.image_scores(classifier, x, test, train) for name, x in candidates.items()}


def correlated_gaussian(n, d, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(d, d))
    return rng.normal(size=(n, d)) @ mixing + shift


# --- Fréchet distance / FID ---------------------------------------------------------------

def reference_frechet(a, b):
    """The textbook formula with scipy's matrix square root."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)  # singular: dead features
        root = scipy.linalg.sqrtm(cov_a @ cov_b)
    assert np.abs(root.imag).max() < 1e-6 * np.abs(root.real).max()
    return np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * root.real)


def test_frechet_distance_matches_scipy_sqrtm_on_gaussians():
    a = correlated_gaussian(500, 12, seed=1)
    b = correlated_gaussian(400, 12, seed=2, shift=0.5)
    assert evaluation.frechet_distance(a, b) == pytest.approx(reference_frechet(a, b), rel=1e-6)


def test_frechet_distance_matches_scipy_sqrtm_on_digit_features(digits, scores):
    real, train = digits["test_features"], digits["train_features"]
    value = evaluation.frechet_distance(real, train)
    assert value == pytest.approx(reference_frechet(real, train), rel=1e-6)
    # Dead ReLU features (constant 0) make both covariances singular; they change nothing.
    dead = np.zeros((1, 8))
    with_dead = evaluation.frechet_distance(np.hstack([real, dead.repeat(len(real), 0)]),
                                            np.hstack([train, dead.repeat(len(train), 0)]))
    assert with_dead == pytest.approx(value, rel=1e-9)
    assert value == pytest.approx(scores["real"]["fid"], rel=1e-9)  # image_scores uses the same numbers
    assert evaluation.fid(digits["classifier"], digits["test"], digits["train"]) == pytest.approx(value, rel=1e-9)


def test_frechet_distance_of_a_shift_is_its_squared_length():
    a = correlated_gaussian(300, 5, seed=3)
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
    assert evaluation.frechet_distance(a, a + shift) == pytest.approx(np.sum(shift**2), rel=1e-9)
    assert evaluation.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


def test_fid_is_small_for_real_digits_and_large_for_noise_and_collapse(scores):
    real = scores["real"]["fid"]
    assert real < 0.02 * scores["noise"]["fid"]
    assert real < 0.02 * scores["collapsed"]["fid"]


@pytest.mark.parametrize(
    "a, b, message",
    [
        (np.zeros(10), np.zeros((10, 3)), "shape"),
        (np.zeros((10, 3)), np.zeros((10, 4)), "3 features per sample but features_b has 4"),
        (np.zeros((1, 3)), np.zeros((10, 3)), "at least 2"),
        (np.full((10, 3), np.nan), np.zeros((10, 3)), "NaN"),
    ],
)
def test_frechet_distance_rejects_bad_input(a, b, message):
    with pytest.raises(ValueError, match=message):
        evaluation.frechet_distance(a, b)


def test_fid_rejects_images_in_the_wrong_range(digits):
    with pytest.raises(ValueError, match="values in"):
        evaluation.fid(digits["classifier"], digits["test"] * 255, digits["test"])


# --- KID --------------------------------------------------------------------------------

def textbook_mmd2(x, y):
    """Unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3, pair by pair."""
    d = x.shape[1]

    def k(u, v):
        return (np.dot(u, v) / d + 1) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_matches_the_textbook_formula():
    x = correlated_gaussian(25, 4, seed=4)
    y = correlated_gaussian(25, 4, seed=5, shift=0.3)
    # Subsets of the full size are permutations of the whole sets, so every subset gives the
    # full-sample statistic and the standard error is 0.
    mean, se = evaluation.kid(x, y, subsets=3, subset_size=25)
    assert mean == pytest.approx(textbook_mmd2(x, y), rel=1e-9)
    assert se == pytest.approx(0.0, abs=1e-9)


def test_kid_is_unbiased_near_zero_for_one_distribution_and_positive_otherwise():
    pool = np.random.default_rng(6).normal(size=(400, 8))
    halves = [np.random.default_rng(seed).permutation(400) for seed in range(20)]
    same = [evaluation.kid(pool[p[:200]], pool[p[200:]], subsets=5, subset_size=100)[0] for p in halves]
    shifted_mean, shifted_se = evaluation.kid(pool[:200], pool[200:] + 0.5, subsets=20, subset_size=100)
    assert min(same) < 0 < max(same)  # unbiased: it scatters around 0, negative values included
    assert abs(np.mean(same)) < 0.1 * shifted_mean
    assert shifted_mean > 10 * shifted_se


def test_kid_targets_on_digits(scores):
    real, noise, collapsed = scores["real"], scores["noise"], scores["collapsed"]
    assert abs(real["kid"]) < 0.02 * noise["kid"]
    assert collapsed["kid"] > 20 * collapsed["kid_se"]


@pytest.mark.parametrize(
    "kwargs, message",
    [({"subset_size": 51}, "subset_size must be between 2 and the smaller set size 50"),
     ({"subsets": 1}, "subsets >= 2"),
     ({"subset_size": 0}, "positive integer")],
)
def test_kid_rejects_bad_subsets(kwargs, message):
    a = np.zeros((50, 3))
    with pytest.raises(ValueError, match=message):
        evaluation.kid(a, a, **kwargs)


# --- Inception-score analogue -----------------------------------------------------------

def test_inception_score_matches_direct_formula():
    p = np.random.default_rng(7).dirichlet(np.full(10, 0.3), size=90)
    direct = []
    for part in (p[:30], p[30:60], p[60:]):
        marginal = part.mean(0)
        kl = [np.sum(row * (np.log(row) - np.log(marginal))) for row in part]
        direct.append(np.exp(np.mean(kl)))
    mean, std = evaluation.inception_score(p, splits=3)
    assert mean == pytest.approx(np.mean(direct), rel=1e-9)
    assert std == pytest.approx(np.std(direct), rel=1e-9)


def test_inception_score_extremes():
    confident_and_balanced = np.eye(10)[np.arange(100) % 10]
    assert evaluation.inception_score(confident_and_balanced, splits=2)[0] == pytest.approx(10.0)
    one_class = np.tile(np.eye(10)[3], (100, 1))
    assert evaluation.inception_score(one_class, splits=2)[0] == pytest.approx(1.0)


def test_inception_score_rejects_non_probabilities():
    with pytest.raises(ValueError, match="summing to 1"):
        evaluation.inception_score(np.full((20, 10), 0.5), splits=2)
    with pytest.raises(ValueError, match="at least 5"):
        evaluation.inception_score(np.full((4, 10), 0.1), splits=5)


# --- Precision and recall ----------------------------------------------------------------

def brute_force_precision_recall(real, fake, k):
    """Kynkäänniemi et al. 2019 with full distance matrices and sorting."""
    def radii(x):
        d = scipy.spatial.distance.cdist(x, x)
        return np.sort(d, axis=1)[:, k]  # column 0 is the point itself

    def covered(queries, points):
        return np.mean([np.any(np.linalg.norm(points - q, axis=1) <= radii(points)) for q in queries])

    return covered(fake, real), covered(real, fake)


def test_precision_recall_matches_brute_force():
    real = np.random.default_rng(8).normal(size=(150, 2))
    fake = np.random.default_rng(9).normal(size=(120, 2)) * 0.6 + 0.8  # narrower and shifted
    precision, recall = evaluation.precision_recall(real, fake, k=3)
    expected = brute_force_precision_recall(real, fake, k=3)
    assert (precision, recall) == pytest.approx(expected)
    assert precision > recall  # a narrow generator: good quality, poor coverage


def test_precision_recall_extremes():
    x = np.random.default_rng(10).normal(size=(100, 4))
    assert evaluation.precision_recall(x, x) == (1.0, 1.0)
    assert evaluation.precision_recall(x, x + 100.0) == (0.0, 0.0)
    collapsed = np.repeat(x.mean(0, keepdims=True), 100, axis=0)  # one point inside the real cloud
    assert evaluation.precision_recall(x, collapsed) == (1.0, 0.0)


def test_knn_radii_match_sorted_distances_and_reject_bad_input():
    x = np.random.default_rng(14).normal(size=(60, 3))
    expected = np.sort(scipy.spatial.distance.cdist(x, x), axis=1)[:, 3]  # column 0: the point itself
    np.testing.assert_allclose(evaluation.knn_radii(x, k=3, block=7), expected)
    with pytest.raises(ValueError, match="at least 4"):
        evaluation.knn_radii(np.zeros((3, 2)), k=3)
    with pytest.raises(ValueError, match=r"shape \(n_samples, n_features\)"):
        evaluation.knn_radii(np.zeros(10))


def test_precision_recall_needs_more_than_k_samples():
    with pytest.raises(ValueError, match="at least 4"):
        evaluation.precision_recall(np.zeros((3, 2)), np.zeros((10, 2)), k=3)


def test_precision_recall_targets_on_digits(scores):
    real, noise, collapsed = scores["real"], scores["noise"], scores["collapsed"]
    assert real["precision"] > 0.8 and real["recall"] > 0.8
    assert noise["precision"] < 0.05 and noise["recall"] < 0.05
    assert collapsed["recall"] < 0.05


# --- Density and coverage ------------------------------------------------------------------

def brute_force_density_coverage(real, fake, k):
    """Naeem et al. 2020, equations (3) and (4), with explicit loops."""
    radii = np.sort(scipy.spatial.distance.cdist(real, real), axis=1)[:, k]
    inside = np.array([[np.linalg.norm(f - r) <= radius for r, radius in zip(real, radii)] for f in fake])
    return inside.sum() / (k * len(fake)), np.mean(inside.any(axis=0))


def test_density_coverage_matches_brute_force():
    real = np.random.default_rng(11).normal(size=(150, 2))
    fake = np.random.default_rng(12).normal(size=(90, 2)) * 0.5 + 0.5
    for k in (3, 5):
        assert evaluation.density_coverage(real, fake, k=k) == pytest.approx(brute_force_density_coverage(real, fake, k))


def test_density_coverage_extremes():
    x = np.random.default_rng(13).normal(size=(200, 3))
    density, coverage = evaluation.density_coverage(x, x, k=3)
    assert coverage == 1.0 and density >= 1.0  # each point sits in its own ball and its k neighbours'
    assert evaluation.density_coverage(x, x + 100.0) == (0.0, 0.0)
    # A crowded copy of one real point: density high, coverage only the balls around that point.
    crowded = np.repeat(x[:1], 200, axis=0)
    density, coverage = evaluation.density_coverage(x, crowded, k=3)
    assert density >= 1.0 / 3 and coverage < 0.05


def test_image_scores_uses_manifold_scores_against_every_training_digit(digits, scores):
    test = digits["test"]
    expected = evaluation.manifold_scores(digits["train_features"], digits["classifier"].features(test))
    assert {key: scores["real"][key] for key in expected} == pytest.approx(expected)
    with pytest.raises(ValueError, match="at least as many points"):
        evaluation.manifold_scores(digits["test_features"][:50], digits["test_features"][:60])


def test_density_coverage_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 4"):
        evaluation.density_coverage(np.zeros((3, 2)), np.zeros((10, 2)), k=3)
    with pytest.raises(ValueError, match="same feature extractor"):
        evaluation.density_coverage(np.zeros((10, 2)), np.zeros((10, 3)))
    with pytest.raises(ValueError, match="NaN"):
        evaluation.density_coverage(np.zeros((10, 2)), np.full((10, 2), np.nan))


@pytest.mark.parametrize("n", [500, 1000])  # 500: where an equal-size real subset failed; 1000: the scoreboard
def test_manifold_metrics_against_all_training_digits_are_not_fooled(digits, n):
    """The issue that motivated the all-training-digits reference: with an equal-size real subset,
    uniform noise scored precision 0.57 at n = 1,000 and 1.0 at n = 500."""
    classifier, test, train_features = digits["classifier"], digits["test"], digits["train_features"]
    labels = datasets.load_mnist(verbose=False).y_test[: len(test)]
    rng = np.random.default_rng(n)
    threes = test[labels == 3]
    sets = {
        "real": test[:n],
        "noise": rng.uniform(0, 1, (n, 28, 28, 1)).astype("float32"),
        "blank": np.zeros((n, 28, 28, 1), "float32"),
        "blur": ndimage.gaussian_filter(test[:n], sigma=(0, 2, 2, 0)),
        "one digit": threes[rng.integers(0, len(threes), n)],
    }
    got = {name: tuple(evaluation.manifold_scores(train_features, classifier.features(images)).values())
           for name, images in sets.items()}
    (p_real, r_real, d_real, c_real) = got["real"]
    assert p_real > 0.85 and r_real > 0.85 and 0.85 < d_real < 1.25
    for name in ("noise", "blank"):
        precision, recall, density, coverage = got[name]
        assert precision < 0.05 and density < 0.05 and recall < 0.05, (name, got[name])
        assert coverage < 0.1, (name, got[name])  # up to 5 outlier balls of 100 at n = 100
    # Blur: the classifier's features keep blurred digits near real ones, so precision stays high
    # (about 0.9; a limit of the feature space, not of the estimator). Density and coverage see it.
    _, _, d_blur, c_blur = got["blur"]
    assert d_blur < 0.6 * d_real and c_blur < 0.2
    # One digit class of ten: coverage about 0.1 (real digits reach about 1 - 2^-3 = 0.875), quality intact.
    p_one, r_one, _, c_one = got["one digit"]
    assert p_one > 0.85 and r_one < 0.2 and 0.05 < c_one < 0.15 and c_real > 0.8


# --- image_scores: the remaining entries --------------------------------------------------

def test_image_scores_confidence_and_memorisation(digits, scores):
    assert scores["real"]["classes_found"] == 10 and scores["real"]["confident_fraction"] > 0.8
    assert scores["collapsed"]["classes_found"] == 1
    assert scores["noise"]["confident_fraction"] < scores["real"]["confident_fraction"]
    # Held-out digits are as far from the training set as held-out digits are (1% by construction);
    # training digits presented as samples are flagged as copies.
    assert scores["real"]["memorised_fraction"] <= 0.02
    copies = evaluation.image_scores(digits["classifier"], digits["train"][:500], digits["test"], digits["train"])
    assert copies["memorised_fraction"] == 1.0


def test_image_scores_with_precomputed_training_features(digits, scores):
    args = (digits["classifier"], digits["test"], digits["test"], digits["train"])
    again = evaluation.image_scores(*args, train_features=digits["classifier"].features(digits["train"]))
    assert again == pytest.approx(scores["real"])
    with pytest.raises(ValueError, match="one row per image"):
        evaluation.image_scores(*args, train_features=digits["train_features"][:10])


def test_classifier_outputs_do_not_depend_on_the_set_size(digits):
    # Inputs are padded to whole batches of 500; the padding must not leak into the rows.
    classifier, test = digits["classifier"], digits["test"]
    np.testing.assert_allclose(classifier.features(test[:7]), digits["test_features"][:7], rtol=1e-4, atol=1e-4)
    assert classifier.probabilities(test[:501]).shape == (501, 10)


def test_image_scores_rejects_real_digits_in_another_range(digits):
    """Digits in [0, 1] lie inside (-1, 1) too; scoring them as [-1, 1] images would be wrong."""
    samples = digits["test"][:100] * 2 - 1
    with pytest.raises(ValueError, match="real_test spans .* value_range is \\(-1.0, 1.0\\)"):
        evaluation.image_scores(digits["classifier"], samples, digits["test"], digits["train"], value_range=(-1.0, 1.0))


def test_scorecard_puts_the_ceiling_first_and_matches_image_scores(digits, scores):
    test, train, classifier = digits["test"], digits["train"], digits["classifier"]
    noise = np.random.default_rng(0).uniform(0, 1, (500, *test.shape[1:])).astype("float32")
    card = evaluation.scorecard(classifier, {"noise": noise}, test, train)
    assert list(card) == [evaluation.CEILING, "noise"]
    # The ceiling row holds as many held-out digits as the largest sample set.
    assert card[evaluation.CEILING] == pytest.approx(evaluation.image_scores(classifier, test[:500], test, train))
    assert card["noise"]["fid"] > 10 * card[evaluation.CEILING]["fid"]
    # The same card in [-1, 1] pixels gives the same numbers.
    shifted = evaluation.scorecard(classifier, {"noise": noise * 2 - 1}, test * 2 - 1, train * 2 - 1, (-1.0, 1.0))
    assert shifted[evaluation.CEILING]["fid"] == pytest.approx(card[evaluation.CEILING]["fid"], rel=1e-4)
    with pytest.raises(ValueError, match="more than the 1000 held-out"):
        evaluation.scorecard(classifier, {"many": train[:1500]}, test, train)
    with pytest.raises(ValueError, match="non-empty dict"):
        evaluation.scorecard(classifier, {}, test, train)


def test_digit_classifier_cache_is_keyed_by_training_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_GENAI_CACHE", str(tmp_path))
    data = datasets.load_mnist(verbose=False)
    small = datasets.ImageData(data.x_train[:200], data.y_train[:200], data.x_test[:100], data.y_test[:100], data.source)
    one = evaluation.digit_classifier(small, epochs=1, verbose=False)
    two = evaluation.digit_classifier(small, epochs=2, verbose=False)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2 and all(n.endswith(".keras") for n in names), names  # no partial files left
    assert one.model is not two.model

    def no_training():
        raise AssertionError("the cached classifier was retrained")

    monkeypatch.setattr(evaluation.images, "_digit_classifier_net", no_training)
    again = evaluation.digit_classifier(small, epochs=1, verbose=False)  # loaded from the cache
    x = datasets.scale_images(small.x_test, "ae")
    np.testing.assert_allclose(again.probabilities(x), one.probabilities(x), atol=1e-6)
    assert again.test_accuracy == one.test_accuracy


# --- IWAE bound and bits per dimension ----------------------------------------------------

@pytest.fixture(scope="module")
def vae_and_images(digits):
    """An untrained VAE: the bounds' relations hold for any encoder and decoder."""
    import keras

    keras.utils.set_random_seed(0)
    vae = VAE(
        nets.conv_encoder(latent_dim=3, filters=(8, 16), dense=32),
        nets.conv_decoder(latent_dim=3, filters=(16, 8), dense=32, output_activation=None),
    )
    return vae, digits["test"][:200]


def test_iwae_with_one_sample_is_the_single_sample_elbo(vae_and_images):
    vae, x = vae_and_images
    x = x[:50]
    bound = evaluation.iwae_bound(vae, x, k=1, batch_size=len(x), seed=3)
    # The same draws, and the negative ELBO with a Monte Carlo KL from scipy densities.
    eps = np.random.default_rng(3).standard_normal((1, len(x), vae.latent_dim))[0]
    mean, log_var = vae.encode(x)
    std = np.exp(0.5 * log_var.astype(np.float64))
    z = mean + std * eps
    log_q = stats.norm.logpdf(z, loc=mean, scale=std).sum(1)
    log_prior = stats.norm.logpdf(z).sum(1)
    nll = np.asarray(vae.reconstruction_nll(x, vae.decoder(z.astype("float32"))))
    np.testing.assert_allclose(bound, nll + log_q - log_prior, rtol=1e-5)


def test_iwae_one_sample_equals_elbo_in_expectation_and_more_samples_tighten_it(vae_and_images):
    vae, x = vae_and_images
    one = np.mean([evaluation.iwae_bound(vae, x, k=1, seed=s) for s in range(5)], axis=0)
    neg_elbo = np.mean([vae.negative_elbo(x, seed=s) for s in range(5)], axis=0)  # closed-form KL
    difference = one - neg_elbo
    assert abs(difference.mean()) < 4 * difference.std() / np.sqrt(len(x))
    five, fifty = evaluation.iwae_bound(vae, x, k=5), evaluation.iwae_bound(vae, x, k=50)
    # Returned negated: -L_50 <= -L_5 <= -L_1 = negative ELBO, on average.
    assert fifty.mean() < five.mean() < one.mean()


def test_iwae_rejects_bad_input(vae_and_images):
    vae, x = vae_and_images
    with pytest.raises(ValueError, match="shape"):
        evaluation.iwae_bound(vae, x[:, :20], k=2)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        evaluation.iwae_bound(vae, x, k=0)


def test_bits_per_dim():
    assert evaluation.bits_per_dim(784 * np.log(2), 784) == pytest.approx(1.0)
    np.testing.assert_allclose(evaluation.bits_per_dim([0.0, 2 * np.log(2)], 2), [0.0, 1.0])
    with pytest.raises(ValueError, match="dims"):
        evaluation.bits_per_dim(1.0, 0)
    with pytest.raises(ValueError, match="NaN"):
        evaluation.bits_per_dim([1.0, np.nan], 10)


# --- PSNR and SSIM ------------------------------------------------------------------------

def test_psnr_known_values(digits):
    a = np.zeros((2, 28, 28))
    b = np.full((2, 28, 28), 0.1)  # MSE 0.01 -> 20 dB
    np.testing.assert_allclose(evaluation.psnr(a, b), [20.0, 20.0])
    # The same images on the [-1, 1] scale have the same PSNR with data_range=2.
    np.testing.assert_allclose(evaluation.psnr(2 * a - 1, 2 * b - 1, data_range=2.0), [20.0, 20.0])
    assert np.all(np.isinf(evaluation.psnr(digits["test"][:3], digits["test"][:3])))


def direct_ssim(a, b, data_range):
    """SSIM of two 2-D images: every full 11x11 window, weighted moments written out."""
    offsets = np.arange(-5, 6)
    g = np.exp(-(offsets**2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    values = []
    for i in range(a.shape[0] - 10):
        for j in range(a.shape[1] - 10):
            pa, pb = a[i:i + 11, j:j + 11], b[i:i + 11, j:j + 11]
            mu_a, mu_b = np.sum(w * pa), np.sum(w * pb)
            var_a, var_b = np.sum(w * (pa - mu_a) ** 2), np.sum(w * (pb - mu_b) ** 2)
            cov = np.sum(w * (pa - mu_a) * (pb - mu_b))
            numerator = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
            values.append(numerator / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)))
    return np.mean(values)


def test_ssim_matches_a_direct_per_window_computation(digits):
    clean = digits["test"][:3, :, :, 0].astype(np.float64)
    noisy = np.clip(clean + np.random.default_rng(11).normal(0, 0.2, clean.shape), 0, 1)
    expected = [direct_ssim(c, n, 1.0) for c, n in zip(clean, noisy)]
    np.testing.assert_allclose(evaluation.ssim(clean, noisy), expected, rtol=1e-9)
    np.testing.assert_allclose(evaluation.ssim(clean[..., None], noisy[..., None]), expected, rtol=1e-9)
    # Rescaling pixels and data_range together changes nothing (a shift would: the luminance
    # term compares means, so [-1, 1] and [0, 1] images give different SSIM).
    np.testing.assert_allclose(evaluation.ssim(255 * clean, 255 * noisy, data_range=255), expected, rtol=1e-9)
    shifted = evaluation.ssim(2 * clean - 1, 2 * noisy - 1, data_range=2.0)
    expected_shifted = [direct_ssim(2 * c - 1, 2 * n - 1, 2.0) for c, n in zip(clean, noisy)]
    np.testing.assert_allclose(shifted, expected_shifted, rtol=1e-9)


def test_ssim_is_one_for_identical_images_and_lower_for_distorted_ones(digits):
    x = digits["test"][:4]
    np.testing.assert_allclose(evaluation.ssim(x, x), 1.0)
    blurred = (x + np.roll(x, 1, axis=1) + np.roll(x, 1, axis=2)) / 3
    assert np.all(evaluation.ssim(x, blurred) < 0.95)
    np.testing.assert_allclose(evaluation.ssim(x, blurred), evaluation.ssim(blurred, x))


@pytest.mark.parametrize(
    "a, b, kwargs, message",
    [
        (np.zeros((2, 28, 28)), np.zeros((2, 28, 27)), {}, "same shape"),
        (np.zeros((2, 8, 8)), np.zeros((2, 8, 8)), {}, "at least 11x11"),
        (np.full((2, 28, 28), 255.0), np.zeros((2, 28, 28)), {}, "data_range"),
        (np.zeros((2, 28, 28)), np.zeros((2, 28, 28)), {"data_range": 0}, "positive number"),
        (np.zeros((28, 28)), np.zeros((28, 28)), {}, "batch of images"),
        (np.full((2, 28, 28), np.nan), np.zeros((2, 28, 28)), {}, "NaN"),
    ],
)
def test_ssim_rejects_bad_input(a, b, kwargs, message):
    with pytest.raises(ValueError, match=message):
        evaluation.ssim(a, b, **kwargs)


# --- score_table ----------------------------------------------------------------------------

def test_score_table_shows_the_columns_the_rows_have():
    results = {
        "real": {"fid": 2.0, "kid": -0.01, "kid_se": 0.02, "classes_found": 10, "seconds": 3.0},
        "vae": {"fid": 57.25, "kid": 4.5, "kid_se": 0.1, "classes_found": 9, "neg_elbo": 120.44, "settings": "10 epochs"},
    }
    lines = evaluation.score_table(results, leading=("settings",)).splitlines()
    assert lines[0].split() == ["settings", "FID", "KID", "±", "se", "(not", "×10³)", "digits", "-ELBO", "(nats)"]
    assert lines[1].split() == ["real", "–", "2.00", "-0.010", "±", "0.020", "10/10", "–"]  # no neg_elbo: "–"
    assert lines[2].split() == ["vae", "10", "epochs", "57.25", "4.500", "±", "0.100", "9/10", "120.4"]
    assert len({len(line) for line in lines}) == 1  # aligned columns
    markdown = evaluation.score_table(results, markdown=True, name="model").splitlines()
    assert markdown[0] == "| model | FID | KID ± se (not ×10³) | digits | -ELBO (nats) |"
    assert markdown[2] == "| real | 2.00 | -0.010 ± 0.020 | 10/10 | – |"


def test_score_table_rejects_bad_input():
    with pytest.raises(TypeError, match="dict"):
        evaluation.score_table([{"fid": 1.0}])
    with pytest.raises(ValueError, match="empty"):
        evaluation.score_table({})
