"""WaveNet and mu-law audio: companding, causality, receptive field, cached generation, training, saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_genai import WaveNet, datasets, evaluation

MU = 255


def tiny(**kwargs):
    keras.utils.set_random_seed(0)
    config = dict(levels=256, channels=8, kernel_size=2, num_blocks=2, layers_per_block=3) | kwargs
    model = WaveNet(**config)
    model.build()
    return model


def periodic_ids(samples, period=16):
    """A square-topped sine (clipped), mu-law encoded: a few levels in a fixed order."""
    wave = np.clip(1.25 * np.sin(2 * np.pi * np.arange(samples) / period), -1, 1) * 0.9
    return datasets.mu_law_encode(wave)


# --- mu-law ---------------------------------------------------------------------------------

def test_mu_law_closed_form_on_known_values():
    ids = datasets.mu_law_encode([-1.0, 0.0, 1.0, 0.5])
    f = np.log(1 + MU * 0.5) / np.log(1 + MU)  # F(0.5) = ln(128.5) / ln(256)
    np.testing.assert_array_equal(ids, [0, 128, 255, int(np.floor((f + 1) / 2 * MU + 0.5))])
    np.testing.assert_allclose(datasets.mu_law_decode([0, 255]), [-1.0, 1.0], atol=1e-6)
    y = 2 * 200 / MU - 1
    np.testing.assert_allclose(datasets.mu_law_decode(200), (256 ** y - 1) / MU, rtol=1e-6)


def test_mu_law_round_trip_error_bound():
    x = np.linspace(-1, 1, 20001)
    back = datasets.mu_law_decode(datasets.mu_law_encode(x))
    bound = (np.abs(x) + 1 / MU) * ((1 + MU) ** (1 / MU) - 1)
    assert (np.abs(back - x) <= bound + 1e-6).all()
    assert np.abs(back - x)[np.abs(x) < 1e-3].max() < 1e-4  # quiet samples are kept finely
    np.testing.assert_array_equal(datasets.mu_law_encode(back), datasets.mu_law_encode(x))


@pytest.mark.parametrize("audio, error, match", [
    ([0.5, 1.5], ValueError, r"\[-1.0, 1.0\]"), ([0.1, np.nan], ValueError, "NaN"), ([], ValueError, "empty"),
    (["a"], TypeError, "numbers"),
])
def test_mu_law_encode_refuses_bad_audio(audio, error, match):
    with pytest.raises(error, match=match):
        datasets.mu_law_encode(audio)


def test_mu_law_decode_refuses_bad_ids():
    with pytest.raises(ValueError, match="outside"):
        datasets.mu_law_decode([0, 256])
    with pytest.raises(TypeError, match="integer"):
        datasets.mu_law_decode([0.5])
    with pytest.raises(ValueError, match="levels"):
        datasets.mu_law_encode([0.0], levels=1)


# --- windows --------------------------------------------------------------------------------

def test_audio_windows_share_one_id_and_respect_the_split():
    ids = np.arange(100) % 256
    windows = np.concatenate(list(datasets.audio_windows(ids, 9, batch_size=4, shuffle=False).as_numpy_iterator()))
    assert windows.shape == (11, 10) and windows.dtype == np.int32
    np.testing.assert_array_equal(windows[1:, 0], windows[:-1, -1])  # each id a target once
    parts = datasets.split_audio(ids, 0.2, 0.1)
    assert [len(parts[s]) for s in ("train", "validation", "test")] == [70, 20, 10]
    val = np.concatenate(list(datasets.audio_windows(ids, 4, split="validation").as_numpy_iterator()))
    assert val.min() >= 70 and val.max() < 90  # contiguous, never train samples
    with pytest.raises(ValueError, match="fewer than one window"):
        datasets.audio_windows(ids, 20, split="test")
    with pytest.raises(ValueError, match="split"):
        datasets.audio_windows(ids, 4, split="valid")


# --- the network ----------------------------------------------------------------------------

def test_causal_and_receptive_field_as_measured():
    model = tiny(kernel_size=3, num_blocks=2, layers_per_block=2)  # dilations 1, 2, 1, 2
    assert model.dilations == [1, 2, 1, 2]
    assert model.receptive_field == 1 + 2 * 6
    ids = np.random.default_rng(0).integers(0, 256, (1, 40)).astype("int32")
    base = np.asarray(model(ids))[0]
    for t in (0, 10):
        changed = ids.copy()
        changed[0, t] = (changed[0, t] + 7) % 256
        moved = np.abs(np.asarray(model(changed))[0] - base).max(axis=1) > 0
        assert not moved[:t].any()  # causal: outputs before t cannot see x_t
        assert np.flatnonzero(moved).max() == t + model.receptive_field - 1
        assert moved[t:t + model.receptive_field].all()


def test_cached_and_uncached_generation_give_identical_ids():
    model = tiny()
    rng = np.random.default_rng(1)
    cases = [dict(prompt=None), dict(prompt=rng.integers(0, 256, 5)),
             dict(prompt=rng.integers(0, 256, (2, 3 * model.receptive_field)))]  # longer than the window
    for case in cases:
        fast = model.generate(2, 30, temperature=1.3, seed=7, **case)
        slow = model.generate(2, 30, temperature=1.3, seed=7, cached=False, **case)
        assert fast.shape == (2, 30) and fast.dtype == np.int32
        np.testing.assert_array_equal(fast, slow)
    assert not np.array_equal(model.generate(2, 30, seed=7), model.generate(2, 30, seed=8))


def test_training_on_a_periodic_wave_beats_the_count_baselines(tmp_path):
    ids = periodic_ids(4000)
    model = tiny(channels=16, num_blocks=1, layers_per_block=4)  # receptive field 16: one period
    model.compile(optimizer=keras.optimizers.Adam(2e-2))
    validation = datasets.audio_windows(ids, 64, split="validation")
    first = model.evaluate(validation, return_dict=True, verbose=0)
    assert abs(first["loss"] - np.log(256)) < 0.3  # untrained: about uniform over the levels
    history = model.fit(datasets.audio_windows(ids, 64, split="train", batch_size=8), epochs=6,
                        validation_data=validation, verbose=0)
    val = history.history["val_loss"][-1]
    parts = datasets.split_audio(ids)
    train, held_out = parts["train"][None], parts["validation"][None]
    unigram = evaluation.UnigramBaseline(256, pad_id=None).fit(train).nats_per_token(held_out)
    assert val < 0.5 * unigram, (val, unigram)  # the unigram entropy here is about 2.1 nats
    np.testing.assert_allclose(history.history["val_bits_per_sample"][-1], val / np.log(2), rtol=1e-5)

    path = tmp_path / "wavenet.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.receptive_field == model.receptive_field
    prompt = ids[:20]
    np.testing.assert_array_equal(loaded.generate(3, 50, prompt=prompt, seed=4),
                                  model.generate(3, 50, prompt=prompt, seed=4))


def test_generate_refuses_bad_arguments():
    model = tiny()
    bad = [
        (dict(length=0), ValueError, "length"), (dict(n=0), ValueError, "n must"),
        (dict(prompt=[3, 256]), ValueError, "outside"), (dict(prompt=[0.5]), TypeError, "integer"),
        (dict(prompt=np.zeros((3, 4), "int32")), ValueError, "prompt must be"),
        (dict(prompt=np.zeros(0, "int32")), ValueError, "empty"),
        (dict(temperature=0), ValueError, "temperature"), (dict(seed=-1), ValueError, "seed"),
    ]
    for kwargs, error, match in bad:
        with pytest.raises(error, match=match):
            model.generate(**({"n": 2, "length": 5} | kwargs))


def test_fit_refuses_bad_windows():
    model = tiny()
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="outside"):
        model.fit(np.full((4, 9), 300), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="length \\+ 1"):
        model.fit(np.zeros(9, "int32"), epochs=1, verbose=0)
    with pytest.raises(TypeError, match="integer"):
        model.fit(np.zeros((4, 9)), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="yields"):
        model.fit(tf.data.Dataset.from_tensor_slices(np.zeros((4, 9), "float32")).batch(2), verbose=0)


# --- count baselines on ids where 0 is a real value --------------------------------------------

def test_unigram_and_bigram_baselines_closed_form_without_padding():
    unigram = evaluation.UnigramBaseline(3, smoothing=1.0, pad_id=None).fit(np.array([[0, 1, 1, 2]]))
    # targets 1, 1, 2: counts (0, 2, 1) + 1 -> p = (1, 3, 2) / 6
    expected = -(np.log(3 / 6) + np.log(1 / 6)) / 2
    np.testing.assert_allclose(unigram.nats_per_token(np.array([[2, 1, 0]])), expected)
    bigram = evaluation.BigramBaseline(3, smoothing=1.0, pad_id=None).fit(np.array([[0, 1, 0, 1]]))
    # after 1: counts (1, 0, 0) + 1 -> p(0 | 1) = 2 / 4; id 0 is a token here, not padding
    np.testing.assert_allclose(bigram.nats_per_token(np.array([[1, 0]])), -np.log(2 / 4))
