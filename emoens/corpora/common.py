"""Helpers shared by the corpus readers: the error type, skipped-row records, ETRI CSVs."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from emoens.errors import EmoensError
from emoens.text import TextError, clean_transcript, read_transcript

CORPUS_AUDIO_SUFFIXES = (".wav", ".flac")  # a corpus segment's audio file; WAV wins (see index_audio)


class CorpusError(EmoensError):
    """A corpus folder or table that cannot be read at all (wrong layout, missing columns)."""


@dataclass(frozen=True)
class Skipped:
    """A row a reader could not use, and why (written to ``skipped.csv``)."""

    corpus: str
    utt_id: str
    reason: str
    detail: str = ""
    source: str = ""


def read_table_text(path: Path, encodings=("utf-8-sig", "cp949")) -> str:
    """Decode a CSV/TSV file trying ``encodings``; raises :class:`CorpusError` naming it."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror or exc}") from None
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CorpusError(f"cannot decode {path}: it is not valid {' or '.join(encodings)} text")


def read_etri_csv(path: Path) -> list[list[str]]:
    """The data rows of an ETRI annotation CSV (two header rows dropped, blank rows skipped)."""
    rows = list(csv.reader(io.StringIO(read_table_text(path))))
    if len(rows) < 2:
        raise CorpusError(f"{path}: expected two header rows and data rows, found {len(rows)} row(s)")
    return [[cell.strip() for cell in row] for row in rows[2:] if any(cell.strip() for cell in row)]


def to_float(value: str) -> float:
    """``float(value)``, NaN for blanks and junk."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def index_audio(folder: Path) -> dict[str, Path]:
    """Map each audio file's stem to its path, for every ``.wav`` (or ``.flac``) under ``folder``;
    a WAV wins over a FLAC of the same stem."""
    found: dict[str, Path] = {}
    if not folder.is_dir():
        return found
    for suffix in reversed(CORPUS_AUDIO_SUFFIXES):
        for path in sorted(folder.rglob(f"*{suffix}")):
            found[path.stem] = path
    return found


def transcript_fields(txt: Path, corpus: str, utt_id: str) -> tuple[str, str] | Skipped:
    """``(text, text_raw)`` of the transcript beside a segment, ``("", "")`` when there is none,
    or a :class:`Skipped` when it cannot be decoded."""
    if not txt.is_file():
        return "", ""
    try:
        raw = read_transcript(txt)
    except TextError as exc:
        return Skipped(corpus, utt_id, "unreadable transcript", str(exc), str(txt))
    return clean_transcript(raw), raw


def etri_segment_row(corpus: str, utt_id: str, wav: Path | None, missing: Path, source: Path,
                     cells: list[str], first: int, **fields) -> dict | Skipped:
    """One KEMDy19/KEMDy20 segment as a manifest row (or the reason it is skipped): the wav and
    its transcript beside it, the total emotion/valence/arousal at columns ``first``..``first+2``
    of the annotation row, and the reader's own ``fields`` (session, speaker, dialogue …)."""
    from emoens.manifest import empty_row

    if wav is None:
        return Skipped(corpus, utt_id, "missing wav", str(missing), str(source))
    text = transcript_fields(wav.with_suffix(".txt"), corpus, utt_id)
    if isinstance(text, Skipped):
        return text
    row = empty_row()
    row.update(utt_id=utt_id, corpus=corpus, audio_path=str(wav), text=text[0], text_raw=text[1],
               label_raw=cells[first], valence=to_float(cells[first + 1]),
               arousal=to_float(cells[first + 2]), **fields)
    return row
