"""Bach's four-part chorales on a sixteenth-note grid, with exact conversions and a way to listen.

Representations (those of `keras_genai.evaluation.music`, plus onsets):

* **voices**: (4, time_steps) int MIDI pitches, rows soprano, alto, tenor, bass; ``REST`` (-1) is
  silence. Step t lasts a sixteenth note (16 steps to a 4/4 bar).
* **onsets**: (4, time_steps) bool, True where a voice strikes a note, False where it holds the
  note of the step before (and at rests), so a repeated note and a held one differ.
* **piano roll**: (time_steps, 128) bool, plus an onset roll of the same shape.
* **tokens**: strings, time-major, soprano to bass within each step: a MIDI pitch ("60"), "hold"
  or "rest". They join with spaces into text for `keras_genai.tokenizers.WordTokenizer`.

`load_chorales` parses the chorales shipped with music21 (no download), caches the arrays and
splits them by chorale.
"""

import collections
import dataclasses
import os
import re
import time

import numpy as np

from keras_genai import _checks, config

VOICE_NAMES = ("soprano", "alto", "tenor", "bass")
REST = -1  # the same silence as keras_genai.evaluation.music.REST
PITCHES = 128
STEPS_PER_QUARTER = 4  # a sixteenth-note grid
HOLD, REST_TOKEN = "hold", "rest"
CACHE_FORMAT = 2  # bump when the parse changes, so old caches are not read


# --- Checks --------------------------------------------------------------------------------

def _check_voices(voices, onsets):
    """Four voices and their onsets, consistent with each other; returned as (int, bool) arrays."""
    array = _checks.as_float_array(voices, "voices")
    if array.ndim != 2 or array.shape[0] != len(VOICE_NAMES):
        raise ValueError(f"voices must have shape (4, time_steps), one row per voice "
                         f"{', '.join(VOICE_NAMES)}, got {array.shape}")
    _checks.check_finite(array, "voices")
    valid = (array == np.round(array)) & (((array >= 0) & (array < PITCHES)) | (array == REST))
    if not valid.all():
        raise ValueError(f"voices must hold whole MIDI pitches in [0, {PITCHES - 1}] or REST ({REST}), "
                         f"got {array[~valid][0]:.4g}")
    onsets = np.asarray(onsets)
    if onsets.shape != array.shape:
        raise ValueError(f"onsets must have the shape of voices {array.shape}, got {onsets.shape}")
    if onsets.dtype != bool and not np.isin(onsets, (0, 1)).all():
        raise ValueError("onsets must be boolean (True where a note is struck)")
    voices, onsets = array.astype(int), onsets.astype(bool)
    previous = np.pad(voices, ((0, 0), (1, 0)), constant_values=REST)[:, :-1]
    sounding = voices != REST
    for problem, bad in (
        ("a struck rest (onset True where the voice rests)", onsets & ~sounding),
        ("a hold at the start of a voice or after a rest", sounding & ~onsets & (previous == REST)),
        ("a hold that changes pitch", sounding & ~onsets & (previous != REST) & (previous != voices)),
    ):
        if bad.any():
            v, t = np.argwhere(bad)[0]
            raise ValueError(f"voices/onsets hold {problem}: {VOICE_NAMES[v]}, step {t}")
    return voices, onsets


# --- Parsing music21 scores ------------------------------------------------------------------

class NotAChorale(ValueError):
    """A score that does not fit the grid; `reason` is a short category for counting skips."""

    def __init__(self, reason, detail=""):
        super().__init__(f"{reason}{': ' + detail if detail else ''}")
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class Chorale:
    """One chorale: voices and onsets (4, T); key_source says where key_tonic/key_mode came from:
    "signature" (the mode the editors wrote into the key signature) or "analysis" (music21's
    Krumhansl-Schmuckler `analyze('key')`, used when the signature has no mode)."""

    name: str
    voices: np.ndarray
    onsets: np.ndarray
    key_tonic: int  # pitch class, 0 = C
    key_mode: str  # "major" or "minor"
    key_source: str
    steps_per_bar: int
    pickup_steps: int  # steps before the first bar line; 0 when it starts on a downbeat


def _voice_of(part_name):
    """'Soprano\\rOboe 1,2' -> 'soprano'; 'Horn 2' -> None. The first word names the voice."""
    words = re.findall(r"[a-z]+", (part_name or "").lower())
    return words[0] if words and words[0] in VOICE_NAMES else None


def _vocal_parts(score):
    """The four vocal parts, soprano to bass; instrument parts are dropped."""
    found = collections.defaultdict(list)
    for part in score.parts:
        found[_voice_of(part.partName)].append(part)
    counts = [len(found[v]) for v in VOICE_NAMES]
    if counts != [1, 1, 1, 1]:
        names = [part.partName for part in score.parts]
        raise NotAChorale("not one part for each of Soprano, Alto, Tenor, Bass", f"parts {names}")
    return [found[v][0] for v in VOICE_NAMES]


def _steps(quarter_length, what):
    steps = float(quarter_length) * STEPS_PER_QUARTER
    if abs(steps - round(steps)) > 1e-6:
        raise NotAChorale("note finer than a sixteenth", f"{what} of {float(quarter_length)} quarters")
    return int(round(steps))


def _meter(parts):
    """(steps per bar, pickup steps) from the single time signature and the first bar."""
    signatures = {ts.ratioString: ts for part in parts for ts in part.recurse().getElementsByClass("TimeSignature")}
    if len(signatures) != 1:
        raise NotAChorale("not exactly one time signature", f"{sorted(signatures)}")
    bar = next(iter(signatures.values())).barDuration.quarterLength
    steps_per_bar = _steps(bar, "a bar")
    measures = parts[0].getElementsByClass("Measure")
    first = measures[0].duration.quarterLength if measures else bar  # no bars written: no pickup
    return steps_per_bar, _steps(first, "the first bar") % steps_per_bar


def _key(score, soprano):
    signatures = soprano.recurse().getElementsByClass("KeySignature")
    key, source = (signatures[0], "signature") if signatures else (None, "")
    if getattr(key, "mode", None) not in ("major", "minor"):
        key, source = score.analyze("key"), "analysis"
    return key.tonic.pitchClass, key.mode, source


def _grid(parts):
    """(voices, onsets, grace notes dropped): ties merged first, so a tied note reads as held."""
    flat = [part.flatten().stripTies().notes for part in parts]
    length = max((_steps(n.offset + n.quarterLength, "an offset") for notes in flat for n in notes), default=0)
    if not length:
        raise NotAChorale("no notes")
    voices = np.full((len(parts), length), REST, dtype=int)
    onsets = np.zeros_like(voices, dtype=bool)
    grace = 0
    for v, notes in enumerate(flat):
        for n in notes:
            if n.duration.isGrace:  # an ornament of no written length: no step to put it on
                grace += 1
                continue
            if n.isChord:
                raise NotAChorale("chord in a voice part", f"{VOICE_NAMES[v]} at {float(n.offset)}")
            start, steps = _steps(n.offset, "an offset"), _steps(n.quarterLength, "a duration")
            if (voices[v, start:start + steps] != REST).any():
                raise NotAChorale("overlapping notes in a voice part", f"{VOICE_NAMES[v]} at {float(n.offset)}")
            voices[v, start:start + steps] = n.pitch.midi
            onsets[v, start] = True
    return voices, onsets, grace


def score_to_chorale(score, name=""):
    """A music21 score -> (Chorale, grace notes dropped); raises NotAChorale when it does not fit.

    Keeps the parts named Soprano, Alto, Tenor and Bass (by the first word of the part name) and
    drops instrument parts. Notes or offsets finer than a sixteenth raise rather than being rounded.
    """
    parts = _vocal_parts(score)
    steps_per_bar, pickup = _meter(parts)
    voices, onsets, grace = _grid(parts)
    tonic, mode, source = _key(score, parts[0])
    return Chorale(name, voices, onsets, tonic, mode, source, steps_per_bar, pickup), grace


# --- Loading, caching and splitting ----------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ChoraleData:
    """Chorales split by chorale into train/validation/test; no chorale is in two splits."""

    train: list
    validation: list
    test: list
    skipped: dict  # reason -> names of the files skipped for it
    grace_notes_dropped: int
    parse_seconds: float  # 0.0 when read from the cache
    source: str

    def describe(self):
        sizes = ", ".join(f"{len(part)} {name} ({sum(c.voices.shape[1] for c in part):,} steps)"
                          for name, part in [("train", self.train), ("validation", self.validation),
                                             ("test", self.test)])
        skipped = "; ".join(f"{len(names)} {reason}" for reason, names in sorted(self.skipped.items()))
        return f"{self.source}: {sizes}; skipped {sum(map(len, self.skipped.values()))} ({skipped or 'none'})"


def _parse_all(limit):
    import music21

    paths = sorted(music21.corpus.getComposer("bach"), key=str)[:limit]
    chorales, skipped, grace, seen = [], collections.defaultdict(list), 0, set()
    for path in paths:
        name = os.path.splitext(os.path.basename(str(path)))[0]
        try:
            chorale, dropped = score_to_chorale(music21.corpus.parse(path), name)
        except NotAChorale as error:
            skipped[error.reason].append(name)
            continue
        music = chorale.voices.tobytes() + chorale.onsets.tobytes()
        if music in seen:  # the same file twice (e.g. bwv398 and bwv197.7-a) would leak across splits
            skipped["same music as an earlier file"].append(name)
            continue
        seen.add(music)
        chorales.append(chorale)
        grace += dropped
    return chorales, dict(skipped), grace


def _save(path, chorales, skipped, grace):
    fields = {f.name: np.array([getattr(c, f.name) for c in chorales])
              for f in dataclasses.fields(Chorale) if f.name not in ("voices", "onsets")}
    np.savez_compressed(
        path, voices=np.concatenate([c.voices for c in chorales], axis=1).astype(np.int8),
        onsets=np.concatenate([c.onsets for c in chorales], axis=1),
        lengths=np.array([c.voices.shape[1] for c in chorales]), grace=grace,
        skipped_reasons=np.array([r for r, names in skipped.items() for _ in names], dtype=str),
        skipped_names=np.array([n for names in skipped.values() for n in names], dtype=str), **fields)


def _load(path):
    with np.load(path) as f:
        cuts = np.cumsum(f["lengths"])[:-1]
        voices, onsets = np.split(f["voices"].astype(int), cuts, axis=1), np.split(f["onsets"], cuts, axis=1)
        other = [f[field.name].tolist() for field in dataclasses.fields(Chorale)
                 if field.name not in ("voices", "onsets")]
        chorales = [Chorale(name, v, o, *rest) for (name, *rest), v, o in zip(zip(*other), voices, onsets)]
        skipped = collections.defaultdict(list)
        for reason, name in zip(f["skipped_reasons"].tolist(), f["skipped_names"].tolist()):
            skipped[reason].append(name)
        return chorales, dict(skipped), int(f["grace"])


def _split_by_chorale(chorales, validation_fraction, test_fraction, seed):
    """Shuffle with a fixed seed; at least one chorale in each split."""
    for value, name in ((validation_fraction, "validation_fraction"), (test_fraction, "test_fraction")):
        _checks.check_positive_number(value, name)
    if validation_fraction + test_fraction >= 1:
        raise ValueError(f"validation_fraction + test_fraction must leave training chorales, "
                         f"got {validation_fraction} + {test_fraction}")
    n = len(chorales)
    if n < 3:
        raise ValueError(f"{n} chorale(s) are too few to split three ways; raise limit")
    order = [chorales[i] for i in np.random.default_rng(seed).permutation(n)]
    n_val, n_test = (max(1, round(f * n)) for f in (validation_fraction, test_fraction))
    n_train = n - n_val - n_test
    if n_train < 1:
        raise ValueError(f"{n} chorales leave none for training with these fractions; raise limit")
    return order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:]


def load_chorales(limit=None, cache_dir=None, seed=0, validation_fraction=0.1, test_fraction=0.1, verbose=True):
    """Bach's chorales from music21's corpus, four voices each, split by chorale.

    limit: parse only the first `limit` files of the corpus (sorted by name; a quick run). The
    parsed arrays are cached in cache_dir (default `keras_genai.config.cache_dir()`) in a .npz named
    by limit and music21 version; the split is drawn after loading, so seeds share one cache.
    Skipped files are counted by reason: not SATB (e.g. the Roman-numeral analyses), time signature
    changes, notes finer than a sixteenth (skipped, not rounded), chords or overlaps in a part, and files
    whose music repeats an earlier file exactly (so no copy sits in two splits).
    """
    import music21

    if limit is not None:
        limit = _checks.check_positive_int(limit, "limit")
    folder = cache_dir or config.cache_dir()
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"bach_chorales_v{CACHE_FORMAT}_music21-{music21.__version__}_"
                                f"{'all' if limit is None else f'first{limit}'}.npz")
    if os.path.exists(path):
        start = time.perf_counter()
        (chorales, skipped, grace), seconds = _load(path), 0.0
        how = f"read from cache {path} in {time.perf_counter() - start:.2f} s"
    else:
        start = time.perf_counter()
        chorales, skipped, grace = _parse_all(limit)
        seconds = time.perf_counter() - start
        _save(path, chorales, skipped, grace)
        how = f"parsed in {seconds:.1f} s, cached at {path}"
    files = "all files" if limit is None else f"first {limit} files"
    source = f"Bach chorales, music21 {music21.__version__} corpus ({files})"
    data = ChoraleData(*_split_by_chorale(chorales, validation_fraction, test_fraction, seed),
                       skipped=skipped, grace_notes_dropped=grace, parse_seconds=seconds, source=source)
    if verbose:
        print(f"Data: {data.describe()}; {how}")
    return data


# --- Piano rolls ---------------------------------------------------------------------------

def voices_to_roll(voices, onsets):
    """Voices -> (roll, onset_roll), each (time_steps, 128) bool; a unison shows as one cell."""
    voices, onsets = _check_voices(voices, onsets)
    roll = np.zeros((voices.shape[1], PITCHES), dtype=bool)
    onset_roll = np.zeros_like(roll)
    for pitches, struck in zip(voices, onsets):
        steps = np.flatnonzero(pitches != REST)
        roll[steps, pitches[steps]] = True
        onset_roll[steps, pitches[steps]] |= struck[steps]
    return roll, onset_roll


def roll_to_voices(roll, onset_roll):
    """(roll, onset_roll) of at most four pitches a step -> (voices, onsets).

    At each step the sounding pitches go to soprano, alto, tenor, bass from the top. A roll keeps
    no unisons, no resting voice and no crossing, so when fewer than four pitches sound the lowest
    is doubled in the voices left below (all four rest on a silent step). A voice strikes its note
    where the onset roll says so, and also where its pitch changes, since a voice can only hold its
    own note. Hence voices_to_roll(*roll_to_voices(r, o)) gives back r exactly and o except at those
    forced strikes; voices -> roll -> voices is exact at steps where four distinct pitches sound in
    soprano-to-bass order.
    """
    roll, onset_roll = (np.asarray(r) for r in (roll, onset_roll))
    if roll.ndim != 2 or roll.shape[1] != PITCHES or roll.shape[0] == 0:
        raise ValueError(f"roll must have shape (time_steps, {PITCHES}) with time_steps > 0, got {roll.shape}")
    if onset_roll.shape != roll.shape:
        raise ValueError(f"onset_roll must have the shape of roll {roll.shape}, got {onset_roll.shape}")
    roll, onset_roll = roll.astype(bool), onset_roll.astype(bool)
    if (onset_roll & ~roll).any():
        raise ValueError("onset_roll strikes a pitch where roll is silent")
    crowded = np.flatnonzero(roll.sum(axis=1) > len(VOICE_NAMES))
    if crowded.size:
        raise ValueError(f"step {crowded[0]} sounds {roll[crowded[0]].sum()} pitches; four voices hold at most 4")
    voices = np.full((len(VOICE_NAMES), len(roll)), REST, dtype=int)
    for t, row in enumerate(roll):
        pitches = np.flatnonzero(row)[::-1]
        if pitches.size:
            voices[:, t] = np.pad(pitches, (0, len(VOICE_NAMES) - pitches.size), mode="edge")
    sounding = voices != REST
    onsets = np.take_along_axis(onset_roll.T, np.maximum(voices, 0), axis=0) & sounding
    previous = np.pad(voices, ((0, 0), (1, 0)), constant_values=REST)[:, :-1]
    return voices, onsets | (sounding & (previous != voices))


# --- Tokens --------------------------------------------------------------------------------

def chorale_tokens(voices, onsets):
    """Voices -> tokens, step by step, soprano to bass: a pitch ("60") where a note is struck,
    "hold" where it continues, "rest" in silence.

    The voice is not in the token: it is the position modulo 4, so a pitch has one embedding
    whichever voice sings it, and the vocabulary stays near 60 tokens instead of ~4x that. Models
    learn the position from the positional embedding; cut windows at multiples of 4 tokens.
    Every token is one word for WordTokenizer: `WordTokenizer.from_texts([" ".join(tokens)])`.
    """
    voices, onsets = _check_voices(voices, onsets)
    words = np.where(onsets, voices.astype(str), np.where(voices == REST, REST_TOKEN, HOLD))
    return words.T.reshape(-1).tolist()


def tokens_to_voices(tokens, orphan_holds="error"):
    """Tokens (a list, or one space-separated string) -> (voices, onsets); the inverse of chorale_tokens.

    orphan_holds: what to do with a "hold" that has no note to continue (at a voice's first step or
    after a rest), which a generator can write but a score cannot hold: "error" (the default) or
    "rest" (read it as silence, e.g. to listen to and score generated tokens; count them first with
    `count_orphan_holds(tokens)` to report how often it happened).
    """
    _checks.check_choice(orphan_holds, {"error", "rest"}, "orphan_holds")
    tokens = tokens.split() if isinstance(tokens, str) else list(tokens)
    if not tokens or len(tokens) % len(VOICE_NAMES):
        raise ValueError(f"tokens must be a non-empty whole number of steps of 4 (soprano to bass), got "
                         f"{len(tokens)} tokens (cut a generated sequence to a multiple of 4)")
    known = {HOLD: None, REST_TOKEN: REST, **{str(p): p for p in range(PITCHES)}}
    unknown = sorted({str(t) for t in tokens if t not in known})
    if unknown:
        raise ValueError(f"unknown tokens {unknown[:5]}: expected MIDI pitches 0-127, {HOLD!r} or {REST_TOKEN!r}")
    grid = np.array(tokens, dtype=object).reshape(-1, len(VOICE_NAMES)).T
    onsets = (grid != HOLD) & (grid != REST_TOKEN)
    voices = np.full(grid.shape, REST, dtype=int)
    for v, t in zip(*np.nonzero(grid != HOLD)):
        voices[v, t] = known[grid[v, t]]
    for v, t in zip(*np.nonzero(grid == HOLD)):  # in time order within each voice
        if t == 0 or voices[v, t - 1] == REST:
            if orphan_holds == "rest":
                continue
            raise ValueError(f"a {HOLD!r} at step {t} of the {VOICE_NAMES[v]} has no note to continue "
                             f"({'the start' if t == 0 else 'after a rest'})")
        voices[v, t] = voices[v, t - 1]
    return voices, onsets


def count_orphan_holds(tokens):
    """Number of "hold" tokens with no note to continue (a voice's first step, or after a rest or an
    earlier orphan hold): the tokens that tokens_to_voices(..., orphan_holds="rest") reads as rests."""
    tokens = tokens.split() if isinstance(tokens, str) else list(tokens)
    voices, _ = tokens_to_voices(tokens, orphan_holds="rest")
    holds = np.array(tokens, dtype=object).reshape(-1, len(VOICE_NAMES)).T == HOLD
    return int(np.sum(holds & (voices == REST)))


# --- Transposition and windows -------------------------------------------------------------

def transpose(voices, semitones):
    """Voices shifted by whole semitones; rests stay rests. Raises if a pitch leaves [0, 127]."""
    if isinstance(semitones, bool) or not isinstance(semitones, (int, np.integer)):
        raise ValueError(f"semitones must be an integer, got {semitones!r}")
    voices, _ = _check_voices(voices, np.asarray(voices) != REST)  # onsets play no part: all struck
    shifted = np.where(voices == REST, REST, voices + semitones)
    sounding = shifted[voices != REST]
    if sounding.size and (sounding.min() < 0 or sounding.max() >= PITCHES):
        raise ValueError(f"transposing by {semitones} gives pitches {sounding.min()}-{sounding.max()}, "
                         f"outside MIDI [0, {PITCHES - 1}]")
    return shifted


def voice_ranges(chorales):
    """Per voice (lowest, highest) MIDI pitch over the chorales, shape (4, 2)."""
    voices = np.concatenate([c.voices for c in chorales], axis=1)
    return np.array([(row[row != REST].min(), row[row != REST].max()) for row in voices])


def augment_transpositions(chorales, max_shift=5, ranges=None):
    """The chorales plus each transposition by +-1..max_shift semitones that keeps every voice in
    its (low, high) range: by default the ranges the given chorales themselves span, so no voice
    goes beyond where Bach took it; or pass e.g. keras_genai.evaluation.SATB_RANGES.

    Use it on the training split only: a transposed test chorale is the same music, so augmenting
    held-out splits (or transposing before splitting) lets copies of test music into the figures.
    Transposed copies are named like 'bwv1.6+2' and carry the shifted key tonic.
    """
    max_shift = _checks.check_positive_int(max_shift, "max_shift")
    if not chorales:
        raise ValueError("chorales is empty")
    bounds = voice_ranges(chorales) if ranges is None else np.asarray(ranges)
    if bounds.shape != (len(VOICE_NAMES), 2):
        raise ValueError(f"ranges must give one (low, high) pair per voice, shape (4, 2), got {bounds.shape}")
    out = []
    for chorale in chorales:
        sounding = chorale.voices != REST
        low = np.where(sounding, chorale.voices, PITCHES).min(axis=1)
        high = np.where(sounding, chorale.voices, REST).max(axis=1)
        for shift in range(-max_shift, max_shift + 1):
            if shift and ((low + shift < bounds[:, 0]) | (high + shift > bounds[:, 1])).any():
                continue
            out.append(chorale if not shift else dataclasses.replace(
                chorale, name=f"{chorale.name}{shift:+d}", voices=transpose(chorale.voices, shift),
                key_tonic=(chorale.key_tonic + shift) % 12))
    return out


def chorale_windows(chorales, bars=2, steps_per_bar=16, hop_bars=1):
    """Windows of whole bars -> (voices, onsets), each (n, 4, bars * steps_per_bar).

    Windows start on bar lines (after any pickup), every hop_bars bars; chorales in another metre
    are left out. A note held into a window is struck at its first step, so each window is valid
    on its own. For a piano-roll GAN: np.stack([voices_to_roll(v, o)[0] for v, o in zip(...)]).
    """
    bars, steps_per_bar, hop_bars = (_checks.check_positive_int(x, name) for x, name in
                                     ((bars, "bars"), (steps_per_bar, "steps_per_bar"), (hop_bars, "hop_bars")))
    length, windows = bars * steps_per_bar, []
    for c in chorales:
        if c.steps_per_bar != steps_per_bar:
            continue
        for start in range(c.pickup_steps, c.voices.shape[1] - length + 1, hop_bars * steps_per_bar):
            voices, onsets = c.voices[:, start:start + length], c.onsets[:, start:start + length].copy()
            onsets[:, 0] = voices[:, 0] != REST
            windows.append((voices, onsets))
    if not windows:
        raise ValueError(f"no chorale in {steps_per_bar}-step bars is {bars} bars long")
    return np.stack([w[0] for w in windows]), np.stack([w[1] for w in windows])


# --- Listening -----------------------------------------------------------------------------

def _step_seconds(tempo_bpm):
    return 60.0 / _checks.check_positive_number(tempo_bpm, "tempo_bpm") / STEPS_PER_QUARTER


def to_midi(voices, onsets, tempo_bpm=100, path=None):
    """Voices -> pretty_midi.PrettyMIDI with one instrument per voice (choir program); written to
    path when given. A struck note lasts until the next onset or rest of its voice."""
    import pretty_midi

    voices, onsets = _check_voices(voices, onsets)
    step = _step_seconds(tempo_bpm)
    midi = pretty_midi.PrettyMIDI(initial_tempo=float(tempo_bpm))
    for name, pitches, struck in zip(VOICE_NAMES, voices, onsets):
        instrument = pretty_midi.Instrument(program=52, name=name.capitalize())  # 52: Choir Aahs
        starts = np.flatnonzero(struck)
        ends = [start + 1 + np.argmax(np.append(struck[start + 1:] | (pitches[start + 1:] == REST), True))
                for start in starts]
        instrument.notes = [pretty_midi.Note(velocity=80, pitch=int(pitches[s]), start=s * step, end=e * step)
                            for s, e in zip(starts, ends)]
        midi.instruments.append(instrument)
    if path is not None:
        midi.write(os.fspath(path))
    return midi


def render_audio(voices, onsets, sample_rate=16000, tempo_bpm=100):
    """Voices -> float32 mono audio in [-1, 1], pretty_midi's sine synthesis (no system synthesiser),
    peak-normalised and cut to the score's length (pretty_midi adds a second of tail)."""
    sample_rate = _checks.check_positive_int(sample_rate, "sample_rate")
    midi = to_midi(voices, onsets, tempo_bpm)
    audio = midi.synthesize(fs=sample_rate, normalize=False)
    audio = audio[:int(round(np.shape(voices)[1] * _step_seconds(tempo_bpm) * sample_rate))]
    peak = np.abs(audio).max() if audio.size else 0.0
    return (audio / peak if peak > 0 else audio).astype(np.float32)
