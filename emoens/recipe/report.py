"""The recipe's results as JSON-able metrics (``bundle.json``) and Markdown (results.md)."""

from __future__ import annotations

import numpy as np

from emoens.recipe.heldout import NEUTRAL_WORDS

PROTOCOL = ("Leave one corpus out: each row is a corpus the models never heard, trained on all "
            "the others with every choice (speech features and head, fusion form) made by leave-one-"
            "corpus-out scores inside those training corpora. UAR = unweighted average recall (mean "
            "recall over the classes present), F1 = macro-F1 (one definition, emoens.evaluate). "
            "`previous` = the previous default's recipe (mean+std Whisper pooling, MLP head, "
            "KEMDy-only text head, fixed 0.2/0.8 soft voting) trained on the same rows. Foreign-"
            "language acted corpora give the text member their sentence (which carries no emotion "
            f"there: {', '.join(NEUTRAL_WORDS)}); URDU has none. The fusion trusts a transcript by its "
            "source, the ASR's confidence and its share of Hangul (the text member reads Korean), so "
            "on those corpora the ensemble is the speech member by construction. `kemdy19 impro`: the improvised "
            "dialogues of the KEMDy19 row. ECE: expected calibration error of the ensemble (15 bins). "
            "CCC: concordance of predicted and rated valence/arousal (1-5), where ratings exist.")


def _clean(value):
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items() if k != "oof"}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return round(float(value), 6)
    if isinstance(value, np.integer):
        return int(value)
    return value


def summarise(heldout: dict, checks: dict, final, data) -> dict:
    """``bundle.json`` ``metrics``: the held-out table, the targets, what the final fit chose."""
    rows = [v["scores"] for k, v in heldout.items() if k != "kemdy19 impro"]
    mean = {s: round(float(np.mean([r[s]["uar"] for r in rows if r.get(s)])), 4)
            for s in ("speech", "text", "ensemble", "previous speech", "previous ensemble")}
    record = final.record
    return _clean({
        "protocol": PROTOCOL, "heldout_corpora": heldout, "mean_uar": mean, "checks": checks,
        "selection_tables": {"speech (final fit)": record["speech_candidates"],
                             "fusion (final fit)": record["fusion_candidates"]},
        "final_selection": {"speech": record["speech"], "fusion": record["fusion"], "text": record["text"]},
    })


def results_markdown(results: dict) -> str:
    """results.md: the card's evaluation section plus time and machine."""
    from emoens.model_card import heldout_table, speakers_table

    m = results["metrics"]
    lines = ["# Default bundle: leave-one-corpus-out results", "",
             "Written by `emoens train-default`; every number is in `results.json`.", "",
             m["protocol"], "", *heldout_table(m["heldout_corpora"]), "",
             "Mean UAR over held-out corpora: " + ", ".join(f"{k} {v:.3f}" for k, v in m["mean_uar"].items()) + ".", "",
             "Targets: " + ", ".join(f"{k} = {v}" for k, v in m["checks"].items()) + ".", ""]
    if m.get("speakers_heldout"):
        lines += [*speakers_table(m["speakers_heldout"]), ""]
    for name, table in m["selection_tables"].items():
        lines += [f"## Candidates: {name}", ""] + [f"- {row}" for row in table] + [""]
    cached = " (speech features from the cache)" if results.get("feature_cache") else ""
    lines += [f"Time: {results['seconds']:.0f} s{cached} on {results['environment']}.", ""]
    return "\n".join(lines)
