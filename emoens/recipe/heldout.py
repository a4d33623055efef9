"""Leave-one-corpus-out results of the recipe beside the previous recipe and the baselines."""

from __future__ import annotations

from typing import Callable

import numpy as np

from emoens.recipe.default import FoldData, fit_recipe, predict_recipe
from emoens.recipe.previous import fit_previous, predict_previous
from emoens.evaluate import baseline_predictions
from emoens.recipe.protocol import concordance, scores

# acted corpora whose sentences carry no emotion of their own (the voice alone tells)
NEUTRAL_WORDS = ("ravdess", "nemo", "emovo", "tess")


def _one_hot(pred) -> np.ndarray:
    out = np.zeros((len(pred), 7))
    out[np.arange(len(pred)), np.asarray(pred, dtype=int)] = 1.0
    return out


def _systems(data, train, test, recipe) -> dict[str, np.ndarray]:
    new = predict_recipe(recipe, data, test)
    prev = predict_previous(fit_previous(data, train), data, test)
    systems = {"speech": new["speech"], "text": new["text"], "ensemble": new["ensemble"],
               "previous speech": prev["speech"], "previous text": prev["text"],
               "previous ensemble": prev["ensemble"]}
    for name, pred in baseline_predictions(data.y[test], data.y[train]).items():
        systems[name] = _one_hot(pred)
    has_text = new["has_words"]
    if not has_text.all():  # a member that read nothing has no score of its own
        systems["text"] = np.where(has_text[:, None], systems["text"], 0.0)
    return systems, has_text


def _row(data, test, systems, has_text, mask=None) -> dict:
    y = data.y[test]
    mask = np.ones(len(test), bool) if mask is None else mask
    out = {}
    for name, proba in systems.items():
        rows = mask & (has_text if name in ("text", "previous text") else True)
        out[name] = scores(y[rows], proba[rows]) if rows.any() else None
    return out


def _va(recipe, data, test) -> dict | None:
    rows = data.frame.iloc[test]
    has = rows["valence"].notna().to_numpy() & rows["arousal"].notna().to_numpy()
    if recipe.va is None or has.sum() < 2:
        return None
    pred = recipe.va.predict(data.X[np.asarray(test)[has]])
    truth = rows.loc[has, ["valence", "arousal"]].to_numpy(dtype=float)
    return {"valence_ccc": round(concordance(truth[:, 0], pred[:, 0]), 4),
            "arousal_ccc": round(concordance(truth[:, 1], pred[:, 1]), 4), "n": int(has.sum())}


def evaluate_heldout(data: FoldData, text_params: Callable, corpora=None) -> dict:
    """``{corpus: {"scores": {system: {uar, macro_f1, n}}, "ece", "va", "chosen"}}`` per held-out
    corpus (``kemdy19 impro``: the improvised KEMDy19 dialogues of the same fold, a row of its own)."""
    from emoens.fusion_fit import expected_calibration_error

    results = {}
    for corpus in corpora or sorted(set(data.corpus)):
        test = np.flatnonzero(data.corpus == corpus)
        train = np.flatnonzero(data.corpus != corpus)
        data.log(f"held out {corpus}: train {len(train)} rows, test {len(test)}")
        recipe = fit_recipe(data, train, text_params(data, train))
        systems, has_text = _systems(data, train, test, recipe)
        results[corpus] = {
            "scores": _row(data, test, systems, has_text),
            "ece": round(expected_calibration_error(data.y[test], systems["ensemble"]), 4),
            "va": _va(recipe, data, test),
            "chosen": {"speech": recipe.record["speech"], "fusion": recipe.record["fusion"],
                       "text": recipe.record["text"]}}
        if corpus == "kemdy19":
            impro = data.frame.iloc[test]["style"].to_numpy() == "impro"
            results["kemdy19 impro"] = {"scores": _row(data, test, systems, has_text, impro)}
        summary = results[corpus]["scores"]
        data.log("  " + ", ".join(f"{s} {summary[s]['uar']:.3f}" for s in
                                  ("speech", "ensemble", "previous speech", "previous ensemble")
                                  if summary.get(s)))
    return results


SPEAKER_FOLDS = 5


def speaker_heldout(data, speech_params: dict) -> dict:
    """Speech UAR / macro-F1 per corpus with that corpus's test speakers held out: scikit-learn's
    ``GroupKFold`` over speakers (``SPEAKER_FOLDS`` folds of all corpora at once), so every fold
    trains on every corpus but never on the speakers it is scored on; the previous recipe's speech
    member on the same folds beside it. A complement to the corpus-level table: it shows how
    much of a corpus's accent, microphone and script a model may lean on once it has heard them."""
    from sklearn.model_selection import GroupKFold, cross_val_predict

    from emoens.recipe.previous import SPEECH as PREVIOUS_SPEECH
    from emoens.recipe.speech import SpeechEmotionClassifier, balanced_weights, class_weights, make_speech

    groups = data.frame["group"].to_numpy()
    folds = list(GroupKFold(n_splits=SPEAKER_FOLDS).split(data.X, data.y, groups))
    systems = {"speech": (make_speech(speech_params), balanced_weights(data.y, data.corpus)),
               "previous speech": (SpeechEmotionClassifier(**PREVIOUS_SPEECH), class_weights(data.y))}
    proba = {name: cross_val_predict(est, data.X, data.y, cv=folds, method="predict_proba",
                                     params={"sample_weight": w})
             for name, (est, w) in systems.items()}
    corpora = {}
    for corpus in sorted(set(data.corpus)):
        rows = data.corpus == corpus
        corpora[corpus] = {name: scores(data.y[rows], p[rows]) for name, p in proba.items()}
    data.log("speakers held out: " + ", ".join(f"{c} {r['speech']['uar']:.3f} (previous "
                                               f"{r['previous speech']['uar']:.3f})" for c, r in corpora.items()))
    return {"protocol": f"{SPEAKER_FOLDS} folds grouped by speaker (sessions where a corpus names no speaker) "
                        "over all corpora; the final fit's speech settings; previous = the previous default's "
                        "speech recipe on the same folds.", "corpora": corpora}


def summary_checks(results: dict) -> dict:
    """The issue's targets, computed from ``results`` (True/False each, and the mean gains)."""
    rows = {k: v["scores"] for k, v in results.items() if k != "kemdy19 impro"}
    gain = lambda a, b: [r[a]["uar"] - r[b]["uar"] for r in rows.values()]  # noqa: E731
    speech_gain, ens_gain = gain("speech", "previous speech"), gain("ensemble", "previous ensemble")
    best_single = [r["ensemble"]["uar"] - max(r["speech"]["uar"], (r["text"] or {"uar": 0})["uar"])
                   for r in rows.values()]
    neutral = [rows[c]["ensemble"]["uar"] - rows[c]["speech"]["uar"] for c in NEUTRAL_WORDS if c in rows]
    return {"speech_beats_previous_everywhere": bool(min(speech_gain) > 0),
            "mean_speech_gain": round(float(np.mean(speech_gain)), 4),
            "mean_ensemble_gain": round(float(np.mean(ens_gain)), 4),
            "worst_ensemble_minus_best_member": round(float(min(best_single)), 4),
            "neutral_words_ensemble_minus_speech_min": round(float(min(neutral)), 4) if neutral else None}
