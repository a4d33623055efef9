"""The default-bundle recipe: nested leave-one-corpus-out selection, members, fusion, results.

:func:`fit_recipe` makes every choice (speech features and head, text parameters, fusion form)
from out-of-fold predictions inside the rows it is given, then fits the members on all of them.
:func:`evaluate_heldout` runs it once per held-out corpus (training on the others) beside the
previous default's recipe (:mod:`emoens.recipe.previous`) and the baselines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from emoens.recipe.protocol import loco_oof, per_corpus_uar, select
from emoens.recipe.speech import ValenceArousalRegressor, balanced_weights, make_speech

# Simplest first: ties keep the earlier candidate. Blocks: see emoens.recipe.speech_features.
# The vote: three seeds of a small MLP on the mean states + prosody beside a linear head on the
# raw and per-frame-normalised means (+ prosody), the linear head carrying half the weight.
_MLP = {"blocks": ("mean",), "prosody": True, "head": "mlp", "hidden": 64, "alpha": 3.0, "max_iter": 100}
SPEECH_CANDIDATES = (
    {"blocks": ("mean", "std"), "prosody": True, "head": "linear", "C": 0.003},
    {"members": tuple({**_MLP, "random_state": seed} for seed in range(3)) +
                ({"blocks": ("mean", "norm_mean"), "prosody": True, "head": "linear", "C": 0.002},),
     "weights": (1.0, 1.0, 1.0, 3.0), "n_jobs": 2},
)
FUSION_CANDIDATES = (
    {"form": "loglinear"},
    {"form": "confidence"},
)
VA_FEATURES = {"blocks": ("mean", "std"), "prosody": True}
VA_ALPHA = 3000.0
VA_PROXY_WEIGHT = 0.3


@dataclass
class FoldData:
    """Everything a fit needs, row-aligned: features, labels, corpora, texts."""

    frame: pd.DataFrame
    X: np.ndarray
    y: np.ndarray
    text_corpora: pd.DataFrame
    log: Callable[[str], None] = print
    memo: dict = field(default_factory=dict)  # text fits by training rows: folds share them

    @property
    def corpus(self) -> np.ndarray:
        return self.frame["corpus"].to_numpy()

    def transcripts(self, idx) -> list[str]:
        """The words each row's text member reads: Korean transcript, else the foreign sentence."""
        rows = self.frame.iloc[idx]
        return [t if t else f for t, f in zip(rows["text"], rows["text_foreign"])]

    def korean(self, idx) -> np.ndarray:
        rows = self.frame.iloc[idx]
        return np.asarray(idx)[(rows["text"].to_numpy() != "")]


@dataclass
class Recipe:
    """A fitted recipe: members, fusion config, valence/arousal regressor, selection record."""

    speech: object  # a fitted speech estimator of emoens.recipe.speech
    text: object | None
    fusion: dict
    va: ValenceArousalRegressor | None
    record: dict = field(default_factory=dict)


def _memo_key(what: str, rows, params: dict) -> tuple:
    return (what, tuple(int(i) for i in rows), repr(sorted(params.items())))


def _text_member(data: FoldData, idx, text_params: dict):
    from emoens.recipe.text import TextEmotionClassifier

    kor = data.korean(idx)
    if not len(kor):
        return None
    key = _memo_key("fit", kor, text_params)
    if key not in data.memo:
        est = TextEmotionClassifier(**text_params, extra=data.text_corpora)
        data.memo[key] = est.fit(data.transcripts(kor), data.y[kor])
    return data.memo[key]


def _text_oof(data: FoldData, idx, text_params: dict, member) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold text probabilities for rows ``idx`` and their reliability (0: no words).

    Korean rows: predicted by folds that hold out their session; foreign-language rows (never
    trained on) by the member fitted on every Korean row.
    """
    from sklearn.model_selection import GroupKFold

    from emoens.recipe.text import TextEmotionClassifier, oof_proba

    from emoens.fusion_fit import text_reliability

    idx = np.asarray(idx)
    words = data.transcripts(idx)
    proba = np.full((len(idx), 7), 1.0 / 7)
    reliability = np.array([text_reliability(w, "given") for w in words])
    if member is None:
        return proba, np.zeros(len(idx))
    korean = data.frame.iloc[idx]["text"].to_numpy() != ""
    foreign = ~korean & np.array([bool(w) for w in words])
    if foreign.any():
        proba[foreign] = member.predict_proba([w for w, f in zip(words, foreign) if f])
    sessions = data.frame.iloc[idx[korean]]["session_key"].to_numpy()
    if korean.any() and len(set(sessions)) >= 2:
        key = _memo_key("oof", idx[korean], text_params)
        if key not in data.memo:
            est = TextEmotionClassifier(**text_params, extra=data.text_corpora)
            data.memo[key] = oof_proba(est, [w for w, k in zip(words, korean) if k],
                                       data.y[idx[korean]], sessions,
                                       GroupKFold(n_splits=2))
        proba[korean] = data.memo[key]
    else:
        reliability[korean] = 0.0
    return proba, reliability


def _fusion_candidate(cand, speech, text, rel, y, corpus, weights, calibrate=True):
    from emoens.fusion_fit import fit_confidence, fit_loglinear
    from emoens.recipe.protocol import per_corpus_uar

    mods = {"speech": "speech", "text": "text"}
    if cand["form"] == "confidence":
        return fit_confidence({"speech": speech, "text": text}, y, mods, reliability={"text": rel},
                              sample_weight=weights)
    return fit_loglinear({"speech": speech, "text": text}, y, mods, reliability={"text": rel},
                         score=lambda yy, p: per_corpus_uar(yy, p, corpus), calibrate=calibrate)


def _apply(config, speech, text, rel):
    from emoens.fusion import apply_fusion

    return apply_fusion(config, {"speech": speech, "text": text}, reliability={"text": rel})


def _select_fusion(speech, text, rel, y, corpus, weights, log):
    """The fusion form chosen by leave-one-corpus-out over the out-of-fold member rows."""
    table, best = [], None
    for cand in FUSION_CANDIDATES:
        fused = np.zeros_like(speech)
        for c in np.unique(corpus):
            tr, te = corpus != c, corpus == c
            # temperature scaling does not change the label: not fitted while choosing
            config = _fusion_candidate(cand, speech[tr], text[tr], rel[tr], y[tr], corpus[tr],
                                       weights[tr], calibrate=False)
            fused[te] = _apply(config, speech[te], text[te], rel[te])
        score = per_corpus_uar(y, fused, corpus)
        table.append({**cand, "inner_loco_uar": round(score, 6)})
        log(f"    fusion {table[-1]}")
        if best is None or score > best[0] + 1e-9:
            best = (score, cand)
    return best[1], table


def fit_recipe(data: FoldData, idx, text_params: dict, *, select_speech=True) -> Recipe:
    """Choose and fit the members and the fusion on rows ``idx`` only."""
    idx = np.asarray(idx)
    X, y, corpus = data.X[idx], data.y[idx], data.corpus[idx]
    weights = balanced_weights(y, corpus)
    oof = lambda cand: loco_oof(make_speech(cand), X, y, corpus, weights,  # noqa: E731
                                memo=data.memo, rows=idx)
    candidates = SPEECH_CANDIDATES if select_speech else SPEECH_CANDIDATES[:1]
    chosen, speech_oof, speech_table = select(candidates, oof, y, corpus, log=data.log)
    data.log(f"  speech: chosen {chosen}")
    text = _text_member(data, idx, text_params)
    text_oof, rel = _text_oof(data, idx, text_params, text)
    fusion_cand, fusion_table = _select_fusion(speech_oof, text_oof, rel, y, corpus, weights, data.log)
    data.log(f"  fusion: chosen {fusion_cand}")
    fusion = _fusion_candidate(fusion_cand, speech_oof, text_oof, rel, y, corpus, weights)
    fusion["fitted_on"] = {"data": "out-of-fold predictions (speech: leave one corpus out; text: "
                                   "sessions held out) inside the training corpora",
                           "objective": "mean per-corpus UAR, leave one corpus out", "rows": int(len(idx))}
    speech = make_speech(chosen).fit(X, y, sample_weight=weights)
    va = _fit_va(data, idx)
    record = {"speech_candidates": speech_table, "speech": dict(chosen), "fusion_candidates": fusion_table,
              "fusion": dict(fusion_cand), "text": {k: v for k, v in text_params.items()},
              "oof": {"speech": speech_oof, "text": text_oof, "reliability": rel, "y": y, "corpus": corpus}}
    return Recipe(speech, text, fusion, va, record)


def _fit_va(data: FoldData, idx) -> ValenceArousalRegressor | None:
    """Valence/arousal ridge on the rated rows; the other rows get their class's mean rating
    (a weaker target, weight :data:`VA_PROXY_WEIGHT`) so that every voice teaches the regressor."""
    idx = np.asarray(idx)
    rows = data.frame.iloc[idx]
    has = rows["valence"].notna().to_numpy() & rows["arousal"].notna().to_numpy()
    if has.sum() < 20:
        return None
    rated = rows.loc[has, ["valence", "arousal"]].to_numpy(dtype=float)
    targets = np.tile(rated.mean(axis=0), (len(idx), 1))
    y = data.y[idx]
    for c in np.unique(y[has]):
        targets[(y == c) & ~has] = rated[y[has] == c].mean(axis=0)
    targets[has] = rated
    weights = np.where(has, 1.0, VA_PROXY_WEIGHT)
    return ValenceArousalRegressor(**VA_FEATURES, alpha=VA_ALPHA).fit(data.X[idx], targets, sample_weight=weights)


def predict_recipe(recipe: Recipe, data: FoldData, idx) -> dict[str, np.ndarray]:
    """Speech, text, ensemble probabilities (and reliabilities) of rows ``idx``."""
    idx = np.asarray(idx)
    speech = recipe.speech.predict_proba(data.X[idx])
    from emoens.fusion_fit import text_reliability

    words = data.transcripts(idx)
    has = np.array([bool(w) for w in words]) & (recipe.text is not None)
    rel = np.array([text_reliability(w, "given") for w in words]) * has
    text = np.full_like(speech, 1.0 / 7)
    if has.any():
        text[has] = recipe.text.predict_proba([w for w in words if w])
    return {"speech": speech, "text": text, "reliability": rel, "has_words": has,
            "ensemble": _apply(recipe.fusion, speech, text, rel)}
