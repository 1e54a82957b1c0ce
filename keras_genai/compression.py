"""Smaller models for inference: Keras' int8 quantization, float16 weights and magnitude pruning.

Each function returns a new, uncompiled copy (the trained model is left as it was) so that the
original and the compressed model can be scored side by side. `file_size` measures what a saved
`.keras` file costs on disk.

Pruning is written here because the maintained tool, tensorflow-model-optimization (0.8.1), wraps
tf_keras (Keras 2) layers and cannot prune Keras 3 models. It is magnitude pruning in one shot,
per layer, with no fine-tuning afterwards; zeros only save space once the file is compressed.
"""

import contextlib
import os
import tempfile
import warnings
import zipfile

import keras
import numpy as np

# Variables that hold a layer's weights matrix; biases, norms and scales stay dense.
_PRUNABLE = ("kernel", "embeddings", "recurrent_kernel")


def inference_copy(model):
    """An uncompiled copy with the same weights: what the compressed copies are compared with (a
    compiled model's file also holds the optimizer's state, twice the weights for Adam)."""
    return _copy(model)


def _copy(model, dtype_policy=None):
    """A new model from the config with the same weights; layers created under `dtype_policy`."""
    config = model.get_config()
    if dtype_policy:  # functional sub-networks name each layer's policy in their config
        config = _with_policy(config, dtype_policy)
    scope = _global_policy(dtype_policy) if dtype_policy else contextlib.nullcontext()
    with scope:  # some layers are created in build(), so build inside the scope too
        copy = type(model).from_config(config)
        if not copy.built:  # models of functional networks are built by their config
            copy.build()
    copy.set_weights([np.asarray(w) for w in model.get_weights()])
    return copy


def _with_policy(config, name):
    """The config with every serialized float32 DTypePolicy replaced by `name`."""
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy" and config.get("config", {}).get("name") == "float32":
            return {**config, "config": {**config["config"], "name": name}}
        return {key: _with_policy(value, name) for key, value in config.items()}
    if isinstance(config, list):
        return [_with_policy(value, name) for value in config]
    return config


@contextlib.contextmanager
def _global_policy(name):
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def quantized_copy(model, mode="int8"):
    """A copy with Keras' weight quantization (`model.quantize(mode)`) applied.

    Keras quantizes Dense, EinsumDense and Embedding layers; others (convolutions, GRU cells) stay
    float. Returns (copy, sorted names of the layer types whose weight matrices stay float), in place
    of Keras' warning for each layer it cannot quantize.
    """
    copy = _copy(model)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Layer .* does not have a `quantize` method")
        copy.quantize(mode)
    float_left = {type(layer).__name__ for layer in copy._flatten_layers(include_self=False)
                  if layer.quantization_mode is None and _prunable(layer, recursive=False)}
    return copy, sorted(float_left)


def float16_copy(model):
    """A copy whose layers compute and store their weights in float16 (half the bytes of float32)."""
    return _copy(model, "float16")


def _prunable(layer, recursive=True):
    """The weight matrices of a model or layer (only its own with recursive=False)."""
    variables = layer.weights if recursive else layer._trainable_variables + layer._non_trainable_variables
    return [v for v in variables if v.path.split("/")[-1] in _PRUNABLE]


def magnitude_pruned_copy(model, sparsity):
    """A copy with the fraction `sparsity` of each weight matrix set to zero, smallest |w| first.

    Returns (copy, achieved sparsity over all weight matrices). Per layer rather than global, so no
    layer is emptied: a global threshold would take most from the layers whose weights are smallest.
    """
    if not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must be in [0, 1), the fraction of weights set to zero, got {sparsity}")
    copy = _copy(model)
    zeros = total = 0
    for variable in _prunable(copy):
        w = np.asarray(variable)
        k = int(round(sparsity * w.size))
        if k:
            threshold = np.partition(np.abs(w).ravel(), k - 1)[k - 1]
            w = np.where(np.abs(w) <= threshold, 0.0, w).astype(w.dtype)
            variable.assign(w)
        zeros, total = zeros + int((w == 0).sum()), total + w.size
    if not total:
        raise ValueError(f"{type(model).__name__} has no weight matrices to prune")
    return copy, zeros / total


def file_size(model, compressed=False):
    """Bytes of the model saved as .keras (zip-compressed if `compressed`: what pruning's zeros save)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        if not compressed:
            return os.path.getsize(path)
        packed = os.path.join(folder, "packed.zip")
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
            for item in source.infolist():
                out.writestr(item.filename, source.read(item.filename))
        return os.path.getsize(packed)
