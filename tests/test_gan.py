import time

import keras
import numpy as np
import pytest

from keras_genai import GAN, callbacks, losses, nets

SHAPE = (8, 8, 1)  # small images keep the file fast; the builders are the package's own


def make_gan(d_steps=1, latent_dim=4, seed=0):
    keras.utils.set_random_seed(seed)
    generator = nets.dcgan_generator(latent_dim, SHAPE, filters=(8, 4))
    discriminator = nets.dcgan_discriminator(SHAPE, filters=(4, 8))
    return GAN(generator, discriminator, d_steps=d_steps, seed=seed)


def real_images(n=32, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, *SHAPE)).astype("float32")


def weights(net):
    return [w.numpy().copy() for w in net.trainable_weights]


def changed(before, net):
    return any(not np.allclose(b, w.numpy()) for b, w in zip(before, net.trainable_weights))


def neg_log_sigmoid(logits):
    return -np.log(1.0 / (1.0 + np.exp(-logits)))


LOGITS = np.array([-3.0, -0.5, 0.0, 0.7, 4.0])


@pytest.mark.parametrize("real_label", [1.0, 0.9])
def test_discriminator_loss_is_the_bce_of_real_and_fake_labels(real_label):
    fake = LOGITS[::-1].copy()
    expected = (real_label * neg_log_sigmoid(LOGITS) + (1 - real_label) * neg_log_sigmoid(-LOGITS)
                + neg_log_sigmoid(-fake))  # fake label 0: -log(1 - sigmoid(l)) = -log sigmoid(-l)
    got = losses.discriminator_loss(LOGITS, fake, real_label)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got), expected, rtol=1e-5)


def test_generator_losses_match_their_closed_forms():
    minimax = np.log(1.0 - 1.0 / (1.0 + np.exp(-LOGITS)))  # log(1 - D(G(z))), minimised by G
    non_saturating = neg_log_sigmoid(LOGITS)  # -log D(G(z))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(losses.minimax_generator_loss(LOGITS)), minimax, rtol=1e-5)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(losses.non_saturating_generator_loss(LOGITS)), non_saturating, rtol=1e-5
    )


@pytest.mark.parametrize("frozen", ["discriminator", "generator"])
def test_each_update_changes_only_its_own_network(frozen):
    # A zero learning rate switches one update off: the other must leave the frozen network alone.
    gan = make_gan()
    d_lr, g_lr = (0.0, 1e-2) if frozen == "discriminator" else (1e-2, 0.0)
    gan.compile(keras.optimizers.Adam(d_lr), keras.optimizers.Adam(g_lr))
    g_before, d_before = weights(gan.generator), weights(gan.discriminator)
    gan.fit(real_images(), batch_size=16, epochs=1, verbose=0)
    assert changed(g_before, gan.generator) == (frozen == "discriminator")
    assert changed(d_before, gan.discriminator) == (frozen == "generator")


def test_d_steps_discriminator_updates_per_generator_update():
    gan = make_gan(d_steps=3)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    history = gan.fit(real_images(), batch_size=16, epochs=2, verbose=0)
    assert int(gan.g_optimizer.iterations) == 4  # 2 epochs x 2 batches
    assert int(gan.d_optimizer.iterations) == 12
    assert set(history.history) == {"d_loss", "g_loss", "d_acc"}


def test_label_smoothing_changes_the_reported_discriminator_loss():
    results = {}
    for smoothing in (0.0, 0.3):
        gan = make_gan()
        gan.compile(keras.optimizers.Adam(0.0), keras.optimizers.Adam(0.0), label_smoothing=smoothing)
        results[smoothing] = gan.evaluate(real_images(), batch_size=32, verbose=0, return_dict=True)
    assert results[0.0]["d_loss"] != pytest.approx(results[0.3]["d_loss"])
    assert results[0.0]["g_loss"] == pytest.approx(results[0.3]["g_loss"])  # same seed, same fakes


def test_save_load_keeps_samples_and_both_optimizer_states(tmp_path):
    gan = make_gan()
    gan.compile(keras.optimizers.Adam(2e-3, beta_1=0.5), keras.optimizers.Adam(1e-3), loss="minimax",
                label_smoothing=0.1)
    gan.fit(real_images(), batch_size=16, epochs=1, verbose=0)
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.generate(6, seed=3), gan.generate(6, seed=3), atol=1e-6)
    assert not np.allclose(gan.generate(6, seed=3), gan.generate(6, seed=4))
    assert loaded.loss_name == "minimax" and loaded.label_smoothing == pytest.approx(0.1)
    assert loaded.d_optimizer.learning_rate.numpy() == pytest.approx(2e-3)
    for name in ("d_optimizer", "g_optimizer"):
        saved, restored = getattr(gan, name).variables, getattr(loaded, name).variables
        assert len(saved) == len(restored) > 2  # iterations, learning rate and Adam's moments
        for a, b in zip(saved, restored):
            np.testing.assert_allclose(a.numpy(), b.numpy())
    loaded.fit(real_images(), batch_size=16, epochs=1, verbose=0)  # and it keeps training
    assert int(loaded.g_optimizer.iterations) == 4


def test_one_optimizer_for_both_networks_is_rejected():
    shared = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="two optimizer instances"):
        make_gan().compile(shared, shared)
    with pytest.raises(TypeError, match="d_optimizer must be a keras.optimizers.Optimizer"):
        make_gan().compile("adam", keras.optimizers.Adam())


def test_mismatched_networks_and_bad_settings_are_rejected():
    generator = nets.dcgan_generator(4, (16, 16, 1), filters=(8, 4))
    with pytest.raises(ValueError, match="generator output shape"):
        GAN(generator, nets.dcgan_discriminator(SHAPE, filters=(4, 8)))
    with pytest.raises(ValueError, match="one logit per example"):
        GAN(nets.dcgan_generator(4, SHAPE, filters=(8, 4)), keras.Sequential([keras.Input(SHAPE), keras.layers.Flatten()]))
    with pytest.raises(ValueError, match="d_steps must be a positive integer"):
        make_gan(d_steps=0)
    with pytest.raises(ValueError, match="value_range"):
        GAN(nets.dcgan_generator(4, SHAPE, filters=(8, 4)), nets.dcgan_discriminator(SHAPE, filters=(4, 8)),
            value_range=(1, -1))
    gan = make_gan()
    with pytest.raises(ValueError, match="loss must be one of"):
        gan.compile(loss="wasserstein")
    with pytest.raises(ValueError, match="label_smoothing"):
        gan.compile(label_smoothing=1.0)


def test_bad_images_and_latents_fail_with_clear_messages():
    gan = make_gan()
    gan.compile()
    images = real_images(16)
    with pytest.raises(ValueError, match=r"values in \[-1.0, 1.0\].*max 255"):
        gan.fit(images * 0 + 255, verbose=0)
    with pytest.raises(ValueError, match=r"shape \(batch, 8, 8, 1\)"):
        gan.fit(images[:, :4], verbose=0)
    nan = images.copy()
    nan[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        gan.fit(nan, verbose=0)
    with pytest.raises(ValueError, match="empty"):
        gan.fit(images[:0], verbose=0)
    with pytest.raises(ValueError, match="NaN"):
        gan.discriminate(nan)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        gan.generate(0)
    with pytest.raises(ValueError, match=r"z must have shape \(batch, 4\)"):
        gan.generate(z=np.zeros((3, 5)))
    assert gan.discriminate(images).shape == (16,)
    assert gan.generate(5, seed=0).shape == (5, *SHAPE)


@pytest.mark.parametrize("kwargs, message", [
    ({"filters": (128, 64, 32)}, "divisible by 8"),  # seed 004: three stride-2 layers from 7x7 give 56x56
    ({"filters": ()}, "non-empty sequence of positive integers"),
    ({"kernel_size": 0}, "kernel_size must be a positive integer"),
])
def test_dcgan_builders_reject_impossible_designs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nets.dcgan_generator(16, (28, 28, 1), **kwargs)
    with pytest.raises(ValueError, match="dropout"):
        nets.dcgan_discriminator(dropout=1.0)


def test_time_limit_stops_training_at_the_end_of_a_batch():
    gan = make_gan()
    gan.compile()
    limit = callbacks.TimeLimit(1.0)
    start = time.perf_counter()
    history = gan.fit(real_images(), batch_size=16, epochs=100_000, verbose=0, callbacks=[limit])
    assert time.perf_counter() - start < 30
    assert limit.stopped_after is not None and len(history.history["d_loss"]) < 100_000
    assert int(gan.g_optimizer.iterations) == limit.stopped_after
    with pytest.raises(ValueError, match="seconds must be a positive number"):
        callbacks.TimeLimit(0)


def test_fit_on_a_tf_data_pipeline_trains_without_a_shuffle_warning():
    import tensorflow as tf
    import warnings

    gan = make_gan()
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    dataset = tf.data.Dataset.from_tensor_slices(real_images()).shuffle(32, seed=0).batch(16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gan.fit(dataset, epochs=1, verbose=0)
    assert not [w for w in caught if "shuffle" in str(w.message)]  # Keras warns when shuffle=True meets a Dataset
    assert int(gan.g_optimizer.iterations) == 2
