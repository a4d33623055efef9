"""Corpus readers: one module per corpus, each yielding manifest rows (dicts with the columns of
:data:`emoens.manifest.COLUMNS`) and :class:`Skipped` records, nothing else.

:func:`collect` runs readers and applies, once, what is common to all corpora: the tie policy
(from ``label_raw``), unknown labels, the audio check (header duration, empty or silent audio)
and duplicated ids. Nothing is copied or re-encoded: rows point at the user's files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from emoens.corpora.aihub import read_aihub
from emoens.corpora.common import CorpusError, Skipped
from emoens.corpora.kemdy19 import read_kemdy19
from emoens.corpora.kemdy20 import read_kemdy20
from emoens.corpora.table import read_table
from emoens.labels import LabelError
from emoens.manifest import COLUMNS, parse_label_raw, resolve_ties

READERS: dict[str, Callable[..., Iterator[dict | Skipped]]] = {
    "kemdy20": read_kemdy20,
    "kemdy19": read_kemdy19,
    "aihub": read_aihub,
    "table": read_table,
}
SKIPPED_COLUMNS: tuple[str, ...] = ("corpus", "utt_id", "reason", "detail", "source")

__all__ = ["READERS", "SKIPPED_COLUMNS", "CorpusError", "Skipped", "collect", "read_kemdy19",
           "read_kemdy20", "read_aihub", "read_table", "check_audio"]


def check_audio(path: str, *, silence: bool = True) -> tuple[float, str | None]:
    """``(duration, problem)`` of an audio file: the header's duration, and a skip reason
    (``"unreadable audio"``, ``"empty audio"``, ``"silent audio"``) or None when it is usable.

    With ``silence`` the samples are read (a few ms per segment) to find digital silence.
    """
    import soundfile as sf

    from emoens.audio import is_silent

    try:
        with sf.SoundFile(path) as snd:
            frames, rate = snd.frames, snd.samplerate
            duration = frames / rate if rate else 0.0
            if frames <= 0:
                return 0.0, "empty audio"
            if silence:
                samples = snd.read(dtype="float32", always_2d=True)
                if samples.size == 0:
                    return duration, "empty audio"
                if not np.all(np.isfinite(samples)):
                    return duration, "unreadable audio"
                if is_silent(samples):
                    return duration, "silent audio"
    except (sf.LibsndfileError, RuntimeError, TypeError, OSError):
        return 0.0, "unreadable audio"
    return duration, None


def collect(sources: Iterable[tuple[str, str | Path]], *, multilabel: str = "soft",
            check_silence: bool = True, keep_silent: bool = False,
            progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read every ``(kind, path)`` source (kinds: :data:`READERS`) into one frame of manifest rows
    and one frame of skipped rows (:data:`SKIPPED_COLUMNS`).

    Extra columns: ``tie_policy`` (``multilabel``) and ``silent`` (1 for an all-silent wav, kept
    only with ``keep_silent``, e.g. for text-only training; such rows are skipped by default, as
    KEMDy20 has a few all-zero segment wavs). Raises :class:`CorpusError` for an unreadable source.
    """
    from tqdm.auto import tqdm

    rows: list[dict] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for kind, path in sources:
        if kind not in READERS:
            raise CorpusError(f"unknown corpus kind {kind!r}: expected one of {', '.join(READERS)}")
        bar = tqdm(READERS[kind](Path(path).resolve()), desc=f"reading {kind}", unit=" rows",
                   disable=not progress, leave=False)
        for item in bar:
            if isinstance(item, Skipped):
                skipped.append(item)
                continue
            utt_id = item["utt_id"]
            try:
                labels = parse_label_raw(item["label_raw"])
            except LabelError:
                skipped.append(Skipped(item["corpus"], utt_id, "unknown label", item["label_raw"],
                                       item["audio_path"]))
                continue
            resolved = resolve_ties(labels, multilabel)
            if resolved is None:
                skipped.append(Skipped(item["corpus"], utt_id, "tie dropped",
                                       f"{item['label_raw']} (--multilabel drop)", item["audio_path"]))
                continue
            if utt_id in seen:
                skipped.append(Skipped(item["corpus"], utt_id, "duplicated utt_id",
                                       "an earlier row has the same id", item["audio_path"]))
                continue
            seen.add(utt_id)
            item["label"], item["label_dist"] = resolved
            rows.append(item)

    kept: list[dict] = []
    for item in tqdm(rows, desc="checking audio", unit=" files", disable=not progress, leave=False):
        duration, problem = check_audio(item["audio_path"], silence=check_silence)
        item["silent"] = int(problem == "silent audio")
        if problem == "silent audio" and keep_silent:
            problem = None
        if problem:
            skipped.append(Skipped(item["corpus"], item["utt_id"], problem, "", item["audio_path"]))
            continue
        item["duration"] = round(duration, 6)
        item["tie_policy"] = multilabel
        kept.append(item)

    frame = pd.DataFrame(kept, columns=list(COLUMNS) + ["tie_policy", "silent"])
    skipped_frame = pd.DataFrame([asdict(s) for s in skipped], columns=list(SKIPPED_COLUMNS))
    return frame, skipped_frame
