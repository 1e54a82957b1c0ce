"""Generation logs and output filters: fingerprints that follow the weights, one JSON line per output,
whole-word blocklists, classifier thresholds, the digit filter on real digits, filter error rates, bad input."""

import hashlib
import json

import keras
import numpy as np
import pytest

from keras_genai import CharLanguageModel, datasets, evaluation, safety, sampling, tokenizers

NAMES = ["anna", "bob", "carla", "dave", "eve", "frank", "gina", "hank"]


@pytest.fixture(scope="module")
def tok():
    return tokenizers.CharTokenizer.from_texts(NAMES)


@pytest.fixture(scope="module")
def ids(tok):
    return tok.encode_batch(NAMES, add_start=True, add_end=True)


@pytest.fixture(scope="module")
def lm(tok, ids):
    keras.utils.set_random_seed(0)
    model = CharLanguageModel(tok, embedding_dim=4, units=8)
    model.build()
    return model


def test_fingerprint_survives_save_and_load_and_changes_after_one_step(tok, ids, tmp_path):
    keras.utils.set_random_seed(1)
    model = CharLanguageModel(tok, embedding_dim=4, units=8)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    model.build()
    before = safety.model_fingerprint(model)
    assert len(before) == 16 and int(before, 16) >= 0
    model.save(tmp_path / "m.keras")
    assert safety.model_fingerprint(keras.saving.load_model(tmp_path / "m.keras")) == before
    model.fit(ids, epochs=1, batch_size=len(ids), verbose=0)
    assert safety.model_fingerprint(model) != before
    with pytest.raises(TypeError, match="keras.Model"):
        safety.model_fingerprint("not a model")


def test_log_writes_one_json_line_per_record_with_the_output_hash(lm, tmp_path):
    path = tmp_path / "log.jsonl"
    log = safety.GenerationLog(path)
    log.record(lm, "anna", seed=3, sampler="top_k", prompt="an", verdict=safety.TextVerdict(True))
    log.record(lm, "bøb", seed=None, sampler=sampling.TopP(0.5))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert set(first) == {"timestamp", "model_fingerprint", "model_class", "seed", "sampler", "prompt", "output",
                          "output_sha256", "verdict"}
    assert first["timestamp"].endswith("+00:00")
    assert first["model_fingerprint"] == safety.model_fingerprint(lm) and first["model_class"] == "CharLanguageModel"
    assert (first["seed"], first["sampler"], first["prompt"]) == (3, "TopK(temperature=1.0, k=10)", "an")
    assert first["verdict"] == {"allowed": True, "reason": None}
    assert second["output"] == "bøb" and second["prompt"] is None and second["verdict"] is None
    assert second["output_sha256"] == hashlib.sha256("bøb".encode("utf-8")).hexdigest()
    assert log.read() == [first, second]


def test_log_without_outputs_keeps_only_the_hash(lm, tmp_path):
    path = tmp_path / "private.jsonl"
    safety.GenerationLog(path, store_outputs=False).record(lm, "secret name", seed=0, sampler="greedy")
    (entry,) = safety.GenerationLog(path).read()
    assert entry["output"] is None and "secret" not in path.read_text(encoding="utf-8")
    assert entry["output_sha256"] == hashlib.sha256(b"secret name").hexdigest()


def test_generate_and_log_matches_generate_and_logs_the_verdicts(lm, tmp_path):
    log = safety.GenerationLog(tmp_path / "log.jsonl")
    text_filter = safety.TextFilter(blocklist=["a"])
    kwargs = dict(num_samples=4, max_new_tokens=6, sampler="temperature", seed=7)
    results = safety.generate_and_log(lm, log, filter=text_filter, **kwargs)
    outputs = [output for output, _ in results]
    assert outputs == lm.generate(**kwargs)
    records = log.read()
    assert [r["output"] for r in records] == outputs
    assert [r["verdict"] for r in records] == [{"allowed": v.allowed, "reason": v.reason} for _, v in results]
    assert [v for _, v in results] == text_filter(outputs)
    assert all(r["seed"] == 7 and r["sampler"] == "Temperature(temperature=1.0)" for r in records)
    (output, verdict), = safety.generate_and_log(lm, log, prompt="an", max_new_tokens=3)
    assert output == lm.generate("an", max_new_tokens=3) and verdict is None
    assert log.read()[-1]["prompt"] == "an" and log.read()[-1]["sampler"] == "Greedy()"


def test_blocklist_matches_whole_words_in_any_case():
    verdicts = safety.TextFilter(blocklist=["ass"])(["ass", "a first class pass", "You ASS!", "assassin"])
    assert [v.allowed for v in verdicts] == [False, True, False, True]
    assert verdicts[0].reason == "blocklist: ass" and verdicts[1].reason is None


def test_classifier_blocks_at_the_threshold():
    scores = {"kind": 0.1, "rude": 0.87, "edge": 0.5}
    verdicts = safety.TextFilter(classifier=lambda texts: [scores[t] for t in texts], threshold=0.5)(list(scores))
    assert [v.allowed for v in verdicts] == [True, False, False]
    assert verdicts[1].reason == "classifier: 0.87"
    with pytest.raises(ValueError, match="one probability per text"):
        safety.TextFilter(classifier=lambda texts: [0.1])(["a", "b"])


def test_image_filter_uses_the_classifier_confidence():
    probs = np.array([[0.95, 0.05], [0.6, 0.4]])
    verdicts = safety.ImageFilter(lambda images: probs, min_confidence=0.9)(np.zeros((2, 28, 28, 1)))
    assert [(v.allowed, v.label) for v in verdicts] == [(True, 0), (False, 0)]
    assert verdicts[1].confidence == pytest.approx(0.6) and verdicts[1].reason == "low confidence: 0.60"


def test_image_filter_rejects_black_and_noise_and_accepts_real_digits():
    data = datasets.load_mnist(verbose=False)
    image_filter = safety.ImageFilter(evaluation.digit_classifier(data, verbose=False), min_confidence=0.9)
    real = datasets.scale_images(data.x_test[:20], "ae")
    junk = np.concatenate([np.zeros((1, 28, 28, 1)), np.random.default_rng(0).random((2, 28, 28, 1))])
    real_verdicts, junk_verdicts = image_filter(real), image_filter(junk)
    assert not any(v.allowed for v in junk_verdicts)
    allowed = [v for v in real_verdicts if v.allowed]
    assert len(allowed) >= 16
    correct = [v.label == y for v, y in zip(real_verdicts, data.y_test[:20]) if v.allowed]
    assert np.mean(correct) >= 0.9


def test_filter_rates_on_a_hand_made_example():
    allowed = [True, True, False, True, False, True]  # 4 safe (1 blocked), 2 unsafe (1 let through)
    unsafe = [False, False, False, True, True, False]
    verdicts = [safety.TextVerdict(a) for a in allowed]
    rates = safety.filter_rates(verdicts, unsafe)
    assert rates == {"false_positive_rate": 0.25, "false_negative_rate": 0.5, "false_positives": 1,
                     "false_negatives": 1, "safe": 4, "unsafe": 2}
    assert safety.filter_rates([{"allowed": a} for a in allowed], unsafe) == rates  # verdicts read from a log
    with pytest.raises(ValueError, match="one label per verdict"):
        safety.filter_rates(verdicts, unsafe[:-1])
    with pytest.raises(ValueError, match="no unsafe examples"):
        safety.filter_rates(verdicts, [False] * 6)
    with pytest.raises(TypeError, match="booleans"):
        safety.filter_rates(verdicts, [0, 0, 0, 1, 1, 0])


def test_bad_input_names_the_problem(lm, tmp_path):
    with pytest.raises(TypeError, match="path must be"):
        safety.GenerationLog(42)
    with pytest.raises(ValueError, match="does not exist"):
        safety.GenerationLog(tmp_path / "missing" / "log.jsonl")
    with pytest.raises(ValueError, match="cannot write"):
        safety.GenerationLog(tmp_path)  # a folder, not a file
    log = safety.GenerationLog(tmp_path / "log.jsonl")
    with pytest.raises(TypeError, match="output must be a string"):
        log.record(lm, ["anna"], seed=0, sampler="greedy")
    with pytest.raises(TypeError, match="seed"):
        log.record(lm, "anna", seed=1.5, sampler="greedy")
    with pytest.raises(ValueError, match="unknown sampler"):
        log.record(lm, "anna", seed=0, sampler="nucleus")
    with pytest.raises(TypeError, match="wrap it in a list"):
        safety.TextFilter(blocklist="ass")
    with pytest.raises(TypeError, match="wrap it in a list"):
        safety.TextFilter()("one text")
    with pytest.raises(ValueError, match="threshold"):
        safety.TextFilter(threshold=1.5)
    with pytest.raises(ValueError, match="empty word"):
        safety.TextFilter(blocklist=[" "])
    image_filter = safety.ImageFilter(lambda images: np.ones((len(images), 10)) / 10)
    with pytest.raises(ValueError, match="4-D"):
        image_filter(np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match=r"values in \[0.0, 1.0\]"):
        image_filter(np.full((1, 28, 28, 1), 255.0))
    (tmp_path / "broken.jsonl").write_text("{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1 is not valid JSON"):
        safety.GenerationLog(tmp_path / "broken.jsonl").read()
