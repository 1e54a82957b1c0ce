"""Text scores: a count-based bigram baseline, likelihood per token, diversity and copying."""

import math

import numpy as np

from keras_genai import _checks

LN2 = math.log(2.0)


def likelihood_report(nats):
    """Nats per token -> the same figure as bits per token and as perplexity."""
    return {"nats": float(nats), "bits": float(nats) / LN2, "perplexity": float(math.exp(nats))}


def _pairs(ids, pad_id):
    """(previous, next) id pairs of padded sequences (n, length); pairs whose next id is padding are dropped."""
    ids = np.asarray(ids)
    if ids.ndim != 2 or ids.shape[1] < 2 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"ids must be an integer array (n, length >= 2), got {ids.dtype} {ids.shape}")
    prev, nxt = ids[:, :-1].reshape(-1), ids[:, 1:].reshape(-1)
    keep = nxt != pad_id if pad_id is not None else np.ones(len(nxt), dtype=bool)
    if not keep.any():
        raise ValueError("ids hold no target token (all padding)")
    return prev[keep], nxt[keep]


class BigramBaseline:
    """p(next | previous) from counts with add-`smoothing` (Laplace for 1.0): the baseline to beat.

    It scores exactly the targets a language model scores on the same padded id arrays (every
    non-padding id after the first of a row), so the two nats-per-token figures compare directly.
    pad_id=None: no padding, every id is a token (mu-law audio, where id 0 is a sample value).
    """

    def __init__(self, vocab_size, smoothing=1.0, pad_id=0):
        self.vocab_size = _checks.check_positive_int(vocab_size, "vocab_size")
        if not smoothing > 0:
            raise ValueError(f"smoothing must be positive (zero counts would give infinite loss), got {smoothing}")
        self.smoothing, self.pad_id = float(smoothing), pad_id
        self.counts = None

    def fit(self, ids):
        prev, nxt = _pairs(ids, self.pad_id)
        if max(prev.max(), nxt.max()) >= self.vocab_size:
            raise ValueError(f"ids reach {max(prev.max(), nxt.max())}, outside the vocabulary of {self.vocab_size}")
        self.counts = np.zeros((self.vocab_size, self.vocab_size))
        np.add.at(self.counts, (prev, nxt), 1.0)
        return self

    @property
    def log_probs(self):
        """(vocab, vocab) table of log p(next | previous); padding is never a next token."""
        if self.counts is None:
            raise RuntimeError("fit the baseline first")
        smoothed = self.counts + self.smoothing
        if self.pad_id is not None:
            smoothed[:, self.pad_id] = 0.0
        return np.log(smoothed / smoothed.sum(axis=1, keepdims=True), where=smoothed > 0,
                      out=np.full_like(smoothed, -np.inf))

    def nats_per_token(self, ids):
        prev, nxt = _pairs(ids, self.pad_id)
        return float(-self.log_probs[prev, nxt].mean())

    @classmethod
    def tuned(cls, train_ids, validation_ids, vocab_size, grid=(0.01, 0.03, 0.1, 0.3, 1.0, 3.0), pad_id=0):
        """The smoothing from grid with the lowest validation loss (never chosen on test)."""
        fitted = [cls(vocab_size, s, pad_id).fit(train_ids) for s in grid]
        return min(fitted, key=lambda m: m.nats_per_token(validation_ids))

    def generate(self, num_samples, start_id, end_id, max_length=30, seed=0):
        """Sequences drawn from the bigram chain, from start_id until end_id (excluded) or max_length."""
        probs = np.exp(self.log_probs)
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(_checks.check_positive_int(num_samples, "num_samples")):
            seq, token = [], start_id
            for _ in range(max_length):
                token = int(rng.choice(self.vocab_size, p=probs[token]))
                if token == end_id:
                    break
                seq.append(token)
            out.append(seq)
        return out


class UnigramBaseline(BigramBaseline):
    """p(next) from counts with add-`smoothing`, ignoring the previous id: the weakest baseline.

    Held-out nats per token -mean log p(x) near the entropy of the training histogram; a model
    that does not beat it has learned nothing about order. Scores the same targets as BigramBaseline.
    """

    def fit(self, ids):
        super().fit(ids)
        self.counts = np.broadcast_to(self.counts.sum(axis=0), self.counts.shape).copy()  # every row the same
        return self


def _check_strings(texts, name):
    texts = list(texts)
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError(f"{name} must be a non-empty list of strings")
    return texts


def distinct_ngrams(texts, n=2):
    """Distinct character n-grams / all n-grams over texts: 1.0 = never repeats, near 0 = one phrase over and over."""
    n = _checks.check_positive_int(n, "n")
    grams = [t[i:i + n] for t in _check_strings(texts, "texts") for i in range(len(t) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def copy_rate(generated, reference):
    """Share of generated strings that appear verbatim in reference (e.g. the training names)."""
    reference = set(_check_strings(reference, "reference"))
    generated = _check_strings(generated, "generated")
    return sum(g in reference for g in generated) / len(generated)


def text_scores(generated, train, ns=(1, 2, 3)):
    """Diversity and copying of generated texts: distinct-n for each n, and the copy rate."""
    scores = {f"distinct_{n}": distinct_ngrams(generated, n) for n in ns}
    scores["copied_from_train"] = copy_rate(generated, train)
    scores["mean_length"] = float(np.mean([len(g) for g in generated]))
    return scores


def nats_under_sampler(logits, targets, sampler, pad_id=0):
    """Held-out nats per token of the distribution a sampler draws from, and the share of
    targets it gives probability zero (top-k / top-p cut them off: their loss is infinite).

    logits (n, t, vocab) of a model on held-out ids, targets (n, t); padding targets are skipped.
    """
    from keras_genai import sampling

    logits, targets = np.asarray(logits), np.asarray(targets)
    if logits.ndim != 3 or targets.shape != logits.shape[:2]:
        raise ValueError(f"logits (n, t, vocab) and targets (n, t) do not match: {logits.shape}, {targets.shape}")
    keep = targets != pad_id
    probs = sampling.get(sampler).distribution(logits[keep])
    p = probs[np.arange(len(probs)), targets[keep]]
    with np.errstate(divide="ignore"):
        return float(-np.log(p).mean()), float(np.mean(p == 0))
