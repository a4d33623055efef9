"""The Model tab's logic: what the loaded bundle is made of and how well it does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from emoens.ui.config import DEFAULT_BUNDLE


def bundle_dir(recognizer, configured: str | None) -> Path | None:
    """The loaded bundle's directory, when it is on this machine."""
    for attr in ("bundle_dir", "bundle_path", "path", "root"):
        value = getattr(recognizer, attr, None)
        if isinstance(value, (str, Path)) and (Path(value) / "bundle.json").is_file():
            return Path(value)
    bundle = getattr(recognizer, "bundle", None)
    for attr in ("path", "root", "directory", "dir"):
        value = getattr(bundle, attr, None)
        if isinstance(value, (str, Path)) and (Path(value) / "bundle.json").is_file():
            return Path(value)
    candidate = Path(configured) if configured else DEFAULT_BUNDLE
    return candidate if (candidate / "bundle.json").is_file() else None


def read_bundle(directory: Path | None) -> tuple[dict, str]:
    """``bundle.json`` as a dict and ``MODEL_CARD.md`` as text (empty when absent)."""
    if directory is None:
        return {}, ""
    spec = json.loads((directory / "bundle.json").read_text(encoding="utf-8"))
    card_path = directory / "MODEL_CARD.md"
    card = card_path.read_text(encoding="utf-8") if card_path.is_file() else ""
    return spec, card


def members_table(spec: dict) -> pd.DataFrame:
    """One row per member: name, modality, kind, fusion weight (share of the total)."""
    members = spec.get("members") or []
    total = sum(float(m.get("weight", 0) or 0) for m in members) or 1.0
    return pd.DataFrame([{
        "member": m.get("name", ""), "modality": m.get("modality", ""), "kind": m.get("kind", ""),
        "weight": float(m.get("weight", 0) or 0), "share": round(float(m.get("weight", 0) or 0) / total, 4),
        "path": m.get("path", ""),
    } for m in members])


def _flatten(prefix: str, value: Any, out: list[dict]) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), sub, out)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out.append({"metric": prefix, "value": round(float(value), 4)})
    elif isinstance(value, str):
        out.append({"metric": prefix, "value": value})


def metrics_table(spec: dict) -> pd.DataFrame:
    """The bundle's recorded metrics as ``metric`` (dotted path) / ``value`` rows."""
    rows: list[dict] = []
    _flatten("", spec.get("metrics") or {}, rows)
    return pd.DataFrame(rows, columns=["metric", "value"])


def overview_markdown(spec: dict, directory: Path | None) -> str:
    """Name, fusion method, ASR back-end and provenance in a few lines."""
    if not spec:
        return "_No bundle.json found for the loaded model._"
    fusion = spec.get("fusion") or {}
    asr = spec.get("asr") or {}
    lines = [
        f"### {spec.get('name', 'bundle')}",
        f"- **Bundle**: `{directory.name if directory else '?'}` (format {spec.get('format_version', '?')})",
        f"- **Fusion**: {fusion.get('method', '?')}",
        f"- **Transcription**: {asr.get('backend', 'none')} {asr.get('model', '')}".rstrip(),
    ]
    provenance = spec.get("provenance") or {}
    for key in ("trained_on", "data", "command", "created"):
        if key in provenance:
            lines.append(f"- **{key.replace('_', ' ').capitalize()}**: {provenance[key]}")
    return "\n".join(lines)
