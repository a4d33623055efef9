"""Corpus folders -> a manifest folder (``manifest.csv``, ``skipped.csv``, ``prepare_report.json``):
the library behind ``emoens prepare``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path


def prepare(out: str | Path, *, kemdy20=None, kemdy19=None, aihub=None, tables: Sequence = (),
            multilabel: str = "soft", split: str = "none", test_sessions=None, folds=None,
            test_size: float = 0.2, valid_size: float = 0.1, seed: int = 42,
            keep_silent: bool = False, check_silence: bool = True, progress: bool = True,
            command: str | None = None) -> dict:
    """Prepare the given corpora into ``out`` and return the report (also written as JSON).

    Raises :class:`emoens.corpora.CorpusError` when no source is given or no row is usable
    (``skipped.csv`` is still written), :class:`emoens.splits.SplitError` for an impossible split.
    """
    from emoens.corpora import CorpusError, collect
    from emoens.files import atomic_directory, write_csv, write_json
    from emoens.manifest import write_manifest
    from emoens.splits import make_split

    started = time.perf_counter()
    sources = [(kind, path) for kind, path in
               (("kemdy20", kemdy20), ("kemdy19", kemdy19), ("aihub", aihub)) if path]
    sources += [("table", t) for t in tables]
    if not sources:
        raise CorpusError("nothing to prepare: give at least one of --kemdy20, --kemdy19, --aihub, --table")
    out = Path(out)
    frame, skipped = collect(sources, multilabel=multilabel, check_silence=check_silence,
                             keep_silent=keep_silent, progress=progress)
    if frame.empty:
        write_csv(out / "skipped.csv", skipped)
        reasons = skipped["reason"].value_counts().to_dict()
        detail = ", ".join(f"{n} {r}" for r, n in reasons.items()) or "the sources have no rows"
        raise CorpusError(f"no usable row in {', '.join(str(p) for _, p in sources)} ({detail}); "
                          f"see {out / 'skipped.csv'}")
    frame = make_split(frame, split, test_sessions=test_sessions, test_size=test_size, folds=folds,
                       valid_size=valid_size, seed=seed)
    report = prepare_report(frame, skipped, sources, out, command=command, multilabel=multilabel,
                            split={"method": split, "test_sessions": list(test_sessions or []),
                                   "folds": folds, "test_size": test_size,
                                   "valid_size": valid_size, "seed": seed})
    report["seconds"] = round(time.perf_counter() - started, 3)
    # The three files replace the previous ones together (one folder swap): a kill never leaves
    # a new manifest beside an old report. Other files in OUT are kept.
    with atomic_directory(out, keep=True) as staging:
        write_manifest(frame, staging / "manifest.csv")
        write_csv(staging / "skipped.csv", skipped)
        write_json(staging / "prepare_report.json", report)
    return report


def _counts(series) -> dict:
    return {str(k): int(v) for k, v in series.value_counts().sort_index().items()}


def prepare_report(frame, skipped, sources, out: Path, *, command: str | None, multilabel: str,
                   split: dict) -> dict:
    """The report of a prepared manifest: sources, rows, counts per corpus/split/label, hours,
    skipped rows (``seconds`` is added by :func:`prepare`)."""
    import pandas as pd

    labelled = frame[frame["label"] != ""]
    return {
        "command": command,
        "sources": {kind if kind != "table" else f"table:{Path(p).name}": str(Path(p).resolve())
                    for kind, p in sources},
        "manifest": str((out / "manifest.csv").resolve()),
        "rows": int(len(frame)),
        "labelled": int(len(labelled)),
        "multilabel": multilabel,
        "ties": int((frame["label_raw"].str.contains(";")).sum()),
        "split": split,
        "counts": {
            "corpus": _counts(frame["corpus"]),
            "split": _counts(frame["split"].replace("", "(none)")),
            "label": _counts(labelled["label"]),
            "corpus_split_label": {
                corpus: {sp or "(none)": _counts(g2["label"][g2["label"] != ""])
                         for sp, g2 in g.groupby("split", sort=True)}
                for corpus, g in frame.groupby("corpus", sort=True)},
            "test_sessions": sorted(set(frame.loc[frame["split"] == "test", "corpus"] + ":"
                                        + frame.loc[frame["split"] == "test", "session"])),
        },
        "hours": round(float(pd.to_numeric(frame["duration"]).sum()) / 3600, 4),
        "silent_kept": int(frame["silent"].sum()) if "silent" in frame else 0,
        "skipped": {
            "total": int(len(skipped)),
            "by_reason": _counts(skipped["reason"]) if len(skipped) else {},
            "by_corpus": _counts(skipped["corpus"]) if len(skipped) else {},
        },
    }
