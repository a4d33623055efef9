"""Generic table reader: a CSV or TSV with ``audio_path`` and optional ``text``, ``label``,
``speaker``, ``session``, ``utt_id``, ``corpus``, ``gender`` columns.

Relative audio paths are resolved against the table's folder. ``utt_id`` defaults to the audio
file's stem, ``corpus`` to the table's stem. Other columns of the manifest schema are kept.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterator

from emoens.corpora.common import CorpusError, Skipped, read_table_text
from emoens.manifest import COLUMNS, FLOAT_COLUMNS, empty_row
from emoens.text import clean_transcript


def read_table(path, corpus: str | None = None) -> Iterator[dict | Skipped]:
    """Yield one manifest row per line of the table at ``path``."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"table not found: {path}")
    content = read_table_text(path)
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    reader = csv.DictReader(io.StringIO(content), delimiter=delimiter)
    header = [h.strip() for h in (reader.fieldnames or [])]
    if "audio_path" not in header:
        raise CorpusError(
            f"{path}: missing column audio_path (a table needs audio_path and may have text, label, "
            f"speaker, session, utt_id); its columns are {', '.join(h for h in header if h) or 'none'}")
    default_corpus = corpus or path.stem
    for line, record in enumerate(reader, start=2):
        record = {(k or "").strip(): (v or "").strip() for k, v in record.items() if k is not None}
        audio = record.get("audio_path", "")
        utt_id = record.get("utt_id") or (Path(audio).stem if audio else "")
        name = record.get("corpus") or default_corpus
        if not audio:
            yield Skipped(name, utt_id, "empty audio_path", f"line {line}", str(path))
            continue
        audio_path = Path(audio) if Path(audio).is_absolute() else path.parent / audio
        if not audio_path.is_file():
            yield Skipped(name, utt_id, "missing wav", str(audio_path), str(path))
            continue
        row = empty_row()
        for col in COLUMNS:
            if col in record and col not in FLOAT_COLUMNS:
                row[col] = record[col]
        for col in FLOAT_COLUMNS:
            if record.get(col):
                try:
                    row[col] = float(record[col])
                except ValueError:
                    pass
        raw = record.get("text_raw") or record.get("text", "")
        row.update(utt_id=utt_id, corpus=name, audio_path=str(audio_path.resolve()),
                   text_raw=raw, text=clean_transcript(raw),
                   label_raw=record.get("label_raw") or record.get("label", ""), label="",
                   label_dist="", split="", fold="")
        if row["style"] == "" and row["dialogue"]:
            row["style"] = "script" if row["dialogue"].startswith("script") else (
                "impro" if row["dialogue"].startswith("impro") else "")
        yield row
