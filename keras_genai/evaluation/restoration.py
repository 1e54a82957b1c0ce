"""Scores of restored, upscaled or translated digits against the clean originals.

Distortion (PSNR, SSIM: how close each output is to *its* target) and perception (is it a sharp,
recognisable digit: classifier accuracy, sharpness) pull apart when the input is ambiguous: the
average of the plausible answers is closest on average and also the blurriest (Blau and Michaeli,
"The perception-distortion tradeoff", 2018). Report both.
"""

import numpy as np

from keras_genai import _checks
from keras_genai.evaluation.images import label_accuracy, psnr, ssim


def gradient_energy(images):
    """Mean squared difference between neighbouring pixels (both directions), per image.

    Blur spreads each edge over several pixels and lowers it; noise raises it. Compare with the
    clean images' value rather than reading it alone.
    """
    x = _checks.as_float_array(images, "images")
    if x.ndim != 4:
        raise ValueError(f"images must be a batch (n, height, width, channels), got shape {x.shape}")
    _checks.check_finite(x, "images")
    rows = np.diff(x, axis=1) ** 2
    cols = np.diff(x, axis=2) ** 2
    return (rows.reshape(len(x), -1).mean(axis=1) + cols.reshape(len(x), -1).mean(axis=1)) / 2


def restoration_scores(classifier, outputs, targets, labels):
    """PSNR (dB, from the mean squared error over all outputs) and mean SSIM of outputs against targets, label_accuracy: the classifier's accuracy on
    the outputs (labels: the digits the targets show), and sharpness: the outputs' gradient energy over the targets'
    (1 = as sharp as the originals, below 1 = blurrier). Images in [0, 1], shape (n, 28, 28, 1)."""
    outputs = _checks.check_images(outputs, np.shape(targets)[1:], (0.0, 1.0), "outputs")
    targets = _checks.check_images(targets, outputs.shape[1:], (0.0, 1.0), "targets")
    if len(outputs) != len(targets):
        raise ValueError(f"{len(outputs)} outputs for {len(targets)} targets: give one output per target")
    return {
        # PSNR of the set's mean squared error, not the mean of per-image PSNRs: one output equal to its
        # target (a masked square that fell on background) would make that mean infinite.
        "psnr": float(psnr(outputs.reshape(1, -1, 1), targets.reshape(1, -1, 1))[0]),  # all pixels as one image
        "ssim": float(np.mean(ssim(outputs, targets))),
        "label_accuracy": label_accuracy(classifier, outputs, labels).overall,
        "sharpness": float(gradient_energy(outputs).mean() / gradient_energy(targets).mean()),
    }
