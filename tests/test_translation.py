"""Image-to-image translation: the degradations, the U-Net / super-resolution / PatchGAN builders, Pix2Pix's
losses and which network each step updates, saving, the restoration scores and bad input."""

import keras
import numpy as np
import pytest

import keras_genai as kg
from keras_genai import evaluation, layers, nets
from keras_genai.datasets import degradations

SHAPE = (28, 28, 1)


def digits(n=8, seed=0):
    """n black images with a bright rectangle each: stroke-like edges at known places."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, *SHAPE), "float32")
    for image in x:
        top, left = rng.integers(4, 16, 2)
        image[top:top + rng.integers(4, 10), left:left + rng.integers(4, 10)] = 1.0
    return x


def tiny_pix2pix(adversarial=True, low=None, seed=0):
    keras.utils.set_random_seed(seed)
    input_shape = SHAPE if low is None else low
    generator = (nets.translation_unet(SHAPE, widths=(4, 8)) if low is None
                 else nets.super_resolution_net(low, SHAPE, widths=(4, 8)))
    discriminator = nets.patch_discriminator(input_shape, SHAPE, widths=(4, 8)) if adversarial else None
    model = kg.Pix2Pix(generator, discriminator, l1_weight=10.0)
    model.compile(keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2) if adversarial else None)
    return model


def weights(net):
    return [w.copy() for w in net.get_weights()]


def changed(before, net):
    return any(not np.array_equal(a, b) for a, b in zip(before, net.get_weights()))


# --- Degradations ------------------------------------------------------------------------------

def test_downsample_averages_each_block():
    x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1) / 15
    got = degradations.downsample(x, 2)[0, ..., 0]
    np.testing.assert_allclose(got, np.array([[2.5, 4.5], [10.5, 12.5]]) / 15, rtol=1e-6)


def test_nearest_upsampling_copies_pixels_into_blocks():
    x = np.array([[0.0, 1.0], [0.5, 0.25]], "float32").reshape(1, 2, 2, 1)
    got = degradations.upsample(x, (4, 4), "nearest")[0, ..., 0]
    np.testing.assert_array_equal(got, np.kron(x[0, ..., 0], np.ones((2, 2))))


def test_bicubic_upsampling_stays_in_the_unit_range():
    up = degradations.upsample(degradations.downsample(digits(), 2), (28, 28), "bicubic")
    assert up.shape == (8, *SHAPE) and up.min() >= 0.0 and up.max() <= 1.0


def test_mask_square_blanks_exactly_one_square_per_image():
    x = np.ones((5, *SHAPE), "float32")
    masked, mask = degradations.mask_square(x, 10, seed=3)
    assert mask.shape == (5, 28, 28, 1)
    np.testing.assert_array_equal(mask.reshape(5, -1).sum(1), [100] * 5)
    np.testing.assert_array_equal(masked, 1.0 - mask)
    np.testing.assert_array_equal(degradations.mask_square(x, 10, seed=3)[1], mask)  # seeded


def test_add_noise_is_seeded_and_clipped():
    x = digits()
    a, b = degradations.add_noise(x, 0.5, seed=1), degradations.add_noise(x, 0.5, seed=1)
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0.0 and a.max() <= 1.0 and np.abs(a - x).mean() > 0.1


def test_outline_of_a_filled_square_is_its_boundary_ring():
    x = np.zeros((1, 12, 12, 1), "float32")
    x[0, 3:9, 3:9] = 1.0
    expected = np.zeros((12, 12), "float32")
    expected[2:10, 2:10] = 1.0  # dilation: one pixel out
    expected[4:8, 4:8] = 0.0  # minus erosion: one pixel in
    np.testing.assert_array_equal(degradations.outline(x)[0, ..., 0], expected)


@pytest.mark.parametrize("call, message", [
    (lambda: degradations.downsample(np.ones((2, 28, 28)), 2), "batch"),
    (lambda: degradations.downsample(np.ones((2, 28, 28, 1)), 3), "3 x 3 blocks"),
    (lambda: degradations.add_noise(np.full((2, 28, 28, 1), 255.0), 0.1), "scale"),
    (lambda: degradations.mask_square(np.ones((2, 8, 8, 1)), 9), "does not fit"),
    (lambda: degradations.upsample(np.ones((2, 8, 8, 1)), (16, 16), "lanczos"), "method"),
])
def test_degradations_reject_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- Builders ----------------------------------------------------------------------------------

def test_builders_give_the_shapes_they_promise():
    assert nets.translation_unet(SHAPE, widths=(4, 8, 16)).output_shape == (None, *SHAPE)
    assert nets.translation_unet(SHAPE, output_channels=3, widths=(4, 8)).output_shape == (None, 28, 28, 3)
    assert nets.super_resolution_net((7, 7, 1), SHAPE, widths=(4, 8)).output_shape == (None, *SHAPE)
    assert nets.patch_discriminator((14, 14, 1), SHAPE, widths=(4, 8)).output_shape == (None, 7, 7, 1)


@pytest.mark.parametrize("call, message", [
    (lambda: nets.translation_unet((30, 30, 1), widths=(4, 8, 16)), "divisible by 4"),
    (lambda: nets.super_resolution_net((28, 28, 1), (14, 14, 1), widths=(4, 8)), "smaller image to a larger"),
    (lambda: nets.super_resolution_net((14, 14, 3), (28, 28, 1)), "same channels"),
])
def test_builders_reject_impossible_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- Pix2Pix -----------------------------------------------------------------------------------

def test_evaluate_reports_the_closed_form_losses():
    model = tiny_pix2pix()
    x, y = degradations.outline(digits()), digits()
    result = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    fake = model.translate(x)
    np.testing.assert_allclose(result["l1"], np.abs(y - fake).mean(), rtol=1e-5)
    logits = keras.ops.convert_to_numpy(model.discriminator([x, fake]))
    np.testing.assert_allclose(result["adversarial"], np.logaddexp(0.0, -logits).mean(), rtol=1e-5)


def test_l1_only_training_updates_the_generator_and_lowers_l1():
    model = tiny_pix2pix(adversarial=False)
    y = digits(16)
    x = degradations.add_noise(y, 0.5, seed=0)
    before = model.evaluate(x, y, verbose=0, return_dict=True)["l1"]
    history = model.fit(x, y, batch_size=8, epochs=15, verbose=0)
    assert set(history.history) == {"l1"}
    assert model.evaluate(x, y, verbose=0, return_dict=True)["l1"] < 0.7 * before


def test_each_network_is_updated_by_its_own_optimizer_only():
    x, y = degradations.outline(digits()), digits()
    for frozen in ("g_optimizer", "d_optimizer"):
        model = tiny_pix2pix()
        getattr(model, frozen).learning_rate.assign(0.0)
        g_before, d_before = weights(model.generator), weights(model.discriminator)
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        assert changed(g_before, model.generator) == (frozen == "d_optimizer")
        assert changed(d_before, model.discriminator) == (frozen == "g_optimizer")


def test_the_adversarial_term_changes_the_generator_update():
    x, y = degradations.outline(digits()), digits()
    updates = []
    for adversarial in (False, True):
        model = tiny_pix2pix(adversarial)
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
        updates.append(weights(model.generator))
    assert any(not np.allclose(a, b) for a, b in zip(*updates))


@pytest.mark.parametrize("adversarial", [False, True])
def test_save_and_reload_translates_the_same(tmp_path, adversarial):
    model = tiny_pix2pix(adversarial, low=(14, 14, 1))
    y = digits()
    x = degradations.downsample(y, 2)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    path = tmp_path / "pix2pix.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(restored.translate(x), model.translate(x))
    assert (restored.discriminator is None) == (not adversarial)
    restored.fit(x, y, batch_size=8, epochs=1, verbose=0)  # the optimizers came back too


def test_pix2pix_rejects_mismatched_pairs_early():
    model = tiny_pix2pix(low=(14, 14, 1))
    y = digits()
    with pytest.raises(ValueError, match="targets"):
        model.fit(degradations.downsample(y, 2), y[..., :14, :14, :], verbose=0)
    with pytest.raises(ValueError, match="inputs"):
        model.fit(y, y, verbose=0)
    with pytest.raises(ValueError, match="without targets"):
        model.fit(degradations.downsample(y, 2), verbose=0)
    with pytest.raises(ValueError, match="4 targets"):
        model.fit(degradations.downsample(y, 2), y[:4], verbose=0)
    with pytest.raises(ValueError, match="inputs"):
        model.translate(y)
    with pytest.raises(ValueError, match="discriminator takes"):
        kg.Pix2Pix(nets.translation_unet(SHAPE, widths=(4, 8)), nets.patch_discriminator((14, 14, 1), SHAPE))


# --- Scores and the classifier used for augmentation ----------------------------------------------

def test_gradient_energy_matches_a_hand_count():
    x = np.zeros((1, 4, 4, 1), "float32")
    x[0, :, 2:] = 1.0  # one vertical edge: 4 of the 12 horizontal neighbour pairs differ by 1, no vertical pair
    np.testing.assert_allclose(evaluation.gradient_energy(x), [(4 / 12 + 0.0) / 2])


class AlwaysRight:
    """A stand-in classifier that predicts the labels it was told."""

    def __init__(self, labels):
        self.labels = labels

    def probabilities(self, images, value_range=(0.0, 1.0)):
        return np.eye(10)[self.labels]


def test_restoration_scores_of_perfect_and_blurred_outputs():
    y = digits()
    labels = np.arange(8)
    perfect = evaluation.restoration_scores(AlwaysRight(labels), y, y, labels)
    assert perfect["ssim"] == pytest.approx(1.0) and perfect["sharpness"] == pytest.approx(1.0)
    assert perfect["psnr"] == np.inf and perfect["label_accuracy"] == 1.0
    blurred = degradations.upsample(degradations.downsample(y, 4), (28, 28), "bilinear")
    scores = evaluation.restoration_scores(AlwaysRight(labels), blurred, y, labels)
    assert scores["sharpness"] < 0.5 and scores["ssim"] < 1.0 and np.isfinite(scores["psnr"])
    one_exact = blurred.copy()
    one_exact[0] = y[0]  # an output equal to its target: infinite PSNR alone, a finite set figure
    mse = ((one_exact - y) ** 2).mean()
    assert evaluation.restoration_scores(AlwaysRight(labels), one_exact, y, labels)["psnr"] == pytest.approx(
        10 * np.log10(1 / mse), rel=1e-5)
    with pytest.raises(ValueError, match="outputs"):
        evaluation.restoration_scores(AlwaysRight(labels), y[:, :14], y, labels)


def test_fit_digit_classifier_trains_with_extra_data_and_augmentation():
    y_train = np.arange(20) % 10
    x = digits(20)
    result = evaluation.fit_digit_classifier(x, y_train, x, y_train, steps=3, batch_size=8,
                                             augmentation=layers.digit_augmentation(seed=0), extra=(x, y_train))
    assert 0.0 <= result.test_accuracy <= 1.0 and "generated" in result.source
    with pytest.raises(ValueError, match="labels"):
        evaluation.fit_digit_classifier(x, y_train[:5], x, y_train, steps=1)


# --- Measured attributes --------------------------------------------------------------------------

def bar(width=2, slant=0.0, rows=(4, 24), centre=14.0):
    """A stroke from row rows[0] to rows[1]; its centre moves `slant` columns right per row going up."""
    image = np.zeros((28, 28), "float32")
    for row in range(*rows):
        middle = centre + slant * ((rows[0] + rows[1]) / 2 - row)
        left = int(round(middle - width / 2))
        image[row, left:left + width] = 1.0
    return image


def test_digit_attributes_measure_slant_thickness_and_height():
    images = np.stack([bar(2), bar(4), bar(2, slant=0.3), bar(2, slant=-0.3), bar(3, rows=(10, 20))])
    got = evaluation.digit_attributes(images[..., None])
    np.testing.assert_allclose(got["slant"], [0.0, 0.0, 0.3, -0.3, 0.0], atol=0.03)
    assert got["thickness"][0] == pytest.approx(2 * 40 / 40)  # a 2 x 20 bar: every pixel is on the boundary
    assert 3.0 < got["thickness"][1] < 4.0  # 4 wide: 80 pixels, 44 on the boundary
    assert got["thickness"][1] > got["thickness"][0]
    np.testing.assert_array_equal(got["height"], [20, 20, 20, 20, 10])
    faint = evaluation.digit_attributes(0.4 * images[..., None])  # a blurred generator's grey digits
    for name in got:
        np.testing.assert_allclose(faint[name], got[name])


def test_digit_attributes_of_an_empty_image_are_nan_and_bad_input_is_named():
    got = evaluation.digit_attributes(np.zeros((2, 28, 28)))
    assert np.isnan(got["slant"]).all() and np.isnan(got["thickness"]).all()
    with pytest.raises(ValueError, match="scale"):
        evaluation.digit_attributes(np.full((2, 28, 28), 255.0))
    with pytest.raises(ValueError, match="grey digits"):
        evaluation.digit_attributes(np.zeros((2, 28, 28, 3)))
