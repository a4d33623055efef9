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
            transcribe: bool | None = None, gate=None) -> dict:
    """Check and decode ``audio``, then return ``recognizer.analyze()``'s result unchanged.

    ``gate(seconds)``: a context manager held while the models run (the app's lanes)."""
    import contextlib

    from emoens.audio import SAMPLE_RATE

    samples = decode_input(audio, settings)
    text = (text or "").strip() or None
    with gate(samples.size / SAMPLE_RATE) if gate is not None else contextlib.nullcontext():
        return recognizer.analyze((SAMPLE_RATE, samples), text=text, transcribe=transcribe)


def analyze_stream(recognizer, audio: Any, text: str | None, settings: Settings,
                   transcribe: bool | None = None, gate=None):
    """:func:`analyze` as the recognizer's progress events (``analyze_stream``: the timeline
    after each batch of windows, the stage, then ``{"stage": "done", "result": …}``); the lane is
    held until the last event or until the iterator is closed (a cancelled request)."""
    import contextlib

    from emoens.audio import SAMPLE_RATE

    samples = decode_input(audio, settings)
    text = (text or "").strip() or None
    total = round(samples.size / SAMPLE_RATE, 3)
    with gate(total) if gate is not None else contextlib.nullcontext():
        stream = getattr(recognizer, "analyze_stream", None)
        if stream is None:  # a recognizer without the hook: one step
            yield {"stage": "done", "total": total,
                   "result": recognizer.analyze((SAMPLE_RATE, samples), text=text, transcribe=transcribe)}
            return
        yield from stream((SAMPLE_RATE, samples), text=text, transcribe=transcribe)


def stage_line(event: Mapping) -> str:
    """The status line of a progress event, Korean then English, e.g.
    "⏳ 분석 중 40/168 s · analysing 40/168 s"."""
    total = float(event.get("total") or 0)
    stage = event.get("stage")
    if stage == "speech":
        done = float(event.get("done") or 0)
        return f"⏳ 분석 중 {done:.0f}/{total:.0f} s · analysing {done:.0f}/{total:.0f} s"
    if stage == "asr":
        return f"⏳ 전사 중 ({total:.0f} s) · transcribing {total:.0f} s of audio…"
    if stage == "text":
        return "⏳ 텍스트 분석·결합 중 · scoring the text and combining…"
    return f"⏳ 분석 중 0/{total:.0f} s · analysing 0/{total:.0f} s"


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
    """A copy of ``result`` whose ensemble is re-weighted by the slider as the bundle's fusion
    method would (:func:`emoens.fusion.remix`; no model is run again)."""
    from emoens.fusion import remix as fusion_remix

    out = copy.deepcopy(dict(result))
    speech, text = result.get("speech"), result.get("text")
    if not speech or not text:
        return out
    method = (result.get("fusion") or {}).get("method", "weighted")
    row = fusion_remix(method, [float(speech[l]) for l in LABELS], [float(text[l]) for l in LABELS],
                       speech_weight)
    out["ensemble"] = {label: float(p) for label, p in zip(LABELS, row)}
    out["label"] = max(LABELS, key=lambda label: out["ensemble"][label])
    out["label_ko"] = LABELS_KO[out["label"]]
    out["confidence"] = round(float(max(row)), 6)
    return out


def summary_markdown(result: Mapping) -> str:
    """The result panel: the top emotion (Korean and English) only when the result is reliable;
    otherwise why not, with the leading candidate in small print. Then what it was based on."""
    from emoens.ui.text_ko import label_both, reason_line

    label = result["label"]
    prob = float(result["ensemble"][label])
    judged = judgement(result)
    if judged["reliable"]:
        lines = [f"## {LABELS_KO[label]} · {label} — {prob:.0%}"]
    else:
        lines = ["## 판단 보류 · no clear result",
                 f"<p id='reason'>⚠️ {reason_line(judged['reason'])}</p>",
                 f"<small>가장 높은 후보 · top candidate: {label_both(label)} {prob:.0%}</small>"]
    if judged["disagreement"] and result.get("text"):
        s_label, t_label = top(result.get("speech"))[0], top(result.get("text"))[0]
        lines.append(f"<small>음성 · speech: {label_both(s_label)} / 텍스트 · text: {label_both(t_label)}</small>")
    based = "음성과 텍스트 · speech and text" if result.get("text") else "음성만 (전사 없음) · speech only (no transcript)"
    lines.append(f"\n<small>앙상블 근거 · ensemble of {based}</small>")
    from emoens.ui.text_ko import korean_warning

    lines += [f"\n> ⚠️ {korean_warning(w)}" for w in result.get("warnings") or []]
    return "\n".join(lines)


def transcript_info(result: Mapping) -> tuple[str, str]:
    """The transcript used and a line saying where it came from."""
    transcript = result.get("transcript") or ""
    source = result.get("transcript_source")
    where = {"given": "직접 입력 · typed by you", "asr": "자동 전사 · automatic transcription (Whisper)"}.get(
        source, "없음: 텍스트 모델은 돌지 않음 · none: the text model did not run")
    return transcript, f"전사 출처 · transcript source: **{where}**"


def chart_sources(result: Mapping) -> dict:
    """The probability sets to draw: speech, text (when it ran) and ensemble."""
    return {"speech": result.get("speech"), "text": result.get("text"),
            "ensemble": result.get("ensemble")}


# --------------------------------------------------------------------------- honesty of a result



def top(probs: Mapping | None) -> tuple[str | None, float]:
    """The most probable class of a probability set and its probability."""
    if not probs:
        return None, 0.0
    label = max(LABELS, key=lambda lb: float(probs.get(lb, 0.0)))
    return label, float(probs.get(label, 0.0))


def judgement(result: Mapping) -> dict:
    """``{reliable, reason, confidence, disagreement}`` of a result: the recognizer's own verdict
    when it gives one; otherwise (a result re-mixed by the slider, an older bundle) the library's
    one rule (:func:`emoens.reliability.assess`) on the probabilities shown."""
    from emoens.reliability import assess

    if result.get("reliable") is not None:
        return {"reliable": bool(result["reliable"]), "reason": result.get("reason"),
                "confidence": float(result.get("confidence") or max(result["ensemble"].values())),
                "disagreement": bool(result.get("disagreement"))}
    verdict = assess(silent=bool(result.get("silent")), seconds_of_speech=result.get("speech_seconds"),
                     ensemble=dict(result["ensemble"]), speech=dict(result["speech"]),
                     text=dict(result["text"]) if result.get("text") else None)
    return {k: verdict[k] for k in ("reliable", "reason", "confidence", "disagreement")}


def shown_result(result: Mapping, speech_weight: float | None = None) -> dict:
    """The result the page shows, the JSON view lists and the download holds: ``result`` re-mixed
    with the slider's speech weight (when one is given and differs from the result's own)."""
    if speech_weight is None or abs(float(speech_weight) - speech_share(result)) < 1e-9:
        return copy.deepcopy(dict(result))
    mixed = remix(result, speech_weight)
    for key in ("reliable", "reason", "confidence"):  # judged on the original mix: judge again
        mixed.pop(key, None)
    mixed["speech_weight"] = round(float(speech_weight), 4)
    return mixed


def download_name(audio: Any, suffix: str = ".json") -> str:
    """``NAME_emoens.json`` after the input file (``recording_emoens.json`` for the microphone)."""
    if isinstance(audio, Mapping):
        audio = audio.get("orig_name") or audio.get("path")
    stem = Path(str(audio)).stem if isinstance(audio, (str, os.PathLike)) and str(audio).strip() else ""
    stem = "".join(c for c in stem if c.isalnum() or c in "-_") or "recording"
    return f"{stem[:60]}_emoens{suffix}"


def rescore_text(recognizer, result: Mapping, text: str) -> dict:
    """``result`` with its text members run again on ``text`` and the fusion redone; the speech
    members' probabilities are reused (no audio is decoded or encoded again)."""
    from emoens.fusion import apply_fusion, modality_proba

    def as_dict(row) -> dict[str, float]:
        return {lb: float(p) for lb, p in zip(LABELS, np.asarray(row, dtype=float))}

    from emoens.text import limit_transcript

    text, _ = limit_transcript((text or "").strip())
    members = dict(result.get("members") or {})
    probas = {n: (None if not m.get("proba") else [m["proba"][lb] for lb in LABELS])
              for n, m in members.items() if m.get("modality") == "speech"}
    for name, member in recognizer.members.items():
        if member.modality == "text":
            probas[name] = None if not text else np.asarray(member.predict_proba([text]))[0].tolist()
    ensemble = apply_fusion(recognizer.fusion, probas)[0]
    text_row = modality_proba(recognizer.fusion, probas, "text")
    out = {k: v for k, v in dict(result).items()
           if k not in ("reliable", "reason", "confidence", "disagreement", "speech_weight")}
    label = LABELS[int(np.argmax(ensemble))]
    out.update(label=label, label_ko=LABELS_KO[label], ensemble=as_dict(ensemble),
               text=None if text_row is None else as_dict(text_row[0]), speech_only=text_row is None,
               ensemble_source="speech-only" if text_row is None else "speech+text",
               transcript=text or None, transcript_source="given" if text else None)
    out["members"] = {n: dict(m, proba=None if probas.get(n) is None else as_dict(np.asarray(probas[n])))
                      for n, m in members.items()}
    out["warnings"] = [w for w in result.get("warnings") or [] if not w.startswith("no transcript")]
    return out


def input_path(audio: Any) -> str | None:
    """The server-side path of a gradio audio value (None for arrays and nothing)."""
    if isinstance(audio, Mapping):
        audio = audio.get("path")
    return str(audio) if isinstance(audio, (str, os.PathLike)) and str(audio).strip() else None


def input_name(audio: Any) -> str | None:
    """The file name the visitor gave (``orig_name``), else the uploaded file's name."""
    if isinstance(audio, Mapping) and audio.get("orig_name"):
        return str(audio["orig_name"])
    path = input_path(audio)
    return Path(path).name if path else None


def audio_seconds(audio: Any) -> float:
    """The length of an input in seconds, read from its header (0 when it cannot be told)."""
    if isinstance(audio, tuple) and len(audio) == 2:
        return float(np.size(audio[1])) / float(audio[0] or 1)
    path = input_path(audio)
    if not path:
        return 0.0
    try:
        import soundfile as sf

        info = sf.info(path)
        return float(info.duration) if 0 < info.frames < 2 ** 62 else 0.0  # no length: unknown
    except Exception:  # noqa: BLE001 - only a progress hint; decoding reports real problems
        return 0.0


def cut_segment(path: str, start: float, end: float, settings: Settings) -> Path:
    """``start``–``end`` seconds of the input as a 16-kHz WAV in a fresh download folder."""
    import soundfile as sf

    from emoens.audio import SAMPLE_RATE

    samples = decode_input(path, settings)
    part = samples[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)]
    from emoens.ui.fair import result_dir

    out = result_dir() / f"segment_{start:.0f}-{end:.0f}s.wav"
    partial = out.with_suffix(".part")
    sf.write(str(partial), part, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    os.replace(partial, out)  # atomic: the player never gets a half-written file
    return out
