"""KEMDy20 reader: ``annotation/SessNN_eval.csv`` + ``wav/SessionNN/<segment id>.wav|txt``.

The annotation CSV has two header rows; columns by position: 3 segment id, 4 total emotion
(``;`` between tied labels, ``disqust`` spelling in some sessions), 5 valence, 6 arousal.
Transcripts are cp949 (UTF-8 accepted too). Yields manifest rows (``label_raw`` set; the tie
policy is applied later, once) and :class:`Skipped` records.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from emoens.corpora.common import CorpusError, Skipped, etri_segment_row, index_audio, read_etri_csv

CORPUS = "kemdy20"
_SEGMENT = re.compile(r"^(Sess\d+)_((script|impro)\d+)_(User\d+([FM]))_\d+$")


def find_annotations(root: Path) -> list[Path]:
    """The session annotation files of a KEMDy20 folder; :class:`CorpusError` when there are none."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"KEMDy20 folder not found: {root}")
    files = sorted((root / "annotation").glob("Sess*_eval.csv"))
    if not files:
        raise CorpusError(
            f"{root}: no annotation/SessNN_eval.csv found; is this the KEMDy20 folder "
            "(with annotation/ and wav/ inside)?")
    return files


def read_kemdy20(root) -> Iterator[dict | Skipped]:
    """Yield one manifest row per annotated segment of the KEMDy20 folder ``root``."""
    root = Path(root)
    annotations = find_annotations(root)
    audio = index_audio(root / "wav")
    for ann in annotations:
        for cells in read_etri_csv(ann):
            if len(cells) < 7 or not cells[3]:
                yield Skipped(CORPUS, cells[3] if len(cells) > 3 else "", "malformed annotation row",
                              f"{len(cells)} column(s): {','.join(cells)[:80]}", str(ann))
                continue
            utt_id = cells[3]
            match = _SEGMENT.match(utt_id)
            if not match:
                yield Skipped(CORPUS, utt_id, "unrecognised segment id", "", str(ann))
                continue
            session, dialogue, style, user, gender = match.groups()
            yield etri_segment_row(
                CORPUS, utt_id, audio.get(utt_id),
                root / "wav" / session.replace("Sess", "Session") / f"{utt_id}.wav", ann, cells, 4,
                session=session, speaker=f"{session}_{user}", gender=gender, dialogue=dialogue,
                style=style)
