"""``emoens stats``: class distribution, durations, valence/arousal and ties of a manifest."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    """Add the ``stats`` sub-command."""
    p = subparsers.add_parser(
        "stats", help="statistics of a manifest as JSON (for the app) and plotly HTML",
        description="Write OUT/stats.json (schema in emoens.stats) and OUT/stats.html (offline "
        "plotly charts): class distribution per corpus and split, duration histogram, "
        "valence/arousal per class, ties.")
    p.add_argument("manifest", help="manifest.csv (or the folder holding it)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``emoens stats``."""
    from emoens.stats import write_stats

    stats = write_stats(args.manifest, args.out)
    out = Path(args.out)
    labels = stats["counts"]["all"]["all"]
    shown = ", ".join(f"{k} {v}" for k, v in labels.items())
    print(f"{stats['rows']} rows, {stats['labelled']} labelled ({shown}); {stats['hours']:.2f} h; "
          f"ties {stats['ties']['rows']} -> {out / 'stats.json'}, {out / 'stats.html'}")
    return 0
