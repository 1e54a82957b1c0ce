"""Captions from measured attributes, the caption-conditioned GAN, word tokens, moving digits and the
next-frame predictor: closed forms, shapes, save/load, and clear errors."""

import keras
import numpy as np
import pytest

from keras_genai import CaptionGAN, FramePredictor, datasets, layers, losses, nets, tokenizers


def stroke(thickness=2, slant=0.0, size=28):
    """A vertical bar of the given width whose top leans `slant` pixels right per row going up."""
    image = np.zeros((size, size), dtype="float32")
    for row in range(4, size - 4):
        centre = size // 2 + slant * (size // 2 - row)
        start = int(round(centre - thickness / 2))
        image[row, start:start + thickness] = 1.0
    return image


def test_caption_levels_follow_the_measured_attributes():
    reference = np.stack([stroke(t, s) for t in (1, 2, 3, 4, 5, 6) for s in (-0.3, -0.1, 0.0, 0.1, 0.2, 0.4)])
    levels = datasets.AttributeLevels.from_images(reference)
    thick, slant = levels.levels(np.stack([stroke(6, 0.4), stroke(1, -0.3), stroke(3, 0.05)]))
    assert thick.tolist()[:2] == [2, 0] and slant.tolist()[:2] == [2, 0]
    captions = datasets.digit_captions(np.stack([stroke(6, 0.4), stroke(1, -0.3)]), [7, 1], levels, seed=0)
    assert set(captions.texts) <= {"a thick seven, slanted right", "slanted right: a thick seven",
                                   "a thin one, slanted left", "slanted left: a thin one"}
    assert captions.digits.tolist() == [7, 1]
    assert datasets.caption(3, 1, 1, template=1) == "upright: a regular three"
    with pytest.raises(ValueError, match="thickness"):
        datasets.caption(3, 3, 1)
    with pytest.raises(ValueError, match="labels"):
        datasets.digit_captions(reference[:2], [1], levels)


def test_word_tokenizer_splits_punctuation_and_round_trips_words():
    tok = tokenizers.WordTokenizer.from_texts(["a thick seven, upright", "slanted left: a thin one"])
    ids = tok.encode_batch(["a thin seven, upright"], add_start=True, add_end=True)
    assert ids.shape == (1, 7) and ids[0, 0] == tok.start_id and ids[0, -1] == tok.end_id
    assert tok.decode(ids[0, 1:]) == "a thin seven , upright"
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.encode("a thick eight")
    with pytest.raises(ValueError, match="single words"):
        tokenizers.WordTokenizer(["two words"])
    assert tokenizers.deserialize(tokenizers.serialize(tok)).characters == tok.characters


@pytest.fixture(scope="module")
def caption_gan():
    keras.utils.set_random_seed(0)
    texts = [datasets.caption(d, t, s) for d in range(10) for t in range(3) for s in range(3)]
    tok = tokenizers.WordTokenizer.from_texts(texts)
    model = CaptionGAN(nets.dcgan_generator(8, filters=(16, 8), caption_vocab=tok.vocab_size),
                       nets.dcgan_discriminator(filters=(8, 16), caption_vocab=tok.vocab_size), tok, seed=0)
    model.compile()
    return model, texts


def test_matching_discriminator_loss_equals_gan_cls():
    real, fake, wrong = np.array([2.0, -1.0]), np.array([0.5, -3.0]), np.array([1.0, 0.0])
    log_sigmoid = lambda v: -np.logaddexp(0, -v)
    expected = -log_sigmoid(real) - 0.5 * (log_sigmoid(-fake) + log_sigmoid(-wrong))
    np.testing.assert_allclose(losses.matching_discriminator_loss(real, fake, wrong), expected, rtol=1e-6)


def test_caption_gan_trains_each_network_with_its_own_optimizer(caption_gan):
    model, texts = caption_gan
    x = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    ids = model.encode_captions(texts[:32])
    g_before = [w.numpy().copy() for w in model.generator.trainable_weights]
    d_before = [w.numpy().copy() for w in model.discriminator.trainable_weights]
    history = model.fit(x, ids, batch_size=16, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"][0]) and np.isfinite(history["g_loss"][0])
    caption_weights = [w for w in model.generator.trainable_weights if "caption" in w.path]
    assert caption_weights, "the generator's caption encoder has weights"
    for before, w in zip(g_before + d_before, model.generator.trainable_weights + model.discriminator.trainable_weights):
        assert not np.array_equal(before, w.numpy()), f"{w.path} was not updated"


def test_caption_gan_generates_from_text_and_round_trips(caption_gan, tmp_path):
    model, texts = caption_gan
    one = model.generate(n=3, captions="a thick seven, upright", seed=1)
    assert one.shape == (3, 28, 28, 1) and one.min() >= -1 and one.max() <= 1
    np.testing.assert_allclose(model.generate(captions=["a thick seven, upright"] * 3, seed=1), one)
    model.save(tmp_path / "caption_gan.keras")
    reloaded = keras.saving.load_model(tmp_path / "caption_gan.keras")
    np.testing.assert_allclose(reloaded.generate(n=3, captions="a thick seven, upright", seed=1), one, atol=1e-6)
    with pytest.raises(ValueError, match="needs captions"):
        model.generate(n=3)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model.generate(n=2, captions="a bold seven")
    with pytest.raises(ValueError, match="2 captions for 3"):
        model.generate(z=np.zeros((3, 8)), captions=texts[:2])
    with pytest.raises(ValueError, match="caption ids"):
        model.fit(-np.ones((4, 28, 28, 1), "float32"), np.zeros(4, "int32"), verbose=0)


def test_caption_gan_refuses_label_networks():
    tok = tokenizers.WordTokenizer(["a", "one"])
    with pytest.raises(ValueError, match="caption_vocab"):
        CaptionGAN(nets.dcgan_generator(8, num_classes=10), nets.dcgan_discriminator(num_classes=10), tok)
    with pytest.raises(ValueError, match="not both"):
        nets.dcgan_generator(8, num_classes=10, caption_vocab=5)


def test_moving_digits_bounce_inside_the_frame_and_keep_their_ink():
    digit = np.zeros((1, 28, 28), "float32")
    digit[0, 10:18, 12:16] = 1.0
    clips = datasets.moving_digits(digit, 3, frames=40, size=48, digits=1, speed=(3.0, 3.0), seed=0)
    assert clips.shape == (3, 40, 48, 48, 1)
    ink = clips.reshape(3, 40, -1).sum(axis=2)
    np.testing.assert_allclose(ink, digit.sum())  # never cut off by an edge
    centres = np.array([np.argwhere(f[..., 0] > 0).mean(axis=0) for f in clips[0]])
    steps = np.linalg.norm(np.diff(centres, axis=0), axis=1)
    assert steps.max() <= 3.0 * np.sqrt(2) + 1.5  # one frame moves at most the speed (plus rounding)
    np.testing.assert_array_equal(clips, datasets.moving_digits(digit, 3, frames=40, size=48, digits=1,
                                                                speed=(3.0, 3.0), seed=0))
    with pytest.raises(ValueError, match="smaller than the digits"):
        datasets.moving_digits(digit, 1, size=20)
    with pytest.raises(ValueError, match="empty"):
        datasets.moving_digits(np.zeros((0, 28, 28)), 1)


def test_framewise_equals_the_layer_on_each_frame():
    conv = keras.layers.Conv2D(3, 3, padding="same")
    wrapped = layers.Framewise(conv)
    clips = np.random.default_rng(0).normal(size=(2, 5, 8, 8, 1)).astype("float32")
    out = np.asarray(wrapped(clips))
    assert out.shape == (2, 5, 8, 8, 3)
    np.testing.assert_allclose(out[1, 3], np.asarray(conv(clips[1, 3][None]))[0], rtol=1e-5, atol=1e-6)


def tiny_predictor():
    keras.utils.set_random_seed(0)
    model = FramePredictor(nets.frame_predictor((16, 16, 1), widths=(4, 8), units=4))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    return model


def test_frame_predictor_is_causal_and_its_loss_is_the_bernoulli_nll():
    model = tiny_predictor()
    clips = np.random.default_rng(1).uniform(size=(2, 6, 16, 16, 1)).astype("float32")
    changed = clips.copy()
    changed[:, 4:] = 0.0
    a, b = np.asarray(model(clips)), np.asarray(model(changed))
    np.testing.assert_allclose(a[:, :4], b[:, :4], atol=1e-6)  # outputs before frame 4 ignore frames 4 and 5
    logits = np.asarray(model(clips[:, :-1])).astype("float64")
    nll = (np.logaddexp(0, logits) - clips[:, 1:] * logits).reshape(2, 5, -1).sum(axis=2).mean()
    np.testing.assert_allclose(model.evaluate(clips, verbose=0, return_dict=True)["loss"], nll, rtol=1e-4)


def test_frame_predictor_trains_predicts_and_round_trips(tmp_path):
    model = tiny_predictor()
    digit = np.zeros((1, 8, 8), "float32")
    digit[0, 2:6, 3:5] = 1.0
    clips = datasets.moving_digits(digit, 32, frames=6, size=16, digits=1, seed=0)
    first = model.evaluate(clips, verbose=0, return_dict=True)["loss"]
    model.fit(clips, batch_size=8, epochs=5, verbose=0)
    assert model.evaluate(clips, verbose=0, return_dict=True)["loss"] < first
    future = model.predict_frames(clips[:3, :4], horizon=3)
    assert future.shape == (3, 3, 16, 16, 1) and 0 <= future.min() and future.max() <= 1
    model.save(tmp_path / "frames.keras")
    reloaded = keras.saving.load_model(tmp_path / "frames.keras")
    np.testing.assert_allclose(reloaded.predict_frames(clips[:3, :4], horizon=3), future, atol=1e-6)
    with pytest.raises(ValueError, match="at least 2"):
        model.fit(clips[:, :1], verbose=0)
    with pytest.raises(ValueError, match="clips"):
        model.predict_frames(clips[:, :, :8], horizon=2)
    with pytest.raises(ValueError, match="values in"):
        model.fit(clips * 2 - 1, verbose=0)
