"""Transcription back-ends: ``faster-whisper`` (default, offline), ``transformers``, ``vosk``, ``none``.

:func:`make_asr` returns an object with ``transcribe(samples, encoder_output=None) -> Transcript``
(or ``None`` for ``none``); faster-whisper also has ``transcribe_batch(list)``. Models are loaded
lazily, once, on the first call. Nothing heavy is imported at module level.

The default faster-whisper decoding is deterministic (beam 2, temperature 0, no temperature
fallback; a window that loops, or comes out weak with short text, is decoded again at beam 5), skips silence with
faster-whisper's Silero VAD, decodes audio of up to 28 s as one window and longer audio in windows of
at most 14 s of speech (+1 s of silence, padded to a 2-s grid of at least 8 s rather than to
Whisper's 30 s) in batches, and guards against hallucination
(:func:`apply_guard`: decoding loops trimmed; no-speech and over-compressible segments dropped).
The :class:`Transcript` carries the ASR's confidence (``avg_logprob``, ``no_speech_prob``,
``compression_ratio``, duration-weighted over kept segments) and ``guard_dropped``.
:data:`BASELINE` keeps the old decoding (beam 5, temperature fallback, 30-s windows) reachable.

Sharing the encoder with the speech member: a whisper-head trained on padded (30-s) input may pass
``whisper.encode(samples, pad=True)`` as ``encoder_output`` (the decoder then reuses it). The
default head is trained on *unpadded* states, which the decoder cannot use (with no silence after
the speech it does not stop: it loops), so there the two passes stay separate; the recognizer
runs the ASR in a thread beside the speech member instead (:class:`emoens.hearing.Listening`).
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from emoens.asr_guard import (  # noqa: F401  (re-exported: the guard's settings and functions)
    COMPRESSION_RATIO_MAX, LOGPROB_SILENT, NO_SPEECH_MAX, NO_SPEECH_MAX_VAD, PHRASE_MIN, REPEAT_MIN,
    apply_guard, compression_ratio, guard_reason, trim_repetition, weighted_confidence)
from emoens.errors import EmoensError

BACKENDS = ("faster-whisper", "transformers", "vosk", "none")
SAMPLE_RATE = 16000


class ASRError(EmoensError):
    """A transcription back-end that is unknown, not installed, or failing on an input."""


@dataclass
class Transcript:
    """What a back-end heard: the text, timed segments ``{start, end, text, …}`` where known, and
    the ASR's own confidence (faster-whisper only; ``None`` elsewhere or when nothing was kept).

    ``avg_logprob``, ``no_speech_prob`` and ``compression_ratio`` are duration-weighted means over
    the segments the hallucination guard kept; ``guard_dropped`` says whether it removed (or
    trimmed) anything and ``dropped`` lists what and why (``{start, end, reason}``);
    ``speech_seconds`` is the speech the VAD found (``None`` without VAD).
    """

    text: str
    backend: str
    segments: list[dict] = field(default_factory=list)
    language: str | None = None
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    compression_ratio: float | None = None
    guard_dropped: bool = False
    dropped: list[dict] = field(default_factory=list)
    speech_seconds: float | None = None

    def confidence(self) -> dict:
        """The ASR confidence as a JSON-able dict (for results and the fusion)."""
        return {"avg_logprob": self.avg_logprob, "no_speech_prob": self.no_speech_prob,
                "compression_ratio": self.compression_ratio, "guard_dropped": self.guard_dropped,
                "dropped": list(self.dropped), "speech_seconds": self.speech_seconds}


def _check_samples(samples, name: str) -> np.ndarray:
    array = np.asarray(samples, dtype=np.float32).reshape(-1)
    if array.size == 0:
        raise ASRError(f"{name}: empty audio, nothing to transcribe")
    return array


# --- faster-whisper ---------------------------------------------------------------------------

#: Today's (pre-issue-18) decoding, kept reachable as a baseline: WhisperModel.transcribe with
#: beam 5 and temperature fallback, no VAD, no guard. ``make_asr("faster-whisper", **BASELINE)``.
BASELINE = {"decoder": "transcribe", "beam_size": 5, "workers": 1,
            "temperature": (0.0, 0.2, 0.4, 0.6, 0.8, 1.0), "vad_filter": False, "guard": False}
#: Default beam width. On bench/asr_cer.py's fixed subset (40 clips per corpus) beam 2 scored CER
#: 0.2127 alone and 0.2109 with the beam-5 retry of every weak window (0.2127 with the retry of
#: weak windows with short text only, :func:`needs_fallback`); beam 3 0.2127, beam 5 0.2115,
#: greedy 0.2303 (0.2283 with the retry); today's path 0.1961 (budget +0.02). A narrower window
#: floor (6 s) at beam 2 scored 0.2167 alone, 0.2180 with the retry: the floor stays 8 s.
DEFAULT_BEAM = 2
#: Beam-search patience (CTranslate2's, after Kasai et al. 2022): decoding stops once
#: ``beam_size x patience`` hypotheses have ended. 0.5 at beam 2 stops at the first ended one
#: instead of running on for the other beam (often 10-20 steps past the best hypothesis' end on
#: a 5-s clip); the beam-5 retry of weak windows keeps patience 1.
DEFAULT_PATIENCE = 0.5
#: A window decoded at a narrower beam is decoded again at this beam when it comes out weak
#: (:func:`needs_fallback`): beam 2 sometimes ends a 26-s window after one word ("그러면...",
#: avg_logprob -1.28, where beam 5 heard 159 characters; bench/long.py's clip).
FALLBACK_BEAM = 5
#: A weak window is decoded again only when its text has fewer characters per second of window
#: than this (:func:`needs_fallback`). Korean speech runs at 4-8 syllables a second; beam 2's
#: early stops leave well under 1 ("그러면..." in 26 s).
RETRY_CHARS_PER_SECOND = 2.0
#: Default CTranslate2 workers of the ASR's own Whisper model (weights shared between them), each
#: with cpu_threads // workers threads (1 on 2 cores): beside the speech member's encoder pass a
#: one-thread decoder is faster than the shared two-thread model (5-s clip, 2 cores: 397 ms vs
#: 517 ms per analyze(); two-thread OpenMP spins against the speech member), and two workers
#: decode two batches of a long clip at once. Costs ~80-150 MiB of RSS for the second model.
DEFAULT_WORKERS = 2
CHUNK_SECONDS = 28.0  # longest window Whisper can take (plus PAD_SECONDS of silence <= 30 s)
#: Default longest window: VAD speech is grouped into windows of at most this many seconds.
#: Chosen by bench/asr_window.py on long clips no other benchmark reports on (KEMDy20 joined,
#: KEMDy19's last sessions joined): the shortest window within +0.01 mean CER of 28-s windows.
#: Shorter windows cost less (the encoder's attention grows with the square of the window, and
#: a long clip's decoding spreads over more, smaller batches); 10-12-s windows cut utterances
#: and cost more CER. Audio of at most CHUNK_SECONDS is never cut (:meth:`_speech_windows`).
WINDOW_SECONDS = 14.0
PAD_SECONDS = 1.0  # silence after each window, so that the decoder hears the speech end
GRID_SECONDS = 2.0  # windows are padded up to a multiple of this: batch-mates never change a result
#: Shortest padded window: with less silence after it Whisper loops on short clips (a 1-s "여보"
#: padded to 2 s became "여보 여보 여보 여보", padded to 8 s "여보"; KEMDy, bench/asr_cer.py).
MIN_WINDOW_SECONDS = 8.0
TOKENS_PER_SECOND = 15  # cap on new tokens: a loop stops at 20 + 15 per second of audio


#: At most this much padded audio times beam width is decoded at once, over all workers (two
#: workers at beam 2: 3 windows of 8 s or one of 16 s each): the beams' cached
#: encoder states grow with it (8 x 30 s at beam 5 peaked at 1.2 GiB RSS on a 10-minute clip;
#: two workers with the full budget each, 1.24 GiB; with half each 0.81 GiB), and bigger batches
#: read the decoder's weights once for more windows (its steps are bound by those reads on CPU).
#: At 120 (one 16-s window per worker) what a long clip's analyze() adds stops growing with the
#: clip's length (bench/long.py); at 320 (two windows of up to 30 s per worker) it rose by ~115
#: MiB from 60 to 180 s. Short clips decode about as fast in batches of 3 as of 8.
BATCH_BEAM_SECONDS = 120.0
#: The VAD runs on blocks of this many seconds (Silero's memory grows with the audio it is given:
#: ~0.4 MiB per second in one call); spans that meet at a block boundary are joined.
VAD_BLOCK_SECONDS = 60.0


def release_free_memory() -> None:
    """Hand freed heap memory back to the system (glibc's ``malloc_trim``; nothing elsewhere).

    CTranslate2's batches of a long clip free and allocate hundreds of MiB of differently sized
    buffers; without a trim the freed pages stay in the process and its RSS creeps up with the
    clip's length."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def vad_blocks(clip: np.ndarray, **options):
    """``(start, end)`` sample spans of faster-whisper's Silero VAD (``VadOptions(**options)``)
    on :data:`VAD_BLOCK_SECONDS` blocks of ``clip``, in order; raises ``ImportError`` without it."""
    import faster_whisper  # noqa: F401  (the package first: see hearing._import_asr_packages)
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    block = int(VAD_BLOCK_SECONDS * SAMPLE_RATE)
    for offset in range(0, clip.size, block):
        spans = get_speech_timestamps(clip[offset:offset + block], VadOptions(**options))
        if clip.size > block:  # else each block's freed buffers stay resident: RSS grows with
            release_free_memory()  # the clip (not for one block: pages faulted in again cost time)
        for span in spans:
            yield span["start"] + offset, span["end"] + offset


def vad_spans(clip: np.ndarray, max_seconds: float, name: str = "audio") -> list[dict]:
    """Speech ``[{start, end}]`` (samples) found by the VAD (:func:`vad_blocks`); spans that meet
    at a block boundary are joined."""
    spans: list[dict] = []
    try:
        for start, end in vad_blocks(clip, max_speech_duration_s=max_seconds):
            if spans and start <= spans[-1]["end"] and end - spans[-1]["start"] <= \
                    max_seconds * SAMPLE_RATE:
                spans[-1]["end"] = max(end, spans[-1]["end"])
            else:
                spans.append({"start": start, "end": end})
    except Exception as exc:
        raise ASRError(f"the VAD failed on {name}: {exc}") from exc
    return spans


def needs_fallback(segment: dict) -> bool:
    """A decoded window to decode again at :data:`FALLBACK_BEAM`: text that compresses above
    :data:`COMPRESSION_RATIO_MAX` (a loop), or an average log-probability below
    :data:`LOGPROB_SILENT` (Whisper's own retry criteria) with text short for the window's length
    (fewer than :data:`RETRY_CHARS_PER_SECOND` characters per second: beam 2 stopped early). A
    weak window whose text is as long as speech of that length runs is kept: at beam 5 it comes
    out as uncertain (unclear or synthetic speech), at twice the cost."""
    if segment["compression_ratio"] > COMPRESSION_RATIO_MAX:
        return True
    if segment["avg_logprob"] >= LOGPROB_SILENT:
        return False
    seconds = segment["end"] - segment["start"]
    return len(normalize_for_cer(segment["text"])) < RETRY_CHARS_PER_SECOND * seconds


def _grid_samples(seconds: float) -> int:
    padded = min(30.0, max(MIN_WINDOW_SECONDS,
                           GRID_SECONDS * np.ceil((seconds + PAD_SECONDS) / GRID_SECONDS)))
    return int(padded * SAMPLE_RATE)


class FasterWhisperASR:
    """Whisper (CTranslate2, int8, CPU) through faster-whisper; Korean by default.

    The default decoder (``decoder="fast"``) is deterministic and cheap: Silero VAD
    (faster-whisper's own) finds the speech, grouped into windows of at most ``window_seconds``
    (:data:`WINDOW_SECONDS`; audio of up to 28 s, the most Whisper takes with the padding, is one
    window); each window plus 1 s of silence, padded to a 2-s grid (at least 8 s, not Whisper's 30 s), is encoded and decoded with a fixed beam
    (``beam_size`` 2; 1 is greedy) and temperature 0; a window that loops or comes out weak with
    short text (:func:`needs_fallback`) is decoded again at
    :data:`FALLBACK_BEAM` and the likelier decoding kept (no temperature); windows of one size share
    batches of ``batch_size`` (fewer when long: :data:`BATCH_BEAM_SECONDS`), and
    ``workers`` CTranslate2 workers (:data:`DEFAULT_WORKERS`) decode batches in parallel. The hallucination guard
    (:func:`apply_guard`) trims loops and drops no-speech or repetitive segments.
    ``decoder="transcribe"`` is ``WhisperModel.transcribe`` with the given options (see
    :data:`BASELINE` for the old default).

    With no ``model_dir``, ``workers=1`` and no ``cpu_threads`` it uses the shared Whisper-base
    model assembled from the pinned wheels (:func:`emoens.models.whisper.get_model`), else its own
    copy of those files (the default: ``workers`` of ``cpu_threads // workers`` threads); a
    user-given ``model_dir`` that holds the Whisper-base files is hash-checked before loading.
    """

    name = "faster-whisper"

    def __init__(self, model_dir: str | os.PathLike | None = None, *, language: str = "ko",
                 beam_size: int = DEFAULT_BEAM, temperature: float | Sequence[float] = 0.0,
                 vad_filter: bool = True, guard: bool = True, decoder: str = "fast",
                 batch_size: int = 8, workers: int = DEFAULT_WORKERS, timestamps: bool = False,
                 window_seconds: float = WINDOW_SECONDS, patience: float = DEFAULT_PATIENCE,
                 cpu_threads: int | None = None, **_: Any):
        if decoder not in ("fast", "transcribe"):
            raise ASRError(f"unknown faster-whisper decoder {decoder!r}: choose fast or transcribe")
        temps = [float(temperature)] if np.isscalar(temperature) else [float(t) for t in temperature]
        if decoder == "fast" and temps != [0.0]:
            raise ASRError("the fast decoder is deterministic (temperature 0, no fallback): use "
                           "decoder='transcribe' for temperature fallback")
        self.model_dir = Path(model_dir) if model_dir else None
        self.language = language
        self.beam_size = max(1, int(beam_size))
        self.temperature = temps
        self.vad_filter = bool(vad_filter)
        self.guard = bool(guard)
        self.decoder = decoder
        self.batch_size = max(1, int(batch_size))
        self.workers = max(1, int(workers))
        self.timestamps = bool(timestamps)
        self.window_seconds = min(float(window_seconds), CHUNK_SECONDS)
        if not 0 < float(patience) <= 1:
            raise ASRError(f"patience={patience}: give a number in (0, 1]")
        self.patience = float(patience)
        self.cpu_threads = cpu_threads
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    @property
    def model(self):
        """The loaded ``faster_whisper.WhisperModel`` (loaded on first use)."""
        with self._lock:
            if self._model is None:
                self._model = self._load()
        return self._model

    def _load(self):
        from emoens.models import whisper

        try:
            if self.model_dir is None and self.workers == 1 and self.cpu_threads is None:
                return whisper.get_model()  # shared with the speech member
            # (whisper.get_model(n) would replace the shared model under the speech member)
            directory = self.model_dir or whisper.whisper_model_dir()
            if self.model_dir is not None:
                if not self.model_dir.is_dir():
                    raise ASRError(f"Whisper model folder {self.model_dir} not found")
                if (self.model_dir / "model.bin").is_file() and \
                        (self.model_dir / "model.bin").stat().st_size == whisper.MODEL_SIZE:
                    whisper.check_model_dir(self.model_dir)  # it claims to be Whisper-base
            from faster_whisper import WhisperModel

            threads = self.cpu_threads or max(1, whisper.default_threads() // self.workers)
            return WhisperModel(str(directory), device="cpu", compute_type="int8",
                                cpu_threads=threads, num_workers=self.workers,
                                local_files_only=True)
        except ImportError as exc:
            raise ASRError(f"the faster-whisper back-end needs faster-whisper ({exc}): "
                           "pip install -r requirements.txt") from exc
        except whisper.WhisperError as exc:
            raise ASRError(f"faster-whisper back-end: {exc}") from exc
        except ASRError:
            raise
        except Exception as exc:  # CTranslate2 raises RuntimeError on unreadable files
            raise ASRError(f"cannot load the Whisper model from {self.model_dir}: {exc}") from exc

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from faster_whisper.tokenizer import Tokenizer

            model = self.model
            self._tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual,
                                        task="transcribe", language=self.language)
        return self._tokenizer

    def options(self) -> dict:
        """The decoding options, JSON-able (for bench results and model cards)."""
        fallback = FALLBACK_BEAM if self.decoder == "fast" and self.beam_size < FALLBACK_BEAM \
            else None
        return {"decoder": self.decoder, "beam_size": self.beam_size, "fallback_beam": fallback,
                "temperature": self.temperature, "vad_filter": self.vad_filter,
                "guard": self.guard, "batch_size": self.batch_size, "workers": self.workers,
                "window_seconds": self.window_seconds,
                "patience": self.patience if self.decoder == "fast" else None}

    # ---------------------------------------------------------------- public entry points

    def transcribe(self, samples, encoder_output=None, *, name: str = "audio") -> Transcript:
        """Transcribe float32 16 kHz ``samples``.

        ``encoder_output``: the ``StorageView`` of ``whisper.encode(samples, pad=True)`` to reuse
        (only for audio of at most 30 s); the encoder is then not run again.
        """
        samples = _check_samples(samples, name)
        if encoder_output is not None:
            if samples.size > 30 * SAMPLE_RATE:
                raise ASRError(f"{name}: a precomputed encoder output covers at most 30 s; "
                               f"this audio is {samples.size / SAMPLE_RATE:.1f} s")
            return self._guarded([self._decode_encoded(encoder_output, [(0.0, samples.size)],
                                                       name)[0]], None)
        if self.decoder == "transcribe":
            return self._transcribe_whisper(samples, name)
        return self.transcribe_batch([samples], names=[name])[0]

    def transcribe_batch(self, items: Sequence, *, names: Sequence[str] | None = None
                         ) -> list[Transcript]:
        """Transcribe many clips; windows of all of them are decoded together in batches.

        Each clip's transcript is the same as :meth:`transcribe` gives it alone (windows are padded
        to a fixed grid, never to their batch-mates' length).
        """
        names = list(names) if names is not None else [f"item {i}" for i in range(len(items))]
        clips = [_check_samples(s, n) for s, n in zip(items, names)]
        self.model  # noqa: B018  (a missing or corrupted model is reported even for silence)
        if self.decoder == "transcribe":
            return [self._transcribe_whisper(c, n) for c, n in zip(clips, names)]
        windows, speech = [], []
        for j, clip in enumerate(clips):
            spans, seconds = self._speech_windows(clip, names[j])
            windows += [(j, start, end) for start, end in spans]
            speech.append(seconds)
        decoded = self._decode_windows(clips, windows, names)
        per_clip: list[list[dict]] = [[] for _ in clips]
        for (j, _, _), segment in zip(windows, decoded):
            per_clip[j].append(segment)
        return [self._guarded(segs, seconds) for segs, seconds in zip(per_clip, speech)]

    # ---------------------------------------------------------------- the fast decoder

    def _speech_windows(self, clip: np.ndarray, name: str) -> tuple[list[tuple[int, int]], float | None]:
        """``[(start, end)]`` sample ranges to decode and the seconds of speech found (None
        without VAD): audio of at most :data:`CHUNK_SECONDS` is one window (cut at 14 s, the
        clips of bench/asr_cer.py's subset that are longer lost context: CER 0.2186 against
        0.2127 whole); in longer audio the VAD speech is grouped into windows of at most
        ``window_seconds``."""
        fits_one = clip.size <= CHUNK_SECONDS * SAMPLE_RATE
        seconds_max = CHUNK_SECONDS if fits_one else self.window_seconds
        limit = int(seconds_max * SAMPLE_RATE)
        if not self.vad_filter:
            return [(s, min(s + limit, clip.size)) for s in range(0, clip.size, limit)], None
        spans = vad_spans(clip, seconds_max, name)
        seconds = sum(s["end"] - s["start"] for s in spans) / SAMPLE_RATE
        groups: list[list[int]] = []
        for span in spans:
            if groups and span["end"] - groups[-1][0] <= limit:
                groups[-1][1] = span["end"]
            else:
                groups.append([span["start"], span["end"]])
        return [(int(s), int(min(e, clip.size))) for s, e in groups], round(seconds, 3)

    def _decode_windows(self, clips, windows, names) -> list[dict]:
        """Decode every window; same-grid windows share batches, batches go to the workers."""
        by_grid: dict[int, list[int]] = {}
        for k, (j, start, end) in enumerate(windows):
            by_grid.setdefault(_grid_samples((end - start) / SAMPLE_RATE), []).append(k)
        batches = []
        for grid, ks in sorted(by_grid.items()):
            budget = BATCH_BEAM_SECONDS / self.workers  # the workers decode batches at once
            size = max(1, min(self.batch_size, int(budget * SAMPLE_RATE
                                                   // (grid * self.beam_size))))
            batches += [(grid, ks[i:i + size]) for i in range(0, len(ks), size)]

        def run(batch):
            grid, ks = batch
            audio = np.zeros((len(ks), grid), np.float32)
            for row, k in enumerate(ks):
                j, start, end = windows[k]
                audio[row, :end - start] = clips[j][start:end]
            return ks, self._decode_audio(audio, [windows[k][1:] for k in ks],
                                          names[windows[ks[0]][0]], trim=len(batches) > 1)

        out: list[dict | None] = [None] * len(windows)
        if self.workers > 1 and len(batches) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(self.workers) as pool:
                done = list(pool.map(run, batches))
        else:
            done = [run(b) for b in batches]
        for ks, segments in done:
            for k, segment in zip(ks, segments):
                out[k] = segment
        return out  # type: ignore[return-value]

    def _decode_audio(self, audio: np.ndarray, spans, name: str, trim: bool = False) -> list[dict]:
        """Encode a (batch, samples) array of padded windows once and decode it; ``trim``: hand
        freed memory back afterwards (:func:`release_free_memory`; one of many batches: a lone
        batch's pages would only be faulted in again by the next request, ~8 % of a 5-s clip's
        analyze() time)."""
        import ctranslate2

        from emoens.models import whisper

        model = self.model
        try:
            rows = []
            # One row at a time; only the encoder states are batched for the decoder. The
            # encoder's attention holds ~0.15 GB per 30-s row at once (8 heads x 1500 x 1500
            # floats, twice), so a batch of rows raised a long clip's peak RSS by that much per
            # row and worker (10-min clip, ASR alone: 1236 MiB batched, 1097 row by row).
            for row in audio:
                rows.append(np.asarray(model.encode(whisper.window_mel(row, model))))
            encoded = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.concatenate(rows)))
        except Exception as exc:
            raise ASRError(f"the Whisper encoder failed on {name}: {exc}") from exc
        del rows
        try:
            return self._decode_encoded(encoded, spans, name)
        finally:
            if trim:
                release_free_memory()

    def _decode_encoded(self, encoded, spans, name: str) -> list[dict]:
        """Beam decoding of an encoder output; one segment dict per row. Rows that come out
        weak (:func:`needs_fallback`) are decoded again with :data:`FALLBACK_BEAM`, and the
        likelier of the two is kept (deterministic: no temperature)."""
        seconds = max(end - start for start, end in spans) / SAMPLE_RATE
        max_length = int(min(448, 20 + TOKENS_PER_SECOND * seconds))
        segments = [self._segment(span, result) for span, result in zip(
            spans, self._generate(encoded, len(spans), self.beam_size, max_length, name,
                                  self.patience))]
        weak = [i for i, seg in enumerate(segments) if needs_fallback(seg)]
        if weak and self.beam_size < FALLBACK_BEAM:
            import ctranslate2

            rows = np.asarray(encoded, dtype=np.float32)
            again = ctranslate2.StorageView.from_array(np.ascontiguousarray(rows[weak]))
            for i, result in zip(weak, self._generate(again, len(weak), FALLBACK_BEAM,
                                                      max_length, name)):
                retry = self._segment(spans[i], result)
                if retry["avg_logprob"] > segments[i]["avg_logprob"]:
                    segments[i] = retry
        return segments

    def _generate(self, encoded, rows: int, beam_size: int, max_length: int, name: str,
                  patience: float = 1.0):
        tok = self.tokenizer
        prompt = list(tok.sot_sequence) + ([] if self.timestamps else [tok.no_timestamps])
        try:
            return self.model.model.generate(
                encoded, [prompt] * rows, beam_size=beam_size, max_length=max_length,
                patience=patience, return_scores=True, return_no_speech_prob=True,
                suppress_blank=True)
        except Exception as exc:
            raise ASRError(f"faster-whisper failed on {name}: {exc}") from exc

    def _segment(self, span: tuple[int, int], result) -> dict:
        tok = self.tokenizer
        ids = [t for t in result.sequences_ids[0] if t < tok.eot]  # no timestamp tokens
        text = tok.decode(ids).strip()
        n = len(result.sequences_ids[0])
        return {"start": round(span[0] / SAMPLE_RATE, 2), "end": round(span[1] / SAMPLE_RATE, 2),
                "text": text, "avg_logprob": round(float(result.scores[0]) * n / (n + 1), 4),
                "no_speech_prob": round(float(result.no_speech_prob), 4),
                "compression_ratio": round(compression_ratio(text), 4)}

    def _guarded(self, segments: list[dict], speech_seconds: float | None) -> Transcript:
        dropped: list[dict] = []
        if self.guard:
            segments, dropped = apply_guard(segments, vad=speech_seconds is not None)
        segments = [s for s in segments if s["text"]]
        return Transcript(text=" ".join(s["text"] for s in segments).strip(), backend=self.name,
                          segments=segments, language=self.language, guard_dropped=bool(dropped),
                          dropped=dropped, speech_seconds=speech_seconds,
                          **weighted_confidence(segments))

    # ---------------------------------------------------------------- WhisperModel.transcribe

    def _transcribe_whisper(self, samples: np.ndarray, name: str) -> Transcript:
        """``WhisperModel.transcribe`` with this back-end's options (the old default path)."""
        model = self.model
        try:
            segments, _ = model.transcribe(
                samples, language=self.language, task="transcribe", beam_size=self.beam_size,
                temperature=self.temperature, vad_filter=self.vad_filter,
                condition_on_previous_text=False)
            segments = list(segments)
        except Exception as exc:
            raise ASRError(f"faster-whisper failed on {name}: {exc}") from exc
        parts = [{"start": round(float(s.start), 2), "end": round(float(s.end), 2),
                  "text": s.text.strip(), "avg_logprob": round(float(s.avg_logprob), 4),
                  "no_speech_prob": round(float(s.no_speech_prob), 4),
                  "compression_ratio": round(float(s.compression_ratio), 4)}
                 for s in segments if s.text.strip()]
        return self._guarded(parts, None)


def __getattr__(name: str):
    """``TransformersASR`` and ``VoskASR`` live in :mod:`emoens.asr_backends` (loaded on use)."""
    if name in ("TransformersASR", "VoskASR"):
        from emoens import asr_backends

        return getattr(asr_backends, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_asr(backend: str | None = "faster-whisper", **options: Any):
    """The ASR object for ``backend`` (``None``/``"none"`` gives ``None``). Raises :class:`ASRError`
    for an unknown or unavailable back-end. ``options`` go to the back-end (``model``, ``model_dir``,
    ``language``, ``beam_size``…)."""
    if backend in (None, "none", ""):
        return None
    if backend not in BACKENDS:
        raise ASRError(f"unknown ASR back-end {backend!r}: choose one of {', '.join(BACKENDS)}")
    if backend == "faster-whisper":
        return FasterWhisperASR(**options)
    return __getattr__({"transformers": "TransformersASR", "vosk": "VoskASR"}[backend])(**options)



def normalize_for_cer(text: str) -> str:
    """Text as scored by :func:`character_error_rate`: lower case, without spaces and punctuation
    (Korean spacing and punctuation vary between transcribers; the characters are what count)."""
    import unicodedata

    text = unicodedata.normalize("NFC", str(text)).lower()
    return "".join(ch for ch in text if ch.isalnum())


def character_error_rate(references: str | list[str], hypotheses: str | list[str]) -> float:
    """Corpus CER (jiwer: total character edits / total reference characters) after
    :func:`normalize_for_cer`; pairs whose normalised reference is empty are skipped."""
    import jiwer

    refs = [references] if isinstance(references, str) else list(references)
    hyps = [hypotheses] if isinstance(hypotheses, str) else list(hypotheses)
    if len(refs) != len(hyps):
        raise ASRError(f"{len(refs)} references but {len(hyps)} hypotheses")
    pairs = [(normalize_for_cer(r), normalize_for_cer(h)) for r, h in zip(refs, hyps)]
    pairs = [(r, h) for r, h in pairs if r]
    if not pairs:
        raise ASRError("no non-empty reference transcript to score")
    # jiwer needs non-empty hypotheses; a single space scores as all deletions
    return float(jiwer.cer([r for r, _ in pairs], [h or " " for _, h in pairs]))
