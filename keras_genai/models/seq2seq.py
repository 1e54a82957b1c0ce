"""An encoder-decoder (seq2seq) model with attention, character level on both sides.

Encoder: embedding -> bidirectional GRU -> one vector h_s per source character (forward and
backward states concatenated), padding masked. Its final states, through a dense layer, start the
decoder. Decoder: embedding -> GRU over the target so far -> attention of its state s_t over all
h_s -> context c_t -> tanh(W [s_t; c_t]) -> logits of the next character. Attention reads the
decoder state after its step (Luong's placement, with Bahdanau's additive score by default), so
teacher forcing runs the whole target in one GRU call. With attention=None the decoder sees the
source only through its initial state: the fixed-size bottleneck attention removes.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops
from scipy import special

from keras_genai import _checks, sampling, tokenizers
from keras_genai.layers import SCORES, Attention
from keras_genai.models._sequence import (
    SequenceModel, check_max_new_tokens, generation_logits, never_generated, sample_loop,
)


@keras.saving.register_keras_serializable(package="keras_genai")
class Seq2Seq(SequenceModel):
    """Source text -> target text. Data: (source ids, target ids), the target framed by start and end ids.

    attention: "additive" (Bahdanau), "multiplicative" (Luong) or None.
    """

    def __init__(self, source_tokenizer, target_tokenizer, embedding_dim=32, units=128, attention="additive",
                 max_target_length=40, **kwargs):
        super().__init__(**kwargs)
        self.source_tokenizer = tokenizers.deserialize(source_tokenizer)
        self.target_tokenizer = tokenizers.deserialize(target_tokenizer)
        self.embedding_dim = _checks.check_positive_int(embedding_dim, "embedding_dim")
        self.units = _checks.check_positive_int(units, "units")
        if attention is not None and attention not in SCORES:
            raise ValueError(f"attention must be one of {SCORES} or None, got {attention!r}")
        self.attention_score = attention
        self.max_target_length = _checks.check_positive_int(max_target_length, "max_target_length")
        self.source_embedding = layers.Embedding(self.source_tokenizer.vocab_size, self.embedding_dim, name="source_embedding")
        self.encoder = layers.Bidirectional(
            layers.GRU(self.units, return_sequences=True, return_state=True), merge_mode="concat", name="encoder")
        self.bridge = layers.Dense(self.units, activation="tanh", name="bridge")
        self.target_embedding = layers.Embedding(self.target_tokenizer.vocab_size, self.embedding_dim, name="target_embedding")
        self.decoder = layers.GRU(self.units, return_sequences=True, return_state=True, name="decoder")
        self.attention = None if attention is None else Attention(self.units, attention, name="attention")
        self.combine = layers.Dense(self.units, activation="tanh", name="combine")
        self.head = layers.Dense(self.target_tokenizer.vocab_size, name="logits")
        self._make_token_trackers("accuracy")
        self._graphs = {}

    def build(self, input_shape=None):
        u, e = self.units, self.embedding_dim
        self.source_embedding.build((None, None))
        self.encoder.build((None, None, e))
        self.bridge.build((None, 2 * u))
        self.target_embedding.build((None, None))
        self.decoder.build((None, None, e))
        if self.attention is not None:
            self.attention.build((None, None, u), (None, None, 2 * u))
        self.combine.build((None, None, u + (2 * u if self.attention is not None else 0)))
        self.head.build((None, None, u))
        self.built = True

    def _vocab_sizes(self):
        return (self.source_tokenizer.vocab_size, self.target_tokenizer.vocab_size)

    def _data_help(self):
        return ("Seq2Seq trains on (source ids, target ids): two int arrays from source_tokenizer.encode_batch(sources) "
                "and target_tokenizer.encode_batch(targets, add_start=True, add_end=True)")

    # --- the two halves ---------------------------------------------------------------------

    def encode(self, source_ids, training=False):
        """source ids (b, s) -> (encoder outputs (b, s, 2u), source mask (b, s), decoder initial state (b, u))."""
        mask = ops.not_equal(source_ids, tokenizers.CharTokenizer.pad_id)
        outputs, forward, backward = self.encoder(self.source_embedding(source_ids), mask=mask, training=training)
        return outputs, mask, self.bridge(ops.concatenate([forward, backward], axis=-1))

    def _readout(self, decoder_states, encoder_outputs, mask):
        """Decoder states (b, t, u) -> logits (b, t, vocab) and attention weights (b, t, s) or None."""
        if self.attention is None:
            return self.head(self.combine(decoder_states)), None
        context, weights = self.attention(decoder_states, encoder_outputs, mask)
        return self.head(self.combine(ops.concatenate([decoder_states, context], axis=-1))), weights

    def call(self, inputs, training=False, return_attention=False):
        """(source ids, decoder input ids) -> logits (b, t, vocab) [, attention weights (b, t, s)]."""
        source_ids, decoder_ids = inputs
        encoder_outputs, mask, state = self.encode(source_ids, training)
        states, _ = self.decoder(self.target_embedding(decoder_ids), initial_state=state, training=training)
        logits, weights = self._readout(states, encoder_outputs, mask)
        return (logits, weights) if return_attention else logits

    def _logits_and_targets(self, data, training):
        if len(data) == 1:  # fit(x=(source_ids, target_ids)) arrives as ((source_ids, target_ids),)
            data = data[0]
        source_ids, target_ids = data
        return self((source_ids, target_ids[:, :-1]), training=training), target_ids[:, 1:]

    def _extra_figures(self, logits, targets):
        mask = ops.cast(ops.not_equal(targets, 0), "float32")
        hits = ops.cast(ops.equal(ops.argmax(logits, axis=-1), ops.cast(targets, "int64")), "float32")
        count = ops.sum(mask)
        return {"accuracy": (ops.sum(hits * mask) / ops.maximum(count, 1.0), count)}

    def step(self, tokens, state):
        """One decoding step for every row: (tokens (n,), (decoder state, encoder outputs, mask)) ->
        (next-token logits (n, vocab), the new state). Rows are independent: beam search reorders them."""
        h, encoder_outputs, mask = state
        h, _ = self.decoder.cell(self.target_embedding(tokens), h, training=False)
        logits, _ = self._readout(h[:, None, :], encoder_outputs, mask)
        return logits[:, 0], (h, encoder_outputs, mask)

    def _compiled(self, name):
        if name not in self._graphs:
            fn = {"encode": self.encode, "step": self.step}[name]
            self._graphs[name] = tf.function(fn, reduce_retracing=True)
        return self._graphs[name]

    # --- decoding -------------------------------------------------------------------------

    def _encode_sources(self, sources):
        if isinstance(sources, str):
            raise TypeError("pass a list of source strings (one string: [text])")
        sources = list(sources)
        if not sources:
            raise ValueError("no source texts to translate")
        self._prompt_ids(self.source_tokenizer, sources, add_start=False)  # refuses empty texts, unknown characters
        return self.source_tokenizer.encode_batch(sources, unknown="error")

    def _start_state(self, source_ids, repeat=1):
        outputs, mask, h = self._compiled("encode")(source_ids)
        state = (h, outputs, mask)
        return tf.nest.map_structure(lambda s: tf.repeat(s, repeat, axis=0), state)

    def generate(self, prompt, max_new_tokens=None, sampler="greedy", seed=None, batch_size=256):
        """Target texts for source texts (the shared sequence API), one sampled token at a time."""
        max_new_tokens = check_max_new_tokens(max_new_tokens or self.max_target_length)
        sources = self._encode_sources(prompt)
        rng, start, out = np.random.default_rng(seed), self.target_tokenizer.start_id, []
        sampler = sampling.get(sampler)
        for i in range(0, len(sources), batch_size):
            chunk = sources[i:i + batch_size]
            state = self._start_state(chunk)
            logits, state = self._compiled("step")(np.full(len(chunk), start, "int32"), state)
            new = sample_loop(logits, state, self._compiled("step"), max_new_tokens, sampler, rng, self.target_tokenizer)
            out += self.target_tokenizer.decode_batch(new)
        return out

    def translate(self, texts, beam_width=1, max_length=None, return_attention=False, batch_size=256):
        """Source strings -> target strings by beam search (beam_width=1 is greedy decoding).

        With return_attention, also returns one array per text of the attention weights
        (output characters + end token, source characters).
        """
        max_length = check_max_new_tokens(max_length or self.max_target_length)
        sources = self._encode_sources(texts)
        banned, results = never_generated(self.target_tokenizer), []
        for i in range(0, len(sources), batch_size):
            chunk = sources[i:i + batch_size]
            state = self._start_state(chunk, repeat=beam_width)

            def log_probs(tokens, state):
                logits, state = self._compiled("step")(tokens, state)
                logits = generation_logits(logits, banned)
                return logits - special.logsumexp(logits, axis=1, keepdims=True), state

            sequences, _ = sampling.beam_search(
                log_probs, state, len(chunk), self.target_tokenizer.start_id, self.target_tokenizer.end_id,
                beam_width, max_length)
            results += sequences
        outputs = [self.target_tokenizer.decode(seq) for seq in results]
        if not return_attention:
            return outputs
        return outputs, [self.attention_weights(s, o) for s, o in zip(texts, outputs)]

    def attention_weights(self, source, target):
        """Attention weights (len(target) + 1, len(source)) of the model reading target after source."""
        if self.attention is None:
            raise ValueError("this model has no attention (attention=None)")
        src = self.source_tokenizer.encode(source)[None]
        tgt = self.target_tokenizer.encode(target, add_start=True)[None]
        _, weights = self((src, tgt), return_attention=True)
        return np.asarray(weights)[0]

    def exact_match(self, sources, targets, beam_width=1):
        """Share of sources whose whole translation equals the target string."""
        predictions = self.translate(sources, beam_width=beam_width)
        return float(np.mean([p == t for p, t in zip(predictions, targets)]))

    def get_config(self):
        config = super().get_config()
        config.update(
            source_tokenizer=tokenizers.serialize(self.source_tokenizer),
            target_tokenizer=tokenizers.serialize(self.target_tokenizer), embedding_dim=self.embedding_dim,
            units=self.units, attention=self.attention_score, max_target_length=self.max_target_length,
        )
        return config
