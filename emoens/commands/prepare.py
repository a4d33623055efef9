"""``emoens prepare``: corpus folders -> ``manifest.csv`` + ``skipped.csv`` + ``prepare_report.json``
(the work is :func:`emoens.prepare.prepare`)."""

from __future__ import annotations

import argparse
import sys
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


def run(args: argparse.Namespace) -> int:
    """Run ``emoens prepare``."""
    from emoens.prepare import prepare

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
