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

Long audio (over ``single_pass_max_seconds``) is cut into fixed windows (10 s; by default they do
not overlap: a 5-s hop encoded every second twice, the speech member's cost on long audio); each window
is classified (in batches of ``batch_size`` windows, so a 10-minute file never sits in one tensor),
``timeline`` lists them, and the overall speech result is the duration-weighted mean over the
non-silent windows. A given transcript is classified once and fused with every window; an ASR
transcript with timestamps is also split by window (each timeline entry then carries the
``transcript`` of the segments it overlaps and fuses that text's probabilities). Short audio has an
empty timeline.

The work is a row of small named steps (:meth:`EmotionRecognizer._run`; the back-end-free ones
are functions in :mod:`emoens.steps`): decode (``_decode``) → windows (``steps.cut_windows``) →
speech members (``steps.member_probas``) → ASR (``hearing.hear``, in a background thread
beside the speech members when something is to be transcribed) → text members
(``steps.member_probas``, per input and per window of long audio) → fusion
(``steps.overall_probas``) → timeline (``steps.timeline``) → result (``_assemble_result``, the one
place where a result's fields are put together). :meth:`EmotionRecognizer.analyze_stream` runs
the same steps for one input and yields the timeline after each batch of windows (the app's
progress and cancel). ``analyze_batch(errors="return")`` is the one
per-item isolation of emoens: a batch in which a member or the ASR fails is re-run input by input.

This module imports neither torch nor transformers: members import what they need when loaded.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from emoens.errors import EmoensError
from emoens.hearing import Listening, hear
from emoens.labels import LABELS, LABELS_KO
from emoens.steps import SAMPLE_RATE, Heard, Job, as_dict, window_bounds  # noqa: F401 (API)


class RecognizerError(EmoensError):
    """A recognizer that cannot be built (no default bundle, bad members) or a bad request."""


def default_bundle_path() -> Path:
    """The embedded default bundle's folder (package data: ``emoens/assets/default``)."""
    from emoens.settings import default_bundle_dir

    return default_bundle_dir()


def _checked_text(text, name: str) -> str | None:
    """A transcript, ``None`` when blank; a :class:`RecognizerError` when it is not valid text."""
    if text is not None and not str(text).strip():
        return None
    if text is not None and not str(text).isascii():
        try:  # lone surrogates: bytes that were not UTF-8 (argv, a file read with errors=…)
            str(text).encode("utf-8")
        except UnicodeEncodeError:
            raise RecognizerError(f"the transcript given for {name} is not valid text (it holds "
                                  "bytes that are not UTF-8): give the transcript as UTF-8") from None
    return text


def _error_result(exc: BaseException, name: str) -> dict:
    """An input's result when it failed: a known error's own line, anything else named as
    unexpected (a bug, but one input's bug)."""
    message = str(exc) if isinstance(exc, EmoensError) else \
        f"unexpected error: {type(exc).__name__}: {exc}"
    return {"error": message, "input": name}


class EmotionRecognizer:
    """Speech and text members plus a fusion; optional ASR. Build it with :meth:`from_bundle` or
    directly from member objects (each with ``modality`` and ``predict_proba``).

    ``max_seconds``: longest audio accepted (None = :data:`emoens.audio.DEFAULT_MAX_SECONDS`,
    600 s unless ``$EMOENS_MAX_AUDIO_SECONDS`` says otherwise; ``math.inf`` for no limit).
    """

    def __init__(self, members: Mapping[str, Any] | Sequence[tuple[str, Any]],
                 fusion: Mapping | None = None, *, asr: Any = None,
                 asr_options: Mapping | None = None, name: str = "custom",
                 window_seconds: float = 10.0, hop_seconds: float = 10.0,
                 single_pass_max_seconds: float = 20.0, batch_size: int = 8,
                 max_seconds: float | None = None, bundle_path: Path | None = None,
                 asr_beside_speech: bool = True):
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
        self.asr_beside_speech = bool(asr_beside_speech)  # False: step 4 after step 3 (bench)
        self._asr_spec = asr
        self._asr_options = dict(asr_options or {})
        self._asr = None
        self._asr_error: EmoensError | None = None

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_bundle(cls, path: str | os.PathLike | None = None, *, asr: str | None = None,
                    asr_options: Mapping | None = None, member_options: Mapping | None = None,
                    **kwargs: Any) -> "EmotionRecognizer":
        """Load a bundle folder (or Hub id); ``None`` means ``$EMOENS_BUNDLE`` when it is set,
        else the embedded default bundle.

        ``asr`` overrides the bundle's ASR back-end (``"none"`` to never transcribe);
        ``member_options`` (``{name: {option: value}}``) add to the members' options.
        """
        from emoens.bundle import load_bundle, load_member_checked

        if path is None:
            from emoens.settings import bundle_from_env

            path = bundle_from_env()  # $EMOENS_BUNDLE
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
            member = load_member_checked(spec, bundle.member_path(spec), **options)
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
        ``{"error": message, "input": name}`` in place of that input's result and goes on — an input
        that cannot be decoded, a transcript that is not text, and a member or ASR failure on one
        input (the batch it was in is then re-run input by input, so only the culprit fails). This
        is the one per-item isolation of emoens: ``emoens predict`` and the app rely on it.
        Timings of batch items are the batch's totals shared equally among its items.
        """
        if errors not in ("raise", "return"):
            raise RecognizerError(f"errors={errors!r}: use 'raise' or 'return'")
        items = list(items)
        texts = list(texts) if texts is not None else [None] * len(items)
        names = list(names) if names is not None else [None] * len(items)
        if len(texts) != len(items) or len(names) != len(items):
            raise RecognizerError(f"{len(items)} audio inputs but {len(texts)} texts / "
                                  f"{len(names)} names")
        start_all = time.perf_counter()
        timing = dict.fromkeys(("decode", "speech", "asr", "text", "fusion"), 0.0)
        results: list[dict | None] = [None] * len(items)
        jobs = self._decode(items, texts, names, errors, results, timing)
        for chunk_start in range(0, len(jobs), self.batch_size):
            chunk = jobs[chunk_start:chunk_start + self.batch_size]
            for job, result in zip(chunk, self._run_isolated(chunk, transcribe, timing, errors,
                                                             progress)):
                results[job.index] = result
        total = time.perf_counter() - start_all
        n_ok = max(1, len(jobs))
        for result in results:
            if result is not None and "error" not in result:
                result["timing_ms"] = {k: round(1000 * v / n_ok, 1) for k, v in timing.items()}
                result["timing_ms"]["total"] = round(1000 * total / n_ok, 1)
        return results  # type: ignore[return-value]

    # step 1: decode every input (and check its transcript)
    def _decode(self, items: list, texts: list, names: list, errors: str,
                results: list, timing: dict) -> list[Job]:
        from emoens.audio import DEFAULT_MAX_SECONDS, load_audio

        limit = DEFAULT_MAX_SECONDS if self.max_seconds is None else self.max_seconds
        jobs = []
        t0 = time.perf_counter()
        for i, item in enumerate(items):
            label = names[i] or (str(item) if isinstance(item, (str, os.PathLike)) else None)
            try:
                samples = load_audio(item, max_seconds=limit, name=label)
                text = _checked_text(texts[i], label or f"item {i}")
            except EmoensError as exc:
                if errors == "raise":
                    raise
                results[i] = _error_result(exc, label or f"item {i}")
                continue
            jobs.append(Job(i, samples, text, label or f"item {i}"))
        timing["decode"] += time.perf_counter() - t0
        return jobs

    def _run_isolated(self, jobs: list[Job], transcribe, timing: dict, errors: str,
                      progress: bool) -> list[dict]:
        """:meth:`_run` on the batch; with ``errors="return"``, a batch that fails is re-run job
        by job and a job that fails alone becomes its error result."""
        try:
            return self._run(jobs, transcribe, timing, progress)
        except Exception as exc:
            if errors == "raise":
                raise
            if len(jobs) == 1:
                return [_error_result(exc, jobs[0].name)]
        return [self._run_isolated([job], transcribe, timing, errors, progress)[0] for job in jobs]

    def _windows(self, jobs: list[Job]):
        from emoens import steps

        return steps.cut_windows(jobs, window_seconds=self.window_seconds,
                                 hop_seconds=self.hop_seconds,
                                 single_pass_max_seconds=self.single_pass_max_seconds)

    def _run(self, jobs: list[Job], transcribe, timing: dict, progress: bool) -> list[dict]:
        """Steps 2-8 for decoded jobs (see :mod:`emoens.steps`)."""
        from emoens import steps

        windows = self._windows(jobs)
        extras: dict = {}  # valence/arousal per speech member and window
        listening = self._start_listening(jobs, transcribe)  # step 4 beside step 3
        try:
            speech = steps.timed(timing, "speech", steps.member_probas, self.members, "speech",
                                 dict(enumerate(windows.clips)), self.batch_size,
                                 progress=progress, extras=extras)
        except BaseException:
            if listening is not None:
                listening.wait()  # never leave the ASR running behind a failed request
            raise
        heard = listening.result(timing) if listening is not None else None
        return self._after_speech(jobs, windows, speech, extras, transcribe, timing, heard)

    def _start_listening(self, jobs: list[Job], transcribe) -> Listening | None:
        """Step 4 started in a background thread beside the speech members; None when it is to
        run after them (``asr_beside_speech=False``)."""
        return Listening(self.asr, jobs, transcribe) if self.asr_beside_speech else None

    def analyze_stream(self, audio, text: str | None = None, transcribe: bool | None = None, *,
                       name: str | None = None):
        """:meth:`analyze` step by step, for a front end that shows progress and may stop early.

        Yields ``{"stage": "speech", "done": s, "total": s, "timeline": [...]}`` after each batch
        of windows of long audio (the timeline so far; its entries fuse speech only, the final
        result's add the text), then ``{"stage": "asr" | "text", "total": s}`` before the
        transcript is heard and scored, and last ``{"stage": "done", "total": s, "result": …}``,
        the result :meth:`analyze` gives (timings aside). Closing the iterator (a cancelled
        request) stops the work before the next batch of windows.
        """
        from emoens import steps

        start = time.perf_counter()
        timing = dict.fromkeys(("decode", "speech", "asr", "text", "fusion"), 0.0)
        job = self._decode([audio], [text], [name], "raise", [None], timing)[0]
        windows = self._windows([job])
        total = round(len(job.samples) / SAMPLE_RATE, 3)
        speech: dict = {}
        extras: dict = {}
        partial: list[dict] = []
        keys = list(range(len(windows.clips)))
        # one batch of windows (no cancel point between batches): the ASR runs beside it
        listening = self._start_listening([job], transcribe) \
            if len(keys) <= self.batch_size else None
        for s in range(0, len(keys), self.batch_size):
            part = keys[s:s + self.batch_size]
            got = steps.timed(timing, "speech", steps.member_probas, self.members, "speech",
                              {k: windows.clips[k] for k in part}, self.batch_size, extras=extras)
            for member_name, rows in got.items():
                speech.setdefault(member_name, {}).update(rows)
            if len(keys) > 1:
                partial += self._speech_timeline(windows, np.asarray(part), speech, extras)
                yield {"stage": "speech", "done": partial[-1]["end"], "total": total,
                       "timeline": list(partial)}
        hears = job.text is None and transcribe is not False and self.asr_backend != "none"
        yield {"stage": "asr" if hears else "text", "total": total}
        heard = listening.result(timing) if listening is not None else None
        result = self._after_speech([job], windows, speech, extras, transcribe, timing, heard)[0]
        result["timing_ms"] = {k: round(1000 * v, 1) for k, v in timing.items()}
        result["timing_ms"]["total"] = round(1000 * (time.perf_counter() - start), 1)
        yield {"stage": "done", "total": total, "result": result}

    def _speech_timeline(self, windows, idx: np.ndarray, speech: Mapping, extras: Mapping) -> list[dict]:
        """Timeline entries of the windows ``idx`` from the speech members alone (streaming)."""
        from emoens import steps
        from emoens.audio import is_silent

        silent = np.array([is_silent(windows.clips[k]) for k in idx])
        no_text = {n: None for n, m in self.members.items() if m.modality == "text"}
        return steps.timeline(self.fusion, idx, windows, silent, speech, no_text, {}, {},
                              dict.fromkeys(no_text, 0.0), extras)

    def _after_speech(self, jobs: list[Job], windows, speech: Mapping, extras: dict, transcribe,
                      timing: dict, heard: list[Heard] | None = None) -> list[dict]:
        """Steps 4-8 (ASR, text members, fusion, timeline, result) once the speech members ran;
        ``heard``: step 4's result when it already ran (beside the speech members)."""
        from emoens import steps
        from emoens.audio import is_silent

        if heard is None:
            heard = hear(self.asr, jobs, transcribe, timing)
        text = steps.timed(timing, "text", steps.member_probas, self.members, "text",
                           {j: h.transcript for j, h in enumerate(heard) if h.transcript},
                           self.batch_size)
        window_texts = steps.window_texts(heard, windows)
        window_text = steps.timed(timing, "text", steps.member_probas, self.members, "text",
                                  {k: w for k, w in window_texts.items() if w}, self.batch_size)
        t0 = time.perf_counter()
        results = []
        for j, (job, info) in enumerate(zip(jobs, heard)):
            idx = windows.of(j)
            silent = np.array([is_silent(windows.clips[k]) for k in idx])
            member_proba = steps.overall_probas(idx, windows, silent, speech,
                                                {n: rows.get(j) for n, rows in text.items()})
            reliability = self._text_reliability(info)
            timeline = (steps.timeline(self.fusion, idx, windows, silent, speech, member_proba,
                                       window_texts, window_text, reliability, extras)
                        if len(idx) > 1 else [])
            affect = steps.overall_extras(idx, windows, silent, extras)
            results.append(self._assemble_result(job, info, member_proba, timeline, affect))
        timing["fusion"] += time.perf_counter() - t0
        return results

    # step 4 (ASR): emoens/hearing.py (hear, Listening)

    # step 8: the result dict — every field of a result is assembled here
    def _text_reliability(self, heard: Heard) -> dict[str, float]:
        """How far each text member's input is trusted (typed 1, ASR by its confidence, none 0)."""
        from emoens.fusion_fit import text_reliability

        r = text_reliability(heard.transcript, heard.source, heard.asr)
        return {n: r for n, m in self.members.items() if m.modality == "text"}

    def _assemble_result(self, job: Job, heard: Heard,
                         member_proba: Mapping[str, np.ndarray | None],
                         timeline: list[dict], affect: Mapping[str, float] | None = None) -> dict:
        from emoens.fusion import apply_fusion, effective_weights, modality_proba
        from emoens.reliability import assess

        reliability = self._text_reliability(heard)
        ensemble = apply_fusion(self.fusion, member_proba, reliability=reliability)[0]
        speech_row = modality_proba(self.fusion, member_proba, "speech")[0]
        text_row = modality_proba(self.fusion, member_proba, "text")
        ran = [n for n, p in member_proba.items() if p is not None]
        speech_only = text_row is None
        if speech_only and any(m.modality == "text" for m in self.members.values()):
            heard.warnings.append("no transcript: the ensemble is the speech model's output")
        label = LABELS[int(np.argmax(ensemble))]
        configured = self.fusion_weights
        verdict = assess(silent=heard.silent, seconds_of_speech=heard.speech_seconds,
                         ensemble=as_dict(ensemble),
                         speech=as_dict(speech_row),
                         text=None if text_row is None else as_dict(text_row[0]))
        if verdict["reason"] == "no_speech":
            heard.warnings.append("no speech found in the audio: no emotion is named")
        affect = dict(affect or {})
        return {**verdict, "valence": affect.get("valence"), "arousal": affect.get("arousal"),
                "text_reliability": round(max(reliability.values(), default=0.0), 4),
                "asr": heard.asr,
            "label": label, "label_ko": LABELS_KO[label],
            "speech": as_dict(speech_row),
            "text": None if text_row is None else as_dict(text_row[0]),
            "ensemble": as_dict(ensemble),
            "speech_only": speech_only,
            "ensemble_source": "speech-only" if speech_only else "speech+text",
            "transcript": heard.transcript, "transcript_source": heard.source,
            "members": {n: {"modality": self.members[n].modality, "weight": configured[n],
                            "proba": None if p is None else as_dict(p)}
                        for n, p in member_proba.items()},
            "fusion": {"method": self._method_used(ran),
                       "weights": effective_weights(self.fusion, ran)},
            "timeline": timeline,
            "duration": round(len(job.samples) / SAMPLE_RATE, 3),
            "silent": heard.silent,
            "warnings": heard.warnings,
        }

    def _method_used(self, ran: list[str]) -> str:
        """The fusion method that produced this result (a stack falls back to weighted voting)."""
        method = self.fusion.get("method", "weighted")
        if method == "stack" and len(ran) != len(self.members):
            return "weighted"
        return method

def analyze(audio, text: str | None = None, *, bundle: str | os.PathLike | None = None,
            **kwargs: Any) -> dict:
    """One-shot convenience: ``EmotionRecognizer.from_bundle(bundle).analyze(audio, text)``."""
    return EmotionRecognizer.from_bundle(bundle).analyze(audio, text, **kwargs)
