"""Export a trained image generator for serving, and make training runs repeatable.

`export_generator` writes a TensorFlow SavedModel (what TF Serving loads) whose signatures need
nothing from this package: `serving_default` maps latent codes to images in [0, 1], and
`from_seed` maps (number of samples, integer seed) to images, drawing the codes with TensorFlow's
stateless normal generator so that the same seed gives the same images in any process.
`load_generator` reads it back with `tf.saved_model.load`.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from keras_genai.models.gan import GAN
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
