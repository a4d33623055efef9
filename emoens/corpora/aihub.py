"""AI Hub 감정 분류를 위한 대화 음성 데이터셋 reader: the year CSVs (4차년도, 5차년도, 5차년도_2차).

A folder holds one or more cp949 (or UTF-8) CSVs, one row per utterance, and the WAV files
anywhere below it. Columns differ between years; each role is found by the first matching name:

- audio id (the WAV's stem): ``wav_id``, ``wav``, ``wav_name``, ``파일명``, ``file_name``, ``filename``, ``id``
- transcript: ``발화문``, ``text``, ``sentence``, ``script``
- label: ``상황`` (the seed's choice), ``emotion``, ``감정``, ``label``
- gender (optional): ``성별``, ``gender``

Labels (``happiness``, ``sadness``, ``분노``, …) map onto the 7 classes through the label aliases.
There are no sessions; the reader fills ``speaker``/``session`` only when a CSV has them.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterator

from emoens.corpora.common import CorpusError, Skipped, index_audio, read_table_text
from emoens.manifest import empty_row
from emoens.text import clean_transcript

CORPUS = "aihub"
ROLES: dict[str, tuple[str, ...]] = {
    "audio id": ("wav_id", "wav", "wav_name", "파일명", "file_name", "filename", "id"),
    "transcript": ("발화문", "text", "sentence", "script"),
    "label": ("상황", "emotion", "감정", "label"),
}
OPTIONAL_ROLES: dict[str, tuple[str, ...]] = {
    "gender": ("성별", "gender", "sex"),
    "speaker": ("speaker", "speaker_id", "화자"),
    "session": ("session",),
}
_GENDERS = {"남": "M", "남성": "M", "male": "M", "m": "M", "여": "F", "여성": "F", "female": "F", "f": "F"}


def _find_column(header: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {h.strip().lower(): h for h in header}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def find_tables(root: Path) -> list[Path]:
    """The CSV files of an AI Hub folder (``root`` itself may be one CSV)."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise CorpusError(f"AI Hub folder not found: {root}")
    tables = sorted(root.glob("*.csv"))
    if not tables:
        raise CorpusError(f"{root}: no .csv file found (expected e.g. 5차년도_2차.csv next to the wav files)")
    return tables


def read_aihub(root) -> Iterator[dict | Skipped]:
    """Yield one manifest row per utterance of every CSV in the AI Hub folder ``root``."""
    root = Path(root)
    tables = find_tables(root)
    audio = index_audio(root if root.is_dir() else root.parent)
    for table in tables:
        reader = csv.DictReader(io.StringIO(read_table_text(table)))
        header = reader.fieldnames or []
        columns = {role: _find_column(header, names) for role, names in ROLES.items()}
        missing = [role for role, col in columns.items() if col is None]
        if missing:
            wanted = "; ".join(f"{role}: one of {', '.join(ROLES[role])}" for role in missing)
            raise CorpusError(
                f"{table}: could not find the {', '.join(missing)} column(s) ({wanted}); "
                f"its columns are {', '.join(h for h in header if h) or 'none'}")
        optional = {role: _find_column(header, names) for role, names in OPTIONAL_ROLES.items()}
        for line, record in enumerate(reader, start=2):
            stem = (record.get(columns["audio id"]) or "").strip()
            if not stem:
                yield Skipped(CORPUS, "", "empty audio id", f"line {line}", str(table))
                continue
            stem = Path(stem).stem if stem.lower().endswith((".wav", ".flac")) else stem
            wav = audio.get(stem)
            if wav is None:
                yield Skipped(CORPUS, stem, "missing wav", f"no {stem}.wav under {root}", str(table))
                continue
            raw = (record.get(columns["transcript"]) or "").strip()
            row = empty_row()
            row.update(utt_id=stem, corpus=CORPUS, audio_path=str(wav), text=clean_transcript(raw),
                       text_raw=raw, label_raw=(record.get(columns["label"]) or "").strip())
            if optional["gender"]:
                row["gender"] = _GENDERS.get((record.get(optional["gender"]) or "").strip().lower(), "")
            if optional["speaker"]:
                row["speaker"] = (record.get(optional["speaker"]) or "").strip()
            if optional["session"]:
                row["session"] = (record.get(optional["session"]) or "").strip()
            yield row
