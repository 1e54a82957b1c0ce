"""Music metrics of keras_genai.evaluation on hand-built piano rolls and chorales with known answers."""

import numpy as np
import pytest

from keras_genai import evaluation

C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]
REST = evaluation.REST


def roll_of(notes, steps=None):
    """A piano roll from (pitch, start, length) triples."""
    steps = steps or max(start + length for _, start, length in notes)
    roll = np.zeros((steps, 128), dtype=bool)
    for pitch, start, length in notes:
        roll[start:start + length, pitch] = True
    return roll


def melody(pitches, length=1):
    return roll_of([(p, i * length, length) for i, p in enumerate(pitches)])


# --- Pitch classes and scale -------------------------------------------------------------

def test_pitch_class_histogram_weights_note_steps_and_folds_octaves():
    roll = roll_of([(60, 0, 3), (72, 3, 1), (67, 4, 4)])  # C held 3, C an octave up, G held 4
    expected = np.zeros(12)
    expected[0], expected[7] = 4 / 8, 4 / 8
    np.testing.assert_allclose(evaluation.pitch_class_histogram(roll), expected)


def test_pitch_class_distance_is_zero_for_same_usage_and_one_for_disjoint():
    c_major, transposed = melody(C_MAJOR), melody([p + 12 for p in C_MAJOR])
    assert evaluation.pitch_class_distance([c_major], [transposed, c_major]) == pytest.approx(0.0)
    assert evaluation.pitch_class_distance([melody([60])], [melody([61])]) == pytest.approx(1.0)
    # Half the note-steps on C vs all on C: total variation 0.5, pooled across rolls of different lengths.
    assert evaluation.pitch_class_distance([melody([60, 62])], [melody([60]), melody([60, 60, 60])]) == 0.5


def test_in_scale_ratio_of_a_major_scale_and_a_chromatic_run():
    assert evaluation.in_scale_ratio(melody(C_MAJOR)) == 1.0
    assert evaluation.in_scale_ratio(melody(range(60, 72))) == pytest.approx(7 / 12)
    g_major = [p + 7 for p in C_MAJOR]  # has F#, outside C major
    assert evaluation.in_scale_ratio(melody(g_major)) == 1.0
    assert evaluation.in_scale_ratio(melody(g_major), key_tonic=7) == 1.0
    assert evaluation.in_scale_ratio(melody(g_major), key_tonic=0) == pytest.approx(7 / 8)


# --- Texture and rhythm -------------------------------------------------------------------

def test_polyphony_counts_only_steps_with_notes():
    assert evaluation.polyphony(melody(C_MAJOR)) == 1.0
    # A C major triad for 2 steps, 2 silent steps, one note for 2 steps: (3 + 3 + 1 + 1) / 4.
    roll = roll_of([(60, 0, 2), (64, 0, 2), (67, 0, 2), (72, 4, 2)])
    assert evaluation.polyphony(roll) == 2.0


def test_empty_bar_rate_of_one_empty_bar_in_four():
    roll = roll_of([(60, 0, 16), (62, 16, 1), (64, 63, 1)], steps=64)  # bar 3 (steps 32-47) is empty
    assert evaluation.empty_bar_rate(roll) == 0.25
    assert evaluation.empty_bar_rate(roll, steps_per_bar=32) == 0.0
    assert evaluation.empty_bar_rate(np.zeros((32, 128))) == 1.0


def test_qualified_note_rate_of_a_held_note_against_the_threshold():
    held = roll_of([(60, 0, 4)])
    assert evaluation.qualified_note_rate(held, min_steps=3) == 1.0
    assert evaluation.qualified_note_rate(held, min_steps=5) == 0.0
    assert evaluation.qualified_note_rate(held, min_steps=4) == 1.0


def test_note_lengths_split_runs_per_pitch():
    # Two notes on one pitch with a gap, a chord note, and a note running to the last step.
    roll = roll_of([(60, 0, 2), (60, 3, 1), (64, 0, 5), (67, 4, 1)])
    assert sorted(evaluation.note_lengths(roll).tolist()) == [1, 1, 2, 5]
    assert evaluation.qualified_note_rate(roll) == 0.5  # default min_steps=2


# --- Four-voice harmonisations -------------------------------------------------------------

def test_parallel_fifth_in_similar_motion_is_counted_and_contrary_motion_is_not():
    parallel = np.array([[67, 69], [60, 62]])  # C-G to D-A, both up a step
    assert evaluation.parallel_fifths_octaves(parallel) == {"fifths": 1, "octaves": 0}
    descending = np.array([[67, 62], [60, 55]])  # C-G down to G-D: parallel too
    assert evaluation.parallel_fifths_octaves(descending) == {"fifths": 1, "octaves": 0}
    contrary = np.array([[67, 74], [60, 55]])  # C-G to G-D, soprano up, bass down: a fifth each time
    assert evaluation.parallel_fifths_octaves(contrary) == {"fifths": 0, "octaves": 0}


def test_parallel_octaves_across_voices_held_notes_and_rests():
    # Held chord then a move: the octave pair moves once; the alto's rest hides its fifth.
    voices = np.array([
        [72, 72, 74, 74],  # soprano C5 C5 D5 D5
        [67, 67, REST, 69],  # alto rests at the move
        [60, 60, 62, 62],  # tenor an octave below the soprano
    ])
    assert evaluation.parallel_fifths_octaves(voices) == {"fifths": 0, "octaves": 1}
    # Read as a pitch, REST (-1) would sit a compound fifth below F#3 (54) and "move" with it.
    assert evaluation.parallel_fifths_octaves(np.array([[REST, 69], [54, 62]])) == {"fifths": 0, "octaves": 0}
    fourths = np.array([[65, 67], [60, 62]])  # parallel fourths are allowed
    assert evaluation.parallel_fifths_octaves(fourths) == {"fifths": 0, "octaves": 0}


def test_voice_range_violations_with_satb_defaults_and_rests():
    chorale = np.array([
        [72, 84, REST, 72],  # soprano C6 is above A5
        [64, 64, 64, 64],
        [55, 55, 55, 55],
        [48, 48, 36, 48],  # bass C2 is below E2
    ])
    assert evaluation.voice_range_violations(chorale) == pytest.approx(2 / 15)
    assert evaluation.voice_range_violations(chorale[:1], ranges=[(60, 84)]) == 0.0


# --- Bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize("roll, message", [
    (np.zeros(128), r"shape \(time_steps, 128\)"),
    (np.zeros((4, 88)), r"shape \(time_steps, 128\)"),
    (np.zeros((0, 128)), "empty"),
    (np.full((4, 128), np.nan), "NaN"),
    (np.full((4, 128), 0.7), "only 0/1.*threshold"),
])
def test_bad_piano_rolls_are_refused_with_a_clear_message(roll, message):
    with pytest.raises(ValueError, match=message):
        evaluation.polyphony(roll)


def test_silent_rolls_and_bad_arguments_are_refused():
    silent = np.zeros((16, 128))
    for metric in (evaluation.pitch_class_histogram, evaluation.polyphony, evaluation.qualified_note_rate):
        with pytest.raises(ValueError, match="silent"):
            metric(silent)
    with pytest.raises(ValueError, match="silent"):
        evaluation.pitch_class_distance([silent], [melody([60])])
    with pytest.raises(ValueError, match="rolls_b is empty"):
        evaluation.pitch_class_distance([melody([60])], [])
    with pytest.raises(ValueError, match="whole number of 16-step bars"):
        evaluation.empty_bar_rate(np.zeros((20, 128)))
    with pytest.raises(ValueError, match="key_tonic"):
        evaluation.in_scale_ratio(melody(C_MAJOR), key_tonic=12)
    with pytest.raises(ValueError, match="min_steps"):
        evaluation.qualified_note_rate(melody(C_MAJOR), min_steps=0)


@pytest.mark.parametrize("voices, message", [
    (np.array([60, 62]), r"shape \(voices, time_steps\)"),
    (np.array([[60.5, 62]]), "whole MIDI pitches"),
    (np.array([[60, 128]]), "whole MIDI pitches"),
    (np.array([[60, -2]]), "whole MIDI pitches"),
    (np.array([[60, np.nan]]), "NaN"),
])
def test_bad_voices_are_refused_with_a_clear_message(voices, message):
    with pytest.raises(ValueError, match=message):
        evaluation.parallel_fifths_octaves(voices)


def test_voice_ranges_must_match_the_voices():
    with pytest.raises(ValueError, match="one \\(low, high\\) pair per voice, 2 in all"):
        evaluation.voice_range_violations(np.array([[60], [48]]))
    with pytest.raises(ValueError, match="every voice rests"):
        evaluation.voice_range_violations(np.full((4, 2), REST))


def test_voice_crossings_count_neighbouring_pairs_only_where_both_sound():
    voices = np.array([
        [72, 64, 72, 72],  # soprano dips below the alto at step 1
        [67, 67, 67, REST],  # the alto's rest leaves step 3 of two pairs uncounted
        [60, 60, 67, 60],  # a unison with the alto at step 2 is not a crossing
        [48, 48, 48, 62],  # the bass above the tenor at step 3
    ])
    # pairs counted: S/A 3 steps (1 crossed), A/T 3 steps (0), T/B 4 steps (1): 2 of 10
    assert evaluation.voice_crossings(voices) == pytest.approx(2 / 10)
    assert evaluation.voice_crossings(voices[2:, :3]) == 0.0
    with pytest.raises(ValueError, match="at least two voices"):
        evaluation.voice_crossings(voices[:1])
    with pytest.raises(ValueError, match="both sound"):
        evaluation.voice_crossings(np.array([[60, REST], [REST, 55]]))


def test_notes_per_bar_counts_strikes_not_sounding_steps():
    onsets = np.zeros((2, 32), dtype=bool)
    onsets[0, ::16] = True  # a whole note in each bar
    onsets[1, ::2] = True  # eighth notes, restruck
    np.testing.assert_allclose(evaluation.notes_per_bar(onsets), [1.0, 8.0])
    np.testing.assert_allclose(evaluation.notes_per_bar(onsets, steps_per_bar=8), [0.5, 4.0])
    with pytest.raises(ValueError, match="whole number of 16-step bars"):
        evaluation.notes_per_bar(onsets[:, :20])
    with pytest.raises(ValueError, match="boolean"):
        evaluation.notes_per_bar(np.full((2, 16), 0.5))
    with pytest.raises(ValueError, match=r"shape \(voices, time_steps\)"):
        evaluation.notes_per_bar(onsets[0])
