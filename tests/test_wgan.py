import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_genai import WGANGP, losses, models, nets

SHAPE = (8, 8, 1)


def make_wgan(n_critic=2, gp_weight=10.0, seed=0):
    keras.utils.set_random_seed(seed)
    return WGANGP(nets.dcgan_generator(4, SHAPE, filters=(8, 4)), nets.dcgan_discriminator(SHAPE, filters=(4, 8)),
                  n_critic=n_critic, gp_weight=gp_weight, seed=seed)


def real_images(n=32, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, *SHAPE)).astype("float32")


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_wasserstein_losses_have_the_signs_of_the_duality():
    real, fake = np.array([2.0, -1.0, 0.5]), np.array([0.5, 0.0, -3.0])
    # The critic maximises E f(x) - E f(G(z)), i.e. minimises f(G(z)) - f(x); G minimises -f(G(z)).
    np.testing.assert_allclose(numpy(losses.wasserstein_critic_loss(real, fake)), fake - real)
    np.testing.assert_allclose(numpy(losses.wasserstein_generator_loss(fake)), -fake)
    # A critic that scores real higher than fake has a negative loss: it is winning.
    assert numpy(losses.wasserstein_critic_loss(np.ones(3), np.zeros(3))).mean() == -1.0


@pytest.mark.parametrize("scale", [0.5, 1.0, 3.0])
def test_gradient_penalty_of_a_linear_critic_is_its_closed_form(scale):
    # f(x) = w . x + b has gradient w everywhere: the penalty is (||w|| - 1)^2 at every interpolate.
    rng = np.random.default_rng(1)
    w = rng.standard_normal(SHAPE).astype("float32")
    w *= scale / np.linalg.norm(w)
    critic = lambda x: tf.reduce_sum(x * w, axis=[1, 2, 3])[:, None] + 0.7  # noqa: E731
    real, fake = real_images(6), real_images(6, seed=2)
    alpha = rng.uniform(size=(6, 1, 1, 1)).astype("float32")
    penalty = numpy(losses.gradient_penalty(critic, real, fake, alpha))
    np.testing.assert_allclose(penalty, np.full(6, (scale - 1.0) ** 2), atol=1e-5)


def test_gradient_penalty_is_taken_at_the_interpolates():
    # f(x) = sum(x^2)/2 has gradient x: the norm at alpha*real + (1-alpha)*fake is that point's norm.
    rng = np.random.default_rng(2)
    real, fake = real_images(5), real_images(5, seed=3)
    alpha = rng.uniform(size=(5, 1, 1, 1)).astype("float32")
    critic = lambda x: 0.5 * tf.reduce_sum(x * x, axis=[1, 2, 3])[:, None]  # noqa: E731
    point = alpha * real + (1 - alpha) * fake
    expected = (np.linalg.norm(point.reshape(5, -1), axis=1) - 1.0) ** 2
    np.testing.assert_allclose(numpy(losses.gradient_penalty(critic, real, fake, alpha)), expected, rtol=1e-5)


def test_n_critic_updates_per_generator_update_and_tracked_metrics():
    wgan = make_wgan(n_critic=3)
    wgan.compile()
    history = wgan.fit(real_images(), batch_size=16, epochs=2, verbose=0)
    assert int(wgan.g_optimizer.iterations) == 4  # 2 epochs x 2 batches
    assert int(wgan.d_optimizer.iterations) == 12
    assert set(history.history) == {"critic_loss", "g_loss", "gp", "wasserstein"}
    assert wgan.n_critic == 3 and wgan.critic is wgan.discriminator


def test_default_optimizers_are_the_papers():
    wgan = make_wgan()
    wgan.compile()
    for optimizer in (wgan.d_optimizer, wgan.g_optimizer):
        assert float(optimizer.learning_rate) == pytest.approx(1e-4)
        assert optimizer.beta_1 == 0.0 and optimizer.beta_2 == 0.9
    assert wgan.d_optimizer is not wgan.g_optimizer


@pytest.mark.parametrize("frozen", ["critic", "generator"])
def test_each_update_changes_only_its_own_network(frozen):
    wgan = make_wgan()
    d_lr, g_lr = (0.0, 1e-2) if frozen == "critic" else (1e-2, 0.0)
    wgan.compile(keras.optimizers.SGD(d_lr), keras.optimizers.SGD(g_lr))
    g_before = [w.numpy().copy() for w in wgan.generator.trainable_weights]
    c_before = [w.numpy().copy() for w in wgan.critic.trainable_weights]
    wgan.fit(real_images(), batch_size=16, epochs=1, verbose=0)
    g_changed = any(not np.allclose(b, w.numpy()) for b, w in zip(g_before, wgan.generator.trainable_weights))
    c_changed = any(not np.allclose(b, w.numpy()) for b, w in zip(c_before, wgan.critic.trainable_weights))
    assert g_changed == (frozen == "critic") and c_changed == (frozen == "generator")


def test_logged_figures_match_the_losses_on_a_frozen_batch():
    # With zero learning rates the networks stay fixed, so evaluate()'s figures can be recomputed by hand.
    wgan = make_wgan(gp_weight=4.0)
    wgan.compile(keras.optimizers.SGD(0.0), keras.optimizers.SGD(0.0))
    logs = wgan.evaluate(real_images(16), batch_size=16, verbose=0, return_dict=True)
    assert logs["critic_loss"] == pytest.approx(-logs["wasserstein"] + 4.0 * logs["gp"], rel=1e-5)
    assert logs["gp"] > 0


def test_save_load_keeps_samples_settings_and_optimizer_state(tmp_path):
    wgan = make_wgan(n_critic=2, gp_weight=5.0)
    wgan.compile(keras.optimizers.Adam(3e-4, beta_1=0.5, beta_2=0.9), keras.optimizers.Adam(1e-4))
    wgan.fit(real_images(), batch_size=16, epochs=1, verbose=0)
    path = str(tmp_path / "wgan.keras")
    wgan.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, WGANGP) and loaded.n_critic == 2 and loaded.gp_weight == 5.0
    np.testing.assert_allclose(loaded.generate(6, seed=3), wgan.generate(6, seed=3), atol=1e-6)
    np.testing.assert_allclose(loaded.discriminate(real_images(4)), wgan.discriminate(real_images(4)), atol=1e-6)
    assert float(loaded.d_optimizer.learning_rate) == pytest.approx(3e-4)
    for a, b in zip(wgan.d_optimizer.variables, loaded.d_optimizer.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy())


def test_bad_settings_and_networks_are_rejected():
    with pytest.raises(ValueError, match="n_critic must be a positive integer"):
        make_wgan(n_critic=0)
    with pytest.raises(ValueError, match="gp_weight must be a number >= 0"):
        make_wgan(gp_weight=-1.0)
    # A critic with BatchNorm: each score would depend on the rest of the batch.
    x = keras.Input(SHAPE)
    h = keras.layers.BatchNormalization()(keras.layers.Flatten()(x))
    critic = keras.Model(x, keras.layers.Dense(1)(h))
    with pytest.raises(ValueError, match="must not use BatchNormalization"):
        WGANGP(nets.dcgan_generator(4, SHAPE, filters=(8, 4)), critic)
    wgan = make_wgan()
    with pytest.raises(ValueError, match="two optimizer instances"):
        shared = keras.optimizers.Adam()
        wgan.compile(shared, shared)
    assert models.default_wgan_optimizer() is not models.default_wgan_optimizer()
