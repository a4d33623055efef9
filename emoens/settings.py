"""One place for what emoens reads from its environment, where its shipped data lives, and the
audio files its front ends look for.

- ``EMOENS_BUNDLE``: the bundle used when none is named (``EmotionRecognizer.from_bundle()``,
  ``emoens predict`` without ``--bundle``, the app): a folder or a Hub id. Unset: the embedded
  default bundle.
- ``EMOENS_THREADS``: CPU threads for CTranslate2 (Whisper) and ONNX Runtime sessions. Unset: the
  cores this process may use (its affinity mask, not the machine's count).
- :data:`AUDIO_SUFFIXES`: the file names ``emoens predict`` picks from a folder and the app
  offers as audio (what :func:`emoens.audio.load_audio` decodes; the compressed ones need ffmpeg
  or a libsndfile that reads them).
- The embedded default bundle, the example clips and the statistics are package data
  (``emoens/assets/{default,examples,stats}``), found through :mod:`importlib.resources`, so an
  installed wheel finds them as a checkout does.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".webm", ".m4a", ".aac", ".mp4")
BUNDLE_ENV = "EMOENS_BUNDLE"
THREADS_ENV = "EMOENS_THREADS"


def asset_dir(name: str) -> Path:
    """The shipped asset folder ``name`` (``default``, ``examples`` or ``stats``)."""
    root = resources.files("emoens") / "assets" / name
    # Installed as files (a wheel, a checkout): a real path. emoens is not zip-safe.
    return Path(str(root))


def default_bundle_dir() -> Path:
    """The embedded default bundle's folder (``emoens/assets/default``)."""
    return asset_dir("default")


def examples_dir() -> Path:
    """The example clips (``emoens/assets/examples``: ``*.flac`` with a ``.txt`` transcript each)."""
    return asset_dir("examples")


def stats_dir() -> Path:
    """The statistics of the training data (``emoens/assets/stats/*.json``)."""
    return asset_dir("stats")


def bundle_from_env() -> str | None:
    """``$EMOENS_BUNDLE`` (a folder or Hub id), or None for the embedded default bundle."""
    value = os.environ.get(BUNDLE_ENV, "").strip()
    return value or None


def default_threads() -> int:
    """CPU threads for inference: ``$EMOENS_THREADS``, else the cores this process may use."""
    from emoens.errors import EmoensError

    raw = os.environ.get(THREADS_ENV, "").strip()
    if raw:
        try:
            return max(1, int(raw))
        except ValueError:
            raise EmoensError(f"environment variable {THREADS_ENV}={raw!r} is not a whole "
                              "number of threads") from None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
