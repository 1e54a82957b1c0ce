import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_genai import ConditionalGAN, ConditionalVAE, evaluation, nets

SHAPE = (8, 8, 1)
CLASSES = 4


def make_cgan(conditioning="projection", seed=0):
    keras.utils.set_random_seed(seed)
    generator = nets.dcgan_generator(4, SHAPE, filters=(8, 4), num_classes=CLASSES)
    discriminator = nets.dcgan_discriminator(SHAPE, filters=(4, 8), num_classes=CLASSES, conditioning=conditioning)
    return ConditionalGAN(generator, discriminator, num_classes=CLASSES, seed=seed)


def make_cvae(seed=0):
    keras.utils.set_random_seed(seed)
    encoder = nets.conv_encoder(SHAPE, 3, filters=(4, 8), dense=8, num_classes=CLASSES)
    decoder = nets.conv_decoder(3, SHAPE, filters=(8, 4), dense=8, output_activation=None, num_classes=CLASSES)
    return ConditionalVAE(encoder, decoder, num_classes=CLASSES, seed=seed)


def batch(family="gan", n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0 if family == "gan" else 0.0, 1.0, (n, *SHAPE)).astype("float32")
    return x, rng.integers(0, CLASSES, n)


@pytest.mark.parametrize("conditioning", ["projection", "concat"])
def test_the_label_changes_what_the_networks_compute(conditioning):
    cgan = make_cgan(conditioning)
    z = np.random.default_rng(0).standard_normal((3, 4)).astype("float32")
    zero, two = cgan.generate(z=z, labels=0), cgan.generate(z=z, labels=2)
    assert not np.allclose(zero, two)
    np.testing.assert_allclose(cgan.generate(z=z, labels=[0, 2, 0])[1], two[1], atol=1e-6)
    x, _ = batch(n=3)
    assert not np.allclose(cgan.discriminate(x, [0, 0, 0]), cgan.discriminate(x, [1, 1, 1]))


def test_projection_discriminator_is_linear_plus_class_embedding_dot_features():
    discriminator = nets.dcgan_discriminator(SHAPE, filters=(4, 8), num_classes=CLASSES)
    x, y = batch(n=5)
    features = keras.Model(discriminator.inputs[0], discriminator.get_layer("logit").input)(x)
    logit_layer, embedding = discriminator.get_layer("logit"), discriminator.get_layer("class_embedding")
    expected = (features @ logit_layer.kernel + logit_layer.bias)[:, 0]
    expected += np.sum(embedding.kernel.numpy()[y] * features.numpy(), axis=1)
    np.testing.assert_allclose(discriminator([x, y])[:, 0], expected, rtol=1e-5, atol=1e-5)


def test_cgan_trains_both_networks_with_labels_from_arrays_and_pipelines():
    cgan = make_cgan()
    cgan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    x, y = batch()
    history = cgan.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss", "d_acc"}
    cgan.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(16), epochs=1, verbose=0)
    assert int(cgan.g_optimizer.iterations) == 4 and int(cgan.d_optimizer.iterations) == 4


def test_generate_returns_exactly_the_requested_labels_count_and_shape():
    cgan = make_cgan()
    assert cgan.generate(labels=[3, 1, 1, 0], seed=0).shape == (4, *SHAPE)
    assert cgan.generate(6, labels=2, seed=0).shape == (6, *SHAPE)
    np.testing.assert_allclose(cgan.generate(5, labels=1, seed=7), cgan.generate(labels=[1] * 5, seed=7))
    cvae = make_cvae()
    assert cvae.generate(labels=np.arange(CLASSES), seed=0).shape == (CLASSES, *SHAPE)


@pytest.mark.parametrize("make", [make_cgan, make_cvae])
@pytest.mark.parametrize("call, error, message", [
    (lambda m: m.generate(3, seed=0), ValueError, "needs labels="),
    (lambda m: m.generate(labels=[0, CLASSES], seed=0), ValueError, rf"must lie in \[0, {CLASSES - 1}\]"),
    (lambda m: m.generate(labels=[-1, 0], seed=0), ValueError, "must lie in"),
    (lambda m: m.generate(labels=[[0, 1]], seed=0), ValueError, r"shape \(n,\)"),
    (lambda m: m.generate(labels=np.eye(CLASSES)[[0, 1]], seed=0), ValueError, r"shape \(n,\)"),
    (lambda m: m.generate(labels=[0.0, 1.0], seed=0), TypeError, "float labels"),
    (lambda m: m.generate(labels=[True, False], seed=0), TypeError, "integer class indices"),
    (lambda m: m.generate(5, labels=[0, 1, 2], seed=0), ValueError, "3 labels for 5 examples"),
    (lambda m: m.generate(labels=[0, 1], z=np.zeros((3, m.latent_dim))), ValueError, "2 labels for 3 examples"),
    (lambda m: m.generate(labels=1, seed=0), ValueError, "a single label needs n"),
    (lambda m: m.generate(labels=[], seed=0), ValueError, "empty"),
])
def test_bad_labels_fail_with_clear_messages(make, call, error, message):
    with pytest.raises(error, match=message):
        call(make())


@pytest.mark.parametrize("make, family", [(make_cgan, "gan"), (make_cvae, "vae")])
def test_fit_checks_the_labels_before_training(make, family):
    model = make()
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3)) if family == "gan" else model.compile("adam")
    x, y = batch(family)
    with pytest.raises(ValueError, match="comes without labels"):
        model.fit(x, verbose=0)
    with pytest.raises(ValueError, match=r"x labels must lie in \[0, 3\]"):
        model.fit(x, y + CLASSES, verbose=0)
    with pytest.raises(TypeError, match="float labels"):
        model.fit(x, y.astype("float32"), verbose=0)
    with pytest.raises(ValueError, match="31 labels for 32 examples"):
        model.fit(x, y[:-1], verbose=0)
    with pytest.raises(ValueError, match="yields images only"):
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(8), verbose=0)
    with pytest.raises(TypeError, match="yields float32 labels"):
        model.fit(tf.data.Dataset.from_tensor_slices((x, y.astype("float32"))).batch(8), verbose=0)
    with pytest.raises(ValueError, match=r"first batch\) must lie in"):
        model.fit(tf.data.Dataset.from_tensor_slices((x, y + 10)).batch(8), verbose=0)


def test_cgan_save_load_generates_the_same_labelled_samples(tmp_path):
    cgan = make_cgan("concat")
    cgan.compile(keras.optimizers.Adam(1e-3, beta_1=0.5), keras.optimizers.Adam(1e-3, beta_1=0.5))
    cgan.fit(*batch(), batch_size=16, epochs=1, verbose=0)
    path = str(tmp_path / "cgan.keras")
    cgan.save(path)
    loaded = keras.saving.load_model(path)
    labels = [0, 1, 2, 3, 3]
    assert isinstance(loaded, ConditionalGAN) and loaded.num_classes == CLASSES
    np.testing.assert_allclose(loaded.generate(labels=labels, seed=5), cgan.generate(labels=labels, seed=5), atol=1e-6)


def test_cvae_save_load_and_labelled_figures(tmp_path):
    cvae = make_cvae()
    cvae.compile(keras.optimizers.Adam(1e-3))
    x, y = batch("vae")
    history = cvae.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "reconstruction", "kl", "neg_elbo"}
    path = str(tmp_path / "cvae.keras")
    cvae.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.generate(labels=[0, 3], seed=1), cvae.generate(labels=[0, 3], seed=1), atol=1e-6)
    np.testing.assert_allclose(loaded.negative_elbo(x, y), cvae.negative_elbo(x, y), rtol=1e-5)
    # The bound depends on the label the decoder is told: the same images under other labels score differently.
    assert not np.allclose(cvae.negative_elbo(x, y), cvae.negative_elbo(x, (y + 1) % CLASSES))
    z_mean, z_log_var = cvae.encode(x[:3], y[:3])
    assert z_mean.shape == z_log_var.shape == (3, 3)
    assert cvae.reconstruct(x[:3], y[:3]).shape == (3, *SHAPE)
    assert cvae.decode(z_mean, y[:3]).shape == (3, *SHAPE)


def test_unconditional_networks_are_refused_with_a_pointer():
    with pytest.raises(ValueError, match=r"two inputs \[z, label\]"):
        ConditionalGAN(nets.dcgan_generator(4, SHAPE, filters=(8, 4)), nets.dcgan_discriminator(SHAPE, filters=(4, 8)),
                       num_classes=CLASSES)
    with pytest.raises(ValueError, match="use keras_genai.models.ConditionalGAN"):
        from keras_genai import GAN
        GAN(nets.dcgan_generator(4, SHAPE, filters=(8, 4), num_classes=CLASSES), nets.dcgan_discriminator(SHAPE, filters=(4, 8)))
    with pytest.raises(ValueError, match="num_classes must be at least 2"):
        make_cgan().__class__(make_cgan().generator, make_cgan().discriminator, num_classes=1)


def test_label_accuracy_counts_requested_labels_per_class():
    class Oracle:  # a stand-in classifier that reads the label off the first pixel
        def probabilities(self, images, value_range=(0.0, 1.0)):
            return np.eye(10)[np.round(images[:, 0, 0, 0] * 9).astype(int)]

    images = np.zeros((6, 28, 28, 1), "float32")
    images[:, 0, 0, 0] = np.array([0, 1, 1, 2, 3, 3]) / 9
    result = evaluation.label_accuracy(Oracle(), images, [0, 1, 2, 2, 3, 5])
    assert result.overall == pytest.approx(4 / 6)
    np.testing.assert_allclose(result.per_label[[0, 1, 2, 3, 5]], [1.0, 1.0, 0.5, 1.0, 0.0])
    assert np.isnan(result.per_label[4]) and result.worst == 0.0
    assert result.counts.tolist() == [1, 1, 2, 1, 0, 1, 0, 0, 0, 0]
    with pytest.raises(ValueError, match="5 labels for 6 examples"):
        evaluation.label_accuracy(Oracle(), images, [0, 1, 2, 2, 3])


def test_cvae_importance_weighted_bound_needs_labels_and_tightens_the_elbo():
    cvae = make_cvae()
    cvae.compile(keras.optimizers.Adam(1e-3))
    x, y = batch("vae")
    cvae.fit(x, y, batch_size=16, epochs=2, verbose=0)
    elbo = cvae.negative_elbo(x, y).mean()
    iwae = evaluation.iwae_bound(cvae, x, k=50, labels=y).mean()
    assert iwae <= elbo + 0.5  # a tighter bound, up to the noise of the one-sample ELBO
    with pytest.raises(ValueError, match="pass the labels of x"):
        evaluation.iwae_bound(cvae, x, k=2)
    with pytest.raises(ValueError, match="2 labels for 32 examples"):
        evaluation.iwae_bound(cvae, x, k=2, labels=y[:2])
