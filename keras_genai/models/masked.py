"""A masked language model (BERT-style encoder), character level, and generation by unmasking.

Training hides a random 15% of the characters of each batch (drawn anew every batch: dynamic
masking) and scores the model on those positions only. Of the chosen positions, 80% show the
mask token, 10% a random character and 10% the true one, so the model cannot tell from the
input which positions it is scored on and keeps a useful representation of every character.
Attention is bidirectional: every position sees the whole window.

A masked LM has no left-to-right factorisation to sample from. `generate` writes by iterative
unmasking (MaskGIT, Chang et al. 2022): start from all-mask, predict every masked position, keep
the most confident predictions and mask the rest again, with a cosine schedule over `steps`.
A model trained at BERT's fixed 15% never sees the mostly-masked inputs that writing starts
from; `mask_rate="cosine"` trains as MaskGIT does instead: each window draws its own rate
r = cos(pi/2 * u), u ~ U(0, 1), and every chosen position shows the mask token.
"""

import math

import keras
import numpy as np
from keras import ops
from scipy import special

from keras_genai import _checks, sampling
from keras_genai.models._base import draw_for_replica
from keras_genai.models._sequence import check_ids, generation_logits, never_generated
from keras_genai.models.gpt import TransformerStack

MASK_RATE = 0.15
SPLIT = (0.8, 0.1, 0.1)  # of the chosen positions: mask token, random character, unchanged
ONLY_MASK = (1.0, 0.0, 0.0)  # MaskGIT: every chosen position shows the mask token


def mask_tokens(ids, mask_id, first_character_id, vocab_size, draws, rate=MASK_RATE, split=SPLIT):
    """The 80/10/10 corruption. draws: (choose, kind, random_ids) uniform [0, 1) arrays shaped like ids.

    Only character ids (>= first_character_id) can be chosen; rate is a number or an array that
    broadcasts against ids (e.g. one rate per row, (b, 1)). Returns (inputs, targets): targets
    hold the true id at chosen positions and 0 (padding: not scored) elsewhere.
    """
    choose, kind, random_unit = draws
    characters = ops.greater_equal(ids, first_character_id)
    chosen = ops.logical_and(characters, ops.less(choose, rate))
    as_mask = ops.logical_and(chosen, ops.less(kind, split[0]))
    as_random = ops.logical_and(chosen, ops.logical_and(ops.greater_equal(kind, split[0]),
                                                        ops.less(kind, split[0] + split[1])))
    random_ids = first_character_id + ops.cast(random_unit * (vocab_size - first_character_id), ids.dtype)
    inputs = ops.where(as_mask, ops.cast(mask_id, ids.dtype), ops.where(as_random, random_ids, ids))
    targets = ops.where(chosen, ids, ops.zeros_like(ids))
    return inputs, targets


@keras.saving.register_keras_serializable(package="keras_genai")
class MaskedLanguageModel(TransformerStack):
    """Bidirectional Transformer encoder trained to fill in masked characters.

    Needs a tokenizer with a mask token (`CharTokenizer(..., mask_token=True)`). Trains on id
    windows (b, t <= context_length); logs nats and bits per masked character and `accuracy`
    (share of masked characters ranked first). mask_rate: a share in (0, 1) with BERT's 80/10/10
    rule, or "cosine" for MaskGIT's rate drawn per window, all chosen positions masked.
    """

    causal = False

    def __init__(self, tokenizer, *args, mask_rate=MASK_RATE, seed=None, **kwargs):
        super().__init__(tokenizer, *args, **kwargs)
        if self.tokenizer.mask_id is None:
            raise ValueError("MaskedLanguageModel needs a tokenizer with a mask token: "
                             "tokenizers.CharTokenizer.from_texts(texts, mask_token=True)")
        if mask_rate != "cosine" and not (isinstance(mask_rate, (int, float)) and 0 < mask_rate < 1):
            raise ValueError(f'mask_rate must be a number in (0, 1) or "cosine", got {mask_rate!r}')
        self.mask_rate, self.seed = mask_rate if mask_rate == "cosine" else float(mask_rate), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _extra_tracker_names(self):
        return ("accuracy",)

    def _data_help(self):
        return "MaskedLanguageModel trains on one int array of token ids (batch, length <= context_length)"

    def _corrupt(self, ids):
        batch, length = ops.shape(ids)[0], ops.shape(ids)[1]
        # Under tf.distribute each replica takes its rows of one draw for the global batch (see
        # draw_for_replica): replicas holding copies of one SeedGenerator would mask alike.
        draws = [draw_for_replica(lambda n: keras.random.uniform((n, length), seed=self.seed_generator), batch)
                 for _ in range(3)]
        rate, split = self.mask_rate, SPLIT
        if rate == "cosine":
            u = draw_for_replica(lambda n: keras.random.uniform((n, 1), seed=self.seed_generator), batch)
            rate, split = ops.cos(math.pi / 2 * u), ONLY_MASK
        return mask_tokens(ids, self.tokenizer.mask_id, self.tokenizer.first_character_id,
                           self.tokenizer.vocab_size, draws, rate, split)

    def _logits_and_targets(self, data, training):
        ids = data[0] if isinstance(data, (tuple, list)) else data
        inputs, targets = self._corrupt(ids)
        key_mask = ops.not_equal(inputs, self.tokenizer.pad_id)
        return self(inputs, training=training, key_mask=key_mask), targets

    def _extra_figures(self, logits, targets):
        scored = ops.cast(ops.not_equal(targets, 0), "float32")
        hits = ops.cast(ops.equal(ops.argmax(logits, axis=-1), ops.cast(targets, "int64")), "float32")
        count = ops.sum(scored)
        return {"accuracy": (ops.sum(hits * scored) / ops.maximum(count, 1.0), count)}

    def masked_accuracy(self, ids, seed=0, rate=MASK_RATE):
        """Held-out figures with a fixed NumPy draw of the 80/10/10 masking at `rate` (the same draw
        for every model, whatever its training rate): (accuracy, nats per masked character, number
        of masked characters)."""
        ids = np.asarray(ids, dtype="int32")
        rng = np.random.default_rng(seed)
        draws = [rng.random(ids.shape).astype("float32") for _ in range(3)]
        inputs, targets = (np.asarray(a) for a in mask_tokens(
            ids, self.tokenizer.mask_id, self.tokenizer.first_character_id, self.tokenizer.vocab_size, draws,
            rate))
        logits = np.asarray(self(inputs, key_mask=inputs != 0), dtype="float64")
        scored = targets != 0
        log_p = special.log_softmax(logits, axis=-1)
        picked = np.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0]
        return float((logits.argmax(-1) == targets)[scored].mean()), float(-picked[scored].mean()), int(scored.sum())

    def _encode_with_blanks(self, text, blank):
        if not isinstance(text, str) or not text:
            raise ValueError("text must be a non-empty string")
        ids = [self.tokenizer.start_id]
        for char in text:
            ids.append(self.tokenizer.mask_id if char == blank else int(self.tokenizer.encode(char)[0]))
        ids.append(self.tokenizer.end_id)
        self._check_length(len(ids))
        return np.array(ids, dtype="int32")

    def fill_mask(self, text, blank="_", steps=None, sampler="greedy", seed=None, choice_temperature=0.0):
        """Fill every `blank` character of text. steps=None fills all blanks in one pass; an integer
        unmasks them over that many passes, most confident first (see generate for choice_temperature)."""
        ids = self._encode_with_blanks(text, blank)
        if not (ids == self.tokenizer.mask_id).any():
            raise ValueError(f"text holds no blank {blank!r} to fill")
        filled = self._unmask(ids[None], steps or 1, sampler, np.random.default_rng(seed), choice_temperature)[0]
        return self.tokenizer.decode(filled[1:-1])

    def infill(self, ids, steps=8, sampler="greedy", seed=None, choice_temperature=0.0, return_steps=False):
        """Fill every mask id of an id array (b, t) by iterative unmasking; the other ids stay as given.

        The array form of fill_mask, for blanks chosen by position rather than by a character
        (e.g. harmonisation: the alto, tenor and bass tokens of a window masked, the soprano given).
        steps=1 fills all blanks in one pass from the given ids alone; more steps fill the most
        confident share first and let later positions see earlier choices (cosine schedule; see
        generate for choice_temperature). Only tokens of the vocabulary are written, never a special id
        (no end id inside a window). return_steps: also the ids after each step.
        """
        ids = check_ids(ids, self.tokenizer.vocab_size).astype("int32")
        self._check_length(ids.shape[1])
        if not (ids == self.tokenizer.mask_id).any():
            raise ValueError(f"ids hold no mask id ({self.tokenizer.mask_id}) to fill")
        history = [] if return_steps else None
        filled = self._unmask(ids, _checks.check_positive_int(steps, "steps"), sampler,
                              np.random.default_rng(seed), choice_temperature, history,
                              banned=list(range(self.tokenizer.first_character_id)))
        return (filled, history) if return_steps else filled

    def _unmask(self, ids, steps, sampler, rng, choice_temperature=0.0, history=None, banned=None):
        """Iterative unmasking of every mask id in ids (b, t): after step s, a share cos(pi/2 * s/steps)
        of the initially masked positions is still masked (MaskGIT's cosine schedule). The positions
        kept are those with the highest ln p(drawn) + tau_s * Gumbel noise, tau_s = choice_temperature
        * (1 - s/steps): MaskGIT's randomised choice, annealed to confidence-first at the last step."""
        sampler = sampling.get(sampler)
        banned = never_generated(self.tokenizer) if banned is None else banned
        if not (isinstance(choice_temperature, (int, float)) and choice_temperature >= 0):
            raise ValueError(f"choice_temperature must be a number >= 0, got {choice_temperature!r}")
        ids = ids.copy()
        masked_at_start = (ids == self.tokenizer.mask_id).sum(axis=1)
        for step in range(1, steps + 1):
            masked = ids == self.tokenizer.mask_id
            if not masked.any():
                break
            logits = np.asarray(self(ids, key_mask=ids != self.tokenizer.pad_id), dtype="float64")
            rows, cols = np.nonzero(masked)
            flat = generation_logits(logits[rows, cols], banned)
            drawn = sampler(flat, rng)
            log_p = special.log_softmax(flat, axis=-1)[np.arange(len(drawn)), drawn]
            noise = rng.gumbel(size=len(drawn)) if choice_temperature else 0.0
            confidence = np.full(ids.shape, -np.inf)
            confidence[rows, cols] = log_p + choice_temperature * (1 - step / steps) * noise
            proposal = ids.copy()
            proposal[rows, cols] = drawn
            remain = np.floor(masked_at_start * math.cos(math.pi / 2 * step / steps)).astype(int)
            for b in range(len(ids)):
                unmask = masked[b].sum() - remain[b]
                order = np.argsort(-confidence[b], kind="stable")[: max(unmask, 0)]
                ids[b, order] = proposal[b, order]
            if history is not None:
                history.append(ids.copy())
        return ids

    def generate(self, length=None, num_samples=1, steps=8, sampler="greedy", seed=None, return_steps=False,
                 max_new_tokens=None, prompt=None, choice_temperature=0.0):
        """New texts of `length` characters by iterative unmasking of the start id + `length` masks:
        the opening of a document, a window that training shows (no end id: no training window
        holds a whole document).

        choice_temperature: 0 keeps the most confident draws first; MaskGIT uses 4.5. (max_new_tokens
        is accepted as another name for length, to share the sequence API; a prompt is not: a masked
        model fills blanks, use fill_mask.) return_steps: also the texts after each step.
        """
        if prompt is not None:
            raise ValueError("a masked LM does not continue a prompt; use fill_mask('text with ____ blanks')")
        length = _checks.check_positive_int(length if length is not None else max_new_tokens, "length")
        self._check_length(length + 1)
        n = _checks.check_positive_int(num_samples, "num_samples")
        steps = _checks.check_positive_int(steps, "steps")
        ids = np.full((n, length + 1), self.tokenizer.mask_id, dtype="int32")
        ids[:, 0] = self.tokenizer.start_id
        history = [] if return_steps else None
        ids = self._unmask(ids, steps, sampler, np.random.default_rng(seed), choice_temperature, history)
        texts = [self.tokenizer.decode(row[1:]) for row in ids]
        if not return_steps:
            return texts
        shown = lambda row: "".join("_" if i == self.tokenizer.mask_id else self.tokenizer.decode([i]) for i in row[1:])
        return texts, [[shown(row) for row in snapshot] for snapshot in history]

    def get_config(self):
        return {**super().get_config(), "mask_rate": self.mask_rate, "seed": self.seed}
