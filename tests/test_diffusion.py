"""DiffusionModel / ConditionalDiffusionModel, nets.unet and the samplers, on tiny shapes."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_genai import nets
from keras_genai.models import ConditionalDiffusionModel, DiffusionModel
from keras_genai.models.diffusion import alpha_bar

SHAPE = (8, 8, 1)


def tiny_unet(num_classes=None, attention=False):
    return nets.unet(SHAPE, widths=(8, 16), attention=attention, num_classes=num_classes)


def digits(n=16, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, *SHAPE)).astype("float32")


@pytest.fixture(scope="module")
def conditional():
    keras.utils.set_random_seed(0)
    model = ConditionalDiffusionModel(tiny_unet(10, attention=True), 10, seed=0)
    model.compile(keras.optimizers.Adam(1e-3))
    model.fit(digits(), np.arange(16) % 10, batch_size=8, epochs=2, verbose=0)
    return model


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_schedules_fall_from_clean_to_noise(schedule):
    a = ops.convert_to_numpy(alpha_bar(np.linspace(0, 1, 101), schedule))
    assert a[0] > 0.999 and a[-1] < 1e-3 and np.all(np.diff(a) <= 0)


def test_forward_process_matches_its_closed_form_by_sampling():
    model = DiffusionModel(tiny_unet())
    x0 = np.full((20000, 1, 1, 1), 0.6, "float32")  # one pixel value, many noise draws
    for t in (0.1, 0.5, 0.9):
        times = np.full(len(x0), t, "float32")
        x_t = ops.convert_to_numpy(model.noisy(x0, times, keras.random.normal(x0.shape, seed=1)))
        a = float(ops.convert_to_numpy(alpha_bar(t)))
        assert x_t.mean() == pytest.approx(np.sqrt(a) * 0.6, abs=0.02)
        assert x_t.var() == pytest.approx(1 - a, rel=0.05, abs=0.005)


def test_loss_at_initialisation_is_the_noise_variance():
    # The U-Net's last convolution starts at zero, so it predicts eps = 0 and the loss is E[eps^2] = 1.
    model = DiffusionModel(tiny_unet(), seed=0)
    model.compile(keras.optimizers.Adam(1e-3))
    loss = model.evaluate(digits(256), batch_size=64, verbose=0, return_dict=True)["loss"]
    assert loss == pytest.approx(1.0, abs=0.03)


def test_ema_weights_follow_the_update_rule():
    model = DiffusionModel(tiny_unet(), ema_decay=0.999, seed=0)
    model.compile(keras.optimizers.Adam(1e-2))
    before = [w.copy() for w in model.ema_network.get_weights()]
    model.fit(digits(8), batch_size=8, epochs=1, verbose=0)  # one step: iterations becomes 1
    decay = min(0.999, 2 / 11)  # (1 + step) / (10 + step) at step 1
    for ema, old, new in zip(model.ema_network.get_weights(), before, model.network.get_weights()):
        np.testing.assert_allclose(ema, decay * old + (1 - decay) * new, rtol=1e-5, atol=1e-6)
    assert any(not np.allclose(e, n) for e, n in zip(model.ema_network.get_weights(), model.network.get_weights()))


def test_only_the_network_is_trained():
    model = DiffusionModel(tiny_unet(), seed=0)
    model.compile(keras.optimizers.Adam(1e-2))
    model.fit(digits(8), batch_size=8, epochs=1, verbose=0)
    assert [id(v) for v in model.optimizer._trainable_variables] == [id(v) for v in model.network.trainable_variables]


def test_ddim_is_deterministic_for_a_seed_and_ddpm_adds_noise(conditional):
    labels = [0, 3, 9]
    a = conditional.generate(labels=labels, steps=10, seed=5)
    np.testing.assert_array_equal(a, conditional.generate(labels=labels, steps=10, seed=5))
    assert not np.allclose(a, conditional.generate(labels=labels, steps=10, seed=6))
    ddpm = conditional.generate(labels=labels, steps=10, sampler="ddpm", seed=5)
    np.testing.assert_array_equal(ddpm, conditional.generate(labels=labels, steps=10, sampler="ddpm", seed=5))
    assert not np.allclose(a, ddpm)
    assert a.min() >= -1 and a.max() <= 1


def test_sampling_in_batches_gives_the_same_samples(conditional):
    labels = np.arange(6) % 10
    np.testing.assert_allclose(conditional.generate(labels=labels, steps=4, seed=1),
                               conditional.generate(labels=labels, steps=4, seed=1, batch_size=4), atol=1e-5)


def test_guidance_combines_conditional_and_unconditional_predictions(conditional):
    x = digits(4)
    t = np.full(4, 0.5, "float32")
    labels = np.array([1, 2, 3, 4], "int32")
    net = conditional.ema_network
    c = ops.convert_to_numpy(net([x, t, labels]))
    u = ops.convert_to_numpy(net([x, t, np.full(4, 10, "int32")]))
    assert np.abs(c - u).max() > 1e-4  # the labels matter already, so the check below can fail
    for w in (0.0, 1.0, 3.0):
        guided = conditional._guided(net, *map(ops.convert_to_tensor, (x, t, labels)), w)
        guided = ops.convert_to_numpy(guided)
        np.testing.assert_allclose(guided, u + w * (c - u), rtol=1e-4, atol=1e-5)


def test_label_dropout_replaces_labels_by_the_null_class():
    model = ConditionalDiffusionModel(tiny_unet(10), 10, label_dropout=0.25, seed=0)
    labels = ops.convert_to_numpy(model._train_labels(ops.zeros((20000,), "int32"), 20000))
    assert set(np.unique(labels)) == {0, 10}
    assert (labels == 10).mean() == pytest.approx(0.25, abs=0.01)


def test_return_path_holds_every_step(conditional):
    samples, path = conditional.generate(labels=2, n=3, steps=5, seed=0, return_path=True)
    assert path.shape == (3, 5, *SHAPE) and np.array_equal(path[:, -1], samples)


def test_save_and_load_give_identical_samples_from_the_ema_weights(conditional, tmp_path):
    path = tmp_path / "diffusion.keras"
    conditional.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, ConditionalDiffusionModel) and loaded.label_dropout == conditional.label_dropout
    for a, b in zip(loaded.ema_network.get_weights(), conditional.ema_network.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.generate(labels=[1, 7], steps=5, guidance=2.0, seed=3),
                                  conditional.generate(labels=[1, 7], steps=5, guidance=2.0, seed=3))
    loaded.fit(digits(8), np.arange(8), batch_size=8, epochs=1, verbose=0)  # the optimizer state came back too


def test_v_prediction_trains_and_samples():
    model = DiffusionModel(tiny_unet(), prediction="v", seed=0)
    model.compile(keras.optimizers.Adam(1e-3))
    history = model.fit(digits(), batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    assert model.generate(2, steps=3, seed=0).shape == (2, *SHAPE)


@pytest.mark.parametrize("kwargs, message", [
    ({"steps": 0}, "steps must be a positive integer"),
    ({"steps": 2.5}, "steps must be a positive integer"),
    ({"sampler": "euler"}, "sampler must be one of"),
    ({"guidance": -1.0}, "guidance must be a number >= 0"),
    ({"labels": [3, 10]}, r"labels must lie in \[0, 9\]"),
    ({"labels": None}, "needs labels="),
])
def test_bad_sampling_arguments_are_refused(conditional, kwargs, message):
    call = {"labels": [1, 2], "steps": 2, **kwargs}
    with pytest.raises((ValueError, TypeError), match=message):
        conditional.generate(**call)


def test_bad_networks_and_settings_are_refused():
    with pytest.raises(ValueError, match=r"\[noisy image, t, label\]"):
        ConditionalDiffusionModel(tiny_unet(), 10)
    with pytest.raises(ValueError, match="needs ConditionalDiffusionModel"):
        DiffusionModel(tiny_unet(10))
    with pytest.raises(ValueError, match="schedule must be one of"):
        DiffusionModel(tiny_unet(), schedule="sigmoid")
    with pytest.raises(ValueError, match="ema_decay must be in"):
        DiffusionModel(tiny_unet(), ema_decay=1.0)
    with pytest.raises(ValueError, match="divisible by 4"):
        nets.unet((10, 10, 1), widths=(8, 16, 16))
    with pytest.raises(ValueError, match="divisible by groups"):
        nets.unet(SHAPE, widths=(12, 16))


def test_training_data_are_checked_before_tracing():
    model = ConditionalDiffusionModel(tiny_unet(10), 10)
    model.compile(keras.optimizers.Adam(1e-3))
    with pytest.raises(ValueError, match="comes without labels"):
        model.fit(digits(), batch_size=8, verbose=0)
    with pytest.raises(ValueError, match="no negative pixel"):
        model.fit((digits() + 1) / 2, np.arange(16) % 10, batch_size=8, verbose=0)
