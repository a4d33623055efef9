"""Development sweep of speech-member settings, each corpus held out in turn (not nested).

    python training/default/explore_speech.py [--data ../shared/data] [--only NAME ...]
    python training/default/explore_speech.py --markdown-only   (rewrite the .md from the .json)

How the candidate list of ``emoens.recipe.default.SPEECH_CANDIDATES`` was arrived at: every
setting below is trained on six corpora and scored on the seventh (scikit-learn's
``LeaveOneGroupOut`` through :func:`emoens.recipe.protocol.loco_oof`), with the recipe's corpus-
and class-balanced weights, from the cached speech features of ``emoens train-default``. These are
*development* numbers on the same corpora the held-out table reports: they shaped the candidate
list, so they are not an independent estimate (the nested table in the model card is).
``previous speech`` is the previous default's speech recipe under the same weights. Writes
``results/explore_speech.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
LINEAR = {"head": "linear", "prosody": True}
MLP = {"blocks": ("mean",), "prosody": True, "head": "mlp", "hidden": 64, "alpha": 3.0, "max_iter": 100}
SETTINGS = {
    "previous speech (mean+std, MLP 128, no prosody)": {"blocks": ("mean", "std"), "prosody": False, "head": "mlp",
                                                        "hidden": 128, "alpha": 1.0, "max_iter": 100},
    "linear mean+std + prosody, C 0.003 (last bundle)": {**LINEAR, "blocks": ("mean", "std"), "C": 0.003},
    "linear mean+std + prosody, C 0.01": {**LINEAR, "blocks": ("mean", "std"), "C": 0.01},
    "linear mean+std+p10+p90 + prosody": {**LINEAR, "blocks": ("mean", "std", "p10", "p90"), "C": 0.002},
    "linear mean+std+norm_mean+norm_std + prosody": {**LINEAR, "blocks": ("mean", "std", "norm_mean", "norm_std"),
                                                     "C": 0.003},
    "linear prosody only": {**LINEAR, "blocks": (), "C": 0.1},
    "linear mean + prosody": {**LINEAR, "blocks": ("mean",), "C": 0.003},
    "linear norm_mean + prosody": {**LINEAR, "blocks": ("norm_mean",), "C": 0.003},
    "linear mean+norm_mean + prosody, C 0.002": {**LINEAR, "blocks": ("mean", "norm_mean"), "C": 0.002},
    "MLP 64 mean + prosody, seed 0": {**MLP, "random_state": 0},
    "MLP 64 mean + prosody, seed 1": {**MLP, "random_state": 1},
    "vote (shipped candidate)": None,  # filled from SPEECH_CANDIDATES
}


def main() -> None:
    from threadpoolctl import threadpool_limits

    from emoens.evaluate import unweighted_recall
    from emoens.files import write_json, write_text
    from emoens.recipe.build import load_data
    from emoens.recipe.default import SPEECH_CANDIDATES
    from emoens.recipe.protocol import loco_oof
    from emoens.recipe.speech import balanced_weights, make_speech

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--only", nargs="*", help="names (or name prefixes) of settings to run")
    parser.add_argument("--markdown-only", action="store_true", help="rewrite results/explore_speech.md "
                        "from results/explore_speech.json without training")
    args = parser.parse_args()
    if args.markdown_only:
        rows = json.loads((HERE / "results" / "explore_speech.json").read_text(encoding="utf-8"))["settings"]
        write_text(HERE / "results" / "explore_speech.md", markdown(rows))
        return
    settings = dict(SETTINGS, **{"vote (shipped candidate)": next(c for c in SPEECH_CANDIDATES if "members" in c)})
    if args.only:
        settings = {k: v for k, v in settings.items() if any(k.startswith(o) for o in args.only)}
    data = load_data(Path(args.data), Path(".cache/train-default"), None, print)
    weights = balanced_weights(data.y, data.corpus)
    corpora = sorted(set(data.corpus))
    rows = {}
    with threadpool_limits(1):
        for name, params in settings.items():
            start = time.time()
            proba = loco_oof(make_speech(params), data.X, data.y, data.corpus, weights)
            uar = {c: round(unweighted_recall(data.y[data.corpus == c], proba[data.corpus == c].argmax(1)), 4)
                   for c in corpora}
            rows[name] = {"params": params, "uar": uar, "mean": round(float(np.mean(list(uar.values()))), 4),
                          "seconds": round(time.time() - start, 1)}
            print(name, rows[name]["mean"], uar, flush=True)
    write_json(HERE / "results" / "explore_speech.json", {"settings": rows})
    write_text(HERE / "results" / "explore_speech.md", markdown(rows))


def markdown(rows: dict) -> str:
    """The sweep's table (UAR per held-out corpus) with the gains over the previous recipe."""
    corpora = sorted(next(iter(rows.values()))["uar"])
    base = rows.get(next(iter(SETTINGS)))
    lines = ["# Speech settings, each corpus held out (development sweep, not nested)", "",
             "Written by `python training/default/explore_speech.py`. " + __doc__.split("\n\n")[2].replace("\n", " "), "",
             "| setting | " + " | ".join(corpora) + " | mean | mean − previous | worst corpus − previous |",
             "|---|" + "---|" * (len(corpora) + 3)]
    for name, row in rows.items():
        gain = [row["uar"][c] - base["uar"][c] for c in corpora] if base else None
        lines.append(f"| {name} | " + " | ".join(f"{row['uar'][c]:.3f}" for c in corpora) + f" | {row['mean']:.3f} | "
                     + (f"{np.mean(gain):+.3f} | {min(gain):+.3f} |" if gain else "– | – |"))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
