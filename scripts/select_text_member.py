"""Held-out selection of the text member's parameters (``emoens.recipe.text.select_text_params``).

    python scripts/select_text_member.py --data ../shared/data --max-per-class 400 [--encoder use]

Prints every candidate's macro-F1 on KEMDy19 improvised rows (out-of-fold, grouped by dialogue)
and on each text corpus held out, then the chosen parameters. Texts are never written anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--max-per-class", type=int, default=400, help="rows per (source, class)")
    p.add_argument("--encoder", default="use", help="use, e5, use+e5 or none")
    p.add_argument("--c-grid", default="1.0", help="comma-separated C values")
    p.add_argument("--weight-grid", default="0.1,0.3,1.0", help="comma-separated source weights")
    p.add_argument("--no-stage2", action="store_true", help="skip the per-source stage")
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from threadpoolctl import threadpool_limits

    from emoens.corpora import collect
    from emoens.recipe.text import load_text_corpora, select_text_params

    threadpool_limits(1)
    data = Path(args.data)
    frame, _ = collect([("kemdy20", data / "KEMDy20"), ("kemdy19", data / "KEMDy19")],
                       multilabel="drop", progress=False)
    frame = frame[frame["label"].astype(str) != ""].reset_index(drop=True)
    frame["group"] = frame["corpus"] + ":" + frame["dialogue"].astype(str)
    frame["text"] = frame["text"].fillna("")
    corpora = load_text_corpora(data, max_per_class=args.max_per_class)
    params, table = select_text_params(
        frame, corpora, encoder=args.encoder, c_grid=[float(c) for c in args.c_grid.split(",")],
        weight_grid=[float(w) for w in args.weight_grid.split(",")], stage2=not args.no_stage2,
        log=lambda m: print(m, flush=True))
    print(table.to_string(index=False))
    print("chosen:", json.dumps(params))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
