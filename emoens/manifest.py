"""The manifest: one CSV row per utterance (DESIGN §3), its validation, and the tie policy.

Columns are :data:`COLUMNS` in that order, then any extra columns (kept as they are). Only
:data:`REQUIRED_COLUMNS` must be present in a file; other missing standard columns are added empty.
``prepare`` adds the extra column ``tie_policy`` recording how multi-label ties were resolved.

Tie policy (applied once, from ``label_raw``, when a corpus is prepared):

- ``drop``: a tied row (``happy;neutral``) is not used (the reader reports it as skipped);
- ``first``: ``label`` is the first label listed;
- ``soft``: ``label`` is the first label listed and ``label_dist`` spreads equal probability mass
  over the tied labels (``0;0;0;0.5;0.5;0;0``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from emoens.errors import EmoensError
from emoens.labels import LABEL_TO_ID, LABELS, LabelError, normalize_label

COLUMNS: tuple[str, ...] = (
    "utt_id", "corpus", "session", "speaker", "gender", "dialogue", "style", "audio_path",
    "duration", "text", "text_raw", "label", "label_raw", "label_dist", "valence", "arousal",
    "split", "fold",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("utt_id", "audio_path", "label")
FLOAT_COLUMNS: tuple[str, ...] = ("duration", "valence", "arousal")
SPLITS: tuple[str, ...] = ("train", "valid", "test")
TIE_POLICIES: tuple[str, ...] = ("drop", "first", "soft")
_DIST_TOLERANCE = 1e-3


class ManifestError(EmoensError):
    """A manifest that does not follow the schema (missing columns, bad values, duplicates)."""


def empty_row() -> dict:
    """A manifest row with every standard column empty (floats NaN): readers fill it in."""
    row = {col: "" for col in COLUMNS}
    for col in FLOAT_COLUMNS:
        row[col] = float("nan")
    return row


def parse_label_raw(raw: str) -> list[str]:
    """Labels of an annotation such as ``"happy;neutral"`` (aliases normalised, order kept,
    duplicates removed). Raises :class:`emoens.labels.LabelError` for an unknown label."""
    labels: list[str] = []
    for part in str(raw).replace(",", ";").split(";"):
        if part.strip():
            label = normalize_label(part)
            if label not in labels:
                labels.append(label)
    return labels


def format_dist(dist) -> str:
    """``;``-joined probabilities in canonical order, compactly (``0;0;0;0.5;0.5;0;0``)."""
    return ";".join(f"{float(p):.10g}" for p in dist)


def parse_dist(text: str) -> np.ndarray:
    """The 7 probabilities of a ``label_dist`` string; raises :class:`ManifestError` if malformed."""
    parts = str(text).split(";")
    try:
        values = np.array([float(p) for p in parts], dtype=np.float64)
    except ValueError:
        raise ManifestError(f"label_dist {text!r} is not 7 ';'-separated numbers") from None
    if values.size != len(LABELS):
        raise ManifestError(f"label_dist {text!r} has {values.size} values, expected {len(LABELS)}")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ManifestError(f"label_dist {text!r} has negative or non-finite values")
    if abs(values.sum() - 1.0) > _DIST_TOLERANCE:
        raise ManifestError(f"label_dist {text!r} sums to {values.sum():.4g}, not 1")
    return values


def resolve_ties(labels: list[str], policy: str) -> tuple[str, str] | None:
    """``(label, label_dist)`` for the labels of one annotation under ``policy``; ``None`` when the
    row is to be dropped. A single label gives ``(label, "")``; no label gives ``("", "")``."""
    if policy not in TIE_POLICIES:
        raise ManifestError(f"unknown tie policy {policy!r}: expected one of {', '.join(TIE_POLICIES)}")
    if not labels:
        return "", ""
    if len(labels) == 1:
        return labels[0], ""
    if policy == "drop":
        return None
    if policy == "first":
        return labels[0], ""
    dist = np.zeros(len(LABELS))
    for label in labels:
        dist[LABEL_TO_ID[label]] = 1.0 / len(labels)
    return labels[0], format_dist(dist)


def _examples(values, limit: int = 5) -> str:
    values = [str(v) for v in values]
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def validate_manifest(frame: pd.DataFrame, source: str = "manifest",
                      required: tuple[str, ...] = REQUIRED_COLUMNS) -> pd.DataFrame:
    """Check ``frame`` against the schema and return a normalised copy (standard columns first,
    missing optional ones added empty, aliases mapped to canonical labels, numbers parsed).
    ``required``: the columns that must be present (``emoens predict`` needs no ``label``).

    Raises :class:`ManifestError` naming ``source`` and the offending column, ids or values.
    (Longer than 80 lines on purpose: one flat list of schema checks, in column order, each with
    its own message; split up, the schema would be read in several places.)
    """
    missing = [col for col in required if col not in frame.columns]
    if missing:
        raise ManifestError(
            f"{source}: missing column(s) {', '.join(missing)} "
            f"(a manifest needs {', '.join(required)}; see DESIGN §3)")
    out = frame.copy()
    for col in COLUMNS:
        if col not in out.columns:
            out[col] = np.nan if col in FLOAT_COLUMNS else ""
    extras = [c for c in out.columns if c not in COLUMNS]
    out = out[list(COLUMNS) + extras].reset_index(drop=True)

    for col in COLUMNS:
        if col in FLOAT_COLUMNS or col == "fold":
            continue
        out[col] = out[col].map(lambda v: "" if _is_blank(v) else str(v)).astype(object)

    ids = out["utt_id"].str.strip()
    if (ids == "").any():
        rows = list(out.index[ids == ""] + 1)
        raise ManifestError(f"{source}: empty utt_id in row(s) {_examples(rows)}")
    dup = out["utt_id"][out["utt_id"].duplicated()].unique()
    if len(dup):
        raise ManifestError(f"{source}: duplicated utt_id {_examples(dup)}")

    def _label(value: str) -> str:
        return normalize_label(value) if value.strip() else ""

    try:
        out["label"] = out["label"].map(_label).astype(object)
    except LabelError:
        bad = [v for v in out["label"] if v.strip() and not _is_label(v)]
        raise ManifestError(
            f"{source}: unknown label(s) {_examples(sorted(set(bad)))} in column label: "
            f"expected one of {', '.join(LABELS)} or empty") from None

    bad_split = sorted(set(out["split"]) - set(SPLITS) - {""})
    if bad_split:
        raise ManifestError(
            f"{source}: bad value(s) {_examples(bad_split)} in column split: "
            f"expected {', '.join(SPLITS)} or empty")

    if "tie_policy" in out.columns:
        bad_policy = sorted(set(out["tie_policy"].map(lambda v: "" if _is_blank(v) else str(v)))
                            - set(TIE_POLICIES) - {""})
        if bad_policy:
            raise ManifestError(f"{source}: bad value(s) {_examples(bad_policy)} in column tie_policy: "
                                f"expected {', '.join(TIE_POLICIES)} or empty")

    for col in FLOAT_COLUMNS:
        values, bad = [], []
        for v in out[col]:
            if _is_blank(v):
                values.append(np.nan)
                continue
            try:
                values.append(float(v))
            except (TypeError, ValueError):
                bad.append(v)
        if bad:
            raise ManifestError(f"{source}: non-numeric value(s) {_examples(sorted(set(map(str, bad))))} "
                                f"in column {col}")
        out[col] = np.asarray(values, dtype=np.float64)
    if (out["duration"] < 0).any():
        raise ManifestError(f"{source}: negative duration for utt_id "
                            f"{_examples(out['utt_id'][out['duration'] < 0])}")

    fold_raw = out["fold"].map(lambda v: "" if _is_blank(v) else str(v).strip())
    fold_num = pd.to_numeric(fold_raw.replace("", np.nan), errors="coerce")
    bad_fold = fold_raw[(fold_raw != "") & (fold_num.isna() | (fold_num % 1 != 0))]
    if len(bad_fold):
        raise ManifestError(f"{source}: non-integer value(s) {_examples(bad_fold.unique())} in column fold")
    out["fold"] = fold_num.astype("Int64")

    for utt_id, dist in zip(out["utt_id"], out["label_dist"]):
        if dist.strip():
            try:
                parse_dist(dist)
            except ManifestError as exc:
                raise ManifestError(f"{source}: utt_id {utt_id!r}: {exc}") from None
    return out


def _is_blank(value) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float):
        return bool(np.isnan(value))
    return isinstance(value, str) and value.strip() == ""


def _is_label(value: str) -> bool:
    try:
        normalize_label(value)
    except LabelError:
        return False
    return True


def read_manifest(path, required: tuple[str, ...] = REQUIRED_COLUMNS) -> pd.DataFrame:
    """Read and validate a manifest CSV (``required``: see :func:`validate_manifest`); relative
    ``audio_path``s become absolute, resolved against the manifest's folder."""
    p = Path(path)
    if p.is_dir():
        candidate = p / "manifest.csv"
        if not candidate.is_file():
            raise ManifestError(f"{p} is a folder without a manifest.csv")
        p = candidate
    if not p.is_file():
        raise ManifestError(f"manifest not found: {p}")
    try:
        frame = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError:
        raise ManifestError(f"{p}: not a UTF-8 CSV file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ManifestError(f"{p}: not a readable CSV file ({exc})") from None
    frame = validate_manifest(frame, source=str(p), required=required)
    base = p.resolve().parent
    frame["audio_path"] = frame["audio_path"].map(
        lambda a: a if not a or os.path.isabs(a) else str(base / a))
    return frame


def write_manifest(frame: pd.DataFrame, path) -> None:
    """Validate ``frame`` and write it atomically as UTF-8 CSV (standard columns first)."""
    from emoens.files import write_csv

    out = validate_manifest(frame, source=str(path))
    write_csv(path, out)


def label_matrix(frame: pd.DataFrame) -> np.ndarray:
    """Targets of shape (n, 7): ``label_dist`` where given (soft ties), else one-hot of ``label``.

    Raises :class:`ManifestError` when a row has no label (filter labelled rows first).
    """
    n = len(frame)
    out = np.zeros((n, len(LABELS)), dtype=np.float32)
    dists = frame["label_dist"] if "label_dist" in frame.columns else pd.Series([""] * n)
    unlabelled = []
    for i, (utt_id, label, dist) in enumerate(zip(frame["utt_id"], frame["label"], dists)):
        dist = "" if _is_blank(dist) else str(dist)
        label = "" if _is_blank(label) else str(label)
        if dist.strip():
            out[i] = parse_dist(dist)
        elif label.strip():
            try:
                out[i, LABEL_TO_ID[normalize_label(label)]] = 1.0
            except LabelError as exc:
                raise ManifestError(f"utt_id {utt_id!r}: {exc}") from None
        else:
            unlabelled.append(utt_id)
    if unlabelled:
        raise ManifestError(
            f"{len(unlabelled)} row(s) have no label ({_examples(unlabelled)}): "
            "keep only labelled rows (frame[frame.label != '']) before building targets")
    return out
