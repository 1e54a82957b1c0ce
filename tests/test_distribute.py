"""Every custom train_step trains the same under tf.distribute.MirroredStrategy as on one device.

Two replicas (the CPU split in two by conftest.py) each take half of a global batch. One step
under the strategy must give the same weights, optimizer state and logged metrics as one step
without it on the same global batch. That holds only if losses are averaged over the global
batch (losses.reduce_for_replicas), metrics are aggregated across replicas, and each replica
draws its own slice of the global batch's noise (models._base.draw_for_replica).

BatchNorm: the DCGAN generator here uses synchronized BatchNorm (nets.dcgan_generator(...,
synchronized_batchnorm=True)), so the batch statistics are those of the global batch and the
parity is exact; test_unsynchronized_batchnorm_is_the_only_difference shows that per-replica
statistics are what breaks it otherwise.
"""

import contextlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_genai import GAN, VAE, WGANGP, Autoencoder, ConditionalGAN, ConditionalVAE, nets

SHAPE = (8, 8, 1)
CLASSES = 3
GLOBAL_BATCH = 8
STEPS = 2
LATENT = 4


def sgd():
    # Plain SGD: the update is proportional to the gradient, so a wrongly scaled loss shows as a
    # factor 2. (Adam's first step divides the gradient by its own size and would hide it.)
    return keras.optimizers.SGD(0.1)


def data(family):
    rng = np.random.default_rng(0)
    low = -1.0 if family == "gan" else 0.0
    x = rng.uniform(low, 1.0, (GLOBAL_BATCH * STEPS, *SHAPE)).astype("float32")
    return x, rng.integers(0, CLASSES, len(x))


def generator(num_classes=None, synchronized=True):
    return nets.dcgan_generator(LATENT, SHAPE, filters=(8, 4), num_classes=num_classes,
                                synchronized_batchnorm=synchronized)


def discriminator(num_classes=None):
    return nets.dcgan_discriminator(SHAPE, filters=(4, 8), num_classes=num_classes)


def build_autoencoder():
    encoder = nets.conv_encoder(SHAPE, LATENT, filters=(4, 8), dense=8, variational=False)
    model = Autoencoder(encoder, nets.conv_decoder(LATENT, SHAPE, filters=(8, 4), dense=8),
                        noise_std=0.3, mask_size=3, seed=0)
    model.compile(sgd())
    return model


def build_vae():
    encoder = nets.conv_encoder(SHAPE, LATENT, filters=(4, 8), dense=8)
    model = VAE(encoder, nets.conv_decoder(LATENT, SHAPE, filters=(8, 4), dense=8, output_activation=None), seed=0)
    model.compile(sgd())
    return model


def build_cvae():
    encoder = nets.conv_encoder(SHAPE, LATENT, filters=(4, 8), dense=8, num_classes=CLASSES)
    decoder = nets.conv_decoder(LATENT, SHAPE, filters=(8, 4), dense=8, output_activation=None, num_classes=CLASSES)
    model = ConditionalVAE(encoder, decoder, num_classes=CLASSES, seed=0)
    model.compile(sgd())
    return model


def build_gan(synchronized=True):
    model = GAN(generator(synchronized=synchronized), discriminator(), d_steps=2, seed=0)
    model.compile(sgd(), sgd())
    return model


def build_wgan():
    model = WGANGP(generator(), discriminator(), n_critic=2, seed=0)
    model.compile(sgd(), sgd())
    return model


def build_cgan():
    model = ConditionalGAN(generator(CLASSES), discriminator(CLASSES), num_classes=CLASSES, seed=0)
    model.compile(sgd(), sgd())
    return model


MODELS = {
    "Autoencoder": (build_autoencoder, "ae", False),
    "VAE": (build_vae, "vae", False),
    "ConditionalVAE": (build_cvae, "vae", True),
    "GAN": (build_gan, "gan", False),
    "WGANGP": (build_wgan, "gan", False),
    "ConditionalGAN": (build_cgan, "gan", True),
}


def state(model):
    # In creation order: the paths of the second model carry suffixes (dense_1, ...) of their own.
    return [(v.path, np.array(v.numpy())) for v in model.variables]


def train(build, family, labelled, strategy):
    """The model's variables before and after STEPS training steps, and the logged metrics."""
    keras.utils.set_random_seed(0)
    with strategy.scope() if strategy else contextlib.nullcontext():
        model = build()
    before = state(model)
    x, y = data(family)
    history = model.fit(x, y if labelled else None, batch_size=GLOBAL_BATCH, epochs=1, shuffle=False, verbose=0)
    return before, state(model), {name: values[-1] for name, values in history.history.items()}


@pytest.fixture(scope="module")
def strategy():
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    assert len(devices) >= 2, f"conftest.py should have split the CPU in two logical devices, found {devices}"
    return tf.distribute.MirroredStrategy(devices[:2])


def assert_same_training(single, distributed, atol=2e-5):
    (before_1, after_1, logs_1), (before_2, after_2, logs_2) = single, distributed
    assert len(after_1) == len(after_2)
    for (path, start_1), (_, start_2), (_, end_1), (_, end_2) in zip(before_1, before_2, after_1, after_2):
        np.testing.assert_array_equal(start_2, start_1, err_msg=f"{path} starts differently")
        # Compare the updates, not the weights: an update is small next to the weight it changes.
        np.testing.assert_allclose(end_2 - start_2, end_1 - start_1, rtol=1e-3, atol=atol,
                                   err_msg=f"{path} trained differently")
    assert logs_1.keys() == logs_2.keys()
    for name in logs_1:
        np.testing.assert_allclose(logs_2[name], logs_1[name], rtol=1e-4, atol=1e-6, err_msg=f"metric {name}")


@pytest.mark.parametrize("name", list(MODELS))
def test_a_step_under_mirrored_strategy_equals_a_step_on_one_device(name, strategy):
    build, family, labelled = MODELS[name]
    single = train(build, family, labelled, None)
    distributed = train(build, family, labelled, strategy)
    assert any(np.abs(end - start).max() > 1e-3 for (_, start), (_, end) in zip(single[0], single[1])), \
        "training changed nothing"
    assert_same_training(single, distributed)


def test_unsynchronized_batchnorm_is_the_only_difference(strategy):
    # Per-replica batch statistics normalise each half of the batch by its own mean and variance:
    # the generator then trains differently (so the parity test above can fail), and only the
    # BatchNorm layers' statistics change that, since everything else matched with synchronized BN.
    single = train(lambda: build_gan(synchronized=False), "gan", False, None)
    distributed = train(lambda: build_gan(synchronized=False), "gan", False, strategy)
    with pytest.raises(AssertionError, match="trained differently"):
        assert_same_training(single, distributed)


def _sequence_models():
    from keras_genai import GPT, CharLanguageModel, MaskedLanguageModel, Seq2Seq, tokenizers

    tok = tokenizers.CharTokenizer(list("abcdef"), mask_token=True)
    rng = np.random.default_rng(0)
    # Rows of very different lengths: the two replicas hold different numbers of real tokens, so a
    # per-replica mean would weight them wrongly.
    lengths = np.concatenate([np.full(GLOBAL_BATCH // 2, 9), np.full(GLOBAL_BATCH // 2, 2)])
    texts = ["".join(rng.choice(list("abcdef"), n)) for n in np.tile(lengths, STEPS)]
    ids = tok.encode_batch(texts, add_start=True, add_end=True)

    def lm():
        model = CharLanguageModel(tok, embedding_dim=4, units=6, num_layers=2)
        model.compile(sgd())
        return model

    def s2s():
        model = Seq2Seq(tok, tok, embedding_dim=4, units=6, attention="additive")
        model.compile(sgd())
        return model

    def gpt():
        model = GPT(tok, context_length=16, num_layers=1, num_heads=2, embed_dim=8)
        model.compile(sgd())
        return model

    def mlm():
        model = MaskedLanguageModel(tok, context_length=16, num_layers=1, num_heads=2, embed_dim=8, mask_rate=0.5,
                                    seed=0)
        model.compile(sgd())
        return model

    return {"CharLanguageModel": (lm, ids), "Seq2Seq": (s2s, (ids, ids[::-1].copy())), "GPT": (gpt, ids),
            "MaskedLanguageModel": (mlm, ids)}


@pytest.mark.parametrize("name", ["CharLanguageModel", "Seq2Seq", "GPT", "MaskedLanguageModel"])
def test_sequence_models_average_over_the_global_batch_of_tokens(name, strategy):
    build, x = _sequence_models()[name]

    def run(strat):
        keras.utils.set_random_seed(0)
        with strat.scope() if strat else contextlib.nullcontext():
            model = build()
            model.build()
        before = state(model)
        history = model.fit(x, batch_size=GLOBAL_BATCH, epochs=1, shuffle=False, verbose=0)
        return before, state(model), {k: v[-1] for k, v in history.history.items()}

    single, distributed = run(None), run(strategy)
    assert any(np.abs(end - start).max() > 1e-4 for (_, start), (_, end) in zip(single[0], single[1]))
    assert_same_training(single, distributed, atol=1e-6)
