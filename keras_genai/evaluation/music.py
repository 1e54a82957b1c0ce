"""Music scores for generated piano rolls and four-voice harmonisations, in plain NumPy.

Two representations, each function says which it takes:

* **piano roll**: shape (time_steps, 128), boolean or 0/1; ``roll[t, p]`` is 1 while MIDI pitch
  ``p`` sounds at step ``t`` of a sixteenth-note grid (16 steps to a 4/4 bar). A binary roll has
  no onsets, so one pitch struck on consecutive steps reads as one held note.
* **voices**: shape (voices, time_steps) of MIDI pitch integers, ``REST`` (-1) for silence; for
  chorales the rows are soprano, alto, tenor, bass, top to bottom, on the same grid.

Pitch class is ``pitch % 12`` with 0 = C. The scores follow MuseGAN (Dong et al., 2018):
empty bars, polyphony, qualified notes, in-scale ratio; the voice-leading ones are textbook
rules of four-part writing.
"""

import itertools

import numpy as np

from keras_genai import _checks

PITCHES = 128
REST = -1
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)  # pitch classes of C major
# One common textbook choice of comfortable ranges, inclusive MIDI numbers (60 = middle C).
SATB_RANGES = (
    (60, 81),  # soprano C4-A5
    (55, 74),  # alto G3-D5
    (48, 67),  # tenor C3-G4
    (40, 60),  # bass E2-C4
)


# --- Input checks --------------------------------------------------------------------------

def _check_roll(roll, name="roll"):
    """A (time_steps, 128) 0/1 piano roll, returned as bool."""
    array = _checks.as_float_array(roll, name)
    if array.ndim != 2 or array.shape[1] != PITCHES:
        raise ValueError(f"{name} must have shape (time_steps, {PITCHES}), one column per MIDI pitch, "
                         f"got {array.shape}")
    _checks.check_finite(array, name)
    bad = array[(array != 0) & (array != 1)]
    if bad.size:
        raise ValueError(f"{name} must hold only 0/1 (note off/on), got {bad.size} other value(s) such as "
                         f"{bad[0]:.4g} (probabilities? threshold them first, e.g. roll > 0.5)")
    return array.astype(bool)


def _check_voices(voices, name="voices"):
    """A (voices, time_steps) array of MIDI pitches in [0, 127] or REST, returned as int."""
    array = _checks.as_float_array(voices, name)
    if array.ndim != 2:
        raise ValueError(f"{name} must have shape (voices, time_steps) of MIDI pitches, got {array.shape}")
    _checks.check_finite(array, name)
    valid = (array == np.round(array)) & (((array >= 0) & (array < PITCHES)) | (array == REST))
    if not valid.all():
        raise ValueError(f"{name} must hold whole MIDI pitches in [0, {PITCHES - 1}] or REST ({REST}), "
                         f"got {array[~valid][0]:.4g}")
    return array.astype(int)


def _check_pitch_class(value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < 12:
        raise ValueError(f"key_tonic must be a pitch class 0-11 (0 = C, 7 = G) or None, got {value!r}")
    return int(value)


def _sounding(roll, what):
    if not roll.any():
        raise ValueError(f"the roll is silent: {what} needs at least one sounding note")
    return roll


# --- Piano rolls ---------------------------------------------------------------------------

def _pitch_class_counts(roll):
    """Sounding note-steps per pitch class (12,) of a checked roll."""
    per_pitch = roll.sum(axis=0)
    return np.bincount(np.arange(PITCHES) % 12, weights=per_pitch, minlength=12)


def pitch_class_histogram(roll):
    """Share of sounding note-steps on each pitch class C, C#, ..., B (12 bins summing to 1).

    Takes a piano roll; a note held for four steps weighs four times a one-step note.
    """
    roll = _sounding(_check_roll(roll), "pitch_class_histogram")
    counts = _pitch_class_counts(roll)
    return counts / counts.sum()


def pitch_class_distance(rolls_a, rolls_b):
    """Total variation, 0.5 * sum |p_a - p_b|, between the pooled pitch-class histograms of two sets.

    Each set is a sequence of piano rolls (lengths may differ), pooled by note-steps; 0 means the
    same pitch-class usage, 1 means no pitch class in common.
    """
    pooled = []
    for name, rolls in (("rolls_a", rolls_a), ("rolls_b", rolls_b)):
        checked = [_check_roll(roll, f"{name}[{i}]") for i, roll in enumerate(rolls)]
        if not checked:
            raise ValueError(f"{name} is empty; expected at least one piano roll")
        counts = sum(_pitch_class_counts(roll) for roll in checked)
        if not counts.any():
            raise ValueError(f"every roll in {name} is silent: no pitch classes to compare")
        pooled.append(counts / counts.sum())
    return float(0.5 * np.abs(pooled[0] - pooled[1]).sum())


def in_scale_ratio(roll, key_tonic=None):
    """Share of sounding note-steps whose pitch class lies in a major scale.

    Takes a piano roll; the scale is that of ``key_tonic`` (pitch class, 0 = C major), or when it
    is None the major scale that fits best (the highest ratio over all twelve).
    """
    histogram = pitch_class_histogram(roll)
    tonics = range(12) if key_tonic is None else [_check_pitch_class(key_tonic)]
    return float(max(histogram[(np.array(MAJOR_SCALE) + tonic) % 12].sum() for tonic in tonics))


def polyphony(roll):
    """Mean number of pitches sounding together, over the steps where at least one sounds.

    Takes a piano roll: 1.0 for a melody, 3.0 for block triads.
    """
    notes_per_step = _sounding(_check_roll(roll), "polyphony").sum(axis=1)
    return float(notes_per_step[notes_per_step > 0].mean())


def empty_bar_rate(roll, steps_per_bar=16):
    """Share of bars in which no note sounds.

    Takes a piano roll whose length is a whole number of bars (16 steps per 4/4 bar by default).
    """
    roll = _check_roll(roll)
    steps_per_bar = _checks.check_positive_int(steps_per_bar, "steps_per_bar")
    _check_whole_bars(len(roll), steps_per_bar, "roll")
    bars = roll.reshape(-1, steps_per_bar, PITCHES)
    return float(np.mean(~bars.any(axis=(1, 2))))


def _check_whole_bars(steps, steps_per_bar, name):
    if steps % steps_per_bar:
        raise ValueError(f"the {name} has {steps} steps, not a whole number of {steps_per_bar}-step bars; "
                         "trim or pad it to whole bars")


def note_lengths(roll):
    """Length in steps of every note (run of consecutive sounding steps of one pitch) of a piano roll."""
    # Pad with silence on both ends so every run has an onset (+1) and an offset (-1).
    edges = np.diff(np.pad(_check_roll(roll).T.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    # np.nonzero scans pitch by pitch, in time order, so the k-th onset pairs with the k-th offset.
    onsets, offsets = np.nonzero(edges == 1)[1], np.nonzero(edges == -1)[1]
    return offsets - onsets


def qualified_note_rate(roll, min_steps=2):
    """Share of notes at least ``min_steps`` steps long (MuseGAN's QN; low means fragmented notes).

    Takes a piano roll. MuseGAN's 3 steps at 24 steps a beat is a thirty-second note, finer than
    this grid; the default 2 steps (an eighth note) flags the one-step blips of a noisy generator.
    """
    min_steps = _checks.check_positive_int(min_steps, "min_steps")
    lengths = note_lengths(roll)
    if not lengths.size:
        raise ValueError("the roll is silent: qualified_note_rate needs at least one note")
    return float(np.mean(lengths >= min_steps))


# --- Four-voice harmonisations -------------------------------------------------------------

def voice_range_violations(voices, ranges=SATB_RANGES):
    """Share of sounding voice-steps whose pitch lies outside that voice's (low, high) range.

    Takes voices (one row per voice) and one inclusive (low, high) MIDI range per row; the default
    SATB_RANGES are soprano C4-A5, alto G3-D5, tenor C3-G4, bass E2-C4. Rests are not counted.
    """
    voices = _check_voices(voices)
    bounds = np.asarray(ranges)
    if bounds.shape != (len(voices), 2):
        raise ValueError(f"ranges must give one (low, high) pair per voice, {len(voices)} in all, "
                         f"got shape {bounds.shape}")
    sounding = voices != REST
    if not sounding.any():
        raise ValueError("every voice rests throughout: no pitches to check")
    outside = (voices < bounds[:, :1]) | (voices > bounds[:, 1:])
    return float(outside[sounding].mean())


def parallel_fifths_octaves(voices):
    """Count parallel perfect fifths and octaves: a pair of voices a fifth (or octave) apart at
    one step and again at the next, both moving in the same direction.

    Takes voices. Intervals are taken modulo 12, so compound fifths and unisons count too;
    returns {"fifths": n, "octaves": m} summed over every pair of voices and step.
    """
    voices = _check_voices(voices)
    counts = {"fifths": 0, "octaves": 0}
    for upper, lower in itertools.combinations(voices, 2):
        both_sound = (upper != REST) & (lower != REST)
        steps = both_sound[:-1] & both_sound[1:]
        motion_upper, motion_lower = np.sign(np.diff(upper)), np.sign(np.diff(lower))
        similar = steps & (motion_upper == motion_lower) & (motion_upper != 0)
        interval = np.abs(upper - lower) % 12
        for name, perfect in (("fifths", 7), ("octaves", 0)):
            counts[name] += int(np.sum(similar & (interval[:-1] == perfect) & (interval[1:] == perfect)))
    return counts


def voice_crossings(voices):
    """Share of neighbouring-voice steps at which the upper voice sounds below the lower one (the alto
    under the tenor, say): voices are rows from the highest part down. Unisons do not cross; steps at
    which either voice of a pair rests are not counted."""
    voices = _check_voices(voices)
    if len(voices) < 2:
        raise ValueError(f"voice crossings need at least two voices, got {len(voices)}")
    upper, lower = voices[:-1], voices[1:]
    both = (upper != REST) & (lower != REST)
    if not both.any():
        raise ValueError("no step at which two neighbouring voices both sound: nothing to compare")
    return float((upper < lower)[both].mean())


def notes_per_bar(onsets, steps_per_bar=16):
    """Notes struck per bar in each voice: onsets (voices, time_steps), True where a voice strikes a
    note (as in keras_genai.datasets.music), over a whole number of bars -> (voices,) floats.

    A voice that holds one note through the bar strikes 1; sixteenth notes strike steps_per_bar.
    Next to the real value, it shows a generator that only holds (too few) or restrikes (too many).
    """
    array = _checks.as_float_array(onsets, "onsets")
    if array.ndim != 2:
        raise ValueError(f"onsets must have shape (voices, time_steps), got {array.shape}")
    _checks.check_finite(array, "onsets")
    if not np.isin(array, (0, 1)).all():
        raise ValueError("onsets must be boolean (True where a note is struck)")
    steps_per_bar = _checks.check_positive_int(steps_per_bar, "steps_per_bar")
    _check_whole_bars(array.shape[1], steps_per_bar, "onsets")
    return array.sum(axis=1) / (array.shape[1] // steps_per_bar)
