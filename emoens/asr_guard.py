"""The ASR's hallucination guard and confidence: decoding loops trimmed, segments that compress
too well or look like no speech dropped, and the kept segments' duration-weighted confidence.

Plain functions over faster-whisper-style segment dicts (``text``, ``start``, ``end``,
``avg_logprob``, ``no_speech_prob``); :mod:`emoens.asr` applies them to every transcript.
"""

from __future__ import annotations

import re
import zlib
from typing import Mapping

import numpy as np


#: Whisper's own thresholds (openai/whisper ``transcribe``): a segment whose text compresses more
#: than this is repetitive; no-speech probability above NO_SPEECH with average log-probability
#: below LOGPROB_SILENT is a segment decoded from silence.
COMPRESSION_RATIO_MAX = 2.4
NO_SPEECH_MAX = 0.6
LOGPROB_SILENT = -1.0
#: With VAD the window is known to hold speech (the VAD is the silence detector): Whisper's
#: no-speech probability must then be this high to drop it (synthetic or unusual voices often
#: score 0.6-0.85 while being transcribed fine; the value is passed on to the fusion either way).
NO_SPEECH_MAX_VAD = 0.9
#: Decoding loops: a short unit (1-5 characters) said REPEAT_MIN or more times in a row ("으으으으으";
#: people do say "네 네 네 네"), or a phrase of PHRASE_MIN+ characters said twice or more in a row
#: ("왜 싸웠어? 왜 싸웠어?"), is cut to one occurrence; a trailing piece of the unit (where the loop
#: met the token limit) goes too.
REPEAT_MIN = 5
PHRASE_MIN = 6
_LOOPS = (re.compile(r"(\S.{0,4}?)(?:\s*\1){%d,}" % (REPEAT_MIN - 1)),
          re.compile(r"(\S.{%d,59}?)(?:\s*\1)+" % (PHRASE_MIN - 1)))


def compression_ratio(text: str) -> float:
    """UTF-8 length over zlib-compressed length (as Whisper computes it); 0 for empty text."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def trim_repetition(text: str) -> tuple[str, bool]:
    """``text`` with decoding loops (:data:`REPEAT_MIN`, :data:`PHRASE_MIN`) cut to one occurrence,
    and whether it cut anything ("파랑 파랑 파랑 파랑 파랑" -> "파랑",
    "왜 싸웠어? 왜 싸웠어? 왜 싸" -> "왜 싸웠어?")."""
    out = text
    for pattern in _LOOPS:
        pieces, pos = [], 0
        for match in pattern.finditer(out):
            pieces.append(out[pos:match.start()] + match.group(1))
            pos = match.end()
        rest = out[pos:].strip()
        if pieces and rest and match.group(1).startswith(rest):  # the loop met the token limit
            pos = len(out)
        out = "".join(pieces) + out[pos:]
    return out, out != text


def guard_reason(segment: Mapping, *, vad: bool = False) -> str | None:
    """Why the guard drops a decoded segment (``text``, ``avg_logprob``, ``no_speech_prob``),
    or None to keep it; ``vad``: the VAD found speech in it (see :data:`NO_SPEECH_MAX_VAD`)."""
    no_speech = NO_SPEECH_MAX_VAD if vad else NO_SPEECH_MAX
    if segment["no_speech_prob"] > no_speech and segment["avg_logprob"] < LOGPROB_SILENT:
        return "no speech (no_speech_prob %.2f, avg_logprob %.2f)" % (
            segment["no_speech_prob"], segment["avg_logprob"])
    if compression_ratio(segment["text"]) > COMPRESSION_RATIO_MAX:
        return "repetitive (compression ratio %.2f)" % compression_ratio(segment["text"])
    return None


def apply_guard(segments: list[dict], *, vad: bool = False) -> tuple[list[dict], list[dict]]:
    """(kept, dropped): loops trimmed, then segments :func:`guard_reason` rejects removed."""
    kept, dropped = [], []
    for seg in segments:
        text, trimmed = trim_repetition(seg["text"])
        seg = {**seg, "text": text}
        reason = guard_reason(seg, vad=vad)
        if reason is not None:
            dropped.append({"start": seg["start"], "end": seg["end"], "reason": reason})
            continue
        if trimmed:
            dropped.append({"start": seg["start"], "end": seg["end"],
                            "reason": f"repetition of {text[-20:]!r} trimmed"})
        if text.strip():
            kept.append(seg)
    return kept, dropped


def weighted_confidence(segments: list[dict]) -> dict:
    """Duration-weighted ``avg_logprob``, ``no_speech_prob``, ``compression_ratio`` (None if empty)."""
    keys = ("avg_logprob", "no_speech_prob", "compression_ratio")
    rows = [s for s in segments if all(s.get(k) is not None for k in keys)]
    if not rows:
        return dict.fromkeys(keys)
    weights = np.array([max(s["end"] - s["start"], 0.01) for s in rows])
    return {k: round(float(np.dot(weights, [s[k] for s in rows]) / weights.sum()), 4) for k in keys}
