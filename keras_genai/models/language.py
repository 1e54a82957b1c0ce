"""A character-level recurrent language model: p(x) = prod_t p(x_t | x_<t).

Embedding -> GRU layers -> Dense logits over the vocabulary. A GRU rather than an LSTM: one
state vector per layer instead of two and a quarter fewer weights, with the same quality on
character data this size. Training is teacher forcing: position t reads the true x_<t and is
scored on x_t. Generation carries each layer's state forward one token at a time, so a new
token costs one GRU step, never a re-run of the prompt.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from keras_genai import _checks, tokenizers
from keras_genai.models._sequence import SequenceModel, check_ids, generation_logits, never_generated, sample_loop


@keras.saving.register_keras_serializable(package="keras_genai")
class CharLanguageModel(SequenceModel):
    """Next-character model over a CharTokenizer's vocabulary.

    Train on padded id arrays from `tokenizer.encode_batch(texts, add_start=True, add_end=True)`
    (or `datasets.token_windows` for long texts): inputs are ids[:, :-1], targets ids[:, 1:], and
    padding targets never count. `evaluate` reports nats per character (`loss`) and bits per character.
    """

    def __init__(self, tokenizer, embedding_dim=64, units=256, num_layers=1, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizers.deserialize(tokenizer)
        self.embedding_dim = _checks.check_positive_int(embedding_dim, "embedding_dim")
        self.units = _checks.check_positive_int(units, "units")
        self.num_layers = _checks.check_positive_int(num_layers, "num_layers")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.dropout = float(dropout)
        vocab = self.tokenizer.vocab_size
        self.embedding = layers.Embedding(vocab, self.embedding_dim, name="embedding")
        self.rnns = [
            layers.GRU(self.units, return_sequences=True, return_state=True, name=f"gru_{i}")
            for i in range(self.num_layers)
        ]
        self.drop = layers.Dropout(self.dropout, name="dropout")
        self.head = layers.Dense(vocab, name="logits")
        self._make_token_trackers()
        self._graphs = {}

    def build(self, input_shape=None):
        self.embedding.build((None, None))
        width = self.embedding_dim
        for rnn in self.rnns:
            rnn.build((None, None, width))
            width = self.units
        self.head.build((None, None, self.units))
        self.built = True

    def _vocab_sizes(self):
        return (self.tokenizer.vocab_size,)

    def _data_help(self):
        return "CharLanguageModel trains on one int array of token ids (batch, length)"

    def call(self, ids, training=False, initial_state=None, return_state=False):
        """ids (batch, length) -> next-token logits (batch, length, vocab) [, final states per layer]."""
        x = self.embedding(ids)
        states = []
        for i, rnn in enumerate(self.rnns):
            x, h = rnn(x, initial_state=None if initial_state is None else initial_state[i], training=training)
            x = self.drop(x, training=training)
            states.append(h)
        logits = self.head(x)
        return (logits, states) if return_state else logits

    def _logits_and_targets(self, data, training):
        ids = data[0] if isinstance(data, (tuple, list)) else data
        return self(ids[:, :-1], training=training), ids[:, 1:]

    def step(self, tokens, states):
        """One token per row (batch,) and the layers' states -> next-token logits (batch, vocab), new states."""
        x = self.embedding(tokens)
        new_states = []
        for rnn, h in zip(self.rnns, states):
            x, h = rnn.cell(x, h, training=False)
            new_states.append(h)
        return self.head(x), new_states

    def _compiled(self, name):
        """step and the full forward pass as graphs (traced once per input rank): fair speed for both paths."""
        if name not in self._graphs:
            fn = self.step if name == "step" else (lambda ids: self(ids, training=False)[:, -1])
            self._graphs[name] = tf.function(fn, reduce_retracing=True)
        return self._graphs[name]

    def next_token_logits(self, ids):
        """Logits of the token after each full sequence (batch, length), as generate samples them
        (padding, start and unknown at -inf): the slow path, re-running the whole sequence."""
        logits = self._compiled("last")(check_ids(ids, self.tokenizer.vocab_size))
        return generation_logits(logits, never_generated(self.tokenizer))

    def generate(self, prompt=None, max_new_tokens=100, sampler="greedy", num_samples=None, seed=None):
        """Continue prompt(s) by sampling one character at a time; returns prompt + continuation.

        prompt: a string, a list of strings, or None (start from the start token alone: e.g. new
        names), in which case num_samples says how many. sampler: a name or a sampling.Sampler.
        A fixed seed gives the same text. A row stops at the end token (not part of the text).
        """
        return self._continue_prompts(prompt, num_samples, max_new_tokens, sampler, seed, self._start)

    def _start(self, batch):
        """The prompt runs once through the GRU; then one step per new token."""
        logits, states = self(batch, return_state=True)
        return np.asarray(logits)[:, -1], states, self._compiled("step")

    def sample_ids(self, num_samples, max_new_tokens=20, sampler="temperature", rng=None):
        """num_samples sequences drawn from the start token, as ids (num_samples, 1 + max_new_tokens):
        the start id, the drawn ids (end id included), then padding. The ids a policy-gradient step
        needs, where generate() would return text; rows that reach max_new_tokens have no end id."""
        num_samples = _checks.check_positive_int(num_samples, "num_samples")
        rng = np.random.default_rng(rng)
        start = np.full((num_samples, 1), self.tokenizer.start_id, dtype="int32")
        first_logits, states, step = self._start(start)
        drawn = sample_loop(first_logits, states, step, max_new_tokens, sampler, rng, self.tokenizer)
        ids = np.full((num_samples, 1 + max_new_tokens), self.tokenizer.pad_id, dtype="int32")
        ids[:, 0], ids[:, 1:1 + drawn.shape[1]] = self.tokenizer.start_id, drawn
        return ids

    def get_config(self):
        config = super().get_config()
        config.update(
            tokenizer=tokenizers.serialize(self.tokenizer), embedding_dim=self.embedding_dim, units=self.units,
            num_layers=self.num_layers, dropout=self.dropout,
        )
        return config

