"""How a sequence model picks its next token: greedy, temperature, top-k, top-p and beam search.

One implementation for every sequence model. A sampler maps next-token logits (batch, vocab)
to the distribution it draws from (`distribution`) and to drawn ids (`__call__`), using a NumPy
`Generator`, so a fixed seed gives the same text on any machine and after save/load.
Beam search keeps the `beam_width` best partial sequences by total log-probability.
"""

import numpy as np
import tensorflow as tf
from scipy import special

from keras_genai import _checks


def _logits_2d(logits):
    logits = np.asarray(logits, dtype="float64")
    if logits.ndim != 2 or logits.shape[1] < 1:
        raise ValueError(f"logits must have shape (batch, vocab), got {logits.shape}")
    if np.isnan(logits).any():
        raise ValueError("logits contain NaN")
    return logits


class Sampler:
    """Base class: subclasses define `distribution(logits)`; drawing is shared."""

    def distribution(self, logits):
        raise NotImplementedError

    def __call__(self, logits, rng):
        probs = self.distribution(logits)
        u = rng.random((len(probs), 1))
        # Inverse CDF: one uniform number per row, so a seed fixes the whole text.
        ids = (np.cumsum(probs, axis=1) <= u * probs.sum(axis=1, keepdims=True)).sum(axis=1)
        last_possible = probs.shape[1] - 1 - np.argmax(probs[:, ::-1] > 0, axis=1)  # guards float round-off
        return np.minimum(ids, last_possible).astype("int32")

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Greedy(Sampler):
    """Always the most likely token (the first one on a tie)."""

    def distribution(self, logits):
        logits = _logits_2d(logits)
        probs = np.zeros_like(logits)
        probs[np.arange(len(logits)), logits.argmax(axis=1)] = 1.0
        return probs

    def __call__(self, logits, rng=None):
        return _logits_2d(logits).argmax(axis=1).astype("int32")


class Temperature(Sampler):
    """softmax(logits / T): T < 1 sharpens towards greedy, T > 1 flattens towards uniform."""

    def __init__(self, temperature=1.0):
        if not np.isfinite(temperature) or temperature <= 0:
            raise ValueError(f"temperature must be a positive number, got {temperature!r} (use Greedy() for T -> 0)")
        self.temperature = float(temperature)

    def distribution(self, logits):
        return special.softmax(_logits_2d(logits) / self.temperature, axis=1)


class TopK(Temperature):
    """Only the k most likely tokens, renormalised (after the temperature)."""

    def __init__(self, k=10, temperature=1.0):
        super().__init__(temperature)
        self.k = _checks.check_positive_int(k, "k")

    def distribution(self, logits):
        probs = super().distribution(logits)
        if self.k >= probs.shape[1]:
            return probs
        order = np.argsort(-probs, axis=1, kind="stable")
        keep = np.zeros_like(probs, dtype=bool)
        np.put_along_axis(keep, order[:, : self.k], True, axis=1)
        probs = np.where(keep, probs, 0.0)
        return probs / probs.sum(axis=1, keepdims=True)


class TopP(Temperature):
    """Nucleus sampling: the smallest set of most likely tokens whose mass reaches p, renormalised."""

    def __init__(self, p=0.9, temperature=1.0):
        super().__init__(temperature)
        if not 0 < p <= 1:
            raise ValueError(f"p must be in (0, 1], got {p!r}")
        self.p = float(p)

    def distribution(self, logits):
        probs = super().distribution(logits)
        order = np.argsort(-probs, axis=1, kind="stable")
        sorted_probs = np.take_along_axis(probs, order, axis=1)
        mass_before = np.cumsum(sorted_probs, axis=1) - sorted_probs
        # A token stays while the mass of the tokens ranked above it is still short of p.
        keep_sorted = mass_before < self.p
        keep = np.zeros_like(keep_sorted)
        np.put_along_axis(keep, order, keep_sorted, axis=1)
        probs = np.where(keep, probs, 0.0)
        return probs / probs.sum(axis=1, keepdims=True)


SAMPLERS = {"greedy": Greedy, "temperature": Temperature, "top_k": TopK, "top_p": TopP}


def get(sampler):
    """A Sampler, or the name of one with its default settings ("greedy", "temperature", "top_k", "top_p")."""
    if isinstance(sampler, Sampler):
        return sampler
    if isinstance(sampler, str) and sampler in SAMPLERS:
        return SAMPLERS[sampler]()
    raise ValueError(
        f"unknown sampler {sampler!r}: pass one of {sorted(SAMPLERS)} or a keras_genai.sampling.Sampler "
        "such as sampling.TopK(k=5, temperature=0.8)"
    )


def _gather(state, index):
    return tf.nest.map_structure(lambda s: tf.gather(s, index), state)


def beam_search(step, state, batch_size, start_id, end_id, beam_width=4, max_length=50):
    """The most likely sequences of a model under a beam of `beam_width` hypotheses per example.

    step(tokens (n,), state) -> (log_probs (n, vocab), new state), where n = batch_size * beam_width
    and state is a (nested) tensor whose first axis has n rows (e.g. a recurrent state repeated
    beam_width times). A hypothesis ends at end_id; its score is the sum of its log-probabilities,
    end token included (no length normalisation). Returns (sequences, scores): a list of int lists
    without start and end ids, best hypothesis per example, and their scores.
    """
    beam_width = _checks.check_positive_int(beam_width, "beam_width")
    max_length = _checks.check_positive_int(max_length, "max_length")
    n = batch_size * beam_width
    tokens = np.full(n, start_id, dtype="int32")
    scores = np.full((batch_size, beam_width), -np.inf)
    scores[:, 0] = 0.0  # all beams start identical: expand only the first
    finished = np.zeros((batch_size, beam_width), dtype=bool)
    history = np.zeros((batch_size, beam_width, 0), dtype="int32")
    for _ in range(max_length):
        log_probs, state = step(tokens, state)
        log_probs = np.asarray(log_probs, dtype="float64").reshape(batch_size, beam_width, -1)
        vocab = log_probs.shape[-1]
        # A finished hypothesis can only repeat the end token, at no cost: its score stays fixed.
        log_probs = np.where(finished[..., None], -np.inf, log_probs)
        log_probs[..., end_id] = np.where(finished, 0.0, log_probs[..., end_id])
        candidates = (scores[..., None] + log_probs).reshape(batch_size, -1)
        best = np.argsort(-candidates, axis=1, kind="stable")[:, :beam_width]
        beam, token = best // vocab, best % vocab
        scores = np.take_along_axis(candidates, best, axis=1)
        finished = np.take_along_axis(finished, beam, axis=1) | (token == end_id)
        history = np.concatenate([np.take_along_axis(history, beam[..., None], axis=1), token[..., None]], axis=2)
        rows = (np.arange(batch_size)[:, None] * beam_width + beam).reshape(-1)
        state = _gather(state, rows)
        tokens = token.reshape(-1).astype("int32")
        if finished.all():
            break
    top = scores.argmax(axis=1)
    sequences = []
    for b, k in enumerate(top):
        seq = history[b, k].tolist()
        sequences.append(seq[: seq.index(end_id)] if end_id in seq else seq)
    return sequences, scores[np.arange(batch_size), top]
