"""Measured handwriting attributes of digits, from the pixels alone: slant, stroke thickness, height.

They let a notebook check a claim such as "the style was kept" or "the caption asked for a thick
seven" with a number instead of a look.
"""

import numpy as np
from scipy import ndimage

from keras_genai import _checks

INK = 0.5  # a pixel is ink when brighter than this fraction of its image's brightest pixel


def _binary_ink(images):
    x = _checks.as_float_array(images, "images")
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3:
        raise ValueError(f"images must be a batch (n, height, width[, 1]) of grey digits, got shape {x.shape}")
    _checks.check_range(_checks.check_finite(x, "images"), 0.0, 1.0, "images")
    # Relative to each image's maximum, so a faint (blurred, generated) digit is measured like a crisp one.
    peak = x.reshape(len(x), -1).max(axis=1)[:, None, None]
    return (x > INK * peak) & (peak > 0)


def digit_attributes(images):
    """Per image: slant, thickness and height, as a dict of arrays (nan for an all-black image).

    Ink: the pixels brighter than half the image's brightest pixel.
    slant: the horizontal shift of the ink per row going up, -cov(col, row) / var(row) from the
        second moments of the ink pixels; 0 is upright, positive leans right (a 0.3 slant moves
        the top of a 20-row digit 6 pixels right of its bottom).
    thickness: stroke width in pixels, 2 x ink area / boundary length (a stroke of length L and width
        w has area L w and a boundary of about 2 L); the boundary is the ink pixels with a non-ink
        4-neighbour.
    height: the number of rows that hold ink.
    """
    ink = _binary_ink(images)
    n, rows, cols = ink.shape
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    area = ink.reshape(n, -1).sum(axis=1).astype("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_r = (ink * r).reshape(n, -1).sum(1) / area
        mean_c = (ink * c).reshape(n, -1).sum(1) / area
        dr, dc = r[None] - mean_r[:, None, None], c[None] - mean_c[:, None, None]
        var_r = (ink * dr**2).reshape(n, -1).sum(1) / area
        cov = (ink * dr * dc).reshape(n, -1).sum(1) / area
        slant = -cov / var_r
        cross = np.zeros((1, 3, 3), bool)
        cross[0, 1, :] = cross[0, :, 1] = True
        boundary = (ink & ~ndimage.binary_erosion(ink, cross, border_value=0)).reshape(n, -1).sum(1)
        thickness = 2.0 * area / boundary
    height = ink.any(axis=2).sum(axis=1).astype("float64")
    empty = area == 0
    slant[empty] = thickness[empty] = height[empty] = np.nan
    return {"slant": slant, "thickness": thickness, "height": height}
