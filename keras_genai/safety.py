"""Accountable generation: which model wrote what, with which settings, and whether a filter let it out.

A released generator needs an audit trail. `model_fingerprint` names the exact weights,
`GenerationLog` keeps one JSON line per output (append-only, so a crash loses at most the last
line), `TextFilter` and `ImageFilter` give a verdict per sample, and `filter_rates` measures a
filter against hand labels: the false positives it costs and the false negatives it lets through.
"""

import dataclasses
import datetime
import hashlib
import inspect
import json
import numbers
import os
import re

import keras
import numpy as np

from keras_genai import _checks, sampling
from keras_genai.tokenizers import _check_texts

FINGERPRINT_HEX_CHARS = 16


def model_fingerprint(model):
    """A 16-hex-digit sha256 of the model's class, config and weights: equal for a saved-and-reloaded
    model, different once one weight moves, so a log line names the exact model that wrote it."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    digest = hashlib.sha256(type(model).__name__.encode())
    digest.update(json.dumps(model.get_config(), sort_keys=True, default=str).encode())
    for weight in model.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes())
    return digest.hexdigest()[:FINGERPRINT_HEX_CHARS]


def output_hash(text):
    """sha256 of the UTF-8 text: identifies an output even when the log keeps no text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclasses.dataclass(frozen=True)
class TextVerdict:
    allowed: bool
    reason: str | None = None  # "blocklist: <word>", "classifier: 0.87" or None when allowed


@dataclasses.dataclass(frozen=True)
class ImageVerdict:
    allowed: bool
    confidence: float  # the classifier's top class probability
    label: int  # its top class
    reason: str | None = None  # "low confidence: 0.42" or None when allowed


def _verdict_dict(verdict):
    if verdict is None or isinstance(verdict, dict):
        return verdict
    if dataclasses.is_dataclass(verdict) and not isinstance(verdict, type):
        return dataclasses.asdict(verdict)
    raise TypeError(f"verdict must be None, a dict or a filter's verdict, got {type(verdict).__name__}")


def _sampler_settings(sampler):
    """The sampler with its settings spelled out: a name becomes the Sampler it stands for
    (None for a model whose generate() takes no sampler)."""
    return None if sampler is None else repr(sampling.get(sampler))


def _check_seed(seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"seed must be an integer or None (a log line must say how to redraw it), got {seed!r}")
    return None if seed is None else int(seed)


class GenerationLog:
    """One JSON line per generated output, appended to `path` (UTF-8).

    store_outputs=False keeps only each output's sha256: enough to recognise a text later
    without storing what users received. The file is created at once, so a bad path fails
    before the first generation rather than after it.
    """

    def __init__(self, path, store_outputs=True):
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a string or os.PathLike, got {type(path).__name__}")
        self.path = os.fspath(path)
        self.store_outputs = bool(store_outputs)
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise ValueError(f"cannot write the generation log {self.path!r}: folder {folder!r} does not exist")
        try:  # fail now, not after the first generation
            with open(self.path, "a", encoding="utf-8"):
                pass
        except OSError as error:
            raise ValueError(f"cannot write the generation log {self.path!r}: {error.strerror}") from error

    def record(self, model, output, seed, sampler, prompt=None, verdict=None):
        """Append one output of `model`, generated with `seed` and `sampler` from `prompt`."""
        self._append([self._entry(model_fingerprint(model), type(model).__name__, output, seed, sampler, prompt, verdict)])

    def record_batch(self, model, outputs, seed, sampler, prompts, verdicts):
        """Append several outputs of one generate() call: the model is fingerprinted once."""
        fingerprint, model_class = model_fingerprint(model), type(model).__name__
        self._append([self._entry(fingerprint, model_class, output, seed, sampler, prompt, verdict)
                      for output, prompt, verdict in zip(outputs, prompts, verdicts, strict=True)])

    def _entry(self, fingerprint, model_class, output, seed, sampler, prompt, verdict):
        if not isinstance(output, str):
            raise TypeError(f"output must be a string (GenerationLog records text), got {type(output).__name__}")
        if prompt is not None and not isinstance(prompt, str):
            raise TypeError(f"prompt must be a string or None, got {type(prompt).__name__}")
        return {
            "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "model_fingerprint": fingerprint,
            "model_class": model_class,
            "seed": _check_seed(seed),
            "sampler": _sampler_settings(sampler),
            "prompt": prompt,
            "output": output if self.store_outputs else None,
            "output_sha256": output_hash(output),
            "verdict": _verdict_dict(verdict),
        }

    def _append(self, entries):
        lines = "".join(json.dumps(entry, ensure_ascii=False) + "\n" for entry in entries)
        with open(self.path, "a", encoding="utf-8") as file:  # one write per call: lines never interleave
            file.write(lines)
            file.flush()

    def read(self):
        """Every record so far, oldest first, as dicts."""
        with open(self.path, encoding="utf-8") as file:
            lines = [line for line in file if line.strip()]
        records = []
        for number, line in enumerate(lines, start=1):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{self.path} line {number} is not valid JSON: {error.msg}") from error
        return records


def generate_and_log(model, log, filter=None, **generate_kwargs):
    """model.generate(**generate_kwargs), filtered and logged: returns [(output, verdict), ...].

    Every output is logged, blocked ones included: the log is the record of what the model
    produced, the verdict says what users saw. verdict is None without a filter.
    """
    if not isinstance(log, GenerationLog):
        raise TypeError(f"log must be a GenerationLog, got {type(log).__name__}")
    outputs = model.generate(**generate_kwargs)
    outputs = [outputs] if isinstance(outputs, str) else list(outputs)
    if not all(isinstance(output, str) for output in outputs):
        raise TypeError(f"generate_and_log needs a text model; {type(model).__name__}.generate did not return strings")
    verdicts = [None] * len(outputs) if filter is None else list(filter(outputs))
    if len(verdicts) != len(outputs):
        raise ValueError(f"the filter returned {len(verdicts)} verdicts for {len(outputs)} outputs")
    prompt = generate_kwargs.get("prompt")
    prompts = [prompt] * len(outputs) if prompt is None or isinstance(prompt, str) else list(prompt)
    default = inspect.signature(model.generate).parameters.get("sampler")
    sampler = generate_kwargs.get("sampler", None if default is None else default.default)
    log.record_batch(model, outputs, generate_kwargs.get("seed"), sampler, prompts, verdicts)
    return list(zip(outputs, verdicts))


def _check_threshold(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value <= 1:
        raise ValueError(f"{name} must be a number in (0, 1], got {value!r}")
    return float(value)


def _check_probabilities(probs, n, name):
    probs = _checks.as_float_array(probs, name)
    if probs.shape != (n,):
        raise ValueError(f"{name} must give one probability per text, shape ({n},), got {probs.shape}")
    _checks.check_finite(probs, name)
    return _checks.check_range(probs, 0.0, 1.0, name)


class TextFilter:
    """Blocks a text that contains a blocklisted word (whole word, any case) or that `classifier` scores
    as unsafe: classifier(texts) -> probability of "unsafe" per text, blocked at >= threshold.

    Whole words, because substring matching blocks innocent words ("ass" in "class").
    """

    def __init__(self, blocklist=(), classifier=None, threshold=0.5):
        if isinstance(blocklist, str):
            raise TypeError("blocklist must be a list of words, got one string (wrap it in a list)")
        self.blocklist = [word.strip() for word in _check_texts(blocklist)]
        if not all(self.blocklist):
            raise ValueError("blocklist holds an empty word, which would match every text")
        if classifier is not None and not callable(classifier):
            raise TypeError(f"classifier must be callable (texts -> probability of unsafe), got {type(classifier).__name__}")
        self.classifier = classifier
        self.threshold = _check_threshold(threshold, "threshold")
        self._patterns = [re.compile(rf"\b{re.escape(word)}\b", re.IGNORECASE) for word in self.blocklist]

    def _blocked_word(self, text):
        return next((word for word, pattern in zip(self.blocklist, self._patterns) if pattern.search(text)), None)

    def __call__(self, texts):
        texts = _check_texts(texts)
        scores = [None] * len(texts)
        if self.classifier is not None and texts:
            scores = _check_probabilities(self.classifier(texts), len(texts), "classifier(texts)").tolist()
        return [self._verdict(text, score) for text, score in zip(texts, scores)]

    def _verdict(self, text, score):
        word = self._blocked_word(text)
        if word is not None:
            return TextVerdict(False, f"blocklist: {word}")
        if score is not None and score >= self.threshold:
            return TextVerdict(False, f"classifier: {score:.2f}")
        return TextVerdict(True)


def _check_image_batch(images):
    """A 4-D batch (n, height, width, channels) of finite values in [0, 1]."""
    array = _checks.as_float_array(images, "images")
    if array.ndim != 4:
        raise ValueError(f"images must be a 4-D batch (n, height, width, channels), got shape {array.shape}")
    _checks.check_finite(array, "images")
    return _checks.check_range(array, 0.0, 1.0, "images")


class ImageFilter:
    """Rejects generated digits the digit classifier cannot recognise (top class probability below
    min_confidence): blobs and noise that a sample grid would otherwise show as digits.

    classifier: evaluation.digit_classifier(...) (its `probabilities` is used) or any callable
    images -> class probabilities (n, classes).
    """

    def __init__(self, classifier, min_confidence=0.9):
        self._probabilities = getattr(classifier, "probabilities", classifier)
        if not callable(self._probabilities):
            raise TypeError(f"classifier must be a DigitClassifier or a callable, got {type(classifier).__name__}")
        self.min_confidence = _check_threshold(min_confidence, "min_confidence")

    def __call__(self, images):
        images = _check_image_batch(images)
        probs = np.asarray(self._probabilities(images), dtype="float64")
        if probs.ndim != 2 or len(probs) != len(images):
            raise ValueError(f"the classifier must return probabilities ({len(images)}, classes), got shape {probs.shape}")
        return [self._verdict(float(row.max()), int(row.argmax())) for row in probs]

    def _verdict(self, confidence, label):
        if confidence >= self.min_confidence:
            return ImageVerdict(True, confidence, label)
        return ImageVerdict(False, confidence, label, f"low confidence: {confidence:.2f}")


def _allowed(verdict):
    """Verdict objects, or the dicts GenerationLog.read() returns, so a log can be scored."""
    allowed = verdict.get("allowed") if isinstance(verdict, dict) else getattr(verdict, "allowed", None)
    if not isinstance(allowed, (bool, np.bool_)):
        raise TypeError(f"each verdict needs a boolean 'allowed', got {verdict!r}")
    return bool(allowed)


def filter_rates(verdicts, unsafe):
    """How often a filter is wrong, against ground truth `unsafe` (True = should be blocked).

    false_positive_rate: safe items blocked / safe items (the cost to users);
    false_negative_rate: unsafe items allowed / unsafe items (the harm let through).
    """
    allowed = np.array([_allowed(verdict) for verdict in verdicts], dtype=bool)
    unsafe = np.asarray(unsafe)
    if unsafe.dtype != bool:
        raise TypeError(f"unsafe must hold booleans (True = should be blocked), got dtype {unsafe.dtype}")
    if unsafe.shape != allowed.shape:
        raise ValueError(f"{len(allowed)} verdicts but unsafe has shape {unsafe.shape}: give one label per verdict")
    for name, group in (("safe", ~unsafe), ("unsafe", unsafe)):
        if not group.any():
            raise ValueError(f"no {name} examples: the {'false-positive' if name == 'safe' else 'false-negative'} "
                             "rate is undefined")
    false_positives = int(np.sum(~allowed & ~unsafe))
    false_negatives = int(np.sum(allowed & unsafe))
    safe_count, unsafe_count = int(np.sum(~unsafe)), int(np.sum(unsafe))
    return {
        "false_positive_rate": false_positives / safe_count,
        "false_negative_rate": false_negatives / unsafe_count,
        "false_positives": false_positives,
        "false_negatives": false_negatives,
        "safe": safe_count,
        "unsafe": unsafe_count,
    }
