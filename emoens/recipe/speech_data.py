"""Every labelled speech corpus of the default recipe as one frame (KEMDy + the generic tables).

Columns: the manifest's (``utt_id``, ``audio_path``, ``corpus``, ``session``, ``speaker``,
``label``, ``text``, ``valence``, ``arousal`` …) plus ``fold_corpus`` (the corpus a
leave-one-corpus-out fold holds out), ``group`` (speaker, for speaker-held-out folds),
``text_foreign`` (the non-Korean sentence of an acted corpus, used only to show that words
without emotion do not overrule the voice) and ``style`` (KEMDy19 ``script`` / ``impro``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emoens.corpora.common import CorpusError

# folder under extra/speech -> corpus name used in the folds
EXTRA_SPEECH = ("ravdess", "nemo", "emovo", "tess", "urdu", "kemdy20_s04")


def _kemdy(data: Path) -> pd.DataFrame:
    from emoens.corpora import collect

    sources = [(kind, data / folder) for kind, folder in (("kemdy20", "KEMDy20"), ("kemdy19", "KEMDy19"))
               if (data / folder).is_dir()]
    if not sources:
        return pd.DataFrame()
    frame, _ = collect(sources, multilabel="drop", progress=False)
    frame["text_foreign"] = ""
    frame["lang"] = "ko"
    return frame


def _tables(data: Path) -> pd.DataFrame:
    import csv

    from emoens.corpora import collect

    frames = []
    for name in EXTRA_SPEECH:
        table = data / "extra" / "speech" / name / "table.csv"
        if not table.is_file():
            continue
        frame, _ = collect([("table", table)], multilabel="drop", progress=False,
                           check_silence=False)
        with open(table, encoding="utf-8", newline="") as handle:
            extra = {r["utt_id"]: r for r in csv.DictReader(handle)}
        frame["text_foreign"] = [extra.get(u, {}).get("text_original", "") for u in frame["utt_id"]]
        frame["lang"] = [extra.get(u, {}).get("lang", "") for u in frame["utt_id"]]
        frame["corpus"] = "kemdy20" if name == "kemdy20_s04" else name
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# Clips kept per corpus (a class-stratified, seeded sample of the larger acted corpora): more
# clips of the same few actors add encoder time, not speakers, and the folds weight corpora equally.
MAX_PER_CORPUS = 1500


def cap_per_corpus(frame: pd.DataFrame, limit: int = MAX_PER_CORPUS, seed: int = 0) -> pd.DataFrame:
    """At most ``limit`` rows per corpus, sampled within each class in proportion (deterministic)."""
    parts = []
    for _, rows in frame.groupby("corpus", sort=True):
        if len(rows) > limit:
            share = limit / len(rows)
            keep = [g.sample(n=max(1, round(len(g) * share)), random_state=seed).index
                    for _, g in rows.groupby("label", sort=True)]
            rows = rows.loc[np.concatenate(keep)]
        parts.append(rows)
    return pd.concat(parts).sort_index()


def load_speech_corpora(data: str | Path, max_per_corpus: int | None = MAX_PER_CORPUS) -> pd.DataFrame:
    """Labelled rows of every speech corpus under ``data`` (the ``../shared/data`` layout).

    Rows without one of the 7 labels (ties, classes that are not ours) are dropped; corpora larger
    than ``max_per_corpus`` are sampled down (:func:`cap_per_corpus`).
    """
    data = Path(data)
    parts = [f for f in (_kemdy(data), _tables(data)) if len(f)]
    if not parts:
        raise CorpusError(f"{data} holds no speech corpus (KEMDy20/, KEMDy19/ or extra/speech/): "
                          "give --data the folder with the corpora (e.g. ../shared/data)")
    frame = pd.concat(parts, ignore_index=True)
    frame["label"] = frame["label"].fillna("").astype(str)
    frame = frame[frame["label"] != ""].reset_index(drop=True)
    if max_per_corpus:
        frame = cap_per_corpus(frame, max_per_corpus).reset_index(drop=True)
    frame["fold_corpus"] = frame["corpus"].astype(str)
    speaker = frame["speaker"].astype(str)
    frame["group"] = frame["corpus"].astype(str) + ":" + speaker.where(speaker != "",
                                                                        frame["session"].astype(str))
    frame["session_key"] = frame["corpus"].astype(str) + ":" + frame["session"].astype(str)
    frame["style"] = frame["style"].astype(str) if "style" in frame else ""
    for col in ("text", "text_foreign"):
        frame[col] = frame[col].fillna("").astype(str)
    return frame
