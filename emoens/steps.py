"""The recognizer's steps that need no back-end: windows, member calls, fusion, timeline.

:class:`emoens.recognizer.EmotionRecognizer` runs them in order (decode → windows → speech members →
ASR → text members → fusion → timeline → result); each is a plain function of what it reads, so
it can be tested and read alone. Like the recognizer, this module imports neither torch nor
transformers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from emoens.labels import LABELS, LABELS_KO

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Job:
    """One decoded input: its position in the request, samples, checked transcript and name."""

    index: int
    samples: np.ndarray
    text: str | None
    name: str


@dataclass
class Windows:
    """Every window of a batch of jobs in one flat list (``owners[k]``: the job of window k)."""

    clips: list[np.ndarray]
    owners: np.ndarray
    bounds: list[tuple[int, int]]

    def of(self, job: int) -> np.ndarray:
        return np.flatnonzero(self.owners == job)


@dataclass
class Heard:
    """What was said in one job: its transcript and where it came from, ASR segments, warnings."""

    silent: bool
    transcript: str | None = None
    source: str | None = None
    segments: list = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    asr: dict | None = None  # the ASR's confidence (avg_logprob, no_speech_prob, compression_ratio)
    speech_seconds: float | None = None  # speech the VAD found (None: silent, or no VAD)


def as_dict(row: np.ndarray) -> dict[str, float]:
    """``{label: p}`` in canonical order, clipped at 0 and renormalised (uniform when all 0)."""
    row = np.clip(np.asarray(row, dtype=np.float64).reshape(-1), 0.0, None)
    total = row.sum()
    row = row / total if total > 0 else np.full(len(LABELS), 1.0 / len(LABELS))
    return {label: float(p) for label, p in zip(LABELS, row)}


def window_bounds(num_samples: int, *, window_seconds: float, hop_seconds: float,
                  single_pass_max_seconds: float, sr: int = SAMPLE_RATE) -> list[tuple[int, int]]:
    """``[(start, end)]`` sample ranges: one range for short audio, windows every ``hop_seconds``
    otherwise (overlapping when the hop is shorter than the window).

    The last window is aligned to the end of the audio so every sample is covered.
    """
    if num_samples <= single_pass_max_seconds * sr:
        return [(0, num_samples)]
    win, hop = int(window_seconds * sr), int(hop_seconds * sr)
    if win <= 0 or hop <= 0:
        from emoens.recognizer import RecognizerError

        raise RecognizerError(f"window_seconds ({window_seconds}) and hop_seconds ({hop_seconds}) "
                              "must be positive")
    bounds = [(s, s + win) for s in range(0, max(num_samples - win, 0) + 1, hop)]
    if bounds[-1][1] < num_samples:
        bounds.append((num_samples - win, num_samples))
    return bounds


def cut_windows(jobs: list[Job], **settings: float) -> Windows:
    """Step 2: the windows of every job (:func:`window_bounds` with ``settings``), one flat list,
    so that members see full batches."""
    clips, owners, bounds = [], [], []
    for j, job in enumerate(jobs):
        for start, end in window_bounds(len(job.samples), **settings):
            clips.append(job.samples[start:end])
            owners.append(j)
            bounds.append((start, end))
    return Windows(clips, np.asarray(owners), bounds)


def member_probas(members: Mapping[str, Any], modality: str, inputs: Mapping[int, Any],
                  batch_size: int, *, progress: bool = False,
                  extras: dict | None = None) -> dict[str, dict[int, np.ndarray]]:
    """Steps 3 and 5: every member of ``modality`` on ``inputs`` (``{key: waveform or text}``),
    ``batch_size`` inputs per call; ``{member: {key: probabilities}}``. Members that also estimate
    valence/arousal (``predict_with_extras``) fill ``extras[member][key]`` when it is given."""
    out: dict[str, dict[int, np.ndarray]] = {}
    keys = list(inputs)
    for member_name, member in members.items():
        if member.modality != modality:
            continue
        out[member_name] = {}
        steps = range(0, len(keys), batch_size)
        if progress and len(keys) > batch_size:
            from tqdm.auto import tqdm

            steps = tqdm(steps, desc=f"{modality}:{member_name}", unit="batch")
        for s in steps:
            part = keys[s:s + batch_size]
            batch = [inputs[k] for k in part]
            if extras is not None and hasattr(member, "predict_with_extras"):
                probs, more = member.predict_with_extras(batch)
                for i, k in enumerate(part):
                    extras.setdefault(member_name, {})[k] = {n: float(v[i]) for n, v in more.items()}
            else:
                probs = member.predict_proba(batch)
            for k, row in zip(part, np.asarray(probs, dtype=np.float64)):
                out[member_name][k] = row
    return out


def timed(timing: dict, key: str, func, *args, **kwargs):
    """``func(*args, **kwargs)``, its seconds added to ``timing[key]``."""
    t0 = time.perf_counter()
    try:
        return func(*args, **kwargs)
    finally:
        timing[key] += time.perf_counter() - t0


def window_texts(heard: list[Heard], windows: Windows) -> dict[int, str]:
    """Long audio transcribed by an ASR with timestamps: each window's words (``{window index:
    text}``, ``""`` where nobody spoke), so the timeline follows what was said when."""
    out: dict[int, str] = {}
    for j, info in enumerate(heard):
        idx = windows.of(j)
        if info.source != "asr" or not info.segments or len(idx) < 2:
            continue
        for k in idx:
            start, end = windows.bounds[k][0] / SAMPLE_RATE, windows.bounds[k][1] / SAMPLE_RATE
            out[int(k)] = " ".join(seg["text"] for seg in info.segments
                                   if seg["start"] < end and seg["end"] > start).strip()
    return out


def overall_probas(idx: np.ndarray, windows: Windows, silent: np.ndarray,
                   speech: Mapping[str, Mapping[int, np.ndarray]],
                   text: Mapping[str, np.ndarray | None]) -> dict[str, np.ndarray | None]:
    """Step 6: each member's probabilities for one job — a speech member's is the
    duration-weighted mean over the job's non-silent windows (all windows when all are silent)."""
    weights = np.array([e - s for s, e in (windows.bounds[k] for k in idx)], dtype=np.float64)
    if not silent.all():
        weights[silent] = 0.0
    weights /= weights.sum()
    member_proba: dict[str, np.ndarray | None] = {
        n: weights @ np.stack([rows[int(k)] for k in idx]) for n, rows in speech.items()}
    member_proba.update(text)
    return member_proba


def overall_extras(idx: np.ndarray, windows: Windows, silent: np.ndarray,
                   extras: Mapping[str, Mapping[int, dict]]) -> dict[str, float]:
    """Valence/arousal of one job: the duration-weighted mean over its non-silent windows of the
    first speech member that estimates them (``{}`` when none does)."""
    for rows in extras.values():
        weights = np.array([e - s for s, e in (windows.bounds[k] for k in idx)], dtype=np.float64)
        if not silent.all():
            weights[silent] = 0.0
        weights /= weights.sum()
        names = rows[int(idx[0])].keys()
        return {n: round(float(weights @ np.array([rows[int(k)][n] for k in idx])), 4) for n in names}
    return {}


def timeline(fusion: Mapping, idx: np.ndarray, windows: Windows, silent: np.ndarray,
             speech: Mapping[str, Mapping[int, np.ndarray]],
             member_proba: Mapping[str, np.ndarray | None], texts: Mapping[int, str],
             text_probas: Mapping[str, Mapping[int, np.ndarray]],
             reliability: Mapping[str, float] | None = None,
             extras: Mapping[str, Mapping[int, dict]] | None = None) -> list[dict]:
    """Step 7: one entry per window of a long job. A window with its own ASR words (``texts``)
    fuses their text probabilities (none where nobody spoke); others fuse the job's text."""
    from emoens.fusion import apply_fusion, modality_proba

    text_members = [n for n in member_proba if n not in speech]
    entries = []
    for k, silent_win in zip((int(k) for k in idx), silent):
        s, e = windows.bounds[k]
        window_proba = {n: rows[k] for n, rows in speech.items()}
        if k in texts:
            window_proba.update({n: text_probas[n].get(k) for n in text_members})
        else:
            window_proba.update({n: member_proba[n] for n in text_members})
        win_ens = apply_fusion(fusion, window_proba, reliability=reliability)[0]
        label = LABELS[int(np.argmax(win_ens))]
        entry = {
            "start": round(s / SAMPLE_RATE, 3), "end": round(e / SAMPLE_RATE, 3),
            "speech": as_dict(modality_proba(fusion, window_proba, "speech")[0]),
            "ensemble": as_dict(win_ens), "label": label, "label_ko": LABELS_KO[label],
            "silent": bool(silent_win)}
        if k in texts:
            entry["transcript"] = texts[k]
        for rows in (extras or {}).values():
            entry.update(rows.get(k, {}))
            break
        entries.append(entry)
    return entries
