"""The runtime: :class:`EmotionRecognizer` turns audio (and optionally a transcript) into emotions.

``analyze(audio, text=None, transcribe=None)`` returns plain JSON-able data (issue #5)::

    {"label": "happy", "label_ko": "기쁨",
     "speech": {label: p, …}, "text": {label: p, …} | None, "ensemble": {label: p, …},
     "speech_only": bool, "ensemble_source": "speech+text" | "speech-only",
     "transcript": str | None, "transcript_source": "given" | "asr" | None,
     "members": {name: {"modality", "weight", "proba": {label: p, …}}},
     "fusion": {"method", "weights": {name: weight used for this result}},
     "timeline": [{"start", "end", "speech", "ensemble", "label", "label_ko", "silent"}, …],
     "duration": s, "silent": bool, "warnings": [str, …],
     "timing_ms": {"decode", "speech", "asr", "text", "fusion", "total"}}

Every probability dict has the 7 labels in canonical order and sums to 1. ``members`` holds each
member's own probabilities, so a front end can re-mix the ensemble with other weights
(:meth:`EmotionRecognizer.remix`).

Long audio (over ``single_pass_max_seconds``) is cut into fixed windows with overlap; each window
is classified (in batches of ``batch_size`` windows, so a 10-minute file never sits in one tensor),
``timeline`` lists them, and the overall speech result is the duration-weighted mean over the
non-silent windows. A given transcript is classified once and fused with every window; an ASR
transcript with timestamps is also split by window (each timeline entry then carries the
``transcript`` of the segments it overlaps and fuses that text's probabilities). Short audio has an
empty timeline.

Shared Whisper encoding: when a ``whisper-head`` speech member was trained on padded (30-s)
encoder input (its config says ``"padded_input": true``) and the ASR is faster-whisper on the
shared Whisper-base model, a short clip is encoded once (``whisper.encode(samples, pad=True)``)
and that output feeds both the member (``predict_proba_from_encoding``) and the decoder
(``FasterWhisperASR.transcribe(samples, encoder_output=…)``). A head trained on unpadded input
keeps its own cheap unpadded pass: Whisper's decoder needs the padded encoding.

This module imports neither torch nor transformers: members import what they need when loaded.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from emoens.errors import EmoensError
from emoens.labels import LABELS, LABELS_KO

SAMPLE_RATE = 16000


class RecognizerError(EmoensError):
    """A recognizer that cannot be built (no default bundle, bad members) or a bad request."""


def default_bundle_path() -> Path:
    """``$EMOENS_DEFAULT_BUNDLE`` or the repository's ``assets/default``."""
    env = os.environ.get("EMOENS_DEFAULT_BUNDLE")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parent.parent / "assets" / "default"


def _as_dict(row: np.ndarray) -> dict[str, float]:
    row = np.clip(np.asarray(row, dtype=np.float64).reshape(-1), 0.0, None)
    total = row.sum()
    row = row / total if total > 0 else np.full(len(LABELS), 1.0 / len(LABELS))
    return {label: float(p) for label, p in zip(LABELS, row)}


def window_bounds(num_samples: int, *, window_seconds: float, hop_seconds: float,
                  single_pass_max_seconds: float, sr: int = SAMPLE_RATE) -> list[tuple[int, int]]:
    """``[(start, end)]`` sample ranges: one range for short audio, overlapping windows otherwise.

    The last window is aligned to the end of the audio so every sample is covered.
    """
    if num_samples <= single_pass_max_seconds * sr:
        return [(0, num_samples)]
    win, hop = int(window_seconds * sr), int(hop_seconds * sr)
    if win <= 0 or hop <= 0:
        raise RecognizerError(f"window_seconds ({window_seconds}) and hop_seconds ({hop_seconds}) "
                              "must be positive")
    bounds = [(s, s + win) for s in range(0, max(num_samples - win, 0) + 1, hop)]
    if bounds[-1][1] < num_samples:
        bounds.append((num_samples - win, num_samples))
    return bounds


class EmotionRecognizer:
    """Speech and text members plus a fusion; optional ASR. Build it with :meth:`from_bundle` or
    directly from member objects (each with ``modality`` and ``predict_proba``).

    ``max_seconds``: longest audio accepted (None = :data:`emoens.audio.DEFAULT_MAX_SECONDS`,
    600 s unless ``$EMOENS_MAX_AUDIO_SECONDS`` says otherwise; ``math.inf`` for no limit).
    """

    def __init__(self, members: Mapping[str, Any] | Sequence[tuple[str, Any]],
                 fusion: Mapping | None = None, *, asr: Any = None,
                 asr_options: Mapping | None = None, name: str = "custom",
                 window_seconds: float = 10.0, hop_seconds: float = 5.0,
                 single_pass_max_seconds: float = 20.0, batch_size: int = 8,
                 max_seconds: float | None = None, bundle_path: Path | None = None):
        from emoens.fusion import validate_fusion, weighted_fusion

        self.members = dict(members)
        if not self.members:
            raise RecognizerError("an EmotionRecognizer needs at least one member")
        for member_name, member in self.members.items():
            if getattr(member, "modality", None) not in ("speech", "text") or \
                    not callable(getattr(member, "predict_proba", None)):
                raise RecognizerError(f"member {member_name!r} needs a 'modality' of speech or text "
                                      "and a predict_proba method")
        if not any(m.modality == "speech" for m in self.members.values()):
            raise RecognizerError("an EmotionRecognizer needs at least one speech member")
        modalities = {n: m.modality for n, m in self.members.items()}
        self.fusion = (validate_fusion(fusion) if fusion is not None
                       else weighted_fusion(modalities))
        if {m["name"] for m in self.fusion["members"]} != set(self.members):
            raise RecognizerError(
                f"the fusion's members ({', '.join(m['name'] for m in self.fusion['members'])}) do "
                f"not match the recognizer's ({', '.join(self.members)})")
        self.name = name
        self.bundle_path = bundle_path
        self.window_seconds = float(window_seconds)
        self.hop_seconds = float(hop_seconds)
        self.single_pass_max_seconds = float(single_pass_max_seconds)
        self.batch_size = max(1, int(batch_size))
        self.max_seconds = max_seconds
        self._asr_spec = asr
        self._asr_options = dict(asr_options or {})
        self._asr = None
        self._asr_error: EmoensError | None = None

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_bundle(cls, path: str | os.PathLike | None = None, *, asr: str | None = None,
                    asr_options: Mapping | None = None, member_options: Mapping | None = None,
                    **kwargs: Any) -> "EmotionRecognizer":
        """Load a bundle folder (or Hub id); ``None`` means the embedded default bundle.

        ``asr`` overrides the bundle's ASR back-end (``"none"`` to never transcribe);
        ``member_options`` (``{name: {option: value}}``) add to the members' options.
        """
        from emoens.bundle import load_bundle
        from emoens.models import load_member

        if path is None:
            path = default_bundle_path()
            if not (Path(path) / "bundle.json").is_file():
                raise RecognizerError(
                    f"the embedded default bundle is not there yet ({path} has no bundle.json): "
                    "build it with `emoens train-default`, or pass a bundle folder with --bundle / "
                    "from_bundle(path)")
        bundle = load_bundle(path)
        members = {}
        for spec in bundle.members:
            options = {**spec.options, **dict((member_options or {}).get(spec.name, {}))}
            member = load_member(spec.kind, bundle.member_path(spec), **options)
            if getattr(member, "modality", spec.modality) != spec.modality:
                raise RecognizerError(f"bundle {bundle.root}: member {spec.name!r} is declared "
                                      f"{spec.modality} but its model is {member.modality}")
            members[spec.name] = member
        asr_config = bundle.asr
        backend = asr if asr is not None else asr_config.get("backend", "none")
        options = {k: v for k, v in asr_config.items() if k not in ("backend", "model")} \
            if asr is None else {}
        if asr is None and backend == "transformers" and asr_config.get("model"):
            options["model"] = asr_config["model"]
        options.update(asr_options or {})
        settings = {**{k: v for k, v in bundle.runtime.items()
                       if k in ("window_seconds", "hop_seconds", "single_pass_max_seconds",
                                "batch_size")}, **kwargs}
        return cls(members, bundle.fusion, asr=backend, asr_options=options, name=bundle.name,
                   bundle_path=bundle.root, **settings)

    # ------------------------------------------------------------------ properties

    @property
    def fusion_weights(self) -> dict[str, float]:
        """Configured soft-voting weights ``{member: weight}`` (renormalised per request)."""
        from emoens.fusion import member_weights

        return member_weights(self.fusion)

    @property
    def modalities(self) -> dict[str, str]:
        return {n: m.modality for n, m in self.members.items()}

    @property
    def asr_backend(self) -> str:
        spec = self._asr_spec
        if spec is None or isinstance(spec, str):
            return spec or "none"
        return getattr(spec, "name", type(spec).__name__)

    def info(self) -> dict:
        """JSON-able description: name, members (modality, weight), fusion method, ASR back-end."""
        weights = self.fusion_weights
        return {"name": self.name, "bundle": str(self.bundle_path) if self.bundle_path else None,
                "members": [{"name": n, "modality": m.modality, "weight": weights[n],
                             "kind": getattr(m, "kind", type(m).__name__)}
                            for n, m in self.members.items()],
                "fusion": self.fusion.get("method"), "asr": self.asr_backend,
                "labels": list(LABELS), "labels_ko": [LABELS_KO[l] for l in LABELS]}

    def asr(self):
        """The ASR back-end object (created on first use), or None when there is none.

        Raises :class:`emoens.asr.ASRError` when the configured back-end is unavailable.
        """
        if self._asr is None and self._asr_error is None:
            spec = self._asr_spec
            if spec is None or spec == "none":
                return None
            if isinstance(spec, str):
                from emoens.asr import make_asr

                try:
                    self._asr = make_asr(spec, **self._asr_options)
                except EmoensError as exc:
                    self._asr_error = exc
            else:
                self._asr = spec
        if self._asr_error is not None:
            raise self._asr_error
        return self._asr

    # ------------------------------------------------------------------ the work

    def analyze(self, audio, text: str | None = None, transcribe: bool | None = None, *,
                name: str | None = None) -> dict:
        """Analyse one audio input (path, bytes or ``(sr, ndarray)``); see the module docstring.

        ``transcribe``: None = transcribe when no text is given and an ASR back-end is
        configured (an unavailable back-end becomes a warning); True = must transcribe when no
        text is given (an unavailable back-end raises ASRError); False = never.
        """
        return self.analyze_batch([audio], texts=[text], transcribe=transcribe,
                                  names=[name], errors="raise")[0]

    def analyze_batch(self, items: Sequence, texts: Sequence[str | None] | None = None,
                      transcribe: bool | None = None, *, names: Sequence[str | None] | None = None,
                      errors: str = "raise", progress: bool = False) -> list[dict]:
        """Analyse many inputs, batching member calls across them.

        ``errors="raise"`` stops at the first bad input; ``errors="return"`` puts
        ``{"error": message, "input": name}`` in place of that input's result and goes on.
        Timings of batch items are the batch's totals shared equally among its items.
        """
        from emoens.audio import DEFAULT_MAX_SECONDS, load_audio

        limit = DEFAULT_MAX_SECONDS if self.max_seconds is None else self.max_seconds
        items = list(items)
        texts = list(texts) if texts is not None else [None] * len(items)
        names = list(names) if names is not None else [None] * len(items)
        if len(texts) != len(items) or len(names) != len(items):
            raise RecognizerError(f"{len(items)} audio inputs but {len(texts)} texts / "
                                  f"{len(names)} names")
        start_all = time.perf_counter()
        timing = dict.fromkeys(("decode", "speech", "asr", "text", "fusion"), 0.0)
        results: list[dict | None] = [None] * len(items)
        jobs = []  # (index, samples, text, name)
        t0 = time.perf_counter()
        for i, item in enumerate(items):
            label = names[i] or (str(item) if isinstance(item, (str, os.PathLike)) else None)
            try:
                samples = load_audio(item, max_seconds=limit, name=label)
            except EmoensError as exc:
                if errors == "raise":
                    raise
                results[i] = {"error": str(exc), "input": label or f"item {i}"}
                continue
            text = texts[i]
            if text is not None and not str(text).strip():
                text = None
            if text is not None and not str(text).isascii():
                try:  # lone surrogates: bytes that were not UTF-8 (argv, a file read with errors=…)
                    str(text).encode("utf-8")
                except UnicodeEncodeError:
                    message = (f"the transcript given for {label or f'item {i}'} is not valid text "
                               "(it holds bytes that are not UTF-8): give the transcript as UTF-8")
                    if errors == "raise":
                        raise RecognizerError(message) from None
                    results[i] = {"error": message, "input": label or f"item {i}"}
                    continue
            jobs.append((i, samples, text, label or f"item {i}"))
        timing["decode"] += time.perf_counter() - t0

        for chunk_start in range(0, len(jobs), max(1, self.batch_size)):
            chunk = jobs[chunk_start:chunk_start + self.batch_size]
            done = self._run_jobs(chunk, transcribe, timing, errors, progress)
            for (i, *_), result in zip(chunk, done):
                results[i] = result
        total = time.perf_counter() - start_all
        n_ok = max(1, len(jobs))
        for result in results:
            if result is not None and "error" not in result:
                result["timing_ms"] = {k: round(1000 * v / n_ok, 1) for k, v in timing.items()}
                result["timing_ms"]["total"] = round(1000 * total / n_ok, 1)
        return results  # type: ignore[return-value]

    def _windows(self, n: int) -> list[tuple[int, int]]:
        return window_bounds(n, window_seconds=self.window_seconds, hop_seconds=self.hop_seconds,
                             single_pass_max_seconds=self.single_pass_max_seconds)

    @staticmethod
    def _shares_encoder(member) -> bool:
        """A whisper-head trained on padded (30-s) encoder input can reuse the ASR's encoding."""
        config = getattr(member, "config", None) or {}
        return (getattr(member, "kind", "") == "whisper-head"
                and callable(getattr(member, "predict_proba_from_encoding", None))
                and config.get("padded_input") is True)

    def _shared_asr(self, transcribe: bool | None):
        """The faster-whisper back-end when it runs the shared Whisper-base model, else None."""
        if transcribe is False or not any(self._shares_encoder(m) for m in self.members.values()):
            return None
        try:
            backend = self.asr()
        except EmoensError:
            return None
        from emoens.asr import FasterWhisperASR

        if isinstance(backend, FasterWhisperASR) and backend.model_dir is None:
            return backend
        return None

    def _speech_probas(self, windows: list[np.ndarray], timing: dict, progress: bool,
                       encoded: Mapping[int, Any]) -> dict[str, np.ndarray]:
        """Every speech member on every window, ``batch_size`` windows per call.

        ``encoded``: ``{window index: padded Whisper encoding}`` already computed for the ASR;
        members that can use it do, instead of encoding those windows again.
        """
        out = {}
        t0 = time.perf_counter()
        for member_name, member in self.members.items():
            if member.modality != "speech":
                continue
            result = np.zeros((len(windows), len(LABELS)))
            reuse = encoded if self._shares_encoder(member) else {}
            for k, enc in reuse.items():
                result[k] = member.predict_proba_from_encoding(enc, len(windows[k]))[0]
            todo = [k for k in range(len(windows)) if k not in reuse]
            steps = range(0, len(todo), self.batch_size)
            if progress and len(todo) > self.batch_size:
                from tqdm.auto import tqdm

                steps = tqdm(steps, desc=f"speech:{member_name}", unit="batch")
            for s in steps:
                idx = todo[s:s + self.batch_size]
                result[idx] = np.asarray(member.predict_proba([windows[k] for k in idx]),
                                         dtype=np.float64)
            out[member_name] = result
        timing["speech"] += time.perf_counter() - t0
        return out

    def _transcribe(self, samples: np.ndarray, name: str, transcribe: bool | None,
                    warnings: list[str], timing: dict, encoder_output=None):
        if transcribe is False:
            return None
        try:
            backend = self.asr()
        except EmoensError as exc:
            if transcribe:
                raise
            warnings.append(f"no transcription: {exc}")
            return None
        if backend is None:
            if transcribe:
                from emoens.asr import ASRError

                raise ASRError("transcription was requested but this recognizer has no ASR "
                               "back-end: pass asr='faster-whisper' or give the text")
            return None
        t0 = time.perf_counter()
        try:
            if encoder_output is not None:
                result = backend.transcribe(samples, encoder_output=encoder_output, name=name)
            else:
                result = backend.transcribe(samples, name=name)
        except EmoensError as exc:
            if transcribe:
                raise
            warnings.append(f"transcription failed: {exc}")
            return None
        finally:
            timing["asr"] += time.perf_counter() - t0
        return result

    def _run_jobs(self, jobs, transcribe, timing, errors, progress) -> list[dict]:
        from emoens.audio import is_silent
        from emoens.fusion import apply_fusion, effective_weights, modality_proba

        # 1. windows of every job, one flat list, so members see full batches
        flat, owners, bounds = [], [], []
        for j, (_, samples, _, _) in enumerate(jobs):
            for start, end in self._windows(len(samples)):
                flat.append(samples[start:end])
                owners.append(j)
                bounds.append((start, end))
        owners_arr = np.asarray(owners)
        # One Whisper encoder pass per clip when a whisper-head member and the ASR can share it:
        # short (single-window), non-silent clips that will be transcribed.
        encoded: dict[int, Any] = {}
        shared_asr = self._shared_asr(transcribe)
        if shared_asr is not None:
            from emoens.models import whisper

            t0 = time.perf_counter()
            for j, (_, samples, text, _) in enumerate(jobs):
                windows_of_job = np.flatnonzero(owners_arr == j)
                if (text is None and len(windows_of_job) == 1 and samples.size <= 30 * SAMPLE_RATE
                        and not is_silent(samples)):
                    encoded[int(windows_of_job[0])] = whisper.encode(samples, pad=True)
            timing["speech"] += time.perf_counter() - t0
        speech = self._speech_probas(flat, timing, progress, encoded)
        job_encoding = {owners[k]: enc for k, enc in encoded.items()}

        # 2. transcripts (given or ASR), then text members in one batch
        per_job = []
        for j, (_, samples, text, name) in enumerate(jobs):
            warnings: list[str] = []
            silent = bool(is_silent(samples))
            if silent:
                warnings.append("the audio is silent (no signal above -60 dBFS): the result "
                                "carries no information")
            transcript, source, segments = None, None, []
            if text is not None:
                transcript, source = str(text).strip(), "given"
            elif not silent:
                result = self._transcribe(samples, name, transcribe, warnings, timing,
                                          job_encoding.get(j))
                if result is not None:
                    segments = result.segments
                    if result.text.strip():
                        transcript, source = result.text.strip(), "asr"
                    else:
                        warnings.append("the ASR heard no words: speech-only result")
            per_job.append({"warnings": warnings, "silent": silent, "transcript": transcript,
                            "source": source, "segments": segments})
        text_members = [n for n, m in self.members.items() if m.modality == "text"]
        text_probas: dict[str, dict[int, np.ndarray]] = {n: {} for n in text_members}
        with_text = [j for j, p in enumerate(per_job) if p["transcript"]]
        if text_members and with_text:
            t0 = time.perf_counter()
            batch = [per_job[j]["transcript"] for j in with_text]
            for member_name in text_members:
                probs = np.asarray(self.members[member_name].predict_proba(batch), dtype=np.float64)
                for j, row in zip(with_text, probs):
                    text_probas[member_name][j] = row
            timing["text"] += time.perf_counter() - t0
        # Long audio transcribed by an ASR with timestamps: each window also gets the text of the
        # segments it overlaps, so the timeline follows what was said when.
        window_texts: dict[int, str] = {}
        for j, info in enumerate(per_job):
            windows_of_job = np.flatnonzero(owners_arr == j)
            if info["source"] != "asr" or not info["segments"] or len(windows_of_job) < 2:
                continue
            for k in windows_of_job:
                start, end = bounds[k][0] / SAMPLE_RATE, bounds[k][1] / SAMPLE_RATE
                words = " ".join(seg["text"] for seg in info["segments"]
                                 if seg["start"] < end and seg["end"] > start).strip()
                window_texts[int(k)] = words
        window_text_probas: dict[str, dict[int, np.ndarray]] = {n: {} for n in text_members}
        spoken = [k for k, words in window_texts.items() if words]
        if text_members and spoken:
            t0 = time.perf_counter()
            for member_name in text_members:
                for s in range(0, len(spoken), self.batch_size):
                    part = spoken[s:s + self.batch_size]
                    probs = self.members[member_name].predict_proba([window_texts[k] for k in part])
                    for k, row in zip(part, np.asarray(probs, dtype=np.float64)):
                        window_text_probas[member_name][k] = row
            timing["text"] += time.perf_counter() - t0

        # 3. fusion per job: windows -> duration-weighted overall -> ensemble
        t0 = time.perf_counter()
        results = []
        for j, (_, samples, _, _) in enumerate(jobs):
            info = per_job[j]
            idx = np.flatnonzero(owners_arr == j)
            win_bounds = [bounds[k] for k in idx]
            win_silent = np.array([is_silent(flat[k]) for k in idx])
            weights = np.array([e - s for s, e in win_bounds], dtype=np.float64)
            if not win_silent.all():
                weights[win_silent] = 0.0
            weights /= weights.sum()
            member_proba: dict[str, np.ndarray | None] = {}
            for member_name, rows in speech.items():
                member_proba[member_name] = weights @ rows[idx]
            for member_name in text_members:
                member_proba[member_name] = text_probas[member_name].get(j)
            ensemble = apply_fusion(self.fusion, member_proba)[0]
            speech_row = modality_proba(self.fusion, member_proba, "speech")[0]
            text_row = modality_proba(self.fusion, member_proba, "text")
            ran = [n for n, p in member_proba.items() if p is not None]
            speech_only = text_row is None
            if speech_only and text_members:
                info["warnings"].append("no transcript: the ensemble is the speech model's output")
            timeline = []
            if len(idx) > 1:
                for k, (s, e), silent_win in zip(idx, win_bounds, win_silent):
                    window_proba = {n: rows[k] for n, rows in speech.items()}
                    if int(k) in window_texts:  # per-window ASR text (None: no words here)
                        window_proba.update({n: window_text_probas[n].get(int(k))
                                             for n in text_members})
                    else:
                        window_proba.update({n: member_proba[n] for n in text_members})
                    win_ens = apply_fusion(self.fusion, window_proba)[0]
                    label = LABELS[int(np.argmax(win_ens))]
                    entry = {
                        "start": round(s / SAMPLE_RATE, 3), "end": round(e / SAMPLE_RATE, 3),
                        "speech": _as_dict(modality_proba(self.fusion, window_proba, "speech")[0]),
                        "ensemble": _as_dict(win_ens), "label": label, "label_ko": LABELS_KO[label],
                        "silent": bool(silent_win)}
                    if int(k) in window_texts:
                        entry["transcript"] = window_texts[int(k)]
                    timeline.append(entry)
            label = LABELS[int(np.argmax(ensemble))]
            configured = self.fusion_weights
            results.append({
                "label": label, "label_ko": LABELS_KO[label],
                "speech": _as_dict(speech_row),
                "text": None if text_row is None else _as_dict(text_row[0]),
                "ensemble": _as_dict(ensemble),
                "speech_only": speech_only,
                "ensemble_source": "speech-only" if speech_only else "speech+text",
                "transcript": info["transcript"], "transcript_source": info["source"],
                "members": {n: {"modality": self.members[n].modality, "weight": configured[n],
                                "proba": None if p is None else _as_dict(p)}
                            for n, p in member_proba.items()},
                "fusion": {"method": "stack" if self.fusion.get("method") == "stack"
                           and len(ran) == len(self.members) else "weighted",
                           "weights": effective_weights(self.fusion, ran)},
                "timeline": timeline,
                "duration": round(len(samples) / SAMPLE_RATE, 3),
                "silent": info["silent"],
                "warnings": info["warnings"],
            })
        timing["fusion"] += time.perf_counter() - t0
        return results

    # ------------------------------------------------------------------ helpers for front ends

    def remix(self, result: Mapping, weights: Mapping[str, float]) -> dict[str, float]:
        """Re-fuse a result's per-member probabilities with other ``{member: weight}`` weights
        (soft voting; members without probabilities are skipped, the rest renormalised)."""
        from emoens.fusion import apply_fusion, weighted_fusion

        config = weighted_fusion(self.modalities, {n: float(weights.get(n, 0.0))
                                                   for n in self.members})
        probas = {n: (None if m["proba"] is None else [m["proba"][l] for l in LABELS])
                  for n, m in result["members"].items()}
        return _as_dict(apply_fusion(config, probas)[0])


def analyze(audio, text: str | None = None, *, bundle: str | os.PathLike | None = None,
            **kwargs: Any) -> dict:
    """One-shot convenience: ``EmotionRecognizer.from_bundle(bundle).analyze(audio, text)``."""
    return EmotionRecognizer.from_bundle(bundle).analyze(audio, text, **kwargs)
