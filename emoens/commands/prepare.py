"""``emoens prepare``: corpus folders -> ``manifest.csv`` + ``skipped.csv`` + ``prepare_report.json``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def register(subparsers) -> None:
    """Add the ``prepare`` sub-command."""
    p = subparsers.add_parser(
        "prepare",
        help="turn KEMDy20/KEMDy19/AI Hub folders or tables into one validated manifest",
        description="Read corpus folders (any subset) into OUT/manifest.csv (no audio is copied), "
        "with rows that cannot be used listed in OUT/skipped.csv and counts in "
        "OUT/prepare_report.json.",
    )
    p.add_argument("--kemdy20", metavar="DIR", help="KEMDy20 folder (annotation/, wav/)")
    p.add_argument("--kemdy19", metavar="DIR", help="KEMDy19 folder (annotation/, wav/)")
    p.add_argument("--aihub", metavar="DIR", help="AI Hub folder (year CSVs and wav files)")
    p.add_argument("--table", metavar="CSV", action="append", default=[],
                   help="CSV/TSV with audio_path and optional text, label, speaker, session (repeatable)")
    p.add_argument("--multilabel", choices=("drop", "first", "soft"), default="soft",
                   help="tied annotations (happy;neutral): drop the row, keep the first label, or "
                   "keep the first label plus equal mass in label_dist (default: soft)")
    p.add_argument("--split", choices=("seed", "session", "speaker", "none"), default="none",
                   help="seed: the seed paper's split; session/speaker: held out by session/speaker; "
                   "none: leave the split column empty (default)")
    p.add_argument("--test-sessions", nargs="+", metavar="SESSION",
                   help="held-out test sessions (Sess05, 5, or kemdy19:Sess01) for --split session")
    p.add_argument("--folds", type=int, metavar="K", help="k folds by session (fold column; fold 0 = test)")
    p.add_argument("--test-size", type=float, default=0.2,
                   help="share of sessions held out when no --test-sessions/--folds (default 0.2)")
    p.add_argument("--valid-size", type=float, default=0.1,
                   help="share of training sessions carved out as validation (default 0.1; 0 = none)")
    p.add_argument("--seed", type=int, default=42, help="random seed of session/validation choice")
    p.add_argument("--keep-silent", action="store_true",
                   help="keep rows whose wav is digital silence (silent=1), e.g. for text-only training")
    p.add_argument("--no-silence-check", action="store_true",
                   help="read only the wav headers (faster; silent wavs are not detected)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--out", required=True, metavar="OUTDIR", help="output folder")
    p.set_defaults(func=run)


def prepare(out: str | Path, *, kemdy20=None, kemdy19=None, aihub=None, tables: Sequence = (),
            multilabel: str = "soft", split: str = "none", test_sessions=None, folds=None,
            test_size: float = 0.2, valid_size: float = 0.1, seed: int = 42,
            keep_silent: bool = False, check_silence: bool = True, progress: bool = True,
            command: str | None = None) -> dict:
    """Prepare the given corpora into ``out`` and return the report (also written as JSON).

    Raises :class:`emoens.corpora.CorpusError` when no source is given or no row is usable
    (``skipped.csv`` is still written), :class:`emoens.splits.SplitError` for an impossible split.
    """
    import pandas as pd

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

    def counts(series) -> dict:
        return {str(k): int(v) for k, v in series.value_counts().sort_index().items()}

    labelled = frame[frame["label"] != ""]
    report = {
        "command": command,
        "sources": {kind if kind != "table" else f"table:{Path(p).name}": str(Path(p).resolve())
                    for kind, p in sources},
        "manifest": str((out / "manifest.csv").resolve()),
        "rows": int(len(frame)),
        "labelled": int(len(labelled)),
        "multilabel": multilabel,
        "ties": int((frame["label_raw"].str.contains(";")).sum()),
        "split": {"method": split, "test_sessions": list(test_sessions or []), "folds": folds,
                  "test_size": test_size, "valid_size": valid_size, "seed": seed},
        "counts": {
            "corpus": counts(frame["corpus"]),
            "split": counts(frame["split"].replace("", "(none)")),
            "label": counts(labelled["label"]),
            "corpus_split_label": {
                corpus: {sp or "(none)": counts(g2["label"][g2["label"] != ""])
                         for sp, g2 in g.groupby("split", sort=True)}
                for corpus, g in frame.groupby("corpus", sort=True)},
            "test_sessions": sorted(set(frame.loc[frame["split"] == "test", "corpus"] + ":"
                                        + frame.loc[frame["split"] == "test", "session"])),
        },
        "hours": round(float(pd.to_numeric(frame["duration"]).sum()) / 3600, 4),
        "silent_kept": int(frame["silent"].sum()) if "silent" in frame else 0,
        "skipped": {
            "total": int(len(skipped)),
            "by_reason": counts(skipped["reason"]) if len(skipped) else {},
            "by_corpus": counts(skipped["corpus"]) if len(skipped) else {},
        },
        "seconds": round(time.perf_counter() - started, 3),
    }
    # The three files replace the previous ones together (one folder swap): a kill never leaves
    # a new manifest beside an old report. Other files in OUT are kept.
    with atomic_directory(out, keep=True) as staging:
        write_manifest(frame, staging / "manifest.csv")
        write_csv(staging / "skipped.csv", skipped)
        write_json(staging / "prepare_report.json", report)
    return report


def run(args: argparse.Namespace) -> int:
    """Run ``emoens prepare``."""
    report = prepare(
        args.out, kemdy20=args.kemdy20, kemdy19=args.kemdy19, aihub=args.aihub, tables=args.table,
        multilabel=args.multilabel, split=args.split, test_sessions=args.test_sessions,
        folds=args.folds, test_size=args.test_size, valid_size=args.valid_size, seed=args.seed,
        keep_silent=args.keep_silent, check_silence=not args.no_silence_check,
        progress=not args.quiet and sys.stderr.isatty(),
        command="emoens " + " ".join(sys.argv[1:]) if sys.argv and sys.argv[0].endswith("emoens") else None,
    )
    out = Path(args.out)
    by_split = ", ".join(f"{k} {v}" for k, v in report["counts"]["split"].items())
    print(f"{report['rows']} rows ({report['labelled']} labelled, {report['hours']:.2f} h; {by_split}) "
          f"-> {out / 'manifest.csv'}")
    if report["skipped"]["total"]:
        reasons = ", ".join(f"{n} {r}" for r, n in report["skipped"]["by_reason"].items())
        print(f"skipped {report['skipped']['total']} ({reasons}) -> {out / 'skipped.csv'}")
    return 0
