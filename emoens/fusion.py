"""Late fusion of member probabilities: soft voting (fixed or fitted weights) and stacking.

A *fusion config* is a plain JSON-able dict::

    {"format": "emoens-fusion", "format_version": 1, "method": "weighted" | "stack",
     "labels": [...7 labels...],
     "members": [{"name": "kobert_a", "modality": "text", "weight": 0.25}, ...],
     "stack": {"features": "log_proba", "member_order": [...], "classes": [...],
               "coef": [[...]], "intercept": [...]},          # only for method == "stack"
     "fitted_on": {...}}                                      # provenance, when fitted

``loglinear`` pools the members geometrically (``p ~ prod p_m ** w_m``). ``confidence`` is log-linear
pooling whose per-row exponents grow with each member's confidence (its top probability) and
are scaled by the reliability of its input (a transcript from the ASR counts less than a typed
one; an absent member counts 0): the weight of each member depends on the input
(:func:`confidence_weights`, fitted by :mod:`emoens.fusion_fit`).

``weighted`` is soft voting: the ensemble is the weighted mean of the members' probability rows.
When members are missing from a call (no transcript, so no text member ran), the weights of the
members present are renormalised to sum to 1. ``stack`` is a multinomial logistic regression over
the members' log-probabilities (scikit-learn, stored as JSON coefficients: no pickle); when a member
is missing it falls back to weighted voting over the members present.

Everything here is numpy + scikit-learn: no torch.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from emoens.errors import EmoensError
from emoens.labels import LABELS

FORMAT = "emoens-fusion"
FORMAT_VERSION = 1
METHODS = ("weighted", "stack", "loglinear", "confidence")
MODALITIES = ("speech", "text")
_EPS = 1e-7


class FusionError(EmoensError):
    """Bad fusion config, mismatched members or predictions, or a refused fit (e.g. on test rows)."""


# --------------------------------------------------------------------------- configs


def parse_weight(text: str | float) -> float:
    """A weight given as a number or a fraction (``"0.25"``, ``"1/6"``)."""
    if isinstance(text, (int, float)):
        return float(text)
    try:
        return float(Fraction(str(text).strip()))
    except (ValueError, ZeroDivisionError) as exc:
        raise FusionError(f"weight {text!r} is not a number or a fraction such as 1/6") from exc


def default_weights(modalities: Mapping[str, str]) -> dict[str, float]:
    """Half the weight per modality present, shared equally within a modality.

    With two text and three speech members this is exactly the seed's soft voting
    (0.25 per KoBERT, 1/6 per wav2vec2).
    """
    present = [m for m in MODALITIES if m in modalities.values()]
    if not present:
        raise FusionError("no members given: name at least one speech or text member")
    weights = {}
    for name, modality in modalities.items():
        count = sum(1 for m in modalities.values() if m == modality)
        weights[name] = 1.0 / len(present) / count
    return weights


def weighted_fusion(modalities: Mapping[str, str], weights: Mapping[str, float] | None = None,
                    **extra) -> dict:
    """A ``weighted`` fusion config for members ``{name: modality}`` (weights default as above)."""
    weights = dict(default_weights(modalities) if weights is None else weights)
    config = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "method": "weighted",
        "labels": list(LABELS),
        "members": [{"name": n, "modality": modalities[n], "weight": float(weights.get(n, 0.0))}
                    for n in modalities],
    }
    config.update(extra)
    return validate_fusion(config)


def validate_fusion(config: Mapping, source: str = "fusion config") -> dict:
    """Check a fusion config; return it as a dict. Raises :class:`FusionError` naming ``source``."""
    if not isinstance(config, Mapping):
        raise FusionError(f"{source}: expected a JSON object, got {type(config).__name__}")
    config = dict(config)
    version = config.get("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise FusionError(f"{source}: unknown fusion format_version {version!r} "
                          f"(this emoens reads version {FORMAT_VERSION}); upgrade emoens")
    method = config.get("method")
    if method not in METHODS:
        raise FusionError(f"{source}: unknown fusion method {method!r}; expected one of {METHODS}")
    labels = config.get("labels", list(LABELS))
    if list(labels) != list(LABELS):
        raise FusionError(f"{source}: labels {labels} differ from emoens' canonical {list(LABELS)}")
    members = config.get("members")
    if not isinstance(members, list) or not members:
        raise FusionError(f"{source}: 'members' must be a non-empty list of "
                          "{name, modality, weight} objects")
    names = set()
    for i, member in enumerate(members):
        if not isinstance(member, Mapping) or "name" not in member:
            raise FusionError(f"{source}: member #{i} has no 'name'")
        name = member["name"]
        if name in names:
            raise FusionError(f"{source}: member name {name!r} appears twice")
        names.add(name)
        if member.get("modality") not in MODALITIES:
            raise FusionError(f"{source}: member {name!r} has modality {member.get('modality')!r}; "
                              f"expected one of {MODALITIES}")
        weight = member.get("weight", 0.0)
        if not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
            raise FusionError(f"{source}: member {name!r} has weight {weight!r}; "
                              "weights must be finite and >= 0")
    if method == "weighted" and sum(m.get("weight", 0.0) for m in members) <= 0:
        raise FusionError(f"{source}: all member weights are 0")
    if method == "stack":
        stack = config.get("stack")
        if not isinstance(stack, Mapping):
            raise FusionError(f"{source}: method 'stack' needs a 'stack' object with coef/intercept")
        order = stack.get("member_order")
        if sorted(order or []) != sorted(names):
            raise FusionError(f"{source}: stack member_order {order} does not match members "
                              f"{sorted(names)}")
        classes = stack.get("classes", [])
        if not classes or any(c not in LABELS for c in classes):
            raise FusionError(f"{source}: stack classes {classes} must be labels from {list(LABELS)}")
        coef = np.asarray(stack.get("coef"), dtype=float)
        intercept = np.asarray(stack.get("intercept"), dtype=float)
        rows = 1 if len(classes) == 2 else len(classes)
        if coef.shape != (rows, len(order) * len(LABELS)) or intercept.shape != (rows,):
            raise FusionError(f"{source}: stack coef {coef.shape} / intercept {intercept.shape} do "
                              f"not fit {len(order)} members x {len(LABELS)} classes")
    if method == "confidence":
        _validate_confidence(config.get("confidence"), sorted(names), source)
    return config


def _validate_confidence(block, names: list[str], source: str) -> None:
    if not isinstance(block, Mapping):
        raise FusionError(f"{source}: method 'confidence' needs a 'confidence' object")
    order = list(block.get("member_order") or [])
    if sorted(order) != names:
        raise FusionError(f"{source}: confidence member_order {order} does not match members {names}")
    for key in ("base", "slope"):
        values = np.asarray(block.get(key), dtype=float)
        if values.shape != (len(order),) or not np.all(np.isfinite(values)):
            raise FusionError(f"{source}: confidence '{key}' must be {len(order)} finite numbers")


def read_fusion(path: str | Path) -> dict:
    """Read and validate a fusion JSON file (``emoens fuse --out``)."""
    import json

    path = Path(path)
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FusionError(f"fusion file {path} not found") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FusionError(f"fusion file {path} is not readable JSON: {exc}") from exc
    return validate_fusion(config, source=str(path))


def write_fusion(path: str | Path, config: Mapping) -> None:
    """Validate and atomically write a fusion config as JSON."""
    from emoens.files import write_json

    write_json(path, validate_fusion(config, source=str(path)))


def member_weights(config: Mapping) -> dict[str, float]:
    """``{member name: weight}`` as configured (not renormalised)."""
    return {m["name"]: float(m.get("weight", 0.0)) for m in config["members"]}


def member_modalities(config: Mapping) -> dict[str, str]:
    """``{member name: modality}``."""
    return {m["name"]: m["modality"] for m in config["members"]}


def effective_weights(config: Mapping, available: Iterable[str]) -> dict[str, float]:
    """The soft-voting weights used when only ``available`` members ran, renormalised to sum to 1.

    If every available member has weight 0 (e.g. only text members are weighted but only speech
    ran), the available members share the weight equally instead.
    """
    weights = member_weights(config)
    available = [n for n in weights if n in set(available)]
    if not available:
        raise FusionError("none of the fusion's members produced probabilities "
                          f"(members: {', '.join(weights)})")
    total = sum(weights[n] for n in available)
    if total <= 0:
        return {n: 1.0 / len(available) for n in available}
    return {n: weights[n] / total for n in available}


# --------------------------------------------------------------------------- applying


def _as_matrix(name: str, proba) -> np.ndarray:
    array = np.asarray(proba, dtype=np.float64)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != len(LABELS):
        raise FusionError(f"member {name!r}: probabilities of shape {np.shape(proba)}; expected "
                          f"(n, {len(LABELS)}) in canonical label order")
    if not np.all(np.isfinite(array)):
        raise FusionError(f"member {name!r}: probabilities contain NaN or infinity")
    return array


def _normalise_rows(array: np.ndarray) -> np.ndarray:
    array = np.clip(array, 0.0, None)
    sums = array.sum(axis=1, keepdims=True)
    sums[sums <= 0] = 1.0
    return array / sums


def stack_proba(stack: Mapping, probas: Mapping[str, np.ndarray]) -> np.ndarray:
    """Apply stored logistic-regression coefficients; classes never seen in fitting get 0."""
    features = np.concatenate(
        [np.log(np.clip(probas[n], _EPS, 1.0)) for n in stack["member_order"]], axis=1)
    coef = np.asarray(stack["coef"], dtype=np.float64)
    intercept = np.asarray(stack["intercept"], dtype=np.float64)
    scores = features @ coef.T + intercept
    classes = list(stack["classes"])
    if len(classes) == 2:  # scikit-learn's binary case: one score for classes[1]
        scores = np.concatenate([np.zeros_like(scores), scores], axis=1)
    scores -= scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    sub = exp / exp.sum(axis=1, keepdims=True)
    out = np.zeros((features.shape[0], len(LABELS)))
    for j, label in enumerate(classes):
        out[:, LABELS.index(label)] = sub[:, j]
    return out


def _softmax(scores: np.ndarray) -> np.ndarray:
    scores = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


def loglinear_proba(weights: Mapping[str, float], probas: Mapping[str, np.ndarray],
                    reliability: Mapping[str, object] | None = None,
                    temperature: float = 1.0) -> np.ndarray:
    """Geometric pooling ``p ~ prod p_m ** (w_m r_m)`` of the members given, then temperature.

    ``r_m`` (default 1): how far member m's input is trusted (0 leaves it out), per row or one
    value; the weights of the members given are renormalised per row. A peaked (confident)
    member moves the product more than a flat one, so confidence weighs by itself.
    """
    n = next(iter(probas.values())).shape[0]
    eff = {m: float(weights[m]) * np.broadcast_to(np.asarray(
        1.0 if reliability is None else reliability.get(m, 1.0), dtype=np.float64).reshape(-1, 1), (n, 1))
        for m in probas}
    total = sum(eff.values())
    total = np.where(total > 0, total, 1.0)
    scores = sum(eff[m] / total * np.log(np.clip(p, _EPS, 1.0)) for m, p in probas.items())
    return _softmax(np.asarray(scores) / float(temperature))


def confidence_weights(block: Mapping, probas: Mapping[str, np.ndarray],
                       reliability: Mapping[str, object] | None = None) -> dict[str, np.ndarray]:
    """Per-row exponent of each member: ``(base + slope * top probability) * reliability``,
    at least 0; 0 for a member that did not run."""
    out = {}
    for name, base, slope in zip(block["member_order"], block["base"], block["slope"]):
        p = probas.get(name)
        if p is None:
            continue
        r = np.asarray(1.0 if reliability is None else reliability.get(name, 1.0), dtype=np.float64)
        out[name] = np.clip(base + slope * p.max(axis=1), 0.0, None) * np.broadcast_to(r.reshape(-1), (p.shape[0],))
    return out


def confidence_proba(block: Mapping, probas: Mapping[str, np.ndarray],
                     reliability: Mapping[str, object] | None = None) -> np.ndarray:
    """Log-linear pooling whose exponents depend on each row's member confidence and input
    reliability (:func:`confidence_weights`); the exponents' overall size is the temperature."""
    weights = confidence_weights(block, probas, reliability)
    scores = sum(weights[m][:, None] * np.log(np.clip(probas[m], _EPS, 1.0)) for m in weights)
    return _softmax(np.asarray(scores, dtype=np.float64))


def apply_fusion(config: Mapping, probas: Mapping[str, object],
                 reliability: Mapping[str, object] | None = None) -> np.ndarray:
    """Fuse ``{member name: (n, 7) or (7,) probabilities}`` into one ``(n, 7)`` array.

    Members absent from ``probas`` (or ``None``) are skipped and the remaining weights
    renormalised; a stack falls back to weighted voting when any of its members is missing; a
    ``confidence`` fusion treats a missing member as reliability 0. ``reliability``:
    ``{member: value or (n,) values in [0, 1]}`` (default 1), used by ``confidence`` only.
    """
    known = member_weights(config)
    unknown = [n for n in probas if n not in known]
    if unknown:
        raise FusionError(f"probabilities given for member(s) {unknown} that the fusion does not "
                          f"know (its members: {', '.join(known)})")
    given = {n: _as_matrix(n, p) for n, p in probas.items() if p is not None}
    rows = {a.shape[0] for a in given.values()}
    if len(rows) > 1:
        raise FusionError(f"members have different numbers of rows: "
                          f"{ {n: a.shape[0] for n, a in given.items()} }")
    given = {n: _normalise_rows(a) for n, a in given.items()}
    if config.get("method") == "confidence":
        return confidence_proba(config["confidence"], given, reliability)
    if config.get("method") == "stack" and set(given) == set(known):
        return stack_proba(config["stack"], given)
    if config.get("method") == "loglinear":
        return loglinear_proba(member_weights(config), given, reliability,
                               float(config.get("temperature", 1.0)))
    weights = effective_weights(config, given)
    out = sum(weights[n] * given[n] for n in weights)
    return _normalise_rows(np.asarray(out))


def remix(method: str, speech, text, speech_weight: float) -> np.ndarray:
    """The ensemble of a speech and a text probability row re-weighted by a user's slider.

    Follows the bundle's fusion ``method``: ``weighted`` mixes linearly; every other method
    (log-linear, stack, confidence) pools geometrically, as it does itself. Without text the
    speech row is returned unchanged.
    """
    speech = _normalise_rows(_as_matrix("speech", speech))
    if text is None:
        return speech[0]
    text = _normalise_rows(_as_matrix("text", text))
    w = min(max(float(speech_weight), 0.0), 1.0)
    if method == "weighted":
        return _normalise_rows(w * speech + (1 - w) * text)[0]
    return loglinear_proba({"speech": w, "text": 1 - w}, {"speech": speech, "text": text})[0]


def modality_proba(config: Mapping, probas: Mapping[str, object], modality: str):
    """Soft-vote only the members of one modality (their weights renormalised); None if none ran."""
    modalities = member_modalities(config)
    subset = {n: p for n, p in probas.items() if p is not None and modalities.get(n) == modality}
    if not subset:
        return None
    sub_config = {"method": "weighted", "members": [m for m in config["members"]
                                                   if m["name"] in subset]}
    return apply_fusion(sub_config, subset)


# --------------------------------------------------------------------------- prediction files


def read_predictions(path: str | Path):
    """Read a predictions CSV (``utt_id`` + one column per label) as a DataFrame indexed by utt_id."""
    import pandas as pd

    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype={"utt_id": str}, keep_default_na=False)
    except FileNotFoundError as exc:
        raise FusionError(f"predictions file {path} not found") from exc
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise FusionError(f"predictions file {path} is not a readable CSV: {exc}") from exc
    missing = [c for c in ("utt_id", *LABELS) if c not in frame.columns]
    if missing:
        raise FusionError(f"predictions file {path} lacks column(s) {missing}; expected utt_id and "
                          f"{', '.join(LABELS)}")
    if frame["utt_id"].duplicated().any():
        dup = frame.loc[frame["utt_id"].duplicated(), "utt_id"].iloc[0]
        raise FusionError(f"predictions file {path}: utt_id {dup!r} appears more than once")
    try:
        values = frame[list(LABELS)].astype(float)
    except ValueError as exc:
        raise FusionError(f"predictions file {path}: non-numeric probability: {exc}") from exc
    if not np.isfinite(values.to_numpy()).all():
        raise FusionError(f"predictions file {path}: NaN or infinite probabilities")
    values.index = frame["utt_id"]
    return values


def join_predictions(frames: Mapping[str, object]) -> tuple[list[str], dict[str, np.ndarray]]:
    """Inner-join member prediction frames on utt_id: ``(utt_ids, {name: (n, 7)})``."""
    ids = None
    for frame in frames.values():
        ids = list(frame.index) if ids is None else [u for u in ids if u in set(frame.index)]
    if not ids:
        raise FusionError("the prediction files share no utt_id: are they from the same manifest?")
    return ids, {n: f.loc[ids, list(LABELS)].to_numpy(dtype=float) for n, f in frames.items()}


def fuse_frames(config: Mapping, frames: Mapping[str, object]):
    """Apply a fusion to member prediction frames joined on utt_id; returns a predictions frame."""
    import pandas as pd

    ids, mats = join_predictions(frames)
    fused = apply_fusion(config, mats)
    out = pd.DataFrame(fused, columns=list(LABELS))
    out.insert(0, "utt_id", ids)
    return out
