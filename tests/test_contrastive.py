"""Contrastive learning: NT-Xent against direct formulas, the augmentation, ContrastiveModel's training
and saving, the linear probe and kNN on features whose answer is known, bad input."""

import keras
import numpy as np
import pytest

import keras_genai as kg
from keras_genai import evaluation, layers, losses, nets

SHAPE = (28, 28, 1)


def tiny_model(seed=0, augmentation=None, temperature=0.5):
    keras.utils.set_random_seed(0)  # the same initial weights for every model; `seed` seeds the augmentation
    encoder = nets.contrastive_encoder(SHAPE, widths=(4, 8), feature_dim=8)
    model = kg.ContrastiveModel(encoder, nets.projection_head(8, 4), augmentation, temperature, seed=seed)
    model.compile(keras.optimizers.Adam(1e-2))
    return model


def images(n=16, seed=0):
    """n black images, each with two random bright rectangles: distinct, digit-like pixel statistics."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, *SHAPE), "float32")
    for image in x:
        for _ in range(2):
            top, left = rng.integers(4, 18, 2)
            image[top:top + rng.integers(3, 8), left:left + rng.integers(3, 8)] = rng.uniform(0.6, 1.0)
    return x


def direct_nt_xent(z1, z2, t):
    """The SimCLR loss written out: l_i = -log(exp(s_ip / t) / sum_{k != i} exp(s_ik / t))."""
    z = np.concatenate([z1, z2]).astype("float64")
    n2 = len(z)
    out = np.zeros(n2)
    for i in range(n2):
        sim = [z[i] @ z[k] / (np.linalg.norm(z[i]) * np.linalg.norm(z[k])) for k in range(n2)]
        positive = (i + n2 // 2) % n2
        denominator = sum(np.exp(sim[k] / t) for k in range(n2) if k != i)
        out[i] = -np.log(np.exp(sim[positive] / t) / denominator)
    return out


def nt_xent(z1, z2, t=0.5):
    return keras.ops.convert_to_numpy(losses.nt_xent(z1, z2, t))


# --- The loss -----------------------------------------------------------------------------------

@pytest.mark.parametrize("temperature", [0.1, 0.5, 2.0])
def test_nt_xent_matches_the_direct_double_loop(temperature):
    rng = np.random.default_rng(1)
    z1, z2 = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    got = nt_xent(z1.astype("float32"), z2.astype("float32"), temperature)
    assert got.shape == (10,)
    np.testing.assert_allclose(got, direct_nt_xent(z1, z2, temperature), rtol=1e-4)


def test_nt_xent_closed_forms():
    n = 4
    # Identical orthogonal views (any length: only directions count): cosine 1 with the positive,
    # 0 with the 2n - 2 negatives, so l = log(1 + (2n - 2) exp(-1/t)); at t = 0.5, exp(-2).
    z = 3.0 * np.eye(n, 6, dtype="float32")
    np.testing.assert_allclose(nt_xent(z, z, 0.5), np.log(1 + (2 * n - 2) * np.exp(-2.0)), rtol=1e-5)
    # A collapsed encoder (every projection the same) cannot tell the positive apart: log(2n - 1).
    same = np.ones((n, 3), "float32")
    np.testing.assert_allclose(nt_xent(same, same, 0.1), np.log(2 * n - 1), rtol=1e-5)


@pytest.mark.parametrize("temperature", [0, -0.5, float("nan"), True, "0.5"])
def test_nt_xent_refuses_a_temperature_that_is_not_positive(temperature):
    z = np.ones((2, 3), "float32")
    with pytest.raises(ValueError, match="temperature must be a number > 0"):
        losses.nt_xent(z, z, temperature)
    with pytest.raises(ValueError, match="temperature must be a number > 0"):
        tiny_model(temperature=temperature)


@pytest.mark.parametrize("shapes", [((4, 3), (5, 3)), ((4, 3), (4, 2)), ((4,), (4,))])
def test_nt_xent_refuses_views_of_different_shapes(shapes):
    with pytest.raises(ValueError, match=r"both of shape \(n, projection_dim\), got"):
        losses.nt_xent(np.ones(shapes[0], "float32"), np.ones(shapes[1], "float32"))


# --- The augmentation ---------------------------------------------------------------------------

def test_augmentation_gives_different_views_the_same_for_a_seed():
    x = images(8)
    first, second = layers.digit_augmentation(seed=3), layers.digit_augmentation(seed=3)
    views = [keras.ops.convert_to_numpy(first(x, training=True)) for _ in range(2)]
    assert views[0].shape == x.shape and 0 <= views[0].min() and views[0].max() <= 1 + 1e-6
    assert not np.allclose(views[0], views[1])  # two views of each image differ
    assert not np.allclose(views[0], x)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(second(x, training=True)), views[0])  # same seed
    other = keras.ops.convert_to_numpy(layers.digit_augmentation(seed=4)(x, training=True))
    assert not np.allclose(other, views[0])


def test_training_is_deterministic_for_the_models_seed():
    """The default augmentation, seeded by the model's seed, runs inside the compiled train_step."""
    x = images()

    def trained_kernel(seed):
        model = tiny_model(seed=seed)
        model.fit(x, batch_size=16, epochs=1, verbose=0)
        return model.encoder.trainable_weights[0].numpy()

    first = trained_kernel(5)
    np.testing.assert_array_equal(trained_kernel(5), first)
    assert not np.allclose(trained_kernel(6), first)  # other views, another step


# --- The model ----------------------------------------------------------------------------------

def test_identical_views_give_a_perfect_contrastive_accuracy_and_the_nt_xent_of_the_projections():
    model = tiny_model(augmentation=keras.layers.Identity())
    x = images()
    logs = model.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    z = model.projection_head(model.encoder(x))
    assert logs["contrastive_accuracy"] == 1.0  # each view's twin is its only cosine-1 candidate
    assert logs["loss"] == pytest.approx(float(np.mean(nt_xent(z, z))), rel=1e-5)
    # with the default augmentation the untrained views are harder to pair up
    assert tiny_model().evaluate(x, batch_size=16, verbose=0, return_dict=True)["contrastive_accuracy"] < 1.0


def test_a_train_step_changes_the_encoder_and_head_weights_and_nothing_else():
    model = tiny_model()
    before = {id(w): keras.ops.convert_to_numpy(w) for w in model.weights}
    model.train_on_batch(images())
    changed = {id(w) for w in model.weights if not np.array_equal(keras.ops.convert_to_numpy(w), before[id(w)])}
    assert changed == {id(w) for w in model.encoder.trainable_weights + model.projection_head.trainable_weights}
    assert set(model.metrics_names) >= {"loss", "contrastive_accuracy"}


def test_the_loss_falls_and_the_accuracy_rises_on_an_easy_batch():
    """Easy: 16 distinct images, mild augmentation (about 1 pixel of shift and zoom), a sharp temperature."""
    model = tiny_model(augmentation=layers.digit_augmentation(translation=0.05, rotation=0.0125, zoom=0.05, seed=0),
                       temperature=0.2)
    x = images(16)
    before = model.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    model.fit(np.tile(x, (20, 1, 1, 1)), batch_size=16, epochs=1, shuffle=False, verbose=0)  # 20 steps
    after = model.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    assert before["loss"] == pytest.approx(np.log(31), abs=0.1)  # near chance at the start
    assert after["loss"] < before["loss"] - 0.5
    assert after["contrastive_accuracy"] > before["contrastive_accuracy"]


def test_save_load_round_trip_encodes_the_same_features(tmp_path):
    model = tiny_model(temperature=0.2)
    x = images()
    model.fit(x, batch_size=16, epochs=1, verbose=0)
    model.save(tmp_path / "contrastive.keras")
    loaded = keras.saving.load_model(tmp_path / "contrastive.keras")
    assert isinstance(loaded, kg.ContrastiveModel) and loaded.temperature == 0.2
    np.testing.assert_array_equal(loaded.encode(x), model.encode(x))
    loaded.fit(x, batch_size=16, epochs=1, verbose=0)  # the optimizer state came back and trains on
    with pytest.raises(ValueError, match="HDF5"):
        model.save(tmp_path / "contrastive.h5")


def test_networks_have_the_expected_shapes_and_must_fit_together():
    encoder = nets.contrastive_encoder()
    assert encoder.output_shape == (None, 128) and encoder.input_shape == (None, *SHAPE)
    assert nets.projection_head(128, 64).output_shape == (None, 64)
    with pytest.raises(ValueError, match=r"projection head takes inputs of shape \(16,\).*\(128,\)"):
        kg.ContrastiveModel(encoder, nets.projection_head(16, 4))
    with pytest.raises(ValueError, match="flat features"):
        kg.ContrastiveModel(keras.Sequential([keras.Input(SHAPE), keras.layers.Conv2D(2, 3)]), nets.projection_head(2))


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((4, 8, 8, 1), "float32"), r"shape \(batch, 28, 28, 1\)"),
        (np.full((4, *SHAPE), 255.0, "float32"), r"values in \[0.0, 1.0\].*scale_images"),
        (np.full((4, *SHAPE), np.nan, "float32"), "NaN"),
        (np.zeros((0, *SHAPE), "float32"), "empty"),
    ],
)
def test_bad_images_are_rejected_with_a_clear_message(bad, message):
    model = tiny_model()
    for call in (model.encode, lambda x: model.fit(x, verbose=0), lambda x: model.evaluate(x, verbose=0)):
        with pytest.raises(ValueError, match=message):
            call(bad)


# --- Linear probe and kNN -----------------------------------------------------------------------

def splits(separable, sizes=(200, 100, 100), classes=4, dim=8, seed=0):
    """Train, validation and test (features, labels): tight clusters around shared random class centres,
    or the same points with random labels (no feature says anything about them)."""
    rng = np.random.default_rng(seed)
    centres = 3 * rng.normal(size=(classes, dim))
    out = []
    for n in sizes:
        labels = rng.integers(0, classes, n)
        x = centres[labels] + 0.3 * rng.normal(size=(n, dim))
        out.append((x, labels if separable else rng.integers(0, classes, n)))
    return out


@pytest.mark.parametrize("separable, low, high", [(True, 0.99, 1.0), (False, 0.1, 0.45)])
def test_probe_and_knn_read_separable_labels_and_only_guess_random_ones(separable, low, high):
    (x, y), (val_x, val_y), (test_x, test_y) = splits(separable)
    probe, val_accuracy = evaluation.linear_probe(x, y, val_x, val_y)
    assert low <= val_accuracy <= high and low <= probe.accuracy(test_x, test_y) <= high  # chance is 0.25
    assert low <= evaluation.knn_accuracy(x, y, test_x, test_y, k=5) <= high


def test_the_probe_keeps_the_l2_strength_with_the_best_validation_accuracy():
    (x, y), (val_x, val_y), _ = splits(False, sizes=(60, 200, 1))  # few rows: the L2 strength matters
    probe, val_accuracy = evaluation.linear_probe(x, y, val_x, val_y, l2_grid=(1e-4, 1.0, 100.0))
    assert set(probe.validation_accuracies) == {1e-4, 1.0, 100.0}
    assert val_accuracy == max(probe.validation_accuracies.values()) == probe.validation_accuracies[probe.l2]
    assert val_accuracy == probe.accuracy(val_x, val_y)


def test_knn_uses_cosine_similarity_and_a_majority_vote():
    train = np.array([[10.0, 0.0], [20.0, 1.0], [0.0, 1.0], [0.1, 1.5], [0.2, 2.0]])
    labels = np.array([0, 0, 1, 1, 1])
    query = np.array([[1.0, 0.1]])  # points along the class-0 rows, but lies nearer the class-1 rows
    assert evaluation.knn_accuracy(train, labels, query, [0], k=2) == 1.0
    assert evaluation.knn_accuracy(train, labels, query, [0], k=4) == 1.0  # 2 votes each: the nearest wins
    assert evaluation.knn_accuracy(train, labels, query, [1], k=5) == 1.0  # 3 votes of 5 for class 1


def test_bad_features_and_labels_are_rejected_with_a_clear_message():
    (x, y), (val_x, val_y), _ = splits(True)
    with pytest.raises(ValueError, match="train_features has 8 features per sample but val_features has 3"):
        evaluation.linear_probe(x, y, val_x[:, :3], val_y)
    with pytest.raises(ValueError, match="val_labels has 99 labels for 100 examples"):
        evaluation.linear_probe(x, y, val_x, val_y[:-1])
    with pytest.raises(ValueError, match="NaN"):
        evaluation.knn_accuracy(np.full_like(x, np.nan), y, val_x, val_y)
    with pytest.raises(ValueError, match="k=500 neighbours asked of 200 training rows"):
        evaluation.knn_accuracy(x, y, val_x, val_y, k=500)
    with pytest.raises(TypeError, match="integer class indices"):
        evaluation.knn_accuracy(x, y.astype(float), val_x, val_y)
