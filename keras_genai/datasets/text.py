"""Text that works offline: names, English prose and a date-normalisation task.

- `load_names`: makemore's 32,033 first names when cached or reachable, otherwise the US census
  first (or last) names shipped by the `names` package; split by name.
- `load_prose`: Tiny Shakespeare (split by speech) when cached or reachable, otherwise the
  English help texts that ship with CPython (`pydoc_data.topics`, split by topic).
- `load_dates`: dates written in many human formats -> ISO 8601, generated with a fixed seed;
  test dates never appear in training, and some formats are held out altogether.
"""

import dataclasses
import datetime
import os

import numpy as np
import tensorflow as tf

from keras_genai import _checks, config
from keras_genai.datasets.images import _reachable

NAMES_URL = "https://raw.githubusercontent.com/karpathy/makemore/master/names.txt"
SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
CENSUS_FILES = {"first": ("dist.female.first", "dist.male.first"), "last": ("dist.all.last",)}


@dataclasses.dataclass(frozen=True)
class TextData:
    """Texts split into train/validation/test by unit (name, document): no unit is in two splits."""

    train: list
    validation: list
    test: list
    source: str
    unit: str

    def describe(self):
        sizes = ", ".join(
            f"{len(part):,} {name} ({sum(map(len, part)):,} characters)"
            for name, part in [("train", self.train), ("validation", self.validation), ("test", self.test)]
        )
        return f"{self.source}: {self.unit}s split by {self.unit}: {sizes}"


def _cached_or_downloaded(url, filename):
    """A local copy of url: from the cache, or downloaded when reachable and not offline; else None."""
    path = os.path.join(config.cache_dir(), filename)
    if os.path.exists(path):
        return path
    if config.is_offline() or not _reachable(url.split("/")[2]):
        return None
    import keras

    return keras.utils.get_file(fname=os.path.abspath(path), origin=url)


def _split_units(units, fractions, seed, by_length=False):
    """Shuffle with a fixed seed, then cut into train/validation/test by the given fractions of the
    units (by_length=False) or of their total length (True: documents of very different lengths)."""
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions must be three positive numbers summing to 1, got {fractions}")
    units = [units[i] for i in np.random.default_rng(seed).permutation(len(units))]
    if by_length:  # the cuts whose share of the characters before them is nearest each fraction
        before = np.concatenate([[0], np.cumsum([len(u) for u in units])]) / sum(len(u) for u in units)
        n_train = int(np.argmin(np.abs(before - fractions[0])))
        n_val = int(np.argmin(np.abs(before - fractions[0] - fractions[1]))) - n_train
    else:
        n_train = int(round(fractions[0] * len(units)))
        n_val = int(round(fractions[1] * len(units)))
    if min(n_train, n_val, len(units) - n_train - n_val) < 1:
        raise ValueError(f"{len(units)} units are too few to split by {fractions}")
    return units[:n_train], units[n_train:n_train + n_val], units[n_train + n_val:]


def _census_names(kind):
    import names  # the `names` package: US census name lists as plain text files

    folder = os.path.dirname(names.__file__)
    found = set()
    for filename in CENSUS_FILES[kind]:
        with open(os.path.join(folder, filename)) as f:
            found.update(line.split()[0].lower() for line in f if line.strip())
    return sorted(found)


def load_names(source="auto", kind="first", path=None, fractions=(0.8, 0.1, 0.1), seed=0, verbose=True):
    """Lower-case names, deduplicated and split by name into train/validation/test.

    source: "auto" (makemore's names.txt if cached or reachable, else the census lists),
    "makemore" or "census". kind: "first" or "last" names (census only). path: a local text
    file with one name per line (used instead of either).
    """
    _checks.check_choice(source, {"auto", "makemore", "census"}, "source")
    _checks.check_choice(kind, set(CENSUS_FILES), "kind")
    file, origin = path, path
    if file is None and source != "census" and kind == "first":
        file, origin = _cached_or_downloaded(NAMES_URL, "makemore_names.txt"), "makemore names.txt"
        if file is None and source == "makemore":
            raise FileNotFoundError(f"makemore's names.txt is neither cached nor reachable ({NAMES_URL})")
    if file is not None:
        if not os.path.exists(file):
            raise FileNotFoundError(f"no names file at {file}")
        with open(file, encoding="utf-8") as f:
            all_names = sorted({line.strip().lower() for line in f if line.strip()})
        label = f"{origin} ({len(all_names):,} names)"
    else:
        all_names = _census_names(kind)
        label = f"US census {kind} names (`names` package, {len(all_names):,} distinct)"
    data = TextData(*_split_units(all_names, fractions, seed), source=label, unit="name")
    if verbose:
        print("Data:", data.describe())
    return data


def _shakespeare_speeches(path):
    with open(path, encoding="utf-8") as f:
        return [block.strip() + "\n" for block in f.read().split("\n\n") if block.strip()]


def _pydoc_topics():
    from pydoc_data import topics

    # Some topics share one text: keep each text once, so no document is in two splits.
    return _drop_contained(list(dict.fromkeys(topics.topics[key] for key in sorted(topics.topics))))


def _drop_contained(docs, n=20, share=0.5):
    """Drops each document with at least `share` of its n-character substrings in one longer document.

    Many help topics are sections of longer ones ("exceptions" of "execmodel"); split apart, the
    held-out copy would be text the model has read.
    """
    grams = [{d[i:i + n] for i in range(len(d) - n + 1)} for d in docs]
    return [d for i, d in enumerate(docs)
            if not any(len(other) > len(d) and len(grams[i] & grams[j]) >= share * len(grams[i])
                       for j, other in enumerate(docs))]


def load_prose(source="auto", fractions=(0.8, 0.1, 0.1), seed=0, verbose=True):
    """English prose split by document, so test text is text the model never saw.

    source: "auto" (Tiny Shakespeare, split by speech, if cached or reachable; else CPython's
    help topics, split by topic), "shakespeare" or "pydoc".
    """
    _checks.check_choice(source, {"auto", "shakespeare", "pydoc"}, "source")
    path = None if source == "pydoc" else _cached_or_downloaded(SHAKESPEARE_URL, "tinyshakespeare.txt")
    if path is None and source == "shakespeare":
        raise FileNotFoundError(f"Tiny Shakespeare is neither cached nor reachable ({SHAKESPEARE_URL})")
    if path is not None:
        docs, label, unit = _shakespeare_speeches(path), "Tiny Shakespeare", "speech"
    else:
        docs, label, unit = _pydoc_topics(), "CPython help topics (pydoc_data.topics)", "document"
    data = TextData(*_split_units(docs, fractions, seed, by_length=True), source=label, unit=unit)
    if verbose:
        print("Data:", data.describe())
    return data


def token_windows(sequences, length):
    """Token sequences -> overlapping windows of length + 1 ids for next-token training.

    Consecutive windows share one id, so every id after the first of a sequence is a target
    exactly once (models and count baselines score the same targets). The last window of a
    sequence is right-padded with 0.
    """
    length = _checks.check_positive_int(length, "length")
    windows = []
    for seq in sequences:
        seq = np.asarray(seq, dtype="int32")
        for start in range(0, max(len(seq) - 1, 1), length):
            chunk = seq[start:start + length + 1]
            windows.append(np.pad(chunk, (0, length + 1 - len(chunk))))
    if not windows:
        raise ValueError("no sequences to cut into windows")
    return np.stack(windows)


def sequence_dataset(ids, batch_size, shuffle=True, seed=0, drop_remainder=True):
    """A shuffled, batched, prefetched `tf.data.Dataset` of int32 id arrays (or a tuple of them)."""
    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    arrays = ids if isinstance(ids, tuple) else (ids,)
    arrays = tuple(np.asarray(a) for a in arrays)
    for a in arrays:
        if a.ndim != 2 or not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"ids must be 2-D integer arrays (n, length), got {a.dtype} {a.shape}")
        if len(a) != len(arrays[0]):
            raise ValueError(f"arrays have different numbers of rows: {[len(x) for x in arrays]}")
    n = len(arrays[0])
    if n == 0 or (n < batch_size and drop_remainder):
        raise ValueError(f"batch_size={batch_size} is larger than the {n} sequences")
    elements = tuple(a.astype("int32") for a in arrays)
    ds = tf.data.Dataset.from_tensor_slices(elements if len(elements) > 1 else elements[0])  # in memory: no cache()
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


# --- Dates: many human formats -> ISO 8601 ----------------------------------------------------

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
FIRST_DAY, LAST_DAY = datetime.date(1950, 1, 1), datetime.date(2049, 12, 31)  # two-digit years are unambiguous


def _ordinal(day):
    suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


# Slashes are month/day (US), dots day.month (European); two-digit years 50-99 -> 19xx, 00-49 -> 20xx.
DATE_FORMATS = {
    "3 March 1998": lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    "03 March 1998": lambda d: f"{d.day:02d} {MONTHS[d.month - 1]} {d.year}",
    "March 3, 1998": lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    "Mar 3, 1998": lambda d: f"{MONTHS[d.month - 1][:3]} {d.day}, {d.year}",
    "3 Mar 1998": lambda d: f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}",
    "March 3rd, 1998": lambda d: f"{MONTHS[d.month - 1]} {_ordinal(d.day)}, {d.year}",
    "Tuesday, March 3rd 1998": lambda d: f"{WEEKDAYS[d.weekday()]}, {MONTHS[d.month - 1]} {_ordinal(d.day)} {d.year}",
    "Tue 3 Mar 1998": lambda d: f"{WEEKDAYS[d.weekday()][:3]} {d.day} {MONTHS[d.month - 1][:3]} {d.year}",
    "3 march 1998": lambda d: f"{d.day} {MONTHS[d.month - 1].lower()} {d.year}",
    "03-MAR-1998": lambda d: f"{d.day:02d}-{MONTHS[d.month - 1][:3].upper()}-{d.year}",
    "03/03/98": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year % 100:02d}",
    "03/03/1998": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}",
    "3.3.1998": lambda d: f"{d.day}.{d.month}.{d.year}",
    "19980303": lambda d: f"{d.year}{d.month:02d}{d.day:02d}",
    "1998年3月3日": lambda d: f"{d.year}年{d.month}月{d.day}日",
}
# Formats never shown in training, built from pieces that are: do the models generalise?
HELD_OUT_DATE_FORMATS = {
    "the 3rd of March, 1998": lambda d: f"the {_ordinal(d.day)} of {MONTHS[d.month - 1]}, {d.year}",
    "1998/03/03": lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}",
    "3-Mar-98": lambda d: f"{d.day}-{MONTHS[d.month - 1][:3]}-{d.year % 100:02d}",
    "March 03 1998": lambda d: f"{MONTHS[d.month - 1]} {d.day:02d} {d.year}",
}


def format_date(date, fmt):
    """A datetime.date written in one of the named formats (see DATE_FORMATS, HELD_OUT_DATE_FORMATS)."""
    formats = {**DATE_FORMATS, **HELD_OUT_DATE_FORMATS}
    _checks.check_choice(fmt, set(formats), "fmt")
    return formats[fmt](date)


@dataclasses.dataclass(frozen=True)
class DatePairs:
    """Written dates, their ISO 8601 forms, and the format each was written in."""

    sources: list
    targets: list
    formats: list

    def __len__(self):
        return len(self.sources)


@dataclasses.dataclass(frozen=True)
class DateData:
    train: DatePairs
    validation: DatePairs
    test: DatePairs  # unseen dates, training formats
    test_held_out_formats: DatePairs  # the same unseen dates, formats never seen in training
    source: str = "generated dates 1950-2049 (fixed seed)"

    def describe(self):
        return (
            f"{self.source}: {len(self.train):,} train, {len(self.validation):,} validation and {len(self.test):,} "
            f"test pairs ({len(DATE_FORMATS)} formats), plus {len(self.test_held_out_formats):,} test pairs in "
            f"{len(HELD_OUT_DATE_FORMATS)} held-out formats; no test date appears in training"
        )


def _pairs(dates, formats, rng):
    names = list(formats)
    chosen = [names[i] for i in rng.integers(0, len(names), size=len(dates))]
    return DatePairs([formats[f](d) for d, f in zip(dates, chosen)], [d.isoformat() for d in dates], chosen)


def load_dates(n_test=2000, n_validation=1000, n_train=None, seed=0, verbose=True):
    """The date-normalisation task: each date appears once, in a randomly chosen format.

    Dates from 1950-2049 are shuffled with a fixed seed; n_test and n_validation of them are held
    out; the rest (or the first n_train of them) are training dates.
    """
    n_test = _checks.check_positive_int(n_test, "n_test")
    n_validation = _checks.check_positive_int(n_validation, "n_validation")
    days = (LAST_DAY - FIRST_DAY).days + 1
    if n_test + n_validation >= days:
        raise ValueError(f"n_test + n_validation must leave training dates out of {days}")
    rng = np.random.default_rng(seed)
    dates = [FIRST_DAY + datetime.timedelta(days=int(i)) for i in rng.permutation(days)]
    test, val, train = dates[:n_test], dates[n_test:n_test + n_validation], dates[n_test + n_validation:]
    if n_train is not None:
        train = train[: _checks.check_positive_int(n_train, "n_train")]
    data = DateData(
        _pairs(train, DATE_FORMATS, rng), _pairs(val, DATE_FORMATS, rng), _pairs(test, DATE_FORMATS, rng),
        _pairs(test, HELD_OUT_DATE_FORMATS, rng),
    )
    if verbose:
        print("Data:", data.describe())
    return data
