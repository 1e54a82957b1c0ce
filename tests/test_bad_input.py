"""Input that used to pass silently: each case now fails early with a message that names the problem."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_genai as kg
from keras_genai import datasets, nets

SHAPE = (8, 8, 1)


def tiny_gan():
    keras.utils.set_random_seed(0)
    gan = kg.GAN(nets.dcgan_generator(4, SHAPE, filters=(8, 4)), nets.dcgan_discriminator(SHAPE, filters=(4, 8)), seed=0)
    gan.compile()
    return gan


def tiny_vae():
    encoder = nets.conv_encoder(SHAPE, 3, filters=(4, 8), dense=8)
    decoder = nets.conv_decoder(3, SHAPE, filters=(8, 4), dense=8, output_activation=None)
    vae = kg.VAE(encoder, decoder, seed=0)
    vae.compile("adam")
    return vae


def tiny_autoencoder():
    encoder = nets.conv_encoder(SHAPE, 3, filters=(4, 8), dense=8, variational=False)
    ae = kg.Autoencoder(encoder, nets.conv_decoder(3, SHAPE, filters=(8, 4), dense=8), seed=0)
    ae.compile("adam")
    return ae


def digits_uint8(n=32):
    """Dark background, a bright square: the pixel statistics of a digit, as raw 0-255 pixels."""
    x = np.zeros((n, *SHAPE), "uint8")
    x[:, 2:6, 3:5] = 255
    return x


def test_scale_images_refuses_images_already_scaled_to_unit_range():
    unit = digits_uint8().astype("float32") / 255.0
    with pytest.raises(ValueError, match="already scaled.*raw pixels 0-255"):
        datasets.scale_images(unit, "gan")
    # Raw pixels work as uint8 and as floats on the 0-255 scale; an integer batch of 0/1 is raw too.
    expected = datasets.scale_images(digits_uint8(), "gan")
    np.testing.assert_array_equal(datasets.scale_images(digits_uint8().astype("float32"), "gan"), expected)
    assert expected.min() == -1.0 and expected.max() == 1.0


def test_gan_fit_refuses_digits_scaled_for_the_vae():
    unit = digits_uint8().astype("float32") / 255.0  # [0, 1]: inside the GAN's [-1, 1], wrong all the same
    gan = tiny_gan()
    with pytest.raises(ValueError, match=r"no negative pixel.*scale_images\(x, \"gan\"\)"):
        gan.fit(unit, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="scaled for another model family"):
        gan.fit(datasets.image_dataset(unit, 8), epochs=1, verbose=0)
    gan.fit(datasets.image_dataset(2 * unit - 1, 8), epochs=1, verbose=0)  # the same digits in [-1, 1] train


def test_fit_on_a_pipeline_of_uint8_images_is_refused():
    pipeline = tf.data.Dataset.from_tensor_slices(digits_uint8()).batch(8)
    for model in (tiny_gan(), tiny_vae()):
        with pytest.raises(ValueError, match="yields uint8 examples.*scale_images"):
            model.fit(pipeline, epochs=1, verbose=0)


def test_fit_checks_the_values_of_a_pipeline_and_of_validation_data():
    vae = tiny_vae()
    nan_batch = np.full((8, *SHAPE), np.nan, "float32")
    with pytest.raises(ValueError, match=r"x \(first batch\) contains .* NaN"):
        vae.fit(tf.data.Dataset.from_tensor_slices(nan_batch).batch(8), epochs=1, verbose=0)
    good = digits_uint8().astype("float32") / 255.0
    with pytest.raises(ValueError, match=r"validation_data \(first batch\) must have values in \[0.0, 1.0\]"):
        vae.fit(good, epochs=1, verbose=0, validation_data=datasets.image_dataset(2 * good - 1, 8))


# An untrained model's optimizers have no slots yet; Keras warns when it loads them into built ones.
@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
@pytest.mark.parametrize("make", [tiny_gan, tiny_vae, tiny_autoencoder])
@pytest.mark.parametrize("suffix", [".h5", ".hdf5"])
def test_saving_to_legacy_hdf5_is_refused_with_a_pointer_to_keras_format(make, suffix, tmp_path):
    model = make()
    path = tmp_path / f"model{suffix}"
    with pytest.raises(ValueError, match=r"legacy HDF5.*\.keras"):
        model.save(str(path))
    assert not path.exists()
    model.save(str(tmp_path / "model.keras"))  # the supported format still works
    assert isinstance(keras.saving.load_model(str(tmp_path / "model.keras")), type(model))


def test_model_checkpoint_to_hdf5_fails_before_training_is_lost(tmp_path):
    gan = tiny_gan()
    x = 2 * digits_uint8().astype("float32") / 255.0 - 1
    checkpoint = keras.callbacks.ModelCheckpoint(str(tmp_path / "gan.h5"))
    with pytest.raises(ValueError, match="legacy HDF5"):
        gan.fit(x, epochs=1, batch_size=8, verbose=0, callbacks=[checkpoint])


def test_image_dataset_rejects_nan_and_mismatched_labels():
    with pytest.raises(ValueError, match="NaN"):
        datasets.image_dataset(np.full((16, *SHAPE), np.nan), 8)
    with pytest.raises(ValueError, match="labels has 3 entries for 16 examples"):
        datasets.image_dataset(np.zeros((16, *SHAPE)), 8, labels=np.zeros(3))


def test_plots_refuse_images_outside_their_value_range_instead_of_clipping():
    from keras_genai import plotting

    samples = np.random.default_rng(0).uniform(-1, 1, (4, *SHAPE))  # GAN samples
    with pytest.raises(ValueError, match=r"pass their pixel range as value_range.*\[0.0, 1.0\]"):
        plotting.image_grid(samples)  # the default (0, 1) would clip every dark pixel to black
    plotting.image_grid(samples, value_range=(-1, 1))
    with pytest.raises(ValueError, match="empty"):
        plotting.image_grid(np.zeros((0, *SHAPE)))
    with pytest.raises(ValueError, match="NaN"):
        plotting.image_rows([np.full((2, *SHAPE), np.nan)], ["nan"])
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        plotting.scatter_2d(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="at least 2"):
        plotting.interpolate(np.zeros(3), np.ones(3), steps=1)


def test_unscale_images_and_stratified_split_reject_what_they_cannot_do():
    with pytest.raises(ValueError, match="family must be one of"):
        datasets.unscale_images(np.zeros((2, *SHAPE)), "xx")
    with pytest.raises(ValueError, match=r"scaled for 'gan'.*\[-1.0, 1.0\]"):
        datasets.unscale_images(np.full((2, *SHAPE), 200.0), "gan")
    with pytest.raises(ValueError, match="at least one example per class"):
        datasets.stratified_split(np.zeros((10, 2)), np.arange(10) % 2, 0)


def test_fit_still_accepts_a_python_generator_and_a_tensor():
    vae = tiny_vae()
    good = digits_uint8().astype("float32") / 255.0

    def batches():
        while True:
            yield (good[:8],)  # Keras wants (inputs,) or (inputs, targets) from a generator

    vae.fit(batches(), steps_per_epoch=2, epochs=1, verbose=0)
    vae.fit(tf.constant(good), epochs=1, batch_size=8, verbose=0)
    with pytest.raises(ValueError, match=r"must have values in \[0.0, 1.0\]"):
        vae.fit(tf.constant(2 * good - 1), epochs=1, batch_size=8, verbose=0)
