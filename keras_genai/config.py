"""Run-wide switches read from the environment."""

import os

QUICK_ENV = "KERAS_GENAI_QUICK"
OFFLINE_ENV = "KERAS_GENAI_OFFLINE"


def _flag(name):
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def is_quick_run():
    """True when KERAS_GENAI_QUICK=1: notebooks shrink data and steps for CI."""
    return _flag(QUICK_ENV)


def is_offline():
    """True when KERAS_GENAI_OFFLINE=1: loaders never try the network."""
    return _flag(OFFLINE_ENV)


def cache_dir():
    """Where trained helpers (e.g. the digit classifier) and parsed data are cached."""
    path = os.environ.get("KERAS_GENAI_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "keras_genai"))
    os.makedirs(path, exist_ok=True)
    return path
