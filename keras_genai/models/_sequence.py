"""What the sequence models share: id checks, the padded next-token loss, sampling loops."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_genai import _checks, losses, sampling, tokenizers
from keras_genai.evaluation.text import LN2
from keras_genai.models._base import GenerativeModel, minimize


def check_ids(ids, vocab_size, name="ids"):
    """A batch of token ids: 2-D integers in [0, vocab_size) with at least two positions."""
    ids = np.asarray(ids)
    if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(
            f"{name} must be integer token ids of shape (batch, length), got {ids.dtype} {ids.shape} "
            "(encode texts with the model's tokenizer: tokenizer.encode_batch(texts, add_start=True, add_end=True))"
        )
    if ids.size == 0:
        raise ValueError(f"{name} is empty")
    if ids.min() < 0 or ids.max() >= vocab_size:
        raise ValueError(f"{name} hold ids in [{ids.min()}, {ids.max()}], outside the vocabulary [0, {vocab_size})")
    return ids


class SequenceModel(GenerativeModel):
    """Base for token models: trains on padded int32 ids; tracks nats and bits per token.

    Subclasses implement `_logits_and_targets(data, training)` -> (logits, targets) and list the
    tokenizers whose vocabularies bound each array of the data in `_vocab_sizes()`.
    """

    def _make_token_trackers(self, *extra):
        self._make_trackers("loss", "bits_per_char", *extra)

    def _loss_and_figures(self, data, training):
        logits, targets = self._logits_and_targets(data, training)
        total, count = losses.token_cross_entropy(targets, logits, tokenizers.CharTokenizer.pad_id)
        return total, count, logits, targets

    def _record(self, total, count, logits, targets):
        nats = total / ops.maximum(count, 1.0)
        # Weighted by this batch's token count: the epoch figure is the exact mean over all tokens.
        self._trackers["loss"].update_state(nats, sample_weight=count)
        self._trackers["bits_per_char"].update_state(nats / LN2, sample_weight=count)
        for name, (value, weight) in self._extra_figures(logits, targets).items():
            self._trackers[name].update_state(value, sample_weight=weight)
        return {name: tracker.result() for name, tracker in self._trackers.items()}

    def train_step(self, data):
        with tf.GradientTape() as tape:
            total, count, logits, targets = self._loss_and_figures(data, training=True)
            # Mean over the tokens of the *global* batch: replicas hold different numbers of
            # padding positions, and their gradients are summed under tf.distribute.
            context = tf.distribute.get_replica_context()
            global_count = count if context is None else context.all_reduce("sum", count)
            loss = total / ops.maximum(global_count, 1.0)
        minimize(self.optimizer, tape, loss, self.trainable_weights)
        return self._record(total, count, logits, targets)

    def test_step(self, data):
        return self._record(*self._loss_and_figures(data, training=False))

    def _extra_figures(self, logits, targets):
        return {}

    def _check_data(self, data, name):
        if data is None:
            raise ValueError(f"fit()/evaluate() needs data: {name} is None")
        sizes = self._vocab_sizes()
        if isinstance(data, tf.data.Dataset):  # an iterator has element_spec but no take()
            spec = data.element_spec
            specs = spec if isinstance(spec, (tuple, list)) else (spec,)
            if len(specs) != len(sizes) or any(not s.dtype.is_integer for s in specs):
                raise ValueError(f"{name} yields {specs}; {self._data_help()}")
            batch = next(iter(data.take(1)))
            arrays = batch if isinstance(batch, (tuple, list)) else (batch,)
            name = f"{name} (first batch)"
        elif isinstance(data, (np.ndarray, list, tuple)) or keras.ops.is_tensor(data):
            arrays = data if isinstance(data, tuple) else (data,)
            if len(arrays) != len(sizes):
                raise ValueError(f"{name} holds {len(arrays)} arrays; {self._data_help()}")
        else:
            return
        for array, size in zip(arrays, sizes):
            check_ids(np.asarray(array), size, name)

    def _check_fit_data(self, x, y, validation_data):
        self._check_data(x if y is None else (x, y), "x")
        if validation_data is not None:
            self._check_data(validation_data, "validation_data")

    def _continue_prompts(self, prompt, num_samples, max_new_tokens, sampler, seed, start):
        """generate() of a language model: prompt(s) or None -> prompt + sampled continuation(s).

        start(batch of prompt ids (b, t)) -> (next-token logits (b, vocab), state, step function);
        prompts of one length run as one batch, then sample_loop draws one token per step.
        """
        max_new_tokens = check_max_new_tokens(max_new_tokens)
        single = isinstance(prompt, str)
        if prompt is None:
            n = 1 if num_samples is None else _checks.check_positive_int(num_samples, "num_samples")
            prompts, ids = [""] * n, [np.array([self.tokenizer.start_id], dtype="int32")] * n
        else:
            prompts = [prompt] if single else list(prompt)
            if not prompts:
                raise ValueError("prompt is an empty list")
            if num_samples is not None:
                raise ValueError("num_samples applies only to prompt=None; repeat the prompt in a list instead")
            ids = self._prompt_ids(self.tokenizer, prompts)
        self._check_generation_length(max(len(i) for i in ids), max_new_tokens)
        rng, texts = np.random.default_rng(seed), [None] * len(prompts)
        for length in sorted({len(i) for i in ids}):
            rows = [r for r, i in enumerate(ids) if len(i) == length]
            logits, state, step = start(np.stack([ids[r] for r in rows]))
            new = sample_loop(logits, state, step, max_new_tokens, sampler, rng, self.tokenizer)
            for r, continuation in zip(rows, new):
                texts[r] = joined(self.tokenizer, prompts[r], self.tokenizer.decode(continuation))
        return texts[0] if single else texts

    def _check_generation_length(self, prompt_length, max_new_tokens):
        """Models with a context window refuse prompts that do not leave room; recurrent ones have none."""

    def _prompt_ids(self, tokenizer, prompts, add_start=True):
        """Prompt strings -> id arrays, refusing empty prompts and unknown characters."""
        for prompt in prompts:
            if not isinstance(prompt, str):
                raise TypeError(f"a prompt must be a string, got {type(prompt).__name__}")
            if not prompt:
                raise ValueError("empty prompt: pass prompt=None to start from the start token alone")
        return [tokenizer.encode(p, add_start=add_start, unknown="error") for p in prompts]


def joined(tokenizer, prompt, continuation):
    """Prompt + decoded continuation with the tokenizer's joiner between them (a space for words), so the
    last prompt word and the first new one stay two words."""
    gap = tokenizer.joiner if prompt and continuation and not prompt.endswith(tokenizer.joiner) else ""
    return prompt + gap + continuation


def never_generated(tokenizer):
    """Ids a model may score but must never emit: padding, start, unknown (and mask)."""
    banned = [tokenizer.pad_id, tokenizer.start_id, tokenizer.unknown_id]
    return banned + ([tokenizer.mask_id] if tokenizer.mask_id is not None else [])


def generation_logits(logits, banned):
    """Next-token logits with the banned ids at -inf: samplers renormalise over the rest."""
    logits = np.array(logits, dtype="float64")
    logits[:, banned] = -np.inf
    return logits


def sample_loop(first_logits, state, step, max_new_tokens, sampler, rng, tokenizer):
    """Draw up to max_new_tokens ids per row with a NumPy rng: sample, feed back through step(tokens, state).

    Padding, start and unknown ids are never drawn. Rows that produced the end id stop (later
    positions are padding); the loop ends when all have. Returns an int array (batch, generated
    length), end ids included.
    """
    max_new_tokens = check_max_new_tokens(max_new_tokens)
    sampler, banned = sampling.get(sampler), never_generated(tokenizer)
    logits, out = first_logits, []
    end_id, pad_id = tokenizer.end_id, tokenizer.pad_id
    done = np.zeros(len(logits), dtype=bool)
    for position in range(max_new_tokens):
        tokens = np.where(done, pad_id, sampler(generation_logits(logits, banned), rng)).astype("int32")
        out.append(tokens)
        done |= tokens == end_id
        if done.all() or position == max_new_tokens - 1:
            break
        logits, state = step(tokens, state)
    return np.stack(out, axis=1)


def check_max_new_tokens(value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"max_new_tokens must be a positive integer, got {value!r}")
    return int(value)
