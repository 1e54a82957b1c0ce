"""Captions of digits built from attributes measured on the images themselves.

"a thick seven, slanted left": the digit comes from the label, the stroke width and the slant
from image moments (`evaluation.digit_attributes`), each cut into three levels at the training
digits' terciles. A caption is then something a generated image can be checked against.
"""

import dataclasses

import numpy as np

from keras_genai import _checks

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
THICKNESS_WORDS = ("thin", "regular", "thick")
SLANT_WORDS = ("slanted left", "upright", "slanted right")
TEMPLATES = ("a {thickness} {digit}, {slant}", "{slant}: a {thickness} {digit}")


def _attributes(images):
    from keras_genai.evaluation.attributes import digit_attributes  # evaluation imports datasets

    return digit_attributes(images)


@dataclasses.dataclass(frozen=True)
class AttributeLevels:
    """Where "thin" ends and "thick" begins, and likewise for the slant: terciles of reference digits."""

    thickness_edges: tuple
    slant_edges: tuple

    @classmethod
    def from_images(cls, images):
        """Edges at the 1/3 and 2/3 quantiles of the digits' measured thickness and slant."""
        measured = _attributes(images)
        edges = {k: tuple(float(q) for q in np.nanquantile(measured[k], [1 / 3, 2 / 3])) for k in ("thickness", "slant")}
        return cls(edges["thickness"], edges["slant"])

    def levels(self, images):
        """Per image: (thickness level, slant level), each 0, 1 or 2 (thin/regular/thick, left/upright/right);
        an image without ink gets the middle levels."""
        measured = _attributes(images)
        return tuple(np.digitize(np.nan_to_num(measured[k], nan=np.mean(edges)), edges).astype("int32")
                     for k, edges in (("thickness", self.thickness_edges), ("slant", self.slant_edges)))


def caption(digit, thickness, slant, template=0):
    """The caption of one digit (0-9) with thickness and slant levels (0-2), in one of TEMPLATES."""
    for value, name, top in ((digit, "digit", 9), (thickness, "thickness", 2), (slant, "slant", 2), (template, "template",
                                                                                                   len(TEMPLATES) - 1)):
        if not (isinstance(value, (int, np.integer)) and 0 <= value <= top):
            raise ValueError(f"{name} must be an integer in [0, {top}], got {value!r}")
    return TEMPLATES[template].format(thickness=THICKNESS_WORDS[thickness], digit=DIGIT_WORDS[digit],
                                      slant=SLANT_WORDS[slant])


@dataclasses.dataclass(frozen=True)
class DigitCaptions:
    """One caption per image, with the levels it was built from."""

    texts: list
    digits: np.ndarray
    thickness: np.ndarray
    slant: np.ndarray


def digit_captions(images, labels, levels, seed=0):
    """Caption every digit (images in [0, 1], integer labels) at the given AttributeLevels; the
    template of each caption is drawn with `seed`, so the words, not their positions, carry the meaning."""
    labels = _checks.check_labels(labels, 10, len(images), "labels")
    thickness, slant = levels.levels(images)
    templates = np.random.default_rng(seed).integers(len(TEMPLATES), size=len(labels))
    texts = [caption(int(d), int(t), int(s), int(k)) for d, t, s, k in zip(labels, thickness, slant, templates)]
    return DigitCaptions(texts, labels, thickness, slant)
