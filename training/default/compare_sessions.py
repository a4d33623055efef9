"""The new recipe on the previous default's KEMDy folds, beside the previous default's numbers.

    python training/default/compare_sessions.py [--data ../shared/data]

Each fold holds out one KEMDy session (KEMDy19 01, KEMDy19 02, KEMDy20 01) and trains the new
recipe, with the settings the shipped bundle chose (bundle.json ``final_selection``), on every
other row of every corpus; the fusion is fitted again inside the training rows. The previous
numbers are those its own ``emoens train-default`` recorded (``results/previous_heldout.json``:
trained on KEMDy only, 01<->02 and KEMDy19 -> KEMDy20). Writes ``results/sessions.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FOLDS = (("kemdy19_sess01_to_sess02", "kemdy19:Sess02"), ("kemdy19_sess02_to_sess01", "kemdy19:Sess01"),
         ("kemdy20_sess01_heldout", "kemdy20:Sess01"))


def main() -> None:
    from threadpoolctl import threadpool_limits

    import emoens.recipe.default as recipe
    from emoens.files import write_json, write_text
    from emoens.recipe.build import TEXT_PARAMS, load_data
    from emoens.recipe.protocol import scores
    from emoens.settings import default_bundle_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    args = parser.parse_args()
    chosen = json.loads((default_bundle_dir() / "bundle.json").read_text())["metrics"]["final_selection"]
    recipe.SPEECH_CANDIDATES = ({k: tuple(v) if isinstance(v, list) else v for k, v in chosen["speech"].items()},)
    data = load_data(Path(args.data), Path(".cache/train-default"), None, print)
    previous = json.loads((HERE / "results" / "previous_heldout.json").read_text())["heldout"]
    out = {}
    with threadpool_limits(1):
        for name, session in FOLDS:
            keys = data.frame["session_key"].to_numpy()
            test, train = np.flatnonzero(keys == session), np.flatnonzero(keys != session)
            fitted = recipe.fit_recipe(data, train, TEXT_PARAMS, select_speech=False)
            pred = recipe.predict_recipe(fitted, data, test)
            out[name] = {s: scores(data.y[test], pred[s]) for s in ("speech", "text", "ensemble")}
            print(name, out[name], flush=True)
    lines = ["# The new recipe on the previous default's KEMDy folds", "",
             "New: trained on every other session of every corpus (settings of the shipped bundle). "
             "Previous: its own recorded numbers (KEMDy only). Macro-F1 / UAR.", "",
             "| fold | new speech | new text | new ensemble | previous speech | previous text | previous ensemble |",
             "|---|---|---|---|---|---|---|"]
    for name, block in out.items():
        old = previous[name]
        cells = [f"{block[s]['macro_f1']:.3f} / {block[s]['uar']:.3f}" for s in ("speech", "text", "ensemble")]
        cells += [f"{old[s]['overall']['macro_f1']:.3f} / {old[s]['overall']['unweighted_accuracy']:.3f}"
                  for s in ("speech", "text", "ensemble")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    write_json(HERE / "results" / "sessions.json", {"new": out, "previous": {k: previous[k] for k, _ in FOLDS}})
    write_text(HERE / "results" / "sessions.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
