"""Moving digits: short clips of real digits bouncing around a larger frame (Srivastava et al. 2015).

Each clip places `digits` training digits at random positions with random velocities; a digit
that would leave the frame bounces off its edge. Overlapping digits combine by the pixel maximum.
Everything is drawn from one seed, so a clip set is reproducible.
"""

import numpy as np

from keras_genai import _checks


def _bounce(position, velocity, limit):
    """Advance one frame; reflect off 0 and limit (the largest top-left coordinate that keeps the digit inside)."""
    position = position + velocity
    low, high = position < 0, position > limit
    position = np.where(low, -position, np.where(high, 2 * limit - position, position))
    return position, np.where(low | high, -velocity, velocity)


def moving_digits(images, n_clips, frames=20, size=64, digits=2, speed=(2.0, 4.0), seed=0):
    """Clips (n_clips, frames, size, size, 1) in [0, 1] of `digits` digits from `images` (n, h, w[, 1]).

    Speeds are drawn uniformly in `speed` pixels per frame, directions uniformly on the circle;
    positions are rounded to whole pixels when drawn.
    """
    x = _checks.check_finite(_checks.as_float_array(images, "images"), "images")
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or len(x) == 0:
        raise ValueError(f"images must be a non-empty batch (n, height, width[, 1]), got shape {x.shape}")
    _checks.check_range(x, 0.0, 1.0, "images")
    n_clips, frames, size, digits = (_checks.check_positive_int(v, k) for v, k in
                                     ((n_clips, "n_clips"), (frames, "frames"), (size, "size"), (digits, "digits")))
    side = x.shape[1]
    if size < side:
        raise ValueError(f"size {size} is smaller than the digits ({side} pixels)")
    if not 0 < speed[0] <= speed[1]:
        raise ValueError(f"speed must be (low, high) with 0 < low <= high, got {speed}")
    rng = np.random.default_rng(seed)
    limit = size - side
    clips = np.zeros((n_clips, frames, size, size), dtype="float32")
    for clip in clips:
        for digit in x[rng.integers(len(x), size=digits)]:
            position = rng.uniform(0, limit, size=2)
            angle, speed_ = rng.uniform(0, 2 * np.pi), rng.uniform(*speed)
            velocity = speed_ * np.array([np.sin(angle), np.cos(angle)])
            for frame in clip:
                r, c = np.round(position).astype(int)
                np.maximum(frame[r:r + side, c:c + side], digit, out=frame[r:r + side, c:c + side])
                position, velocity = _bounce(position, velocity, limit)
    return clips[..., None]
