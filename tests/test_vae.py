"""VAE: its two loss terms against independent NumPy formulas, training, saving, bad input."""

import keras
import numpy as np
import pytest

import keras_genai as kg
from keras_genai import losses, nets, recipes

SHAPE = (8, 8, 1)


def tiny_vae(likelihood="bernoulli", latent_dim=3, seed=0):
    keras.utils.set_random_seed(seed)
    encoder = nets.conv_encoder(SHAPE, latent_dim, filters=(4, 8), dense=16)
    decoder = nets.conv_decoder(latent_dim, SHAPE, filters=(8, 4), dense=16, output_activation=None)
    return kg.VAE(encoder, decoder, likelihood=likelihood, seed=seed)


def images(n=16, seed=0):
    """n images drawn from 4 random binary templates (learnable), with grey noise on top."""
    rng = np.random.default_rng(seed)
    templates = rng.integers(0, 2, (4, *SHAPE))
    noisy = 0.9 * templates[rng.integers(0, 4, n)] + 0.1 * rng.uniform(0, 1, (n, *SHAPE))
    return noisy.astype("float32")


def test_kl_matches_the_closed_form_computed_independently():
    rng = np.random.default_rng(1)
    mu, log_var = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    # KL(N(mu, s^2) || N(0, 1)) per dimension = log(1/s) + (s^2 + mu^2) / 2 - 1/2
    sigma = np.exp(0.5 * log_var)
    per_dimension = -np.log(sigma) + (sigma**2 + mu**2) / 2 - 0.5
    got = keras.ops.convert_to_numpy(losses.gaussian_kl(mu.astype("float32"), log_var.astype("float32")))
    np.testing.assert_allclose(got, per_dimension.sum(axis=1), rtol=1e-5)
    np.testing.assert_allclose(losses.gaussian_kl_per_dimension(mu.astype("float32"), log_var.astype("float32")),
                               per_dimension, rtol=1e-5, atol=1e-6)
    # ... and it is zero exactly when q is the prior
    zero = losses.gaussian_kl(np.zeros((1, 4), "float32"), np.zeros((1, 4), "float32"))
    assert float(keras.ops.convert_to_numpy(zero)[0]) == 0.0


def test_kl_matches_a_monte_carlo_estimate():
    rng = np.random.default_rng(2)
    mu, log_var = np.array([[0.7, -1.2]]), np.array([[-0.5, 0.8]])
    sigma = np.exp(0.5 * log_var)
    z = mu + sigma * rng.standard_normal((200_000, 2))
    log_q = np.sum(-0.5 * ((z - mu) / sigma) ** 2 - np.log(sigma), axis=1)
    log_p = np.sum(-0.5 * z**2, axis=1)  # the 2*pi terms cancel
    closed = keras.ops.convert_to_numpy(losses.gaussian_kl(mu.astype("float32"), log_var.astype("float32")))[0]
    assert abs(np.mean(log_q - log_p) - closed) < 0.02


def test_bernoulli_nll_equals_binary_crossentropy_summed_over_pixels():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (4, *SHAPE))
    logits = rng.normal(scale=3, size=(4, *SHAPE))
    p = 1 / (1 + np.exp(-logits))
    expected = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2, 3))
    got = keras.ops.convert_to_numpy(losses.bernoulli_nll(x.astype("float32"), logits.astype("float32")))
    np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_negative_elbo_is_bce_plus_kl_when_the_posterior_is_a_point():
    vae = tiny_vae()
    # make sigma tiny (log sigma^2 = -40) so the one posterior sample is z = mu
    log_var_layer = vae.encoder.get_layer("z_log_var")
    kernel, bias = log_var_layer.get_weights()
    log_var_layer.set_weights([np.zeros_like(kernel), np.full_like(bias, -40.0)])
    x = images(6)
    mu, _ = vae.encode(x)
    p = vae.decode(mu).astype("float64")
    bce = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2, 3))
    kl = 0.5 * np.sum(np.exp(-40.0) + mu.astype("float64") ** 2 - 1 + 40.0, axis=1)
    np.testing.assert_allclose(vae.negative_elbo(x), bce + kl, rtol=1e-4)


def test_train_steps_lower_the_loss_on_a_fixed_batch():
    vae = tiny_vae()
    vae.compile(keras.optimizers.Adam(1e-2))
    x = images(32)
    before = vae.evaluate(x, batch_size=32, verbose=0, return_dict=True)["neg_elbo"]
    vae.fit(np.tile(x, (20, 1, 1, 1)), batch_size=32, epochs=1, verbose=0)  # 20 steps on the same images
    after = vae.evaluate(x, batch_size=32, verbose=0, return_dict=True)["neg_elbo"]
    assert after < before - 1.0


def test_beta_weights_only_the_kl_in_the_loss():
    vae = tiny_vae()
    vae.beta = 4.0
    vae.compile(keras.optimizers.Adam(1e-3))
    logs = vae.evaluate(images(32), batch_size=32, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(logs["reconstruction"] + 4.0 * logs["kl"], rel=1e-5)
    assert logs["neg_elbo"] == pytest.approx(logs["reconstruction"] + logs["kl"], rel=1e-5)


def test_save_load_round_trip_generates_the_same_images(tmp_path):
    vae = tiny_vae(likelihood="gaussian")
    vae.compile(keras.optimizers.Adam(1e-2))
    vae.fit(images(32), batch_size=16, epochs=1, verbose=0)
    log_var = float(keras.ops.convert_to_numpy(vae.decoder_log_var))
    assert log_var != pytest.approx(2 * np.log(kg.models.vae.GAUSSIAN_INITIAL_STD))  # it was trained
    path = tmp_path / "vae.keras"
    vae.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, kg.VAE) and loaded.likelihood == "gaussian"
    assert float(keras.ops.convert_to_numpy(loaded.decoder_log_var)) == log_var
    np.testing.assert_array_equal(loaded.generate(5, seed=7), vae.generate(5, seed=7))
    np.testing.assert_array_equal(loaded.generate(5, seed=7), loaded.generate(5, seed=7))
    assert not np.array_equal(loaded.generate(5, seed=7), loaded.generate(5, seed=8))


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((4, 28, 28, 1), "float32"), r"shape \(batch, 8, 8, 1\)"),
        (np.full((4, *SHAPE), 255.0, "float32"), r"values in \[0.0, 1.0\].*scale_images"),
        (np.full((4, *SHAPE), np.nan, "float32"), "NaN"),
        (np.zeros((0, *SHAPE), "float32"), "empty"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(bad, message):
    vae = tiny_vae()
    vae.compile(keras.optimizers.Adam())
    for call in (vae.encode, vae.reconstruct, vae.negative_elbo, lambda x: vae.fit(x, verbose=0)):
        with pytest.raises(ValueError, match=message):
            call(bad)


def test_decoder_with_a_sigmoid_output_is_rejected():
    encoder = nets.conv_encoder(SHAPE, 3, filters=(4, 8), dense=16)
    decoder = nets.conv_decoder(3, SHAPE, filters=(8, 4), dense=16, output_activation="sigmoid")
    with pytest.raises(ValueError, match="logits"):
        kg.VAE(encoder, decoder)


def test_other_bad_constructions_are_rejected():
    encoder = nets.conv_encoder(SHAPE, 3, filters=(4, 8), dense=16)
    decoder = nets.conv_decoder(3, SHAPE, filters=(8, 4), dense=16, output_activation=None)
    with pytest.raises(ValueError, match="likelihood must be one of"):
        kg.VAE(encoder, decoder, likelihood="poisson")
    with pytest.raises(ValueError, match="beta must be a number >= 0"):
        kg.VAE(encoder, decoder, beta=-1)
    with pytest.raises(ValueError, match=r"\[z_mean, z_log_var\]"):
        kg.VAE(nets.conv_encoder(SHAPE, 3, filters=(4, 8), variational=False), decoder)
    two_and_three = keras.Model(encoder.input, [encoder.output[0][:, :2], encoder.output[1]])
    with pytest.raises(ValueError, match="z_mean has 2 dimensions but z_log_var has 3"):
        kg.VAE(two_and_three, decoder)
    with pytest.raises(ValueError, match=r"z must have shape \(batch, 3\)"):
        kg.VAE(encoder, decoder).decode(np.zeros((2, 5)))


def test_default_vae_networks_and_recipe():
    encoder, decoder = nets.vae_encoder(), nets.vae_decoder()
    z_mean, z_log_var = encoder.output
    assert tuple(z_mean.shape) == tuple(z_log_var.shape) == (None, 32)
    assert decoder.output_shape == (None, 28, 28, 1)
    assert decoder.layers[-1].activation.__name__ == "linear"  # logits, as the VAE requires
    # convs_per_level=2 adds one stride-1 convolution per resolution level
    shallow = nets.conv_encoder((28, 28, 1), 32, dense=0)
    assert len(encoder.layers) == len(shallow.layers) + 2
    recipe = recipes.vae()
    model = recipe.build()
    assert model.latent_dim == recipe.latent_dim == 32 and model.likelihood == "bernoulli"
    assert model.count_params() == encoder.count_params() + decoder.count_params()
    # the learning rate falls along a cosine over epochs x (train_size // batch_size) steps
    schedule = model.optimizer._learning_rate
    assert schedule.decay_steps == recipe.epochs * (recipe.train_size // recipe.batch_size)
    assert float(schedule(schedule.decay_steps)) == pytest.approx(0.05 * recipe.learning_rate)
