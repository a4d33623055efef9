"""When a result deserves a headline: speech present, a confident ensemble, members that agree.

:func:`assess` adds ``reliable``, ``reason``, ``confidence`` and ``disagreement`` to every result.
Speech is found by the Silero voice-activity model that ships in the faster-whisper wheel (run by
ONNX Runtime): silence, noise, tones and most music hold none, and then no emotion is named.
The thresholds are on the fusion's calibrated (temperature-scaled) probabilities.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000
MIN_SPEECH_SECONDS = 0.3   # less speech than this: nothing to say ("no_speech")
LOW_CONFIDENCE = 0.40      # ensemble top probability below this: "low_confidence"
DISAGREE_MIN = 0.40        # both members at least this sure of different classes: "disagreement"
REASONS = ("silent", "no_speech", "disagreement", "low_confidence")


def speech_seconds(samples: np.ndarray) -> float | None:
    """Seconds of speech the Silero VAD finds in float32 16 kHz ``samples`` (None without it)."""
    from emoens.asr import vad_blocks

    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    try:
        return float(sum(end - start for start, end in vad_blocks(samples, min_speech_duration_ms=150))
                     / SAMPLE_RATE)
    except ImportError:
        return None


def disagree(speech: dict, text: dict | None) -> bool:
    """Speech and text each at least :data:`DISAGREE_MIN` sure, of different classes."""
    if not text:
        return False
    s_label, t_label = max(speech, key=speech.get), max(text, key=text.get)
    return s_label != t_label and min(speech[s_label], text[t_label]) >= DISAGREE_MIN


def assess(*, silent: bool, seconds_of_speech: float | None, ensemble: dict, speech: dict,
           text: dict | None) -> dict:
    """``{"reliable", "reason", "confidence", "disagreement", "speech_seconds"}`` of one result."""
    confidence = float(max(ensemble.values()))
    disagreement = disagree(speech, text)
    if silent:
        reason = "silent"
    elif seconds_of_speech is not None and seconds_of_speech < MIN_SPEECH_SECONDS:
        reason = "no_speech"
    elif disagreement and confidence < 0.6:
        reason = "disagreement"
    elif confidence < LOW_CONFIDENCE:
        reason = "low_confidence"
    else:
        reason = None
    return {"reliable": reason is None, "reason": reason, "confidence": round(confidence, 6),
            "disagreement": disagreement,
            "speech_seconds": None if seconds_of_speech is None else round(seconds_of_speech, 3)}
