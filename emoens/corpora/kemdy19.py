"""KEMDy19 reader: ``annotation/SessionNN_{F,M}_res.csv`` + ``wav/SessionNN/SessNN_{impro,script}MM/``.

Both annotation files of a session list every segment, rated by different raters. **Own-gender
rule**: a segment's label comes from the file of its speaker's gender (``…_F001`` from
``_F_res.csv``). Columns by position: 9 segment id, 10 total emotion, 11 valence, 12 arousal.
Transcripts are UTF-8. Yields manifest rows and :class:`Skipped` records.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from emoens.corpora.common import CorpusError, Skipped, etri_segment_row, index_audio, read_etri_csv

CORPUS = "kemdy19"
_SEGMENT = re.compile(r"^(Sess\d+)_((script|impro)\d+)_([FM])\d+$")
_ANNOTATION = re.compile(r"^(Session\d+)_([FM])_res\.csv$")


def find_sessions(root: Path) -> dict[str, dict[str, Path]]:
    """``{"Session01": {"F": path, "M": path}, …}``; :class:`CorpusError` when there is none."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"KEMDy19 folder not found: {root}")
    sessions: dict[str, dict[str, Path]] = {}
    for path in sorted((root / "annotation").glob("Session*_res.csv")):
        match = _ANNOTATION.match(path.name)
        if match:
            sessions.setdefault(match.group(1), {})[match.group(2)] = path
    if not sessions:
        raise CorpusError(
            f"{root}: no annotation/SessionNN_F_res.csv or _M_res.csv found; is this the KEMDy19 "
            "folder (with annotation/ and wav/ inside)?")
    return sessions


def read_kemdy19(root) -> Iterator[dict | Skipped]:
    """Yield one manifest row per segment of the KEMDy19 folder ``root`` (own-gender labels)."""
    root = Path(root)
    sessions = find_sessions(root)
    audio = index_audio(root / "wav")
    for name, files in sessions.items():
        by_gender: dict[str, dict[str, list[str]]] = {}
        order: dict[str, None] = {}
        for gender, ann in sorted(files.items()):
            records = by_gender.setdefault(gender, {})
            for cells in read_etri_csv(ann):
                if len(cells) < 13 or not cells[9]:
                    yield Skipped(CORPUS, cells[9] if len(cells) > 9 else "", "malformed annotation row",
                                  f"{len(cells)} column(s)", str(ann))
                    continue
                if cells[9] not in records:
                    records[cells[9]] = cells
                order.setdefault(cells[9], None)
        for utt_id in order:
            match = _SEGMENT.match(utt_id)
            if not match:
                yield Skipped(CORPUS, utt_id, "unrecognised segment id", "", str(files.get("F") or files.get("M")))
                continue
            session, dialogue, style, gender = match.groups()
            cells = by_gender.get(gender, {}).get(utt_id)
            if cells is None:
                yield Skipped(CORPUS, utt_id, "not rated in own-gender file",
                              f"{name}_{gender}_res.csv lacks it", str(files.get(gender, "")))
                continue
            yield etri_segment_row(
                CORPUS, utt_id, audio.get(utt_id),
                root / "wav" / name / f"{session}_{dialogue}" / f"{utt_id}.wav", files[gender], cells, 10,
                session=session, speaker=f"{session}_{gender}", gender=gender, dialogue=dialogue,
                style=style)
