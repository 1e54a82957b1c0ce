"""Bach chorale data of keras_genai.datasets.music: parsing, cache, split, exact conversions, listening."""

import re

import numpy as np
import pretty_midi
import pytest
from music21 import meter, note, stream, tie

from keras_genai import evaluation, tokenizers
from keras_genai.datasets import music

REST = music.REST


@pytest.fixture(scope="module")
def chorales(tmp_path_factory):
    """The first three corpus files (bwv1.6 has a horn part to drop), parsed into a temporary cache."""
    return music.load_chorales(limit=3, cache_dir=str(tmp_path_factory.mktemp("chorales")))


def all_chorales(data):
    return data.train + data.validation + data.test


# --- Loading ---------------------------------------------------------------------------------

def test_chorales_load_drop_instrument_parts_and_record_metadata(chorales):
    found = {c.name: c for c in all_chorales(chorales)}
    assert sorted(found) == ["bwv1.6", "bwv10.7", "bwv101.7"] and chorales.skipped == {}
    first = found["bwv1.6"]  # parts Horn 2, Soprano, Alto, Tenor, Bass; F major with a one-beat pickup
    assert first.voices.shape[0] == 4 and first.voices.shape == first.onsets.shape
    assert (first.key_tonic, first.key_mode, first.key_source) == (5, "major", "signature")
    assert (first.steps_per_bar, first.pickup_steps) == (16, 4)
    assert found["bwv10.7"].pickup_steps == 0 and found["bwv10.7"].key_mode == "minor"
    assert first.voices[0, :8].tolist() == [65] * 4 + [72] * 4  # F4 then C5, a quarter each
    assert first.onsets[0, :8].tolist() == [True, False, False, False] * 2
    assert evaluation.voice_range_violations(first.voices) < 0.05
    assert "Bach chorales" in chorales.source and chorales.parse_seconds > 0


def test_split_is_by_chorale_and_seeded(chorales):
    names = [[c.name for c in part] for part in (chorales.train, chorales.validation, chorales.test)]
    assert all(names) and len(set(sum(names, []))) == 3


def test_cache_hit_returns_identical_arrays(tmp_path, capsys):
    cache = str(tmp_path)
    first = music.load_chorales(limit=3, cache_dir=cache)
    assert "parsed in" in capsys.readouterr().out
    again = music.load_chorales(limit=3, cache_dir=cache)
    assert "read from cache" in capsys.readouterr().out and again.parse_seconds == 0.0
    with pytest.raises(ValueError, match="too few to split"):
        music.load_chorales(limit=2, cache_dir=cache)
    for a, b in zip(all_chorales(first), all_chorales(again)):
        assert a.name == b.name and a.key_tonic == b.key_tonic and a.pickup_steps == b.pickup_steps
        np.testing.assert_array_equal(a.voices, b.voices)
        np.testing.assert_array_equal(a.onsets, b.onsets)


def satb_score(*parts, signature="4/4"):
    """A score of four named parts from lists of music21 notes."""
    score = stream.Score()
    for name, notes in zip(("Soprano", "Alto", "Tenor", "Bass"), parts):
        part = stream.Part()
        part.append(meter.TimeSignature(signature))
        part.append(notes)
        part = part.makeMeasures()
        part.partName = name
        score.insert(0, part)
    return score


def test_a_tie_reads_as_held_and_a_repeat_as_struck():
    tied = note.Note("C5", quarterLength=2)
    tied.tie = tie.Tie("start")
    end = note.Note("C5", quarterLength=1)
    end.tie = tie.Tie("stop")
    soprano = [tied, end, note.Note("C5")]  # C5 tied over three beats, then C5 struck again
    others = [[note.Note(p, quarterLength=4)] for p in ("E4", "G3", "C3")]
    chorale, grace = music.score_to_chorale(satb_score(soprano, *others), "tied")
    assert grace == 0 and chorale.voices.shape == (4, 16)
    assert chorale.voices[0].tolist() == [72] * 16
    assert np.flatnonzero(chorale.onsets[0]).tolist() == [0, 12]
    assert chorale.key_source == "analysis" and chorale.key_tonic == 0


def test_scores_that_do_not_fit_the_grid_are_refused_with_a_reason():
    quarter = [note.Note("C4", quarterLength=4)]
    triplet = [note.Note("C5", quarterLength=1 / 3) for _ in range(3)] + [note.Note("C5", quarterLength=3)]
    with pytest.raises(music.NotAChorale, match="finer than a sixteenth") as error:
        music.score_to_chorale(satb_score(triplet, quarter, quarter, quarter))
    assert error.value.reason == "note finer than a sixteenth"
    with pytest.raises(music.NotAChorale, match="Soprano, Alto, Tenor, Bass"):
        music.score_to_chorale(satb_score(quarter, quarter, quarter))
    with pytest.raises(music.NotAChorale, match="no notes"):
        music.score_to_chorale(satb_score(*[[note.Rest(quarterLength=4)]] * 4))


# --- Piano rolls -----------------------------------------------------------------------------

def test_roll_round_trip_on_real_chorales(chorales):
    for c in all_chorales(chorales):
        roll, onset_roll = music.voices_to_roll(c.voices, c.onsets)
        voices, onsets = music.roll_to_voices(roll, onset_roll)
        again, onsets_again = music.voices_to_roll(voices, onsets)
        np.testing.assert_array_equal(again, roll)
        assert not (onset_roll & ~onsets_again).any()  # only forced strikes are added
        pitches = np.sort(c.voices, axis=0)[::-1]
        plain = (np.diff(c.voices, axis=0) < 0).all(axis=0)  # four distinct pitches in S > A > T > B order
        assert plain.mean() > 0.6  # the rest are unisons, crossings or rests
        np.testing.assert_array_equal(voices[:, plain], pitches[:, plain])
        after_plain = plain & np.append(True, plain[:-1])  # no voice took over another's note just before
        np.testing.assert_array_equal(onsets[:, after_plain], c.onsets[:, after_plain])


def test_roll_keeps_held_and_repeated_notes_apart_and_doubles_a_unison_at_the_bottom():
    voices = np.array([[72, 72, 72], [67, 67, 67], [64, 64, 67], [48, 48, 48]])
    onsets = np.array([[1, 0, 1], [1, 0, 0], [1, 0, 1], [1, 0, 0]], dtype=bool)  # soprano repeats, tenor joins alto
    roll, onset_roll = music.voices_to_roll(voices, onsets)
    assert roll.sum(axis=1).tolist() == [4, 4, 3] and onset_roll[:, 72].tolist() == [True, False, True]
    back, back_onsets = music.roll_to_voices(roll, onset_roll)
    assert back[:, 2].tolist() == [72, 67, 48, 48]  # the unison comes back as a doubled bass
    assert back_onsets[:, 2].tolist() == [True, True, True, False]  # the tenor cannot hold the bass's note
    with pytest.raises(ValueError, match="at most 4"):
        music.roll_to_voices(np.ones((2, 128)), np.zeros((2, 128)))


# --- Tokens ----------------------------------------------------------------------------------

def test_tokens_round_trip_and_train_a_word_tokenizer(chorales):
    texts = []
    for c in all_chorales(chorales):
        tokens = music.chorale_tokens(c.voices, c.onsets)
        assert len(tokens) == 4 * c.voices.shape[1] and tokens[:4] == [str(p) for p in c.voices[:, 0]]
        voices, onsets = music.tokens_to_voices(tokens)
        np.testing.assert_array_equal(voices, c.voices)
        np.testing.assert_array_equal(onsets, c.onsets)
        texts.append(" ".join(tokens))
    tokenizer = tokenizers.WordTokenizer.from_texts(texts)
    assert {music.HOLD} <= set(tokenizer.characters)
    assert tokenizer.decode(tokenizer.encode(texts[0])) == texts[0]
    np.testing.assert_array_equal(music.tokens_to_voices(tokenizer.decode(tokenizer.encode(texts[0])))[0],
                                  all_chorales(chorales)[0].voices)


def test_tokens_of_held_repeated_and_rests():
    voices = np.array([[60, 60, 60, REST], [55, 55, REST, 55], [48] * 4, [36] * 4])
    onsets = np.array([[1, 0, 1, 0], [1, 0, 0, 1], [1, 0, 0, 0], [1, 1, 1, 1]], dtype=bool)
    tokens = music.chorale_tokens(voices, onsets)
    assert tokens[4:8] == ["hold", "hold", "hold", "36"] and tokens[8:12] == ["60", "rest", "hold", "36"]
    assert tokens[12:14] == ["rest", "55"]
    np.testing.assert_array_equal(music.tokens_to_voices(" ".join(tokens))[1], onsets)


@pytest.mark.parametrize("tokens, message", [
    ([], "non-empty"),
    (["60", "55", "48"], "multiple of 4"),
    (["60", "55", "48", "C4"], "unknown tokens"),
    (["60", "55", "48", "128"], "unknown tokens"),
    (["hold", "55", "48", "36"], "soprano has no note to continue"),
    (["60", "rest", "48", "36", "60", "hold", "48", "36"], "after a rest"),
])
def test_bad_tokens_are_named(tokens, message):
    with pytest.raises(ValueError, match=message):
        music.tokens_to_voices(tokens)


# --- Transposition and windows ---------------------------------------------------------------

def test_transpose_keeps_rests_and_refuses_to_leave_midi():
    voices = np.array([[60, REST], [55, 55], [48, 48], [36, 125]])
    shifted = music.transpose(voices, 2)
    assert shifted.tolist() == [[62, REST], [57, 57], [50, 50], [38, 127]]
    np.testing.assert_array_equal(music.transpose(shifted, -2), voices)
    with pytest.raises(ValueError, match="outside MIDI"):
        music.transpose(voices, 3)
    with pytest.raises(ValueError, match="integer"):
        music.transpose(voices, 1.5)


def test_augmentation_keeps_every_voice_in_range(chorales):
    train = all_chorales(chorales)  # as if all three were the training split
    bounds = music.voice_ranges(train)
    augmented = music.augment_transpositions(train, max_shift=3)
    assert [c.name for c in augmented if c.name in {t.name for t in train}] == [c.name for c in train]
    assert len(augmented) > len(train)
    assert (music.voice_ranges(augmented) == bounds).all()  # nothing goes beyond the training range
    shifted = next(c for c in augmented if c.name not in {t.name for t in train})
    name, shift = re.fullmatch(r"(.+)([+-]\d)", shifted.name).groups()
    original = next(c for c in train if c.name == name)
    assert shifted.key_tonic == (original.key_tonic + int(shift)) % 12
    np.testing.assert_array_equal(shifted.voices, music.transpose(original.voices, int(shift)))
    np.testing.assert_array_equal(shifted.onsets, original.onsets)
    wide = music.augment_transpositions(train, max_shift=3, ranges=[(0, 127)] * 4)
    assert len(wide) == 7 * len(train)


def test_windows_start_on_bar_lines_and_restrike_held_notes(chorales):
    voices, onsets = music.chorale_windows(all_chorales(chorales), bars=2)
    assert voices.shape[1:] == (4, 32) and voices.shape == onsets.shape
    assert (onsets[:, :, 0] == (voices[:, :, 0] != REST)).all()
    first = next(c for c in all_chorales(chorales) if c.name == chorales.train[0].name)
    np.testing.assert_array_equal(voices[0], first.voices[:, first.pickup_steps:first.pickup_steps + 32])
    for v, o in zip(voices[:5], onsets[:5]):
        music.chorale_tokens(v, o)  # each window is valid on its own
    with pytest.raises(ValueError, match="no chorale"):
        music.chorale_windows(all_chorales(chorales), bars=1000)


# --- Listening -------------------------------------------------------------------------------

def test_render_audio_peaks_at_the_notes_frequency_for_the_scores_length():
    a4 = [69] * 8  # A4 (440 Hz) for two beats at 120 bpm: 1 second
    voices = np.array([a4, [REST] * 8, [REST] * 8, [REST] * 8])
    onsets = voices != REST
    onsets[0, 1:] = False
    audio = music.render_audio(voices, onsets, sample_rate=8000, tempo_bpm=120)
    assert audio.dtype == np.float32 and audio.shape == (8000,) and np.abs(audio).max() == pytest.approx(1.0)
    spectrum = np.abs(np.fft.rfft(audio))
    assert np.fft.rfftfreq(len(audio), 1 / 8000)[spectrum.argmax()] == pytest.approx(440, abs=2)
    assert not music.render_audio(np.full((4, 4), REST), np.zeros((4, 4), bool)).any()


def test_midi_file_round_trip(tmp_path):
    voices = np.array([[72, 72, 74, 74], [67] * 4, [64, 64, REST, 60], [48] * 4])
    onsets = np.array([[1, 1, 1, 0], [1, 0, 0, 0], [1, 0, 0, 1], [1, 0, 1, 0]], dtype=bool)
    path = tmp_path / "chorale.mid"
    midi = music.to_midi(voices, onsets, tempo_bpm=60, path=path)
    read = pretty_midi.PrettyMIDI(str(path))
    expected = {  # (pitch, start, end) in seconds: a sixteenth at 60 bpm lasts 0.25 s
        "Soprano": [(72, 0, .25), (72, .25, .5), (74, .5, 1)], "Alto": [(67, 0, 1)],
        "Tenor": [(64, 0, .5), (60, .75, 1)], "Bass": [(48, 0, .5), (48, .5, 1)],
    }
    for written in (midi, read):
        assert [i.name for i in written.instruments] == list(expected)
        for instrument in written.instruments:
            notes = [(n.pitch, round(n.start, 3), round(n.end, 3)) for n in instrument.notes]
            assert notes == expected[instrument.name]


# --- Bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("voices, onsets, message", [
    (np.zeros((3, 4)), np.zeros((3, 4), bool), r"shape \(4, time_steps\)"),
    (np.zeros((4, 0)), np.zeros((4, 0), bool), "empty"),
    (np.full((4, 2), 60.5), np.ones((4, 2), bool), "whole MIDI pitches"),
    (np.full((4, 2), 128), np.ones((4, 2), bool), "whole MIDI pitches"),
    (np.full((4, 2), 60), np.ones((4, 3), bool), "onsets must have the shape"),
    (np.full((4, 2), 60), np.zeros((4, 2), bool), "hold at the start"),
    (np.array([[REST, 60]] * 4), np.zeros((4, 2), bool), "after a rest"),
    (np.array([[60, 62]] * 4), np.array([[1, 0]] * 4, bool), "changes pitch"),
    (np.full((4, 2), REST), np.ones((4, 2), bool), "struck rest"),
])
def test_bad_voices_are_named(voices, onsets, message):
    for convert in (music.voices_to_roll, music.chorale_tokens, music.to_midi):
        with pytest.raises(ValueError, match=message):
            convert(voices, onsets)


def test_orphan_holds_are_refused_or_read_as_rests():
    # soprano: hold at the start (orphan), 60, hold; alto: 55, rest, hold (orphan), hold (orphan)
    tokens = ["hold", "55", "48", "40", "60", "rest", "48", "40", "hold", "hold", "hold", "hold"]
    tokens += ["hold", "hold", "50", "hold"]
    with pytest.raises(ValueError, match="no note to continue"):
        music.tokens_to_voices(tokens)
    assert music.count_orphan_holds(tokens) == 3
    voices, onsets = music.tokens_to_voices(tokens, orphan_holds="rest")
    assert voices[0].tolist() == [REST, 60, 60, 60] and voices[1].tolist() == [55, REST, REST, REST]
    assert voices[2].tolist() == [48, 48, 48, 50] and onsets[2].tolist() == [True, True, False, True]
    assert music.count_orphan_holds(music.chorale_tokens(voices, onsets)) == 0
    with pytest.raises(ValueError, match="orphan_holds"):
        music.tokens_to_voices(tokens, orphan_holds="drop")
