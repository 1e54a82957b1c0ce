"""Export a trained image generator for serving, and make training runs repeatable.

`export_generator` writes a TensorFlow SavedModel (what TF Serving loads) whose signatures need
nothing from this package: `serving_default` maps latent codes to images in [0, 1], and
`from_seed` maps (number of samples, integer seed) to images, drawing the codes with TensorFlow's
stateless normal generator so that the same seed gives the same images in any process.
`load_generator` reads it back with `tf.saved_model.load`.

`export_text_generator` does the same for a character language model: its `serving_default`
maps (prompts, max_new_tokens, temperature, seed) to texts, the tokenizer, the sampling loop and
the decoding all inside the graph, so a server needs neither Python nor this package.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from keras_genai.models._sequence import never_generated
from keras_genai.models.gan import GAN
from keras_genai.models.language import CharLanguageModel
from keras_genai.models.vae import VAE


def _network_and_unit_range(model):
    """The network z -> image of a generative model, and the map of its output to [0, 1]."""
    if isinstance(model, VAE) and not hasattr(model, "num_classes"):
        return model.decoder, tf.sigmoid  # the decoder returns Bernoulli logits
    if isinstance(model, GAN) and not hasattr(model, "num_classes"):
        low, high = model.value_range
        return model.generator, lambda x: tf.clip_by_value((x - low) / (high - low), 0.0, 1.0)
    raise TypeError(f"export_generator takes an unconditional GAN, WGANGP or VAE, got {type(model).__name__} "
                    "(a conditional model's signature would also need the labels)")


class _Serving(tf.Module):
    def __init__(self, network, to_unit_range, latent_dim):
        super().__init__()
        self.network, self.latent_dim = network, latent_dim
        self.from_latent = tf.function(
            lambda z: {"images": to_unit_range(self.network(z, training=False))},
            input_signature=[tf.TensorSpec([None, latent_dim], tf.float32, name="z")])
        self.from_seed = tf.function(
            lambda n, seed: self.from_latent(tf.random.stateless_normal(tf.stack([n, latent_dim]),
                                                                        seed=tf.stack([seed, 0]))),
            input_signature=[tf.TensorSpec([], tf.int32, name="n"), tf.TensorSpec([], tf.int32, name="seed")])


def export_generator(model, path):
    """Save the generator of `model` as a SavedModel at `path` (a folder); returns the path."""
    network, to_unit_range = _network_and_unit_range(model)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a folder path, got {type(path).__name__}")
    module = _Serving(network, to_unit_range, int(model.latent_dim))
    tf.saved_model.save(module, os.fspath(path),
                        signatures={"serving_default": module.from_latent, "from_seed": module.from_seed})
    return os.fspath(path)


def load_generator(path):
    """The exported signatures as functions: {"serving_default": f(z=...), "from_seed": f(n=..., seed=...)},
    each returning {"images": ...}."""
    if not os.path.isdir(os.fspath(path)):
        raise FileNotFoundError(f"no SavedModel folder at {path}")
    return dict(tf.saved_model.load(os.fspath(path)).signatures)


class _TextServing(tf.Module):
    """Prompts -> prompt + sampled continuation, one GRU step per character, all in TensorFlow."""

    def __init__(self, model):
        super().__init__()
        self.model, tok = model, model.tokenizer
        self.start_id, self.end_id, self.pad_id = tok.start_id, tok.end_id, tok.pad_id
        self.units = [model.units] * model.num_layers
        ids = tf.range(tok.first_character_id, tok.vocab_size)
        self.char_to_id = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(tok.characters), ids), default_value=tok.unknown_id)
        self.id_to_char = tf.constant([""] * tok.first_character_id + tok.characters)
        banned = np.zeros(tok.vocab_size, "float32")
        banned[never_generated(tok)] = -np.inf
        self.banned = tf.constant(banned)
        self.generate = tf.function(self._generate, input_signature=[
            tf.TensorSpec([None], tf.string, name="prompts"), tf.TensorSpec([], tf.int32, name="max_new_tokens"),
            tf.TensorSpec([], tf.float32, name="temperature"), tf.TensorSpec([], tf.int32, name="seed")])

    def _generate(self, prompts, max_new_tokens, temperature, seed):
        chars = tf.strings.unicode_split(prompts, "UTF-8")
        ids = self.char_to_id.lookup(chars)
        tf.debugging.assert_none_equal(ids.flat_values, tf.constant(self.model.tokenizer.unknown_id, tf.int32),
                                       message="a prompt holds a character outside the vocabulary of the model")
        batch = tf.shape(prompts)[0]
        start = tf.fill([batch, 1], self.start_id)
        prompt_ids = tf.concat([start, ids.to_tensor(self.pad_id)], axis=1)
        lengths = ids.row_lengths() + 1
        states = [tf.zeros([batch, units]) for units in self.units]
        logits = tf.zeros([batch, len(self.banned)])
        # The prompt, one step per position; a row keeps its state once its own prompt has ended.
        for t in tf.range(tf.shape(prompt_ids)[1]):
            step_logits, new_states = self.model.step(prompt_ids[:, t], states)
            live = tf.cast(t, lengths.dtype) < lengths
            logits = tf.where(live[:, None], step_logits, logits)
            states = [tf.where(live[:, None], new, old) for new, old in zip(new_states, states)]
        done = tf.zeros([batch], tf.bool)
        drawn = tf.TensorArray(tf.int32, size=max_new_tokens)
        for t in tf.range(max_new_tokens):
            scores = tf.cast(logits, tf.float32) + self.banned
            greedy = tf.argmax(scores, axis=-1, output_type=tf.int32)
            sampled = tf.random.stateless_categorical(scores / tf.maximum(temperature, 1e-6), 1,
                                                      seed=tf.stack([seed, t]), dtype=tf.int32)[:, 0]
            tokens = tf.where(done, self.pad_id, tf.where(temperature > 0, sampled, greedy))
            drawn = drawn.write(t, tokens)
            done = done | tf.equal(tokens, self.end_id)
            logits, states = self.model.step(tokens, states)
        continuation = tf.strings.reduce_join(tf.gather(self.id_to_char, tf.transpose(drawn.stack())), axis=-1)
        return {"texts": prompts + continuation}


def export_text_generator(model, path):
    """Save a CharLanguageModel's sampler as a SavedModel at `path`; returns the path.

    Its `serving_default(prompts, max_new_tokens, temperature, seed)` returns {"texts": prompt +
    continuation}; temperature 0 is greedy decoding (what generate(sampler="greedy") writes) and
    a seed fixes the draws (TensorFlow's stateless sampler, not generate()'s NumPy one).
    """
    if not isinstance(model, CharLanguageModel):
        raise TypeError(f"export_text_generator takes a CharLanguageModel, got {type(model).__name__}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a folder path, got {type(path).__name__}")
    module = _TextServing(model)
    tf.saved_model.save(module, os.fspath(path), signatures={"serving_default": module.generate})
    return os.fspath(path)


def make_reproducible(seed):
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's ops deterministic.

    On a CPU the remaining sources of run-to-run differences are the order of parallel reductions,
    which op determinism fixes; on a GPU some kernels have no deterministic version and raise an
    error instead (which is the point: a silent difference is worse). Call it before building models.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()
