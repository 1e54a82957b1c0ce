"""Scores for the toy 2-D ring of Gaussians."""

import dataclasses

import numpy as np

from keras_genai import _checks
from keras_genai.datasets import toy


@dataclasses.dataclass
class RingCoverage:
    """How generated 2-D points cover `datasets.ring_of_gaussians`: quality and diversity."""

    near_fraction: float  # share of points within n_std standard deviations of some mode centre
    modes_covered: int  # modes holding at least a quarter of their fair share of all points
    mode_counts: np.ndarray  # near points per mode
    modes: int

    def __str__(self):
        return (
            f"{self.near_fraction:.1%} of points near a mode; {self.modes_covered}/{self.modes} modes covered; "
            f"near points per mode: {self.mode_counts.tolist()}"
        )


def ring_coverage(points, modes=8, radius=2.0, std=0.05, n_std=3.0):
    """Score points against the ring the data came from (same modes, radius and std).

    A point is "near" mode k when it lies within n_std * std of its centre; a mode counts as
    covered when at least a quarter of the n / modes points a perfect sampler would put
    there are near it. A collapsed generator scores few modes; a blurry one a low near_fraction.
    """
    points = _checks.check_finite(_checks.as_float_array(points, "points"), "points")
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2), got {points.shape}")
    centres = toy.ring_centres(modes, radius)
    distances = np.linalg.norm(points[:, None, :] - centres[None], axis=-1)
    nearest = distances.argmin(axis=1)
    near = distances.min(axis=1) <= n_std * std
    counts = np.bincount(nearest[near], minlength=modes)
    covered = int(np.sum(counts >= 0.25 * len(points) / modes))
    return RingCoverage(float(near.mean()), covered, counts, modes)
