"""What restoration, super-resolution and translation models learn to undo: seeded, NumPy in and out.

Every function takes a batch of images (n, height, width, channels) in [0, 1] and returns new
arrays in [0, 1]; the same seed gives the same corruption, so test sets stay fixed.
"""

import numpy as np
from scipy import ndimage

from keras_genai import _checks


def _image_batch(images, name="images"):
    array = _checks.as_float_array(images, name)
    if array.ndim != 4:
        raise ValueError(f"{name} must be a batch (n, height, width, channels), got shape {array.shape}")
    return _checks.check_range(_checks.check_finite(array, name), 0.0, 1.0, name)


def add_noise(images, std, seed=0):
    """clip(x + N(0, std^2), 0, 1): the denoising task."""
    x = _image_batch(images)
    std = _checks.check_positive_number(std, "std")
    return np.clip(x + np.random.default_rng(seed).normal(0.0, std, x.shape), 0.0, 1.0).astype("float32")


def mask_square(images, size, seed=0):
    """One random size x size square per image set to 0: the inpainting task.

    Returns (masked images, mask) with mask 1.0 on the hidden pixels, shape (n, height, width, 1).
    """
    x = _image_batch(images)
    size = _checks.check_positive_int(size, "size")
    n, height, width, _ = x.shape
    if size > min(height, width):
        raise ValueError(f"a {size} x {size} square does not fit in {height} x {width} images")
    rng = np.random.default_rng(seed)
    rows, cols = rng.integers(0, height - size + 1, n), rng.integers(0, width - size + 1, n)
    mask = np.zeros((n, height, width, 1), "float32")
    for i, (row, col) in enumerate(zip(rows, cols)):
        mask[i, row:row + size, col:col + size] = 1.0
    return x * (1.0 - mask), mask


def downsample(images, factor):
    """Mean of each factor x factor block (what a coarser sensor records): 28 x 28 -> 14 x 14 for factor 2."""
    x = _image_batch(images)
    factor = _checks.check_positive_int(factor, "factor")
    n, height, width, channels = x.shape
    if height % factor or width % factor:
        raise ValueError(f"{height} x {width} images cannot be split into {factor} x {factor} blocks")
    blocks = x.reshape(n, height // factor, factor, width // factor, factor, channels)
    return blocks.mean(axis=(2, 4))


def upsample(images, size, method="bicubic"):
    """Classical interpolation to size = (height, width): the baselines of super-resolution.

    method: "nearest", "bilinear" or "bicubic" (cubic convolution, a = -0.5, TensorFlow's kernel);
    results are clipped to [0, 1] because bicubic overshoots at edges.
    """
    import tensorflow as tf  # imported here: the other degradations need no TensorFlow

    x = _image_batch(images)
    method = _checks.check_choice(method, {"nearest", "bilinear", "bicubic"}, "method")
    resized = tf.image.resize(x, tuple(size), method=method, antialias=False)
    return np.clip(resized.numpy(), 0.0, 1.0).astype("float32")


def outline(images, threshold=0.5):
    """The one-pixel boundary of each digit's strokes: binarise at `threshold`, then dilation minus erosion
    with a 3 x 3 square (a morphological gradient). The image-to-image "edges -> digit" input."""
    x = _image_batch(images)
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    ink = x > threshold
    square = np.ones((1, 3, 3, 1), bool)
    edges = ndimage.binary_dilation(ink, square) & ~ndimage.binary_erosion(ink, square)
    return edges.astype("float32")
