import keras
import numpy as np
import pytest
from keras import layers

import keras_genai as kg
from keras_genai import nets, plotting

SHAPE = (8, 8, 1)


def small_autoencoder(latent_dim=3, **kwargs):
    encoder = nets.conv_encoder(SHAPE, latent_dim, filters=(4, 8), dense=8, variational=False)
    decoder = nets.conv_decoder(latent_dim, SHAPE, filters=(8, 4), dense=8)
    model = kg.Autoencoder(encoder, decoder, seed=0, **kwargs)
    model.compile(keras.optimizers.Adam(1e-2))
    return model


def identity_autoencoder(**kwargs):
    """x -> flatten -> reshape: its reconstruction is exactly its (possibly corrupted) input."""
    encoder = keras.Sequential([keras.Input(SHAPE), layers.Flatten()])
    decoder = keras.Sequential([keras.Input((64,)), layers.Reshape(SHAPE)])
    model = kg.Autoencoder(encoder, decoder, seed=0, **kwargs)
    model.compile("sgd")
    return model


def images(n=16, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (n, *SHAPE)).astype("float32")


@pytest.mark.parametrize("loss", ["bce", "mse"])
def test_loss_equals_closed_form(loss):
    model, x = small_autoencoder(loss=loss), images()
    logs = model.evaluate(x, batch_size=len(x), verbose=0, return_dict=True)
    p = model.reconstruct(x).astype("float64")
    x = x.astype("float64")
    if loss == "bce":
        expected = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=(1, 2, 3)).mean()
    else:
        expected = ((x - p) ** 2).sum(axis=(1, 2, 3)).mean()
    np.testing.assert_allclose(logs["loss"], expected, rtol=1e-4)
    np.testing.assert_allclose(logs["mse"], ((x - p) ** 2).mean(), rtol=1e-4)


def test_denoising_corrupts_the_input_but_compares_with_the_clean_image():
    x = np.full((256, *SHAPE), 0.5, dtype="float32")  # far from 0 and 1, so clipping is rare
    clean = identity_autoencoder(loss="mse")
    assert clean.evaluate(x, batch_size=256, verbose=0, return_dict=True)["mse"] == 0.0
    noisy = identity_autoencoder(loss="mse", noise_std=0.1)
    # The identity reconstructs its noisy input; the loss measures it against the clean x.
    mse = noisy.evaluate(x, batch_size=256, verbose=0, return_dict=True)["mse"]
    np.testing.assert_allclose(mse, 0.1**2, rtol=0.05)
    # Reconstruction is deterministic and noise-free.
    np.testing.assert_array_equal(noisy.reconstruct(x), x)


def test_mask_blanks_one_square_per_image_in_training_input_only():
    model = identity_autoencoder(mask_size=3)
    corrupted = keras.ops.convert_to_numpy(model.corrupt(keras.ops.ones((20, *SHAPE))))[..., 0]
    for image in corrupted:
        rows, cols = np.nonzero(image == 0)
        assert len(rows) == 9 and np.ptp(rows) == 2 and np.ptp(cols) == 2
    ones = np.ones((4, *SHAPE), "float32")
    np.testing.assert_array_equal(model.reconstruct(ones), ones)


def test_save_load_reconstructs_identically(tmp_path):
    model, x = small_autoencoder(loss="mse", noise_std=0.2, mask_size=2), images()
    model.fit(x, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "ae.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, kg.Autoencoder)
    assert (loaded.loss_name, loaded.noise_std, loaded.mask_size) == ("mse", 0.2, 2)
    np.testing.assert_array_equal(loaded.reconstruct(x), model.reconstruct(x))
    np.testing.assert_array_equal(loaded.encode(x), model.encode(x))
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 2


def test_bad_input_errors_are_clear():
    model = small_autoencoder()
    with pytest.raises(ValueError, match="scale_images"):
        model.reconstruct(images() * 255)
    with pytest.raises(ValueError, match=r"shape \(batch, 8, 8, 1\)"):
        model.reconstruct(np.zeros((4, 8, 8)))
    with pytest.raises(ValueError, match="NaN"):
        model.fit(np.full((4, *SHAPE), np.nan, "float32"), verbose=0)
    with pytest.raises(ValueError, match=r"z must have shape \(batch, 3\)"):
        model.decode(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="loss must be one of"):
        small_autoencoder(loss="l1")
    with pytest.raises(ValueError, match="noise_std must be a number >= 0"):
        small_autoencoder(noise_std=-0.1)
    with pytest.raises(ValueError, match="noise_std must be a number >= 0"):
        small_autoencoder(noise_std="0.1")
    with pytest.raises(ValueError, match="mask_size=9"):
        small_autoencoder(mask_size=9)


def test_encoder_decoder_mismatch_is_rejected():
    encoder = nets.conv_encoder(SHAPE, 3, filters=(4, 8), dense=8, variational=False)
    with pytest.raises(ValueError, match=r"decoder input shape \(4,\) does not match .* \(3,\)"):
        kg.Autoencoder(encoder, nets.conv_decoder(4, SHAPE, filters=(8, 4)))
    with pytest.raises(ValueError, match="decoder output shape"):
        kg.Autoencoder(encoder, nets.conv_decoder(3, (16, 16, 1), filters=(8, 4)))
    with pytest.raises(ValueError, match="one latent vector"):
        kg.Autoencoder(nets.conv_encoder(SHAPE, 3, filters=(4, 8)), nets.conv_decoder(3, SHAPE, filters=(8, 4)))


def test_latent_grid_can_sit_on_the_codes_of_a_plain_autoencoder():
    # A plain autoencoder's codes are not centred on 0, so the grid of decoded points takes a centre.
    seen = []

    def decode(z):
        seen.append(z)
        return np.zeros((len(z), *SHAPE), "float32")

    plotting.latent_grid(decode, n=5, limit=1.0, center=(-3.0, 2.0))
    z = seen[0]
    np.testing.assert_allclose(z.mean(axis=0), [-3.0, 2.0], atol=1e-6)
    np.testing.assert_allclose([z[:, 0].min(), z[:, 0].max(), z[:, 1].min(), z[:, 1].max()], [-4, -2, 1, 3])
