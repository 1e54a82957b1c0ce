"""A small decoder-only Transformer language model (GPT), character level, with a key/value cache.

Token embedding + positional embedding -> pre-norm Transformer blocks with causal self-attention
-> final LayerNorm -> logits. Training is teacher forcing on windows of `context_length` + 1 ids,
exactly as for notebook 08's GRU. Generation keeps each layer's keys and values of past positions
in a cache: the prompt fills it in one pass, and each new token then costs one position.
`generate(..., use_cache=False)` re-runs the whole sequence for every token instead, for comparison.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from keras_genai import _checks, tokenizers
from keras_genai.layers import PositionalEmbedding, TransformerBlock
from keras_genai.models._sequence import SequenceModel, check_ids, generation_logits, never_generated


class TransformerStack(SequenceModel):
    """Embeddings -> blocks -> LayerNorm -> logits; shared by GPT (causal) and the masked LM (not)."""

    causal = True

    def __init__(self, tokenizer, context_length=128, num_layers=4, num_heads=4, embed_dim=128, mlp_dim=None,
                 dropout=0.0, positions="learned", **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizers.deserialize(tokenizer)
        self.context_length = _checks.check_positive_int(context_length, "context_length")
        self.num_layers = _checks.check_positive_int(num_layers, "num_layers")
        self.num_heads = _checks.check_positive_int(num_heads, "num_heads")
        self.embed_dim = _checks.check_positive_int(embed_dim, "embed_dim")
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim={embed_dim} must be a multiple of num_heads={num_heads}")
        self.mlp_dim = _checks.check_positive_int(mlp_dim or 4 * self.embed_dim, "mlp_dim")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.dropout, self.positions = float(dropout), positions
        self.head_dim = self.embed_dim // self.num_heads
        vocab = self.tokenizer.vocab_size
        self.token_embedding = layers.Embedding(vocab, self.embed_dim, name="token_embedding",
                                                embeddings_initializer=keras.initializers.RandomNormal(stddev=0.02))
        self.position_embedding = PositionalEmbedding(self.context_length, self.embed_dim, positions, name="positions")
        self.blocks = [TransformerBlock(self.num_heads, self.head_dim, self.mlp_dim, self.causal, self.dropout,
                                        name=f"block_{i}") for i in range(self.num_layers)]
        self.final_norm = layers.LayerNormalization(epsilon=1e-5, name="final_norm")
        # Small output weights: untrained logits near 0, so the first loss is about ln V.
        self.head = layers.Dense(vocab, name="logits", kernel_initializer=keras.initializers.RandomNormal(stddev=0.02))
        self.drop = layers.Dropout(self.dropout)
        self._make_token_trackers(*self._extra_tracker_names())
        self._graphs = {}

    def _extra_tracker_names(self):
        return ()

    def build(self, input_shape=None):
        shape = (None, None, self.embed_dim)
        self.token_embedding.build((None, None))
        self.position_embedding.build(shape)
        for block in self.blocks:
            block.build(shape)
        self.final_norm.build(shape)
        self.head.build(shape)
        self.built = True

    def _vocab_sizes(self):
        return (self.tokenizer.vocab_size,)

    def _check_length(self, length):
        if length > self.context_length:
            raise ValueError(f"sequences of {length} tokens are longer than the context window of "
                             f"{self.context_length}: cut them with datasets.token_windows(..., {self.context_length})")

    def call(self, ids, training=False, cache=None, start=0, key_mask=None, return_weights=False):
        """ids (b, t) -> logits (b, t, vocab). With cache (one (keys, values) pair per layer, each
        (b, heads, context, head_dim)), ids are positions start..start+t-1 and the call returns
        (logits, cache); with return_weights also the
        attention weights of every layer."""
        x = self.drop(self.position_embedding(self.token_embedding(ids), start=start), training=training)
        new_cache, all_weights = [], []
        for i, block in enumerate(self.blocks):
            x, layer_cache, weights = block(x, cache=None if cache is None else cache[i], start=start,
                                            key_mask=key_mask, training=training, return_weights=return_weights)
            new_cache.append(layer_cache)
            all_weights.append(weights)
        logits = self.head(self.final_norm(x))
        outputs = (logits,) + ((new_cache,) if cache is not None else ()) + ((all_weights,) if return_weights else ())
        return outputs[0] if len(outputs) == 1 else outputs

    def attention_maps(self, text):
        """Attention weights of every layer for one text read after the start token: a list of arrays
        (heads, t, t) with t = len(text) + 1."""
        ids = self.tokenizer.encode(text, add_start=True)[None]
        self._check_length(ids.shape[1])
        _, weights = self(ids, return_weights=True)
        return [np.asarray(w)[0] for w in weights]

    def get_config(self):
        config = super().get_config()
        config.update(tokenizer=tokenizers.serialize(self.tokenizer), context_length=self.context_length,
                      num_layers=self.num_layers, num_heads=self.num_heads, embed_dim=self.embed_dim,
                      mlp_dim=self.mlp_dim, dropout=self.dropout, positions=self.positions)
        return config


@keras.saving.register_keras_serializable(package="keras_genai")
class GPT(TransformerStack):
    """Decoder-only Transformer LM: p(x_t | x_<t) through causal self-attention.

    Train on windows from `datasets.token_windows(ids, context_length)` (inputs ids[:, :-1], targets
    ids[:, 1:], padding skipped); `evaluate` reports nats (`loss`) and bits per character.
    """

    def _data_help(self):
        return "GPT trains on one int array of token ids (batch, length <= context_length + 1)"

    def _logits_and_targets(self, data, training):
        ids = data[0] if isinstance(data, (tuple, list)) else data
        return self(ids[:, :-1], training=training), ids[:, 1:]

    def _check_data(self, data, name):
        super()._check_data(data, name)
        spec = getattr(data, "element_spec", None)
        width = (spec[0] if isinstance(spec, (tuple, list)) else spec).shape[-1] if spec is not None else (
            np.shape(data[0] if isinstance(data, tuple) else data)[-1])
        if width is not None:
            self._check_length(width - 1)

    def empty_cache(self, batch_size):
        """One (keys, values) pair of zeros per layer, each (batch, heads, context_length, head_dim)."""
        shape = (batch_size, self.num_heads, self.context_length, self.head_dim)
        # In the layers' compute dtype: float16 keys and values under mixed_float16 are written into it.
        return [(ops.zeros(shape, self.compute_dtype), ops.zeros(shape, self.compute_dtype)) for _ in range(self.num_layers)]

    def prefill(self, ids):
        """Run prompts (b, t) once, filling a fresh cache: -> (logits of the last position (b, vocab), cache)."""
        logits, cache = self(ids, cache=self.empty_cache(ops.shape(ids)[0]), start=0)
        return logits[:, -1], cache

    def step(self, tokens, state):
        """One new token per row with state (cache, position) -> (logits (b, vocab), (cache, position + 1))."""
        cache, position = state
        logits, cache = self(tokens[:, None], cache=cache, start=position)
        return logits[:, 0], (cache, position + 1)

    def _compiled(self, name):
        if name not in self._graphs:
            fn = {"prefill": self.prefill, "step": self.step,
                  "last": lambda ids: self(ids, training=False)[:, -1]}[name]
            # One graph for every prompt length: ids of any (batch, length), as int32.
            signature = None if name == "step" else [tf.TensorSpec((None, None), tf.int32)]
            self._graphs[name] = tf.function(fn, input_signature=signature, reduce_retracing=True)
        return self._graphs[name]

    def next_token_logits(self, ids):
        """Logits of the token after each full sequence, as generate samples them: the uncached path."""
        ids = check_ids(ids, self.tokenizer.vocab_size).astype("int32")
        self._check_length(ids.shape[1])
        return generation_logits(self._compiled("last")(ids), never_generated(self.tokenizer))

    def _rerun_step(self, tokens, ids):
        ids = np.concatenate([ids, np.asarray(tokens, "int32")[:, None]], axis=1)
        return self._compiled("last")(ids), ids

    def generate(self, prompt=None, max_new_tokens=100, sampler="greedy", num_samples=None, seed=None, use_cache=True):
        """Continue prompt(s) one token at a time; returns prompt + continuation (see CharLanguageModel).

        The prompt (with its start token) plus max_new_tokens must fit in the context window.
        use_cache=False re-runs the whole sequence for every new token (same tokens, slower).
        """
        def start(batch):
            if not use_cache:
                return self._compiled("last")(batch), batch, self._rerun_step
            logits, cache = self._compiled("prefill")(batch)
            return logits, (cache, tf.constant(batch.shape[1], "int32")), self._compiled("step")

        return self._continue_prompts(prompt, num_samples, max_new_tokens, sampler, seed, start)

    def _check_generation_length(self, prompt_length, max_new_tokens):
        if prompt_length + max_new_tokens - 1 > self.context_length:
            raise ValueError(
                f"the prompt ({prompt_length} tokens with the start token) plus max_new_tokens={max_new_tokens} "
                f"exceeds the context window of {self.context_length} tokens: shorten the prompt or ask for fewer tokens")
