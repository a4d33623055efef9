"""Fitting the log-linear and confidence fusions and temperature scaling on out-of-fold rows.

The configs these return are applied by :func:`emoens.fusion.apply_fusion`. Fit them only on
predictions for rows the members did not train on (out-of-fold), never on rows you report on.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

import itertools
import math
from typing import Iterable

from emoens.fusion import (_EPS, FusionError, _as_matrix, _normalise_rows, loglinear_proba,
                           validate_fusion, weighted_fusion)
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
                  score, reliability: Mapping[str, np.ndarray] | None = None,
                  grid=np.round(np.arange(0.05, 1.0, 0.05), 2), calibrate: bool = True,
                  **extra) -> dict:
    """Two-member geometric pooling whose first-member weight maximises ``score(y, proba)``
    (ties: nearer 0.5), then the temperature minimising the log-loss on the same rows."""
    names = list(probas)
    if len(names) != 2:
        raise FusionError(f"log-linear fitting takes exactly two members, got {names}")

    def pooled(w, t=1.0):
        return loglinear_proba({names[0]: w, names[1]: 1 - w}, probas, reliability, t)

    best = max(grid, key=lambda w: (score(y, pooled(w)), -abs(w - 0.5)))
    temperature = fit_temperature(np.log(np.clip(pooled(best), 1e-12, 1.0)), y) if calibrate else 1.0
    config = weighted_fusion(dict(modalities), {names[0]: float(best), names[1]: float(1 - best)},
                             **extra)
    config["method"] = "loglinear"
    config["temperature"] = round(temperature, 6)
    return validate_fusion(config)


def fit_confidence(probas: Mapping[str, np.ndarray], y, modalities: Mapping[str, str], *,
                   reliability: Mapping[str, np.ndarray] | None = None, sample_weight=None,
                   **extra) -> dict:
    """A ``confidence`` fusion fitted on out-of-fold member probabilities: the base and slope of
    each member's exponent minimise the (weighted) log-loss, which also sets the calibration.
    Every row also counts once without its text (reliability 0), so the same parameters serve
    inputs without a transcript."""
    from scipy.optimize import minimize

    from emoens.fusion import confidence_proba

    order = list(probas)
    y = np.asarray(y, dtype=int)
    n = len(y)
    mats = {m: np.asarray(probas[m], dtype=np.float64) for m in order}
    rel = {m: np.ones(n) if reliability is None or m not in reliability
           else np.asarray(reliability[m], dtype=np.float64) for m in order}
    dropped = {m: (np.zeros(n) if modalities[m] == "text" else rel[m]) for m in order}
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)

    def loss(theta):
        block = {"member_order": order, "base": theta[:len(order)], "slope": theta[len(order):]}
        total = 0.0
        for r in (rel, dropped):
            p = confidence_proba(block, mats, r)
            total += -float(np.sum(w * np.log(np.clip(p[np.arange(n), y], 1e-12, 1.0))))
        return total / (2 * w.sum())

    start = np.concatenate([np.ones(len(order)), np.zeros(len(order))])
    bounds = [(0.0, 20.0)] * len(order) + [(-20.0, 20.0)] * len(order)
    theta = minimize(loss, start, method="L-BFGS-B", bounds=bounds).x
    config = weighted_fusion(dict(modalities), None, **extra)
    config["method"] = "confidence"
    config["confidence"] = {"features": "exponent = (base + slope x top probability) x reliability",
                            "member_order": order, "base": [round(float(v), 6) for v in theta[:len(order)]],
                            "slope": [round(float(v), 6) for v in theta[len(order):]]}
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


def hangul_share(text: str | None) -> float:
    """Share of Hangul among the letters of ``text`` (0 for none): the text member reads Korean,
    so words in another script are not evidence it can weigh."""
    letters = [c for c in (text or "") if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if "\uac00" <= c <= "\ud7a3" or "\u3131" <= c <= "\u318e") / len(letters)


def text_reliability(text: str | None, source: str | None, asr: Mapping | None = None) -> float:
    """How far the text member's reading of ``text`` is trusted: the transcript's source and ASR
    confidence (:func:`transcript_reliability`) times its share of Korean (:func:`hangul_share`)."""
    if not text:
        return 0.0
    return round(transcript_reliability(source, asr) * hangul_share(text), 6)


# --------------------------------------------------------------------------- soft-voting weights and stacking


def _targets(y) -> np.ndarray:
    y = np.asarray(y)
    if y.dtype.kind in "iu":
        return y.astype(int)
    from emoens.labels import normalize_label

    return np.array([LABELS.index(normalize_label(v)) for v in y], dtype=int)


def _score(objective: str, y: np.ndarray, proba: np.ndarray) -> float:
    """Higher is better."""
    from sklearn.metrics import log_loss

    from emoens.evaluate import macro_f1

    if objective == "macro_f1":
        return macro_f1(y, proba.argmax(axis=1))
    if objective == "log_loss":
        return -float(log_loss(y, np.clip(proba, _EPS, 1.0), labels=list(range(len(LABELS)))))
    raise FusionError(f"unknown objective {objective!r}; expected macro_f1 or log_loss")


def _simplex_grid(k: int, steps: int) -> Iterable[tuple[float, ...]]:
    for cuts in itertools.combinations(range(steps + k - 1), k - 1):
        parts, prev = [], -1
        for c in cuts:
            parts.append(c - prev - 1)
            prev = c
        parts.append(steps + k - 2 - prev)
        yield tuple(p / steps for p in parts)


def fit_weights(probas: Mapping[str, np.ndarray], y, modalities: Mapping[str, str], *,
                objective: str = "macro_f1", step: float = 0.05, max_points: int = 20000,
                **extra) -> dict:
    """Soft-voting weights fitted on VALIDATION predictions ``probas`` with targets ``y``.

    ``macro_f1``: exhaustive grid over the weight simplex (ties broken by log-loss, then by
    closeness to equal weights); the grid is coarsened when it would exceed ``max_points``.
    ``log_loss``: constrained optimisation (scipy SLSQP) from equal weights.
    """
    names = list(probas)
    if not names:
        raise FusionError("no member predictions to fit weights on")
    mats = {n: _normalise_rows(_as_matrix(n, probas[n])) for n in names}
    y = _targets(y)
    if len({m.shape[0] for m in mats.values()} | {len(y)}) != 1:
        raise FusionError("member predictions and targets have different numbers of rows")
    if len(y) == 0:
        raise FusionError("no labelled validation rows to fit fusion weights on")
    stacked = np.stack([mats[n] for n in names])  # (k, n, 7)
    k = len(names)
    if objective == "log_loss" and k > 1:
        from scipy.optimize import minimize

        def loss(w):
            return -_score("log_loss", y, np.tensordot(w, stacked, axes=1))

        result = minimize(loss, np.full(k, 1.0 / k), method="SLSQP", bounds=[(0.0, 1.0)] * k,
                          constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0}])
        best = np.clip(result.x, 0.0, None)
        best = best / best.sum()
        score = -loss(best)
    else:
        steps = max(1, round(1.0 / step))
        while k > 1 and math.comb(steps + k - 1, k - 1) > max_points and steps > 1:
            steps -= 1
        best, best_key = None, None
        equal = np.full(k, 1.0 / k)
        for point in _simplex_grid(k, steps):
            w = np.asarray(point)
            fused = np.tensordot(w, stacked, axes=1)
            key = (_score(objective, y, fused), _score("log_loss", y, fused),
                   -float(np.abs(w - equal).sum()))
            if best_key is None or key > best_key:
                best, best_key = w, key
        score = best_key[0]
    weights = {n: float(w) for n, w in zip(names, best)}
    fitted = {"objective": objective, "score": float(score), "rows": int(len(y))}
    fitted.update(extra.pop("fitted_on", {}))
    return weighted_fusion({n: modalities[n] for n in names}, weights, fitted_on=fitted, **extra)


def fit_stack(probas: Mapping[str, np.ndarray], y, modalities: Mapping[str, str], *,
              C: float = 1.0, **extra) -> dict:
    """Stacking: logistic regression on the members' log-probabilities, fitted on VALIDATION rows.

    The fallback weights (used when a member is missing at run time) are the default
    half-per-modality weights.
    """
    from sklearn.linear_model import LogisticRegression

    names = list(probas)
    mats = {n: _normalise_rows(_as_matrix(n, probas[n])) for n in names}
    y = _targets(y)
    if len(set(y)) < 2:
        raise FusionError("stacking needs validation rows of at least two classes; "
                          f"found only {[LABELS[i] for i in set(y)]}")
    features = np.concatenate([np.log(np.clip(mats[n], _EPS, 1.0)) for n in names], axis=1)
    model = LogisticRegression(C=C, max_iter=2000)
    model.fit(features, y)
    stack = {"features": "log_proba", "member_order": names,
             "classes": [LABELS[int(c)] for c in model.classes_],
             "coef": model.coef_.tolist(), "intercept": model.intercept_.tolist(), "C": C}
    fitted = {"objective": "log_loss (logistic regression)", "rows": int(len(y))}
    fitted.update(extra.pop("fitted_on", {}))
    config = weighted_fusion({n: modalities[n] for n in names}, None, fitted_on=fitted, **extra)
    config["method"] = "stack"
    config["stack"] = stack
    return validate_fusion(config)
