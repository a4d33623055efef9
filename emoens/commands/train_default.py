"""``emoens train-default``: rebuild the embedded default bundle from the corpora in ``--data``.

A thin command over :func:`emoens.recipe.build.build_default` (the recipe: ``emoens/recipe/``,
``training/default/README.md``): every speech corpus held out in turn, then the shipped members
fitted on all of them; the bundle, its model card, results and statistics are written.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def register(subparsers) -> None:
    """Add the ``train-default`` sub-command."""
    from emoens.settings import default_bundle_dir, stats_dir

    p = subparsers.add_parser(
        "train-default",
        help="rebuild the embedded default bundle (Whisper-base statistics + prosody speech head, "
        "TF-IDF/USE text head, confidence fusion) with a leave-one-corpus-out model card",
        description="Train, evaluate (each corpus held out in turn) and bundle the default model "
        "from the ../shared/data layout (KEMDy20/, KEMDy19/, extra/speech/*/table.csv, extra/text/). "
        "Deterministic; minutes on 2 CPU cores once the speech features are cached.",
    )
    p.add_argument("--data", default="../shared/data", help="folder with the corpora (default: %(default)s)")
    p.add_argument("--out", default=str(default_bundle_dir()), help="bundle folder to (over)write")
    p.add_argument("--results", default="training/default/results",
                   help="folder for results.json / results.md (default: %(default)s)")
    p.add_argument("--stats", default=str(stats_dir()),
                   help="folder for the training data's statistics (Explore tab; aggregate counts only)")
    p.add_argument("--cache-dir", default=".cache/train-default",
                   help="speech feature cache (default: %(default)s)")
    p.add_argument("--no-cache", action="store_true", help="recompute every speech feature")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the Whisper encoder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from emoens.recipe.build import build_default

    start = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - start:6.1f}s] {msg}", flush=True)

    build_default(Path(args.data), args.out, args.results, args.stats,
                  cache_dir=None if args.no_cache else Path(args.cache_dir), threads=args.threads, log=log)
    return 0
