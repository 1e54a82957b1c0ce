"""Toy 2-D data where failures such as mode collapse are visible at a glance."""

import numpy as np

from keras_genai import _checks


def ring_of_gaussians(n, modes=8, radius=2.0, std=0.05, seed=0):
    """A 2-D mixture of `modes` Gaussians on a circle: mode collapse is visible at a glance.

    Returns (points float32 (n, 2), mode index int64 (n,)).
    """
    n = _checks.check_positive_int(n, "n")
    modes = _checks.check_positive_int(modes, "modes")
    rng = np.random.default_rng(seed)
    mode = rng.integers(0, modes, size=n)
    angle = 2 * np.pi * mode / modes
    centres = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    points = centres + std * rng.standard_normal((n, 2))
    return points.astype("float32"), mode.astype("int64")


def ring_centres(modes=8, radius=2.0):
    angle = 2 * np.pi * np.arange(modes) / modes
    return radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)
