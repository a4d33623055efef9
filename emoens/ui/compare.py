"""The Compare tab's logic: run several utterances through each model, tabulate and score them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from emoens.errors import EmoensError
from emoens.labels import LABELS, normalize_label
from emoens.ui.analyze import analyze, members_of
from emoens.ui.config import Settings, UIError

from emoens.settings import AUDIO_SUFFIXES  # noqa: E402,F401 (the one list; tab_analyze imports it here)
MANIFEST_SUFFIXES = {".csv", ".tsv"}
BASELINE = "항상 중립 · all-neutral baseline"


@dataclass
class Item:
    """One utterance to compare: its audio, optional transcript and optional true label."""

    name: str
    audio: str
    text: str | None = None
    label: str | None = None
    error: str | None = None  # set: not analysed, this is its status (e.g. a server file not allowed)


TEXT_SUFFIXES = {".txt"}


def _read_text(path: Path) -> str | None:
    from emoens.text import read_transcript

    try:
        return read_transcript(path).strip() or None
    except (EmoensError, OSError, UnicodeError):
        return None


def items_from_files(paths: Iterable[str]) -> list[Item]:
    """Audio files (no true label). ``NAME.txt`` among the files (or beside the clip) is the
    transcript of ``NAME.wav``; a ``.txt`` is never analysed as audio."""
    paths = [Path(p) for p in paths]
    texts = {p.stem: p for p in paths if p.suffix.lower() in TEXT_SUFFIXES}
    items = []
    for path in paths:
        if path.suffix.lower() in TEXT_SUFFIXES:
            continue
        txt = texts.get(path.stem) or path.with_suffix(".txt")
        text = _read_text(txt) if txt.is_file() else None
        items.append(Item(name=path.name, audio=str(path), text=text))
    return items


def read_manifest_frame(path: str | Path) -> pd.DataFrame:
    """Read and validate a manifest CSV (docs/DESIGN.md) with :func:`emoens.manifest.read_manifest`;
    a message names the file, never its server path."""
    from emoens.manifest import read_manifest

    try:
        return read_manifest(path)
    except EmoensError as exc:
        name = Path(str(path)).name
        raise UIError(str(exc).replace(str(Path(str(path)).parent) + "/", "").replace(str(path), name)) from None


def items_from_manifest(frame: pd.DataFrame) -> list[Item]:
    """One item per manifest row; the ``text`` column is the transcript, ``label`` the truth."""
    items = []
    for i, row in enumerate(frame.to_dict("records")):
        label = str(row.get("label") or "").strip()
        text = str(row.get("text") or "").strip()
        name = str(row.get("utt_id") or "").strip() or Path(str(row["audio_path"])).stem or f"row {i + 1}"
        items.append(Item(name=name, audio=str(row["audio_path"]), text=text or None,
                          label=normalize_label(label) if label else None))
    return items


def model_probs(result: Mapping) -> dict[str, Mapping[str, float] | None]:
    """Probabilities per model: each member when a modality has several, then speech, text, ensemble."""
    out: dict[str, Mapping[str, float] | None] = {}
    members = members_of(result)
    by_modality: dict[str, list] = {}
    for m in members:
        by_modality.setdefault(m["modality"], []).append(m)
    for group in by_modality.values():
        if len(group) > 1:
            for m in group:
                out[f"member:{m['name']}"] = m["probs"]
    out["speech"] = result.get("speech")
    out["text"] = result.get("text")
    out["ensemble"] = result.get("ensemble")
    return out


def _seconds(path: str) -> float:
    """An input's length from its header, for the per-request budget (0 when it cannot be told:
    decoding then reports what is wrong)."""
    from emoens.audio import audio_duration

    try:
        return float(audio_duration(path))
    except Exception:  # noqa: BLE001
        return 0.0


def run_compare(recognizer, items: Sequence[Item], settings: Settings, *, transcribe: bool | None = False,
                progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Analyze every item; one row per item with each model's label, confidence and probabilities.

    A bad item gets its error message in the ``status`` column and does not stop the others.
    """
    if not items:
        raise UIError("nothing to compare: upload audio files or a manifest (CSV with utt_id, audio_path)")
    if len(items) > settings.max_compare:
        raise UIError(f"{len(items)} utterances given; at most {settings.max_compare} per run "
                      "(EMOENS_MAX_COMPARE)")
    rows, work = [], 0.0
    for i, item in enumerate(items):
        if progress is not None:
            progress(i, len(items))
        row: dict = {"utterance": item.name, "true": item.label or "", "transcript": item.text or ""}
        if item.error is not None:
            rows.append({**row, "status": item.error})
            continue
        seconds = _seconds(item.audio)
        if work + seconds > settings.max_work_seconds:
            rows.append({**row, "status": f"not analysed: this run reached its {settings.max_work_seconds:g} s "
                                          "of audio (the limit per request)"})
            continue
        work += seconds
        try:
            result = analyze(recognizer, item.audio, item.text, settings,
                             transcribe=transcribe if item.text is None else False)
        except EmoensError as exc:
            from emoens.ui.text_ko import korean_error

            row["status"] = korean_error(str(exc).replace(str(Path(item.audio).parent) + "/", ""))
            rows.append(row)
            continue
        row["status"] = "ok"
        row["transcript"] = result.get("transcript") or ""
        for model, probs in model_probs(result).items():
            if not probs:
                continue
            vector = np.array([float(probs[label]) for label in LABELS])
            row[f"{model}_label"] = LABELS[int(vector.argmax())]
            row[f"{model}_conf"] = float(vector.max())
            for label, p in zip(LABELS, vector):
                row[f"{model}_{label}"] = float(p)
        rows.append(row)
    frame = pd.DataFrame(rows)
    models = model_names(frame)
    labels = frame[[f"{m}_label" for m in models]] if models else pd.DataFrame(index=frame.index)
    frame["agree"] = [
        bool(len(set(v for v in r if isinstance(v, str))) == 1) if frame.at[i, "status"] == "ok" else False
        for i, r in zip(frame.index, labels.itertuples(index=False))
    ]
    return frame


def model_names(frame: pd.DataFrame) -> list[str]:
    """Models present in a compare frame, in column order."""
    return [c[: -len("_label")] for c in frame.columns if c.endswith("_label")]


def display_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns people read: utterance, truth, each model's label and confidence, agreement."""
    cols = ["utterance", "true"]
    for model in model_names(frame):
        cols += [f"{model}_label", f"{model}_conf"]
    cols += ["agree", "status"]
    table = frame[[c for c in cols if c in frame.columns]].copy()
    for c in table.columns:
        if c.endswith("_conf"):
            table[c] = table[c].round(3)
    # Empty cells instead of "nan" (an error row has no model columns).
    return table.astype(object).where(table.notna(), "")


def styled_table(frame: pd.DataFrame):
    """The display table with rows where all models agree highlighted in green, others in amber."""
    table = display_table(frame)

    def colour(row):
        if row.get("status", "ok") != "ok":
            return ["background-color: #fde2e1"] * len(row)
        tint = "#e3f4e1" if str(row["agree"]) == "True" else "#fff4d6"
        return [f"background-color: {tint}"] * len(row)

    return table.style.apply(colour, axis=1).format(precision=3, na_rep="")


def write_csv_bom(path: str | Path, frame: pd.DataFrame) -> None:
    """Atomically write ``frame`` as CSV in UTF-8 with a byte-order mark (so Excel reads Korean)."""
    from emoens.files import atomic_write

    with atomic_write(path, "w", newline="", encoding="utf-8-sig") as handle:
        frame.to_csv(handle, index=False)


def metrics(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Accuracy, macro-F1 and unweighted accuracy (mean recall) per model, beside the all-neutral
    baseline, on the rows that have a true label (:func:`emoens.evaluate.compute_metrics`, the
    numbers ``emoens evaluate`` reports); plus each model's confusion matrix (counts)."""
    from emoens.evaluate import compute_metrics

    if "true" not in frame.columns or "status" not in frame.columns:
        return pd.DataFrame(), {}
    known = frame[(frame["true"].astype(str) != "") & (frame["status"] == "ok")]
    if known.empty:
        return pd.DataFrame(), {}
    rows, matrices = [], {}
    candidates = [(m, known[f"{m}_label"]) for m in model_names(frame)]
    candidates.append((BASELINE, pd.Series(["neutral"] * len(known), index=known.index)))
    for name, predicted in candidates:
        mask = predicted.notna() & (predicted.astype(str) != "")
        if not mask.any():
            continue
        result = compute_metrics(known["true"][mask].tolist(), predicted[mask].astype(str).tolist())
        rows.append({"model": name, "n": result["n"], "accuracy": round(result["accuracy"], 4),
                     "macro_f1": round(result["macro_f1"], 4),
                     "unweighted_accuracy": round(result["unweighted_accuracy"], 4)})
        matrices[name] = np.asarray(result["confusion"])
    return pd.DataFrame(rows), matrices
