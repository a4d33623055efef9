"""Fitting the log-linear and confidence fusions and temperature scaling on out-of-fold rows.

The configs these return are applied by :func:`emoens.fusion.apply_fusion`. Fit them only on
predictions for rows the members did not train on (out-of-fold), never on rows you report on.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from emoens.fusion import (FusionError, confidence_features, loglinear_proba, validate_fusion,
                           weighted_fusion)
from emoens.labels import LABELS


def expected_calibration_error(y, proba, bins: int = 15) -> float:
    """ECE of the top-class probability: the bin-size-weighted gap between confidence and accuracy."""
    proba = np.asarray(proba, dtype=np.float64)
    y = np.asarray(y, dtype=int)
    top = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        mask = (top > lo) & (top <= hi)
        if mask.any():
            ece += mask.mean() * abs(top[mask].mean() - correct[mask].mean())
    return float(ece)


def fit_temperature(logits, y) -> float:
    """The temperature T > 0 minimising the log-loss of ``softmax(logits / T)`` (bounded search)."""
    from scipy.optimize import minimize_scalar

    logits = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=int)

    def nll(log_t):
        z = logits / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return -float(log_p[np.arange(len(y)), y].mean())

    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def fit_loglinear(probas: Mapping[str, np.ndarray], y, modalities: Mapping[str, str], *,
                  score, grid=np.round(np.arange(0.05, 1.0, 0.05), 2), **extra) -> dict:
    """Two-member geometric pooling whose first-member weight maximises ``score(y, proba)``."""
    names = list(probas)
    if len(names) != 2:
        raise FusionError(f"log-linear fitting takes exactly two members, got {names}")
    best = max(grid, key=lambda w: (score(y, loglinear_proba({names[0]: w, names[1]: 1 - w}, probas)),
                                    -abs(w - 0.5)))
    config = weighted_fusion(dict(modalities), {names[0]: float(best), names[1]: float(1 - best)},
                             **extra)
    config["method"] = "loglinear"
    return validate_fusion(config)


def fit_confidence(probas: Mapping[str, np.ndarray], y, modalities: Mapping[str, str], *,
                   reliability: Mapping[str, np.ndarray] | None = None, groups=None,
                   C: float = 0.1, drop: tuple[str, ...] = ("text",), sample_weight=None,
                   **extra) -> dict:
    """A ``confidence`` fusion fitted on out-of-fold member probabilities.

    Every row also appears once with each member of ``drop`` absent (reliability 0), so the same
    model serves inputs without a transcript. The temperature is fitted on cross-fitted scores
    (``groups``: folds by corpus or speaker), so it corrects the stacker's own over-confidence.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    order = list(probas)
    y = np.asarray(y, dtype=int)
    n = len(y)
    rel = {m: np.ones(n) if reliability is None or m not in reliability
           else np.asarray(reliability[m], dtype=np.float64) for m in order}
    feats, targets, weights, fold_ids = [], [], [], []
    base_w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    group_ids = np.zeros(n, dtype=int) if groups is None else np.unique(np.asarray(groups), return_inverse=True)[1]
    for absent in (None, *drop):
        r = {m: (np.zeros(n) if m == absent else rel[m]) for m in order}
        feats.append(confidence_features(order, {m: np.asarray(probas[m], np.float64) for m in order}, r))
        targets.append(y)
        weights.append(base_w)
        fold_ids.append(group_ids)
    x, t, w, g = map(np.concatenate, (feats, targets, weights, fold_ids))

    def fit(rows):
        model = LogisticRegression(C=C, max_iter=3000)
        model.fit(x[rows], t[rows], sample_weight=w[rows])
        coef = np.zeros((len(LABELS), x.shape[1]))
        intercept = np.full(len(LABELS), -30.0)  # a class never seen in fitting stays ~0
        coef[model.classes_], intercept[model.classes_] = model.coef_, model.intercept_
        return coef, intercept

    scores = np.zeros((len(t), len(LABELS)))
    n_groups = len(np.unique(g))
    if n_groups >= 2:
        for tr, va in GroupKFold(n_splits=min(5, n_groups)).split(x, t, g):
            coef, intercept = fit(tr)
            scores[va] = x[va] @ coef.T + intercept
        temperature = fit_temperature(scores, t)
    else:
        temperature = 1.0
    coef, intercept = fit(np.arange(len(t)))
    config = weighted_fusion(dict(modalities), None, **extra)
    config["method"] = "confidence"
    config["confidence"] = {"features": "log_proba x (1, top probability) x reliability",
                            "member_order": order, "classes": list(LABELS),
                            "coef": np.round(coef, 8).tolist(),
                            "intercept": np.round(intercept, 8).tolist(),
                            "temperature": round(temperature, 6), "C": C}
    return validate_fusion(config)


def transcript_reliability(source: str | None, asr: Mapping | None = None) -> float:
    """How far a transcript is trusted, in [0, 1]: 1 typed, 0 none; ASR by its own confidence.

    A fixed mapping (the training transcripts are human, so there is nothing to fit it on):
    ``exp``-like decay with faster-whisper's ``avg_logprob`` (-0.2 -> 0.8, -1 -> 0), times
    ``1 - no_speech_prob``, and 0 for ``compression_ratio`` > 2.4 (repetitive hallucination).
    """
    if not source:
        return 0.0
    if source != "asr" or not asr:
        return 1.0
    logprob = float(asr.get("avg_logprob") if asr.get("avg_logprob") is not None else -0.5)
    no_speech = float(asr.get("no_speech_prob") or 0.0)
    ratio = float(asr.get("compression_ratio") or 1.0)
    if ratio > 2.4:
        return 0.0
    return float(np.clip(1.0 + logprob, 0.0, 1.0) * (1.0 - np.clip(no_speech, 0.0, 1.0)))

