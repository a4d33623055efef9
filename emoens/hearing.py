"""Step 4 of the recognizer (ASR): what was said in each job — the given transcript, or the ASR
back-end's (silent audio is not transcribed), with the ASR's confidence and warnings.

``get_asr``: a callable returning the recognizer's back-end (None when it has none).
:func:`hear` is step 4 for a batch of jobs; :class:`Listening` runs it in a background thread
while the speech members run (step 3), so that the two overlap: the ASR's decoder (CTranslate2)
and the VAD (ONNX Runtime) release the GIL, and the speech member's prosody (librosa) runs
beside them. Step 4 also counts the seconds of speech (:func:`emoens.reliability.speech_seconds`,
the ASR's own VAD result when it ran) for the reliability verdict.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from emoens.errors import EmoensError
from emoens.steps import Heard, Job


def listen(get_asr, job: Job, transcribe: bool | None, timing: dict, asr_result=None) -> Heard:
    """Step 4 for one job. ``asr_result``: its transcript from :func:`transcribe_batch`, if it ran."""
    from emoens.audio import is_silent

    heard = Heard(silent=bool(is_silent(job.samples)))
    if heard.silent:
        heard.warnings.append("the audio is silent (no signal above -60 dBFS): the result "
                              "carries no information")
    if job.text is not None:
        from emoens.text import limit_transcript

        heard.transcript, note = limit_transcript(str(job.text).strip(), job.name)
        heard.source = "given"
        heard.warnings += [note] if note else []
    elif not heard.silent:
        result = asr_result if asr_result is not None else \
            transcribe_one(get_asr, job.samples, job.name, transcribe, heard.warnings, timing)
        if result is not None:
            heard.segments = result.segments
            heard.asr = result.confidence() if hasattr(result, "confidence") else None
            if result.text.strip():
                heard.transcript, heard.source = result.text.strip(), "asr"
            else:
                heard.warnings.append("the ASR heard no words: speech-only result")
    heard.speech_seconds = (heard.asr or {}).get("speech_seconds")
    if heard.speech_seconds is None and not heard.silent:  # the ASR's VAD did not run
        from emoens.reliability import speech_seconds

        heard.speech_seconds = speech_seconds(job.samples)
    return heard


def hear(get_asr, jobs: list[Job], transcribe: bool | None, timing: dict) -> list[Heard]:
    """Step 4 for every job: one batched ASR call where it pays, then :func:`listen` each."""
    asr_results = transcribe_batch(get_asr, jobs, transcribe, timing)
    return [listen(get_asr, job, transcribe, timing, asr_results.get(j))
            for j, job in enumerate(jobs)]


def _import_asr_packages() -> None:
    """Import faster-whisper (the ASR and its VAD) on the calling thread, the package before its
    submodule. A first ``from faster_whisper.vad import …`` locks the submodule, then the
    package; a thread importing the package meanwhile imports ``vad`` from inside it: the two
    locks taken in opposite orders, Python raises ``_DeadlockError`` in one of the threads (the
    speech member imports faster-whisper while this thread would)."""
    try:
        import faster_whisper  # noqa: F401
        import faster_whisper.vad  # noqa: F401
    except ImportError:
        pass  # no ASR installed: hear() reports it where it matters


class Listening:
    """:func:`hear` on ``jobs`` in a background thread, started at once; :meth:`result` waits for
    it and returns what it heard, or raises what it raised (as :func:`hear` would)."""

    def __init__(self, get_asr, jobs: list[Job], transcribe: bool | None):
        _import_asr_packages()  # here, not in the thread
        self._timing = {"asr": 0.0}
        self._heard: list[Heard] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, args=(get_asr, jobs, transcribe),
                                        name="emoens-asr", daemon=True)
        self._thread.start()

    def _work(self, get_asr, jobs, transcribe) -> None:
        try:
            self._heard = hear(get_asr, jobs, transcribe, self._timing)
        except BaseException as exc:  # re-raised by result(), in the caller's thread
            self._error = exc

    def wait(self) -> None:
        """Wait for the work to end (its result or error is kept for :meth:`result`)."""
        self._thread.join()

    def result(self, timing: dict) -> list[Heard]:
        """What :func:`hear` returned; its ASR seconds are added to ``timing["asr"]``."""
        self._thread.join()
        timing["asr"] += self._timing["asr"]
        self._timing["asr"] = 0.0
        if self._error is not None:
            raise self._error
        return self._heard  # type: ignore[return-value]


def transcribe_batch(get_asr, jobs: list[Job], transcribe: bool | None, timing: dict) -> dict:
    """``{job index: Transcript}`` from one ``transcribe_batch`` call of the ASR back-end for
    every job that needs transcription (the ASR batches their windows across clips). Empty
    when fewer than two need it, the back-end has no batch call, or the batch fails: those
    jobs then go through :func:`transcribe_one` one by one (with its warnings and errors)."""
    from emoens.audio import is_silent

    if transcribe is False:
        return {}
    todo = [j for j, job in enumerate(jobs) if job.text is None and not is_silent(job.samples)]
    if len(todo) < 2:
        return {}
    try:
        batch = getattr(get_asr(), "transcribe_batch", None)
    except EmoensError:
        return {}
    if batch is None:
        return {}
    t0 = time.perf_counter()
    try:
        results = batch([jobs[j].samples for j in todo], names=[jobs[j].name for j in todo])
    except EmoensError:
        return {}
    finally:
        timing["asr"] += time.perf_counter() - t0
    return dict(zip(todo, results))


def transcribe_one(get_asr, samples: np.ndarray, name: str, transcribe: bool | None,
                   warnings: list[str], timing: dict):
    """One clip through the ASR back-end; a failure is a warning unless ``transcribe`` is True."""
    if transcribe is False:
        return None
    try:
        backend = get_asr()
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
        return backend.transcribe(samples, name=name)
    except EmoensError as exc:
        if transcribe:
            raise
        warnings.append(f"transcription failed: {exc}")
        return None
    finally:
        timing["asr"] += time.perf_counter() - t0
