"""Every custom train_step trains under a Keras mixed-precision policy (mixed_float16, mixed_bfloat16).

Layers then compute in half precision while their variables stay float32. The package's losses take
the network outputs in float32 (losses.py), and every train_step goes through models._base.minimize,
which scales the loss for a LossScaleOptimizer: compile() wraps `optimizer` in one under
mixed_float16, and models._base.loss_scaled wraps the extra optimizers (a GAN's two, PolicyGradient's).
Each family is built tiny, as in test_distribute.py, and stepped twice.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_genai import (DPO, GAN, GPT, VAE, WGANGP, Autoencoder, CaptionGAN, CharLanguageModel,
                         ConditionalDiffusionModel, ConditionalGAN, ConditionalVAE, ContrastiveModel,
                         DiffusionModel, FramePredictor, MaskedLanguageModel, Pix2Pix, PolicyGradient, RewardModel,
                         Seq2Seq, nets, tokenizers)
from keras_genai.models import _base, feedback

SHAPE = (8, 8, 1)
BATCH = 4
LATENT = 4
CLASSES = 3
POLICIES = ("mixed_float16", "mixed_bfloat16")


@pytest.fixture
def policy(request):
    keras.mixed_precision.set_global_policy(request.param)
    try:
        yield request.param
    finally:  # pytest-xdist runs other tests in this process next
        keras.mixed_precision.set_global_policy("float32")


def sgd():
    return keras.optimizers.SGD(0.05)


def images(low=0.0, n=2 * BATCH):
    return np.random.default_rng(0).uniform(low, 1.0, (n, *SHAPE)).astype("float32")


def labels(n=2 * BATCH):
    return np.random.default_rng(1).integers(0, CLASSES, n)


def compiled(model, *optimizers):
    model.compile(*optimizers) if len(optimizers) > 1 else model.compile(optimizers[0])
    return model


def built(model):
    model.build()  # the sequence models create their layers' weights here, not in __init__
    return model


# Each builder: (model, fit arguments, generation call returning arrays or texts).

def autoencoder():
    encoder = nets.conv_encoder(SHAPE, LATENT, filters=(4, 8), dense=8, variational=False)
    model = compiled(Autoencoder(encoder, nets.conv_decoder(LATENT, SHAPE, filters=(8, 4), dense=8), seed=0), sgd())
    return model, (images(),), lambda: model.reconstruct(images()[:2])


def vae():
    encoder = nets.conv_encoder(SHAPE, LATENT, filters=(4, 8), dense=8)
    decoder = nets.conv_decoder(LATENT, SHAPE, filters=(8, 4), dense=8, output_activation=None)
    model = compiled(VAE(encoder, decoder, seed=0), sgd())
    return model, (images(),), lambda: model.generate(2, seed=0)


def cvae():
    encoder = nets.conv_encoder(SHAPE, LATENT, filters=(4, 8), dense=8, num_classes=CLASSES)
    decoder = nets.conv_decoder(LATENT, SHAPE, filters=(8, 4), dense=8, output_activation=None, num_classes=CLASSES)
    model = compiled(ConditionalVAE(encoder, decoder, num_classes=CLASSES, seed=0), sgd())
    return model, (images(), labels()), lambda: model.generate(2, labels=0, seed=0)


def gan():
    model = compiled(GAN(nets.dcgan_generator(LATENT, SHAPE, filters=(8, 4)),
                         nets.dcgan_discriminator(SHAPE, filters=(4, 8)), seed=0), sgd(), sgd())
    return model, (images(-1.0),), lambda: (model.generate(2, seed=0), model.discriminate(images(-1.0)[:2]))


def wgan():
    model = compiled(WGANGP(nets.dcgan_generator(LATENT, SHAPE, filters=(8, 4)),
                            nets.dcgan_discriminator(SHAPE, filters=(4, 8)), n_critic=2, seed=0), sgd(), sgd())
    return model, (images(-1.0),), lambda: (model.generate(2, seed=0), model.discriminate(images(-1.0)[:2]))


def cgan():
    model = compiled(ConditionalGAN(nets.dcgan_generator(LATENT, SHAPE, filters=(8, 4), num_classes=CLASSES),
                                    nets.dcgan_discriminator(SHAPE, filters=(4, 8), num_classes=CLASSES),
                                    num_classes=CLASSES, seed=0), sgd(), sgd())
    return model, (images(-1.0), labels()), lambda: model.generate(2, labels=1, seed=0)


def caption_gan():
    tok = tokenizers.WordTokenizer.from_texts(["a thin one", "a thick seven"])
    model = compiled(CaptionGAN(nets.dcgan_generator(LATENT, SHAPE, filters=(8, 4), caption_vocab=tok.vocab_size),
                                nets.dcgan_discriminator(SHAPE, filters=(4, 8), caption_vocab=tok.vocab_size),
                                tok, seed=0), sgd(), sgd())
    captions = model.encode_captions(["a thin one", "a thick seven"] * BATCH)
    return model, (images(-1.0), captions), lambda: model.generate(2, captions="a thick one", seed=0)


def pix2pix():
    model = Pix2Pix(nets.translation_unet(SHAPE, widths=(4, 8)), nets.patch_discriminator(SHAPE, SHAPE, widths=(4, 8)),
                    l1_weight=10.0)
    model.compile(sgd(), sgd())
    return model, (images(), images()[::-1].copy()), lambda: model.translate(images()[:2])


def contrastive():
    model = compiled(ContrastiveModel(nets.contrastive_encoder(SHAPE, widths=(4, 8), feature_dim=8),
                                      nets.projection_head(8, 4), seed=0), sgd())
    return model, (images(),), lambda: model.encode(images()[:2])


def diffusion():
    model = compiled(DiffusionModel(nets.unet(SHAPE, widths=(8, 16), attention=False), seed=0), sgd())
    return model, (images(-1.0),), lambda: model.generate(2, steps=2, seed=0)


def conditional_diffusion():
    network = nets.unet(SHAPE, widths=(8, 16), attention=True, num_classes=CLASSES)
    model = compiled(ConditionalDiffusionModel(network, CLASSES, seed=0), sgd())
    return model, (images(-1.0), labels()), lambda: model.generate(2, labels=0, steps=2, guidance=2.0, seed=0)


def frames():
    model = compiled(FramePredictor(nets.frame_predictor(SHAPE, widths=(4, 8), units=4)), sgd())
    clips = np.random.default_rng(0).uniform(0, 1, (2 * BATCH, 3, *SHAPE)).astype("float32")
    return model, (clips,), lambda: model.predict_frames(clips[:2], 2)


def wavenet():
    from keras_genai import WaveNet

    model = built(compiled(WaveNet(levels=16, channels=4, num_blocks=1, layers_per_block=2), sgd()))
    ids = np.random.default_rng(0).integers(0, 16, (2 * BATCH, 9)).astype("int32")
    return model, (ids,), lambda: model.generate(1, length=3, seed=0, cached=False)  # the cached path is tested equal


TOK = tokenizers.CharTokenizer(list("abcdef"), mask_token=True)
IDS = TOK.encode_batch(["abc", "defab", "fa", "bcdefab"] * 2, add_start=True, add_end=True)
REJECTED = TOK.encode_batch(["fed", "ccc", "eeeee", "dab"] * 2, add_start=True, add_end=True, length=IDS.shape[1])


def char_lm():
    model = built(compiled(CharLanguageModel(TOK, embedding_dim=4, units=6), sgd()))
    return model, (IDS,), lambda: model.generate("ab", max_new_tokens=3)


def gpt():
    model = built(compiled(GPT(TOK, context_length=16, num_layers=1, num_heads=2, embed_dim=8), sgd()))
    return model, (IDS,), lambda: model.generate("ab", max_new_tokens=3)  # through the key/value cache


def mlm():
    model = built(compiled(MaskedLanguageModel(TOK, context_length=16, num_layers=1, num_heads=2, embed_dim=8,
                                               seed=0), sgd()))
    return model, (IDS,), lambda: model.generate(4, steps=2)


def seq2seq():
    model = built(compiled(Seq2Seq(TOK, TOK, embedding_dim=4, units=6), sgd()))
    return model, ((IDS, IDS[::-1].copy()),), lambda: model.translate(["abc"], beam_width=2)


def reward():
    model = built(compiled(RewardModel(TOK, embedding_dim=4, units=6), sgd()))
    return model, (IDS, REJECTED), lambda: model.score(["abc", "fed"])


def dpo():
    lm = CharLanguageModel(TOK, embedding_dim=4, units=6)
    lm.build()
    model = compiled(DPO(feedback.copy_of(lm), feedback.copy_of(lm, trainable=False), beta=0.5), sgd())
    return model, (IDS, REJECTED), lambda: model.policy.generate("ab", max_new_tokens=3)


FAMILIES = {f.__name__: f for f in (autoencoder, vae, cvae, gan, wgan, cgan, caption_gan, pix2pix, contrastive,
                                    diffusion, conditional_diffusion, frames, wavenet, char_lm, gpt, mlm, seq2seq, reward, dpo)}


def optimizers(model):
    extra = [getattr(model, name, None) for name in ("d_optimizer", "g_optimizer")]
    return [o for o in extra if o is not None] or [model.optimizer]


def trainable(model):
    return {v.path: v.numpy().copy() for v in model.trainable_variables}


def fit(model, data):
    x, y = (data + (None,))[:2]
    return model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0).history


def check_outputs(outputs):
    """Generated arrays are float32 and finite; texts are strings."""
    for out in outputs if isinstance(outputs, tuple) else (outputs,):
        if isinstance(out, np.ndarray) and np.issubdtype(out.dtype, np.integer):  # sampled ids
            assert out.dtype == np.int32, out.dtype
        elif isinstance(out, np.ndarray):
            assert out.dtype == np.float32 and np.isfinite(out).all(), out.dtype
        else:
            assert all(isinstance(text, str) for text in out)


# Variables that two SGD steps leave unchanged in float32 too: an output bias that cancels in the loss
# (a critic's in f(G(z)) - f(x), a reward model's in r(x_w) - r(x_l)), and the untrained additive
# attention's query projection, whose gradient (~5e-9) moves no weight by a float32 ulp.
ZERO_GRADIENT = {"wgan": "logit/bias", "reward": "reward/bias", "seq2seq": "attention/w_q/kernel"}
MAX_EPOCHS = 6  # of two steps: a float16 step that overflows is skipped and halves the scale (2^15 -> 2^3)


@pytest.mark.parametrize("policy", POLICIES, indirect=True)
@pytest.mark.parametrize("name", list(FAMILIES))
def test_two_steps_under_mixed_precision(name, policy):
    keras.utils.set_random_seed(0)
    model, data, generate = FAMILIES[name]()
    assert model.compute_dtype == policy.split("_")[1]
    before = trainable(model)
    for _ in range(MAX_EPOCHS if policy == "mixed_float16" else 1):
        history = fit(model, data)
        for metric, values in history.items():
            assert np.isfinite(values).all(), (metric, values)
        after = trainable(model)
        unchanged = {path for path in before if np.array_equal(before[path], after[path])
                     and not path.endswith(ZERO_GRADIENT.get(name, "//"))}
        if not unchanged:
            break
    assert not unchanged, f"not trained: {sorted(unchanged)}"
    assert all(v.dtype == "float32" for v in model.variables if "float" in v.dtype)
    assert all(m.dtype == "float32" for m in model.metrics)
    if policy == "mixed_float16":
        for optimizer in optimizers(model):
            assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer), type(optimizer)
        assert_loss_is_scaled(model, data)
    check_outputs(generate())


def assert_loss_is_scaled(model, data):
    """At a scale of 2^60 every scaled float16 gradient overflows: each step must be skipped (no iteration
    counted, no weight changed) and the scale lowered. A train_step that forgot optimizer.scale_loss would
    have finite gradients and apply them."""
    for optimizer in optimizers(model):
        optimizer.dynamic_scale.assign(2.0**60)
    iterations = [int(optimizer.iterations.numpy()) for optimizer in optimizers(model)]
    before = trainable(model)
    fit(model, data)
    after = trainable(model)
    assert all(np.array_equal(before[p], after[p]) for p in before), "a step with overflowing gradients was applied"
    assert [int(optimizer.iterations.numpy()) for optimizer in optimizers(model)] == iterations
    assert all(optimizer.dynamic_scale.numpy() < 2.0**60 for optimizer in optimizers(model))


@pytest.mark.parametrize("policy", POLICIES, indirect=True)
def test_policy_gradient_under_mixed_precision(policy):
    keras.utils.set_random_seed(0)
    lm = CharLanguageModel(TOK, embedding_dim=4, units=6)
    lm.build()
    policy_lm = feedback.copy_of(lm)
    trainer = PolicyGradient(policy_lm, feedback.copy_of(lm, trainable=False), lambda texts: [len(t) for t in texts],
                             optimizer=sgd(), batch_size=4, max_new_tokens=4)
    assert isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer) == (policy == "mixed_float16")
    before = trainable(policy_lm)
    for figures in trainer.run(3):
        assert all(np.isfinite(v) for v in figures.values()), figures
    after = trainable(policy_lm)
    assert any(not np.array_equal(before[p], after[p]) for p in before)


@pytest.mark.parametrize("policy", ["mixed_float16"], indirect=True)
def test_scaling_keeps_gradients_that_float16_would_lose(policy):
    """A loss of 1e-6 * sum(outputs): its gradient reaches the float16 layer as 1e-6 / 8 per output, below
    float16's smallest number (6e-8) once it passes through the layer, so the unscaled update is exactly 0."""
    def step(optimizer):
        keras.utils.set_random_seed(0)
        layer = keras.layers.Dense(8)
        layer.build((None, 8))
        start = layer.kernel.numpy().copy()
        x = tf.constant(np.full((1, 8), 1e-3, "float32"))
        with tf.GradientTape() as tape:
            loss = 1e-6 * tf.reduce_mean(tf.cast(layer(x), "float32"))
        _base.minimize(optimizer, tape, loss, layer.trainable_variables)
        return np.abs(layer.kernel.numpy() - start).max()

    assert step(keras.optimizers.SGD(1e4)) == 0.0
    scaled = step(keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(1e4)))
    np.testing.assert_allclose(scaled, 1e4 * 1e-6 / 8 * 1e-3, rtol=0.05)  # lr * d(loss)/d(kernel), as in float32


def first_step_figures(build, policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        model, data, _ = build()
        x, y = (data + (None,))[:2]
        history = model.fit(x, y, batch_size=2 * BATCH, epochs=1, verbose=0).history  # one step
        return {metric: values[0] for metric, values in history.items()}
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("name", ["vae", "gan", "gpt"])
def test_float16_first_step_loss_is_close_to_float32(name):
    # Same initial weights (variables are float32 in both), same batch and noise: the figures of the first
    # step (computed before its update) differ by float16's rounding of activations only, about 1e-3
    # relative. Tolerance: 1% relative, plus 1e-3 absolute for figures near 0.
    reference = first_step_figures(FAMILIES[name], "float32")
    half = first_step_figures(FAMILIES[name], "mixed_float16")
    for metric in reference:
        np.testing.assert_allclose(half[metric], reference[metric], rtol=1e-2, atol=1e-3, err_msg=metric)
