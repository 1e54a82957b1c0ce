import datetime
import math

import numpy as np
import pytest

from keras_genai import datasets, evaluation, losses, tokenizers

TEXTS = ["héllo wörld", "日本語 text", "tabs\tand\nnewlines", "<start> is just text"]


def test_tokenizer_round_trips_text_exactly_and_frames_it():
    tok = tokenizers.CharTokenizer.from_texts(TEXTS)
    assert tok.vocabulary[:4] == list(tokenizers.SPECIAL_TOKENS)
    for text in TEXTS:
        ids = tok.encode(text, add_start=True, add_end=True)
        assert ids[0] == tok.start_id and ids[-1] == tok.end_id and len(ids) == len(text) + 2
        assert tok.decode(ids) == text
    batch = tok.encode_batch(TEXTS, add_start=True, add_end=True)
    assert batch.dtype == np.int32 and batch.shape == (4, max(map(len, TEXTS)) + 2)
    assert tok.decode_batch(batch) == TEXTS
    assert (batch[0, len(TEXTS[0]) + 2:] == tok.pad_id).all()


def test_tokenizer_unknown_characters_raise_or_map_by_choice():
    tok = tokenizers.CharTokenizer.from_texts(["abc"])
    with pytest.raises(ValueError, match=r"outside the vocabulary: \['x', 'z'\]"):
        tok.encode("abxz")
    ids = tok.encode("abxz", unknown="map")
    assert ids.tolist()[2:] == [tok.unknown_id] * 2
    assert tok.decode(ids) == "ab\ufffd\ufffd"
    assert tokenizers.CharTokenizer(["a"], unknown="map").encode("b").tolist() == [tok.unknown_id]


def test_tokenizer_bad_input_is_clear():
    tok = tokenizers.CharTokenizer.from_texts(["abc"])
    with pytest.raises(TypeError, match="list of strings, got one string"):
        tok.encode_batch("abc")
    with pytest.raises(ValueError, match="longer than length=2"):
        tok.encode_batch(["abc"], length=2)
    with pytest.raises(ValueError, match="empty"):
        tok.encode_batch([])
    with pytest.raises(ValueError, match="outside the vocabulary of 7"):
        tok.decode([99])
    with pytest.raises(ValueError, match="must not repeat"):
        tokenizers.CharTokenizer(["a", "a"])
    with pytest.raises(ValueError, match="hold no character"):
        tokenizers.CharTokenizer.from_texts(["", ""])


def test_tokenizer_config_round_trip():
    tok = tokenizers.CharTokenizer.from_texts(TEXTS)
    again = tokenizers.deserialize(tokenizers.serialize(tok))
    assert again.vocabulary == tok.vocabulary and again.unknown == tok.unknown


def test_names_are_split_by_name_with_no_overlap(capsys):
    data = datasets.load_names(source="census")
    parts = [set(data.train), set(data.validation), set(data.test)]
    assert sum(map(len, parts)) == len(set().union(*parts)) > 5000
    assert all(n == n.lower() and n.strip() == n for n in data.train)
    assert datasets.load_names(source="census", verbose=False).train == data.train  # fixed seed
    assert "census" in capsys.readouterr().out
    last = datasets.load_names(source="census", kind="last", verbose=False)
    assert len(last.train) > 50000


def test_names_from_a_local_file(tmp_path):
    path = tmp_path / "n.txt"
    path.write_text("\n".join(f"name{i}" for i in range(50)) + "\nName0\n")
    data = datasets.load_names(path=str(path), verbose=False)
    assert len(data.train) + len(data.validation) + len(data.test) == 50  # deduplicated, lower-cased


def test_prose_is_split_by_document(monkeypatch):
    monkeypatch.setenv("KERAS_GENAI_OFFLINE", "1")
    data = datasets.load_prose(source="auto", verbose=False)
    assert "pydoc" in data.source
    assert not set(data.test) & set(data.train)
    assert sum(len(d) for d in data.train + data.validation + data.test) > 350_000
    # Help topics that are sections of longer ones are dropped: no held-out document is mostly training text
    training = {d[i:i + 20] for d in data.train for i in range(len(d) - 19)}
    for document in data.validation + data.test:
        grams = [document[i:i + 20] for i in range(len(document) - 19)]
        assert np.mean([g in training for g in grams]) < 0.3, document.splitlines()[0]
    characters = [sum(map(len, split)) for split in (data.train, data.validation, data.test)]
    assert 0.7 < characters[0] / sum(characters) < 0.9  # split by characters, not by document count
    with pytest.raises(ValueError, match="fractions"):
        datasets.load_prose(source="pydoc", fractions=(0.5, 0.5, 0.5))


def test_token_windows_score_every_target_once():
    seqs = [np.arange(1, 11), np.arange(1, 4)]
    windows = datasets.token_windows(seqs, 4)
    assert windows.shape == (4, 5)
    targets = windows[:, 1:][windows[:, 1:] != 0]
    assert sorted(targets.tolist()) == sorted(list(range(2, 11)) + [2, 3])


def test_dates_hold_out_dates_and_formats():
    data = datasets.load_dates(n_test=300, n_validation=100, n_train=2000, verbose=False)
    train_dates = set(data.train.targets)
    assert not train_dates & set(data.test.targets) and not train_dates & set(data.validation.targets)
    assert set(data.test.formats) <= set(datasets.DATE_FORMATS)
    assert set(data.test_held_out_formats.formats) == set(datasets.HELD_OUT_DATE_FORMATS)
    assert data.test_held_out_formats.targets == data.test.targets
    for source, target in zip(data.train.sources[:200], data.train.targets[:200]):
        datetime.date.fromisoformat(target)
        assert source
    day = datetime.date(1998, 3, 3)
    assert datasets.format_date(day, "Tuesday, March 3rd 1998") == "Tuesday, March 3rd 1998"
    assert datasets.format_date(day, "1998年3月3日") == "1998年3月3日"
    assert datasets.format_date(datetime.date(2011, 11, 11), "March 3rd, 1998") == "November 11th, 2011"
    assert datasets.format_date(day, "03/03/98") == "03/03/98"


def test_padding_never_counts_in_the_token_loss():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(1, 5, 7)).astype("float32")
    targets = np.array([[4, 5, 6, 2, 0]])
    padded_logits = np.concatenate([logits, rng.normal(size=(1, 3, 7)).astype("float32")], axis=1)
    padded_targets = np.concatenate([targets, np.zeros((1, 3), "int64")], axis=1)
    total, count = losses.token_cross_entropy(targets, logits)
    total_p, count_p = losses.token_cross_entropy(padded_targets, padded_logits)
    assert float(count) == float(count_p) == 4
    np.testing.assert_allclose(float(total), float(total_p), rtol=1e-6)
    log_probs = logits[0] - np.log(np.exp(logits[0]).sum(-1, keepdims=True))
    np.testing.assert_allclose(float(total), -sum(log_probs[t, k] for t, k in enumerate([4, 5, 6, 2])), rtol=1e-5)


def test_bigram_baseline_equals_its_counts():
    ids = np.array([[1, 4, 5, 4, 2, 0], [1, 5, 2, 0, 0, 0]])
    model = evaluation.BigramBaseline(6, smoothing=1.0).fit(ids)
    assert model.counts[4, 5] == model.counts[5, 2] == model.counts[1, 4] == 1 and model.counts[1].sum() == 2
    # add-one over the 5 non-padding tokens: p(5 | 4) = (1 + 1) / (2 + 5)
    np.testing.assert_allclose(np.exp(model.log_probs[4, 5]), 2 / 7)
    np.testing.assert_allclose(np.exp(model.log_probs).sum(axis=1), 1.0)
    expected = -np.mean([model.log_probs[a, b] for a, b in [(1, 4), (4, 5), (5, 4), (4, 2), (1, 5), (5, 2)]])
    np.testing.assert_allclose(model.nats_per_token(ids), expected)
    tuned = evaluation.BigramBaseline.tuned(ids, ids, 6)
    assert tuned.nats_per_token(ids) <= model.nats_per_token(ids)
    with pytest.raises(ValueError, match="smoothing must be positive"):
        evaluation.BigramBaseline(6, smoothing=0)


def test_text_scores():
    assert evaluation.distinct_ngrams(["abab"], 2) == pytest.approx(2 / 3)
    assert evaluation.copy_rate(["ann", "bob", "zed", "ann"], ["ann", "bob"]) == 0.75
    report = evaluation.likelihood_report(math.log(4))
    assert report["bits"] == pytest.approx(2.0) and report["perplexity"] == pytest.approx(4.0)
    scores = evaluation.text_scores(["ab", "ab"], ["ab"])
    assert scores["copied_from_train"] == 1.0 and scores["distinct_2"] == 0.5


def test_nats_under_sampler():
    logits = np.log(np.array([[[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]]))
    targets = np.array([[1, 2]])
    nats, zero = evaluation.nats_under_sampler(logits, targets, "temperature", pad_id=-1)
    np.testing.assert_allclose(nats, -(np.log(0.3) + np.log(0.8)) / 2)
    assert zero == 0
    nats, zero = evaluation.nats_under_sampler(logits, targets, "greedy", pad_id=-1)
    assert nats == np.inf and zero == 0.5
