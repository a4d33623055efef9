"""The Analyze tab's logic, free of gradio: check the input, run the recognizer, re-mix, summarise."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from emoens.errors import EmoensError
from emoens.labels import LABELS, LABELS_KO
from emoens.ui.config import Settings, UIError

NO_AUDIO = ("no audio received: record with the microphone (press stop before Analyze) "
            "or upload a file, then press Analyze again")


def check_upload(path: str | os.PathLike, settings: Settings) -> Path:
    """Refuse a missing, empty or too big uploaded file with a message naming it."""
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise UIError(f"uploaded file {name!r} is missing on the server; upload it again")
    size = path.stat().st_size
    if size == 0:
        raise UIError(f"{name} is empty (0 bytes): upload a recording with sound in it")
    limit = settings.max_upload_mb * 1024 * 1024
    if size > limit:
        raise UIError(f"{name} is {size / 1024 / 1024:.1f} MB, larger than the "
                      f"{settings.max_upload_mb:g} MB upload limit (EMOENS_MAX_UPLOAD_MB)")
    return path


def decode_input(audio: Any, settings: Settings) -> np.ndarray:
    """Turn a gradio audio value (file path or ``(sr, ndarray)``) into float32 mono 16 kHz samples."""
    from emoens.audio import load_audio

    if audio is None or (isinstance(audio, str) and not audio.strip()):
        raise UIError(NO_AUDIO)
    if isinstance(audio, Mapping) and "path" in audio:  # a FileData dict
        audio = audio["path"]
    if isinstance(audio, (str, os.PathLike)):
        path = check_upload(audio, settings)
        try:
            return load_audio(str(path), max_seconds=settings.max_audio_seconds, name=path.name)
        except EmoensError as exc:
            # Decoder details may quote the server-side upload path: show the file name only.
            raise UIError(str(exc).replace(str(path), path.name)) from None
    if isinstance(audio, tuple) and len(audio) == 2:
        sr, samples = audio
        if samples is None or np.size(samples) == 0:
            raise UIError(NO_AUDIO)
        return load_audio((int(sr), np.asarray(samples)), max_seconds=settings.max_audio_seconds,
                          name="the recording")
    raise UIError(f"unsupported audio value of type {type(audio).__name__}: give a file")


def analyze(recognizer, audio: Any, text: str | None, settings: Settings,
            transcribe: bool | None = None) -> dict:
    """Check and decode ``audio``, then return ``recognizer.analyze()``'s result unchanged."""
    from emoens.audio import SAMPLE_RATE

    samples = decode_input(audio, settings)
    text = (text or "").strip() or None
    return recognizer.analyze((SAMPLE_RATE, samples), text=text, transcribe=transcribe)


# --------------------------------------------------------------------------- reading results


def members_of(result: Mapping) -> list[dict]:
    """The per-member entries of a result: ``[{name, modality, weight, probs}]`` (may be empty)."""
    members = result.get("members") or []
    if isinstance(members, Mapping):
        members = [{"name": name, **value} for name, value in members.items()]
    out = []
    for m in members:
        probs = m.get("probs", m.get("probabilities", m.get("proba")))
        out.append({"name": m.get("name"), "modality": m.get("modality"),
                    "weight": m.get("weight"), "probs": probs})
    return out


def speech_share(result: Mapping) -> float:
    """The weight of speech in the ensemble, for the slider's starting position.

    The sum of the speech members' fusion weights used for this result (``fusion.weights``, or the
    members' configured weights); 1.0 when no text model ran.
    """
    if not result.get("text"):
        return 1.0
    members = members_of(result)
    modality = {m["name"]: m["modality"] for m in members}
    fusion = result.get("fusion") or {}
    used = fusion.get("weights") if isinstance(fusion, Mapping) else None
    if not used:
        used = {m["name"]: m["weight"] for m in members if m["weight"] is not None and m["probs"]}
    weights = {"speech": 0.0, "text": 0.0}
    for name, weight in used.items():
        if modality.get(name) in weights:
            weights[modality[name]] += float(weight)
    total = weights["speech"] + weights["text"]
    return round(weights["speech"] / total, 4) if total > 0 else 0.5


def remix(result: Mapping, speech_weight: float) -> dict:
    """A copy of ``result`` whose ensemble is ``w·speech + (1-w)·text`` (no model is run again)."""
    out = copy.deepcopy(dict(result))
    speech, text = result.get("speech"), result.get("text")
    if not speech or not text:
        return out
    w = min(max(float(speech_weight), 0.0), 1.0)
    mixed = {label: w * float(speech[label]) + (1 - w) * float(text[label]) for label in LABELS}
    total = sum(mixed.values()) or 1.0
    out["ensemble"] = {label: p / total for label, p in mixed.items()}
    out["label"] = max(LABELS, key=lambda label: out["ensemble"][label])
    out["label_ko"] = LABELS_KO[out["label"]]
    return out


def summary_markdown(result: Mapping) -> str:
    """The top emotion in Korean and English with its probability, and what it was based on."""
    label = result["label"]
    prob = float(result["ensemble"][label])
    based = "speech and text" if result.get("text") else "speech only (no transcript)"
    lines = [f"## {LABELS_KO[label]} · {label} — {prob:.0%}", f"<small>ensemble of {based}</small>"]
    lines += [f"\n> ⚠️ {w}" for w in result.get("warnings") or []]
    return "\n".join(lines)


def transcript_info(result: Mapping) -> tuple[str, str]:
    """The transcript used and a line saying where it came from."""
    transcript = result.get("transcript") or ""
    source = result.get("transcript_source")
    where = {"given": "typed by you", "asr": "automatic transcription (Whisper)"}.get(
        source, "none: the text model did not run")
    return transcript, f"Transcript source: **{where}**"


def chart_sources(result: Mapping) -> dict:
    """The probability sets to draw: speech, text (when it ran) and ensemble."""
    return {"speech": result.get("speech"), "text": result.get("text"),
            "ensemble": result.get("ensemble")}
