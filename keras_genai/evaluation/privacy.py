"""Does a language model leak its training texts? Likelihood-based privacy checks.

- `sequence_nll`: -log p(x) of whole texts, the score every attack here starts from.
- `membership_inference`: the loss-threshold attack (Yeom et al. 2018): texts the model
  trained on tend to get a lower NLL than texts it never saw.
- `canary_exposure`: how far a planted secret stands out among random strings of its format
  (Carlini et al. 2019, "The Secret Sharer").
- `exact_copies`: verbatim copies of training texts among samples, against held-out texts.
- `anonymise`: scrub a secret pattern from texts before training on them.
"""

import dataclasses
import math
import re

import numpy as np
from keras import ops

from keras_genai import _checks, tokenizers
from keras_genai.evaluation.text import copy_rate
from keras_genai.models.feedback import sequence_log_probs


def sequence_nll(model, texts, batch_size=256):
    """-log p(x) in nats of each text, start and end tokens included, under the distribution
    `model.generate` samples from. Characters outside the vocabulary are an error naming them:
    mapped to the unknown id, which generate never emits, they would score an NLL near 1e9."""
    ids = model.tokenizer.encode_batch(texts, add_start=True, add_end=True, unknown="error")
    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    log_p = [ops.convert_to_numpy(sequence_log_probs(model, ids[i:i + batch_size]))
             for i in range(0, len(ids), batch_size)]
    return -np.concatenate(log_p).astype("float64")


def _check_scores(scores, name):
    array = np.asarray(scores)
    if array.dtype == object or not np.issubdtype(array.dtype, np.number) or array.dtype == bool:
        raise TypeError(f"{name} must hold numbers (NLL per text), got dtype {array.dtype}")
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array (one NLL per text), got shape {array.shape}")
    return _checks.check_finite(array.astype("float64"), name)


@dataclasses.dataclass(frozen=True)
class MembershipAttack:
    """How well "lower NLL means member" separates members from non-members."""

    auc: float            # P(a member scores lower than a non-member), ties 1/2: 0.5 = no leak, 1.0 = total
    best_accuracy: float  # the best balanced accuracy over thresholds, 0.5 + advantage / 2
    advantage: float      # max over thresholds of TPR - FPR (Yeom et al.'s membership advantage)


def membership_inference(member_scores, nonmember_scores):
    """The loss-threshold attack on per-text NLLs (e.g. from `sequence_nll`) of training texts
    (members) and held-out texts of the same kind (non-members)."""
    members = _check_scores(member_scores, "member_scores")
    nonmembers = np.sort(_check_scores(nonmember_scores, "nonmember_scores"))
    below = np.searchsorted(nonmembers, members, side="left")  # non-members strictly below each member
    ties = np.searchsorted(nonmembers, members, side="right") - below
    auc = float(np.sum(len(nonmembers) - below - 0.5 * ties) / (len(members) * len(nonmembers)))
    thresholds = np.unique(np.concatenate([members, nonmembers]))  # "member" iff NLL <= threshold
    tpr = np.searchsorted(np.sort(members), thresholds, side="right") / len(members)
    fpr = np.searchsorted(nonmembers, thresholds, side="right") / len(nonmembers)
    advantage = float(max(0.0, np.max(tpr - fpr)))  # max(0, .): the threshold below every score says "no" to all
    return MembershipAttack(auc, 0.5 + advantage / 2, advantage)


@dataclasses.dataclass(frozen=True)
class CanaryExposure:
    """Where a planted canary ranks among random strings of its format, by NLL."""

    rank: int                  # 1 = more likely than every reference
    exposure: float            # max_exposure - log2(rank), in bits
    max_exposure: float        # log2(num_references + 1): the figure for rank 1
    canary_nll: float
    reference_nll_mean: float


def _secret_length(canary, prefix, length):
    if not isinstance(canary, str) or not isinstance(prefix, str):
        raise TypeError("canary and prefix must be strings")
    if not canary.startswith(prefix):
        raise ValueError(f"canary {canary!r} does not start with prefix {prefix!r}")
    secret_length = len(canary) - len(prefix)
    if length is not None and _checks.check_positive_int(length, "length") != secret_length:
        raise ValueError(f"length={length} differs from the canary's secret ({secret_length} characters after "
                         "the prefix): references must have the canary's format")
    if secret_length == 0:
        raise ValueError("the canary has no secret after its prefix")
    return secret_length


def _check_alphabet(alphabet, secret, tokenizer):
    alphabet = sorted(set(alphabet))
    if not alphabet or not all(isinstance(c, str) and len(c) == 1 for c in alphabet):
        raise ValueError("alphabet must be a non-empty string (or list) of single characters")
    outside = sorted(set(secret) - set(alphabet))
    if outside:
        raise ValueError(f"the canary's secret holds characters outside the alphabet: {outside}")
    unknown = tokenizer.unknown_characters("".join(alphabet))
    if unknown:
        raise ValueError(f"alphabet characters outside the model's vocabulary: {unknown}")
    return alphabet


def canary_exposure(model, canary, alphabet, length=None, num_references=1000, seed=0, prefix=""):
    """Exposure of `canary` (prefix + secret) among num_references random strings of its format.

    Exposure estimates how many bits of the secret the model gives away: log2 of the number of
    candidate secrets minus log2 of the canary's rank among them, so a secret the model ranks
    first among 2^k guesses scores k bits. Only num_references + 1 strings are ranked here, so
    the estimate saturates at max_exposure = log2(num_references + 1): rank 1 says "at least
    that much", and a model that learnt nothing about the secret expects about 1.4 bits
    (log2(N+1) minus the mean of log2 of a rank uniform on 1..N+1). A reference scoring exactly
    the canary's NLL does not push the canary down.
    """
    secret_length = _secret_length(canary, prefix, length)
    alphabet = _check_alphabet(alphabet, canary[len(prefix):], model.tokenizer)
    num_references = _checks.check_positive_int(num_references, "num_references")
    draws = np.random.default_rng(seed).choice(alphabet, size=(num_references, secret_length))
    references = [prefix + "".join(row) for row in draws]
    canary_nll, reference_nll = float(sequence_nll(model, [canary])[0]), sequence_nll(model, references)
    rank = 1 + int(np.sum(reference_nll < canary_nll))
    max_exposure = math.log2(num_references + 1)
    return CanaryExposure(rank, max_exposure - math.log2(rank), max_exposure, canary_nll,
                          float(reference_nll.mean()))


@dataclasses.dataclass(frozen=True)
class ExactCopies:
    """Verbatim copies among samples. A sample found in both sets counts in both."""

    train_share: float     # share of samples that are a training text
    held_out_share: float  # share of samples that are a held-out text
    train_count: int
    held_out_count: int


def exact_copies(samples, train, held_out):
    """Copies of training texts against copies of held-out texts of the same kind.

    A model that generalises reproduces common texts whether or not it saw them, so the two
    shares, each relative to its set's size, are similar; memorisation shows as a higher
    training share.
    """
    samples = list(samples)
    train_share, held_out_share = copy_rate(samples, train), copy_rate(samples, held_out)
    return ExactCopies(train_share, held_out_share, round(train_share * len(samples)),
                       round(held_out_share * len(samples)))


def anonymise(texts, pattern, replacement):
    """Every match of the regex `pattern` in each text replaced by `replacement` (e.g. r"\\d+"
    by "<num>", so no digit string reaches training). Returns the new texts and the number of
    replacements made."""
    texts = tokenizers._check_texts(texts)
    if not texts:
        raise ValueError("texts is empty")
    if not isinstance(replacement, str):
        raise TypeError(f"replacement must be a string, got {type(replacement).__name__}")
    regex = re.compile(pattern)
    if regex.search(""):
        raise ValueError(f"pattern {regex.pattern!r} matches the empty string: it would insert the "
                         "replacement between every two characters")
    scrubbed = [regex.subn(replacement, text) for text in texts]
    return [text for text, _ in scrubbed], sum(n for _, n in scrubbed)
