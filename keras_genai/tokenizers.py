"""Character vocabularies that round-trip text exactly and travel inside a saved model.

A text is split into Unicode code points; each known character gets an id after four special
tokens: padding (0, never a target), start, end and unknown. The vocabulary is plain data in
the tokenizer's config, so a model that holds a tokenizer saves it inside its `.keras` file and
loading needs nothing extra. (Keras' `StringLookup` could map characters to ids in the graph,
but the models here encode on the Python side, where exact decoding and clear errors are simpler.)
"""

import collections
import re

import keras
import numpy as np

from keras_genai import _checks

PAD, START, END, UNKNOWN, MASK = "<pad>", "<start>", "<end>", "<unk>", "<mask>"
SPECIAL_TOKENS = (PAD, START, END, UNKNOWN)
UNKNOWN_POLICIES = {"error", "map"}


def _check_texts(texts, name="texts"):
    if isinstance(texts, str):
        raise TypeError(f"{name} must be a list of strings, got one string; wrap it in a list")
    texts = list(texts)
    bad = [type(t).__name__ for t in texts if not isinstance(t, str)]
    if bad:
        raise TypeError(f"{name} must contain only strings, found {bad[0]}")
    return texts


@keras.saving.register_keras_serializable(package="keras_genai")
class CharTokenizer:
    """Ids for characters: 0 padding, 1 start, 2 end, 3 unknown, [4 mask,] then the characters in order.

    unknown: what `encode` does with a character outside the vocabulary, "error" (the default:
    a ValueError naming the characters) or "map" (to the unknown id, e.g. to score held-out text
    that holds a character the training text never did). Each call can override it.
    mask_token: add a `<mask>` id (4) for masked language models; text never encodes to it.
    """

    pad_id, start_id, end_id, unknown_id = 0, 1, 2, 3
    unit, joiner = "character", ""  # what one id stands for, and what decode() puts between them

    @staticmethod
    def split(text):
        """A text as the units that get ids: here its characters."""
        return list(text)

    def __init__(self, characters, unknown="error", mask_token=False):
        characters = list(characters)
        if not characters:
            raise ValueError("a CharTokenizer needs at least one character")
        not_units = [c for c in characters if not isinstance(c, str) or self.split(c) != [c]]
        if not_units:
            raise ValueError(f"{self.unit}s must be single {self.unit}s, got {not_units[0]!r}")
        if len(set(characters)) != len(characters):
            raise ValueError("characters must not repeat")
        _checks.check_choice(unknown, UNKNOWN_POLICIES, "unknown")
        self.characters = characters
        self.unknown = unknown
        self.mask_token = bool(mask_token)
        self.special_tokens = list(SPECIAL_TOKENS) + [MASK] * self.mask_token
        self.mask_id = len(SPECIAL_TOKENS) if self.mask_token else None
        self.first_character_id = len(self.special_tokens)
        self.vocabulary = self.special_tokens + characters
        self._ids = {c: i + self.first_character_id for i, c in enumerate(characters)}

    @classmethod
    def from_texts(cls, texts, min_count=1, unknown="error", mask_token=False):
        """The characters seen at least min_count times in texts, most frequent first."""
        counts = collections.Counter()
        for text in _check_texts(texts):
            counts.update(cls.split(text))
        chars = sorted((c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], c))
        if not chars:
            raise ValueError("texts hold no character (empty texts or min_count too high)")
        return cls(chars, unknown=unknown, mask_token=mask_token)

    @property
    def vocab_size(self):
        return len(self.vocabulary)

    def __len__(self):
        return self.vocab_size

    def __repr__(self):
        return (f"{type(self).__name__}({len(self.characters)} {self.unit}s + {len(self.special_tokens)} "
                "special tokens)")

    def unknown_characters(self, text):
        """The distinct characters of text that are not in the vocabulary."""
        return sorted(set(self.split(text)) - set(self._ids))

    def encode(self, text, add_start=False, add_end=False, unknown=None):
        """One string -> int32 ids (optionally framed by the start and end ids)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a string, got {type(text).__name__}")
        unknown = self.unknown if unknown is None else unknown
        _checks.check_choice(unknown, UNKNOWN_POLICIES, "unknown")
        if unknown == "error":
            missing = self.unknown_characters(text)
            if missing:
                raise ValueError(
                    f"characters outside the vocabulary: {missing[:10]} in {text[:40]!r}; the tokenizer knows "
                    f"{len(self.characters)} characters (pass unknown='map' to map them to {UNKNOWN})"
                )
        ids = [self._ids.get(c, self.unknown_id) for c in self.split(text)]
        ids = [self.start_id] * add_start + ids + [self.end_id] * add_end
        return np.asarray(ids, dtype="int32")

    def encode_batch(self, texts, add_start=False, add_end=False, length=None, unknown=None):
        """Strings -> one int32 array (n, length), right-padded with the padding id.

        length defaults to the longest encoded text; a text longer than length is an error, not
        silently cut.
        """
        texts = _check_texts(texts)
        if not texts:
            raise ValueError("texts is empty")
        encoded = [self.encode(t, add_start, add_end, unknown) for t in texts]
        longest = max(len(e) for e in encoded)
        length = longest if length is None else _checks.check_positive_int(length, "length")
        if longest > length:
            raise ValueError(f"a text encodes to {longest} ids, longer than length={length}")
        out = np.full((len(texts), length), self.pad_id, dtype="int32")
        for row, ids in zip(out, encoded):
            row[: len(ids)] = ids
        return out

    def decode(self, ids, stop_at_end=True):
        """Ids -> string: special tokens are dropped (unknown shows as U+FFFD); stops at the end id."""
        chars = []
        for i in np.asarray(ids).reshape(-1).tolist():
            if not 0 <= i < self.vocab_size:
                raise ValueError(f"id {i} is outside the vocabulary of {self.vocab_size}")
            if i == self.end_id and stop_at_end:
                break
            if i == self.unknown_id:
                chars.append("\ufffd")
            elif i >= self.first_character_id:
                chars.append(self.vocabulary[i])
        return self.joiner.join(chars)

    def decode_batch(self, ids, stop_at_end=True):
        return [self.decode(row, stop_at_end) for row in np.asarray(ids)]

    def get_config(self):
        return {"characters": self.characters, "unknown": self.unknown, "mask_token": self.mask_token}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_genai")
class WordTokenizer(CharTokenizer):
    """The same ids for words: a text splits into runs of letters/digits and single punctuation marks.

    decode() joins the words with spaces, so "a thick seven, upright" comes back as
    "a thick seven , upright": exact up to the spaces around punctuation.
    """

    unit, joiner = "word", " "

    @staticmethod
    def split(text):
        return re.findall(r"\w+|[^\w\s]", text)


def serialize(tokenizer):
    return keras.saving.serialize_keras_object(tokenizer)


def deserialize(config):
    """A tokenizer, or its serialized form (as found in a saved model's config)."""
    if isinstance(config, CharTokenizer):
        return config
    tokenizer = keras.saving.deserialize_keras_object(config)
    if not isinstance(tokenizer, CharTokenizer):
        raise TypeError(f"expected a CharTokenizer, got {type(tokenizer).__name__}")
    return tokenizer
