"""Fitting the log-linear and confidence fusions and temperature scaling on out-of-fold rows.

The configs these return are applied by :func:`emoens.fusion.apply_fusion`. Fit them only on
predictions for rows the members did not train on (out-of-fold), never on rows you report on.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from emoens.fusion import FusionError, loglinear_proba, validate_fusion, weighted_fusion


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
