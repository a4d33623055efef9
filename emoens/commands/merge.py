"""``emoens merge``: join the outputs of ``emoens predict --shard I/N`` runs into one table."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    """Add the ``merge`` sub-command."""
    p = subparsers.add_parser(
        "merge", help="join shard outputs of `emoens predict --shard I/N` into one table",
        description="Join the outputs of `emoens predict --shard I/N` (CSV or JSON Lines, the "
        "same columns) into OUT, written atomically: one row per utt_id (or input), an 'ok' row "
        "kept over an error row of the same key (a shard re-run after a failure).")
    p.add_argument("parts", nargs="+", metavar="PART", help="shard outputs (.csv or .jsonl)")
    p.add_argument("--out", required=True, help="merged results file: .csv or .jsonl")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``emoens merge``."""
    from pathlib import Path

    from emoens.shard import ShardError, merge_outputs

    for part in args.parts:
        if not Path(part).is_file():
            raise ShardError(f"{part}: no such shard output")
    rows = merge_outputs(args.parts, args.out)
    print(f"{rows} rows from {len(args.parts)} shard outputs -> {args.out}")
    return 0
