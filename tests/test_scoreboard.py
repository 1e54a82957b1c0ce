"""keras_genai.recipes and the pieces of benchmarks/scoreboard.py, on tiny inputs."""

import dataclasses
import importlib.util
import pathlib
import time
import types

import keras
import numpy as np
import pytest

from keras_genai import datasets, nets, recipes
from keras_genai.models import GAN, VAE, WGANGP, ConditionalDiffusionModel, ConditionalGAN, ConditionalVAE

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def scoreboard():
    spec = importlib.util.spec_from_file_location("scoreboard", ROOT / "benchmarks" / "scoreboard.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- recipes ----------------------------------------------------------------------------------

@pytest.mark.parametrize("make, model_class", [
    (recipes.vae, VAE), (recipes.mlp_gan, GAN), (recipes.dcgan, GAN), (recipes.wgan_gp, WGANGP),
    (recipes.conditional_gan, ConditionalGAN), (recipes.conditional_vae, ConditionalVAE),
])
def test_recipes_build_compiled_models_with_their_settings(make, model_class):
    recipe = make()
    model = recipe.build(seed=0)
    assert isinstance(model, model_class) and model.latent_dim == recipe.latent_dim
    optimizers = [model.optimizer] if isinstance(model, VAE) else [model.d_optimizer, model.g_optimizer]
    for optimizer in optimizers:
        assert float(optimizer.learning_rate) == pytest.approx(recipe.learning_rate)
    if isinstance(model, GAN):
        assert optimizers[0] is not optimizers[1]
        assert all(float(o.beta_1) == recipe.beta_1 for o in optimizers)
    if isinstance(model, WGANGP):
        assert all(float(o.beta_2) == recipe.beta_2 for o in optimizers) and model.n_critic == recipe.n_critic
    labels = {"labels": [0, 4, 9]} if hasattr(model, "num_classes") else {}
    images = model.generate(3, seed=0, **labels)
    low, high = datasets.FAMILY_RANGES[recipe.family]
    assert images.shape == (3, 28, 28, 1) and low <= images.min() and images.max() <= high


def test_diffusion_recipe_builds_the_notebook_model():
    recipe = recipes.diffusion()
    model = recipe.build(seed=0)
    assert isinstance(model, ConditionalDiffusionModel) and model.ema_decay == recipe.ema_decay
    assert float(model.optimizer.learning_rate) == pytest.approx(recipe.learning_rate)
    assert model.label_dropout == recipe.label_dropout and model.num_classes == recipe.num_classes
    images = model.generate(labels=[0, 9], steps=2, seed=0)
    assert images.shape == (2, 28, 28, 1) and -1 <= images.min() and images.max() <= 1
    with pytest.raises(ValueError, match="seconds must be positive"):
        dataclasses.replace(recipe, seconds=0)


def test_recipes_follow_the_builders_defaults():
    assert recipes.dcgan().latent_dim == nets.dcgan_generator.__defaults__[0]
    assert recipes.dcgan().build().generator.count_params() == nets.dcgan_generator().count_params()
    assert recipes.mlp_gan().architecture == "mlp" and recipes.dcgan().architecture == "dcgan"


def test_conditional_recipes_pair_images_with_labels():
    digits, labels = np.zeros((8, 28, 28), dtype="uint8"), np.arange(8)
    for make in (recipes.conditional_gan, recipes.conditional_vae):
        images, batch_labels = next(iter(dataclasses.replace(make(), batch_size=4).dataset(digits, labels)))
        assert images.shape == (4, 28, 28, 1) and batch_labels.shape == (4,)
    with pytest.raises(ValueError, match="conditioning must be one of"):
        dataclasses.replace(recipes.conditional_gan(), conditioning="film")


def test_recipe_dataset_scales_and_batches_for_its_family():
    digits = np.full((10, 28, 28), 255, dtype="uint8")
    for recipe, high in [(dataclasses.replace(recipes.vae(), batch_size=4), 1.0),
                         (dataclasses.replace(recipes.dcgan(), batch_size=4), 1.0)]:
        batches = [b.numpy() for b in recipe.dataset(digits)]
        assert [len(b) for b in batches] == [4, 4]  # the remainder is dropped: one traced step
        assert np.all(batches[0] == high)
    zeros = np.zeros((4, 28, 28), dtype="uint8")
    assert next(iter(dataclasses.replace(recipes.dcgan(), batch_size=4).dataset(zeros))).numpy().min() == -1.0


def test_recipes_are_frozen_and_check_their_settings():
    with pytest.raises(dataclasses.FrozenInstanceError):
        recipes.vae().epochs = 3
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        dataclasses.replace(recipes.vae(), epochs=0)
    with pytest.raises(ValueError, match="learning_rate must be positive"):
        dataclasses.replace(recipes.dcgan(), learning_rate=-1.0)
    with pytest.raises(ValueError, match="architecture must be one of"):
        recipes.GANRecipe(architecture="transformer")


# --- the training clock ---------------------------------------------------------------------

def tiny_regression():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    return model, np.zeros((64, 2), "float32"), np.zeros((64, 1), "float32")


def test_time_to_quality_keeps_evaluation_off_the_clock(scoreboard):
    pause = 0.2

    def slow_evaluation(model):
        time.sleep(pause)
        return 1.0

    model, x, y = tiny_regression()
    clock = scoreboard.TimeToQuality(slow_evaluation, every=0.01)
    start = time.perf_counter()
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[clock])
    wall = time.perf_counter() - start
    assert len(clock.history) >= 3  # every ~0.01 s of training, and once at the end
    assert clock.seconds <= wall - pause * len(clock.history) + 0.05
    times = [t for t, _ in clock.history]
    assert times == sorted(times) and times[-1] == pytest.approx(clock.seconds)
    thresholds = [t // 0.01 for t in times[:-1]]
    assert len(set(thresholds)) == len(thresholds)  # at most one point per multiple of `every`
    assert clock.steps == 3 * 8


def test_time_to_quality_stops_at_its_budget(scoreboard):
    model, x, y = tiny_regression()
    clock = scoreboard.TimeToQuality(lambda m: 0.0, every=10.0, budget=0.3)
    history = model.fit(x, y, batch_size=8, epochs=100_000, verbose=0, callbacks=[clock])
    assert 0.3 <= clock.seconds < 5.0 and len(history.history["loss"]) < 100_000
    assert [v for _, v in clock.history] == [0.0]  # only the final evaluation
    with pytest.raises(ValueError, match="positive seconds"):
        scoreboard.TimeToQuality(every=0)


# --- the tables and a tiny run -----------------------------------------------------------

def test_curve_table_aligns_points_and_marks_the_end(scoreboard):
    # Two evaluations every 30 s, then the end of training; the second model stopped earlier.
    curves = {"a": [(30.5, 40.0), (61.0, 20.0), (75.0, 25.0)], "b": [(31.0, 90.0), (40.0, 80.0)]}
    lines = scoreboard.curve_table(curves, every=30).splitlines()
    assert lines[0] == "| training time | a: FID | b: FID |"
    assert lines[2] == "| 30 s | 40.00 (at 30 s) | 90.00 (at 31 s) |"
    assert lines[3] == "| 60 s | 20.00 (at 61 s) | – |"
    assert lines[4] == "| end | 25.00 (at 75 s) | 80.00 (at 40 s) |"
    assert scoreboard.best_point(curves["a"]) == (61.0, 20.0)


def test_time_to_quality_counts_the_point_recorded_at_five_minutes(scoreboard, tmp_path):
    settings = types.SimpleNamespace(budget=480, eval_every=30.0, n_track=10)
    curves = {"default": [(270.4, 15.2), (300.02, 14.5), (330.0, 13.1), (480.0, 10.4)],
              "tutorial": [(300.1, 300.0), (480.0, 157.0)]}
    text = "\n".join(scoreboard.time_to_quality(curves, settings, tmp_path / "r.md"))
    assert "best FID 10.40, first reached after 480 s" in text
    assert "up to the 5-minute mark is 14.50 (at 300 s)" in text
    assert "15.1× the default DCGAN's 10.40" in text


def test_tiny_scoreboard_run_writes_a_results_file(scoreboard, tmp_path):
    settings = scoreboard.Settings(n_train=64, epochs=1, n_samples=40, n_track=20, eval_every=0.5, budget=1.0,
                                   iwae_k=2, n_likelihood=20, diffusion_budget=1.0, diffusion_steps=2)
    board = scoreboard.Scoreboard(settings, log=lambda *a: None)
    board.score("real", board.real_test[:40], "ae", recipe="40 test digits")
    board.score("real as [-1, 1]", 2 * board.real_test[:40] - 1, "gan")  # GAN samples: rescaled before scoring
    assert board.rows.pop("real as [-1, 1]")["fid"] == pytest.approx(board.rows["real"]["fid"], rel=1e-4)
    board.run_recipe("vae", dataclasses.replace(recipes.vae(), batch_size=32))
    board.run_recipe("cvae", dataclasses.replace(recipes.conditional_vae(), batch_size=32))
    board.run_recipe("cgan", dataclasses.replace(recipes.conditional_gan(), batch_size=32))
    # The default DCGAN is scored after its recipe's epoch, then races on; a second runner races too.
    recipe = dataclasses.replace(recipes.dcgan(), batch_size=32)
    board.run_recipe("dcgan", recipe, race="race a")
    model, dataset, _ = scoreboard.tutorial_dcgan()
    board.race("race b", model, dataset(board.x_train), "tiny")
    board.run_diffusion()
    board.total_seconds, board.load = 1.0, (0.5, 0.5)
    diffusion = [name for name in board.rows if name.startswith("diffusion")]
    assert len(diffusion) == 3 and "label_accuracy" not in board.rows[diffusion[0]]
    assert all("label_accuracy" in board.rows[name] for name in diffusion[1:])
    for name in diffusion:
        board.rows.pop(name)
    vae = board.rows["vae"]
    assert np.isfinite(vae["neg_elbo"]) and vae["bits_per_dim"] == pytest.approx(vae["iwae"] / (784 * np.log(2)))
    assert "neg_elbo" not in board.rows["dcgan"] and len(board.curves["race a"]) >= 2
    assert list(board.rows) == ["real", "vae", "cvae", "cgan", "dcgan", "race a", "race b"]
    for name in ("cvae", "cgan"):  # 40 samples, 4 of each digit
        assert 0.0 <= board.rows[name]["worst_label_accuracy"] <= board.rows[name]["label_accuracy"] <= 1.0
    assert np.isfinite(board.rows["cvae"]["iwae"]) and "label_accuracy" not in board.rows["vae"]
    for name in ["race a", "race b"]:
        assert 1.0 <= board.curves[name][-1][0] < 30  # trained for the budget of 1 s, then stopped
    assert board.rows["real"]["training time"] == "–" and board.rows["vae"]["training time"].endswith(" s")
    text = scoreboard.write_results(board, tmp_path / "results.md", quick=True).read_text()
    assert "| real | 40 test digits | – |" in text and "conditioning projection" in text
    assert "label acc." in text and "worst label" in text
    assert "| vae | 1 epoch, batch 32" in text and "| dcgan | 1 epoch, batch 32" in text
    assert "| race a | the row above, trained on (" in text and "| race b | tiny (" in text and "not shared" in text
    assert "## Time to quality" in text and (tmp_path / "results_time_to_quality.png").exists()
