"""CharLanguageModel and Seq2Seq: teacher forcing, incremental generation, saving, bad input."""

import keras
import numpy as np
import pytest

from keras_genai import CharLanguageModel, Seq2Seq, datasets, sampling, tokenizers

NAMES = ["anna", "bob", "carla", "dave", "eve", "frank", "gina", "hank"]


@pytest.fixture(scope="module")
def lm():
    keras.utils.set_random_seed(0)
    tok = tokenizers.CharTokenizer.from_texts(NAMES)
    model = CharLanguageModel(tok, embedding_dim=8, units=16, num_layers=2)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    ids = tok.encode_batch(NAMES, add_start=True, add_end=True)
    model.fit(datasets.sequence_dataset(ids, 4), epochs=2, verbose=0)
    return model


def test_initial_loss_is_log_vocab_and_padding_does_not_count():
    keras.utils.set_random_seed(1)
    tok = tokenizers.CharTokenizer.from_texts(NAMES)
    model = CharLanguageModel(tok, embedding_dim=8, units=16)
    model.compile(optimizer="adam")
    ids = tok.encode_batch(NAMES, add_start=True, add_end=True)
    padded = np.pad(ids, ((0, 0), (0, 7)))
    short = model.evaluate(ids, batch_size=8, return_dict=True, verbose=0)
    long = model.evaluate(padded, batch_size=8, return_dict=True, verbose=0)
    np.testing.assert_allclose(short["loss"], long["loss"], rtol=1e-5)
    assert abs(short["loss"] - np.log(tok.vocab_size)) < 0.1
    np.testing.assert_allclose(short["bits_per_char"], short["loss"] / np.log(2), rtol=1e-5)


def test_training_lowers_the_loss_and_updates_every_layer(lm):
    tok = lm.tokenizer
    ids = tok.encode_batch(NAMES, add_start=True, add_end=True)
    before = [w.numpy().copy() for w in lm.trainable_weights]
    first = lm.evaluate(ids, return_dict=True, verbose=0)["loss"]
    lm.fit(ids, batch_size=4, epochs=3, verbose=0)
    assert lm.evaluate(ids, return_dict=True, verbose=0)["loss"] < first
    assert all(not np.allclose(b, w.numpy()) for b, w in zip(before, lm.trainable_weights))


def test_incremental_step_equals_rerunning_the_whole_sequence(lm):
    ids = lm.tokenizer.encode("carla", add_start=True)[None]
    full = np.asarray(lm(ids))[0]  # logits after each prefix, one pass
    logits, states = lm(ids[:, :1], return_state=True)
    step_logits = [np.asarray(logits)[0, -1]]
    for token in ids[0, 1:]:
        logits, states = lm.step(np.array([token], "int32"), states)
        step_logits.append(np.asarray(logits)[0])
    np.testing.assert_allclose(np.stack(step_logits), full, atol=1e-5)
    slow = lm.next_token_logits(ids)[0]
    banned = [lm.tokenizer.pad_id, lm.tokenizer.start_id, lm.tokenizer.unknown_id]
    assert np.isneginf(slow[banned]).all()
    allowed = np.setdiff1d(np.arange(lm.tokenizer.vocab_size), banned)
    np.testing.assert_allclose(slow[allowed], full[-1, allowed], atol=1e-5)


def test_generation_never_emits_padding_start_or_unknown(lm):
    from keras_genai.models._sequence import sample_loop

    tok = lm.tokenizer
    uniform = np.zeros((64, tok.vocab_size))  # every id equally likely before the ban
    out = sample_loop(uniform, None, lambda tokens, state: (uniform, state), 40, "temperature",
                      np.random.default_rng(0), tok)
    drawn = set(np.unique(out[out != tok.pad_id]))  # padding only after a row's end token
    assert drawn == set(range(tok.end_id, tok.vocab_size)) - {tok.unknown_id}
    for row in out:
        ends = np.flatnonzero(row == tok.end_id)
        assert (row != tok.pad_id).all() if not len(ends) else (row[: ends[0]] != tok.pad_id).all()


def test_generate_matches_the_slow_path_for_a_seed(lm):
    tok = lm.tokenizer
    for seed in range(5):
        text = lm.generate("ca", 12, sampler=sampling.Temperature(1.5), seed=seed)
        rng, ids = np.random.default_rng(seed), list(tok.encode("ca", add_start=True))
        while len(ids) < 15 and ids[-1] != tok.end_id:
            ids.append(int(sampling.Temperature(1.5)(lm.next_token_logits(np.array([ids])), rng)[0]))
        assert text == "ca" + tok.decode(ids[3:])
        assert lm.generate("ca", 12, sampler=sampling.Temperature(1.5), seed=seed) == text


def test_generate_batches_prompts_of_different_lengths(lm):
    out = lm.generate(["a", "fra", "a"], 5, sampler="greedy")
    assert out[0] == out[2] == lm.generate("a", 5) and out[1].startswith("fra")
    names = lm.generate(None, 10, sampler="top_k", num_samples=4, seed=0)
    assert len(names) == 4 and all(len(n) <= 10 for n in names)


def test_generate_bad_input_is_clear(lm):
    with pytest.raises(ValueError, match="empty prompt: pass prompt=None"):
        lm.generate("", 5)
    with pytest.raises(ValueError, match=r"outside the vocabulary: \['z'\]"):
        lm.generate("zz", 5)
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match="max_new_tokens must be a positive integer"):
            lm.generate("a", bad)
    with pytest.raises(ValueError, match="unknown sampler 'best'"):
        lm.generate("a", 5, sampler="best")
    with pytest.raises(ValueError, match=r"ids in \[0, 99\], outside the vocabulary"):
        lm.fit(np.array([[0, 99]]), verbose=0)
    with pytest.raises(ValueError, match="integer token ids of shape"):
        lm.fit(np.zeros((2, 3), "float32"), verbose=0)


def test_save_and_load_give_the_same_text(lm, tmp_path):
    path = str(tmp_path / "lm.keras")
    lm.save(path)
    again = keras.saving.load_model(path)
    assert again.tokenizer.vocabulary == lm.tokenizer.vocabulary
    for sampler in ("greedy", "top_p"):
        assert again.generate(None, 15, sampler=sampler, num_samples=3, seed=7) == lm.generate(
            None, 15, sampler=sampler, num_samples=3, seed=7)
    again.fit(lm.tokenizer.encode_batch(NAMES, add_start=True, add_end=True), epochs=1, verbose=0)  # optimizer restored


# --- Seq2Seq ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dates():
    return datasets.load_dates(n_test=40, n_validation=20, n_train=400, verbose=False)


def _seq2seq(dates, attention="additive"):
    keras.utils.set_random_seed(0)
    src = tokenizers.CharTokenizer.from_texts(dates.train.sources + dates.test_held_out_formats.sources)
    tgt = tokenizers.CharTokenizer.from_texts(dates.train.targets)
    model = Seq2Seq(src, tgt, embedding_dim=8, units=16, attention=attention, max_target_length=12)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    data = (src.encode_batch(dates.train.sources), tgt.encode_batch(dates.train.targets, add_start=True, add_end=True))
    model.fit(datasets.sequence_dataset(data, 50), epochs=1, verbose=0)
    return model


@pytest.fixture(scope="module")
def s2s(dates):
    return _seq2seq(dates)


def test_seq2seq_step_equals_the_teacher_forced_pass(s2s, dates):
    source, target = dates.test.sources[0], dates.test.targets[0]
    src = s2s.source_tokenizer.encode_batch([source])
    tgt = s2s.target_tokenizer.encode(target, add_start=True)[None]
    full = np.asarray(s2s((src, tgt)))[0]
    state = s2s._start_state(src)
    steps = []
    for token in tgt[0]:
        logits, state = s2s.step(np.array([token], "int32"), state)
        steps.append(np.asarray(logits)[0])
    np.testing.assert_allclose(np.stack(steps), full, atol=1e-5)


def test_source_padding_changes_nothing(s2s, dates):
    source = dates.test.sources[0]
    src = s2s.source_tokenizer.encode_batch([source])
    padded = np.pad(src, ((0, 0), (0, 9)))
    tgt = s2s.target_tokenizer.encode(dates.test.targets[0], add_start=True)[None]
    logits, weights = s2s((src, tgt), return_attention=True)
    logits_p, weights_p = s2s((padded, tgt), return_attention=True)
    np.testing.assert_allclose(np.asarray(logits), np.asarray(logits_p), atol=1e-5)
    assert np.asarray(weights_p)[..., src.shape[1]:].max() == 0.0


def test_translate_greedy_equals_beam_one_and_attention_rows_sum_to_one(s2s, dates):
    sources = dates.test.sources[:10]
    assert s2s.translate(sources, beam_width=1) == s2s.generate(sources, sampler="greedy")
    outputs, weights = s2s.translate(sources[:3], beam_width=3, return_attention=True)
    for source, output, w in zip(sources, outputs, weights):
        assert w.shape == (len(output) + 1, len(source))
        np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-5)
    assert 0.0 <= s2s.exact_match(sources, dates.test.targets[:10]) <= 1.0


def test_seq2seq_without_attention_and_bad_input(dates):
    plain = _seq2seq(dates, attention=None)
    assert plain.attention is None and len(plain.translate(["3 March 1998"])) == 1
    with pytest.raises(ValueError, match="no attention"):
        plain.attention_weights("3 March 1998", "1998-03-03")
    with pytest.raises(ValueError, match="attention must be one of"):
        Seq2Seq(plain.source_tokenizer, plain.target_tokenizer, attention="dot")
    with pytest.raises(TypeError, match="list of source strings"):
        plain.translate("3 March 1998")
    with pytest.raises(ValueError, match="empty prompt"):
        plain.translate([""])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        plain.translate(["∞ March 1998"])
    with pytest.raises(ValueError, match=r"\(source ids, target ids\)"):
        plain.fit(datasets.sequence_dataset(np.ones((8, 4), "int32"), 4), verbose=0)


def test_seq2seq_save_and_load_translate_the_same(s2s, dates, tmp_path):
    path = str(tmp_path / "s2s.keras")
    s2s.save(path)
    again = keras.saving.load_model(path)
    sources = dates.test_held_out_formats.sources[:8]
    assert again.translate(sources, beam_width=2) == s2s.translate(sources, beam_width=2)
    assert again.get_config()["attention"] == "additive"


def test_time_decay_warms_up_then_decays_linearly_to_zero_and_restores_the_rate(monkeypatch):
    from keras_genai import callbacks

    clock = iter(np.arange(0.0, 1000.0))  # every reading of the clock is one second later
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: float(next(clock)))
    tok = tokenizers.CharTokenizer.from_texts(NAMES)
    model = CharLanguageModel(tok, embedding_dim=8, units=16)
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    rates = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: rates.append(float(model.optimizer.learning_rate)))
    ids = tok.encode_batch(NAMES, add_start=True, add_end=True)
    model.fit(ids, batch_size=2, epochs=2, verbose=0, callbacks=[callbacks.TimeDecay(10, warmup_steps=2), record])
    # The clock reads 0 at the start, then k at batch k: rate = 0.01 * min(1, k / 2) * (1 - k / 10)
    expected = [0.01 * min(1, k / 2) * max(0, 1 - k / 10) for k in range(1, 9)]
    np.testing.assert_allclose(rates, expected, rtol=1e-5)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
    schedule = keras.optimizers.schedules.ExponentialDecay(0.01, 10, 0.5)
    model.compile(optimizer=keras.optimizers.Adam(schedule))
    with pytest.raises(ValueError, match="give the optimizer a number"):
        model.fit(ids, batch_size=2, epochs=1, verbose=0, callbacks=[callbacks.TimeDecay(10)])
    with pytest.raises(ValueError, match="seconds must be a positive number"):
        callbacks.TimeDecay(0)
