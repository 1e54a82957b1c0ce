"""Raw audio as ids for an autoregressive model: mu-law companding and training windows.

A sample of 16-bit audio has 65,536 values; a softmax over that many classes is large and
sparse. Mu-law companding (ITU-T G.711, used by WaveNet) squeezes amplitudes x in [-1, 1] with

    F(x) = sign(x) ln(1 + mu |x|) / ln(1 + mu),        mu = levels - 1,

which spends more of the `levels` steps on quiet values, where the ear is most sensitive, and
then quantises F(x) in [-1, 1] uniformly to an integer id in [0, levels).
"""

import numpy as np
import tensorflow as tf

from keras_genai import _checks

SPLITS = ("train", "validation", "test")


def _check_levels(levels):
    levels = _checks.check_positive_int(levels, "levels")
    if levels < 2:
        raise ValueError(f"levels must be at least 2, got {levels}")
    return levels


def mu_law_encode(audio, levels=256):
    """Amplitudes in [-1, 1] (any shape) -> int32 ids in [0, levels).

    id = round((F(x) + 1) / 2 * mu) with F(x) = sign(x) ln(1 + mu |x|) / ln(1 + mu), mu = levels - 1:
    -1 -> 0, 0 -> levels // 2 (for even levels), 1 -> levels - 1.
    """
    levels = _check_levels(levels)
    audio = _checks.check_finite(_checks.as_float_array(audio, "audio"), "audio").astype("float64")
    _checks.check_range(audio, -1.0, 1.0, "audio")
    mu = levels - 1
    companded = np.sign(audio) * np.log1p(mu * np.abs(audio)) / np.log1p(mu)
    return np.floor((companded + 1) / 2 * mu + 0.5).astype("int32")


def mu_law_decode(ids, levels=256):
    """Ids in [0, levels) -> float32 amplitudes in [-1, 1], the inverse of F at each step's centre:

    y = 2 id / mu - 1,   x = sign(y) ((1 + mu)^|y| - 1) / mu.

    The round trip is off by at most (|x| + 1/mu)((1 + mu)^(1/mu) - 1): about 1e-4 near silence,
    2% of full scale at the loudest.
    """
    levels = _check_levels(levels)
    ids = check_audio_ids(ids, levels)
    mu = levels - 1
    y = 2.0 * ids / mu - 1.0
    return (np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu).astype("float32")


def check_audio_ids(ids, levels, name="ids"):
    """Integer ids in [0, levels), any shape, at least one."""
    ids = np.asarray(ids)
    if ids.dtype == bool or not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"{name} must be integer mu-law ids in [0, {levels}), got dtype {ids.dtype} "
                        "(encode audio with keras_genai.datasets.mu_law_encode)")
    if ids.size == 0:
        raise ValueError(f"{name} is empty")
    if ids.min() < 0 or ids.max() >= levels:
        raise ValueError(f"{name} hold ids in [{ids.min()}, {ids.max()}], outside [0, {levels})")
    return ids


def split_audio(ids, validation_fraction=0.1, test_fraction=0.1):
    """One long id sequence -> {"train", "validation", "test"}: contiguous parts in that order.

    Contiguous rather than interleaved windows, so no held-out sample sits inside a training window.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"ids must be one sequence of shape (samples,), got shape {ids.shape}")
    if not (0 <= validation_fraction < 1 and 0 <= test_fraction < 1 and validation_fraction + test_fraction < 1):
        raise ValueError(f"validation_fraction and test_fraction must be in [0, 1) with a sum below 1, "
                         f"got {validation_fraction} and {test_fraction}")
    n = len(ids)
    train_end = n - int(round(n * (validation_fraction + test_fraction)))
    validation_end = train_end + int(round(n * validation_fraction))
    return {"train": ids[:train_end], "validation": ids[train_end:validation_end], "test": ids[validation_end:]}


def audio_windows(ids, length, split=None, batch_size=32, validation_fraction=0.1, test_fraction=0.1,
                  shuffle=None, seed=0, levels=256):
    """A long id sequence -> a batched tf.data.Dataset of windows of length + 1 ids (int32).

    A model reads window[:-1] and predicts window[1:]. Consecutive windows share one id, so every
    id after the first is a target exactly once; the incomplete last window is dropped (no padding:
    every id, 0 included, is a real sample value). split: None for the whole sequence, or "train",
    "validation" or "test" for that contiguous part (`split_audio`). Training windows are
    shuffled by default, held-out ones are not; the last smaller batch is kept.
    """
    length = _checks.check_positive_int(length, "length")
    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    ids = check_audio_ids(ids, levels)
    part = ids if split is None else split_audio(ids, validation_fraction, test_fraction)[
        _checks.check_choice(split, SPLITS, "split")]
    count = (len(part) - 1) // length
    if count < 1:
        raise ValueError(f"the {split or 'whole'} part holds {len(part)} samples, fewer than one window of "
                         f"{length + 1}: use a shorter length or more audio")
    windows = np.stack([part[i * length:(i + 1) * length + 1] for i in range(count)]).astype("int32")
    ds = tf.data.Dataset.from_tensor_slices(windows)
    if split == "train" if shuffle is None else shuffle:
        ds = ds.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
