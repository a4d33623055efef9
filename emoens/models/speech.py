"""Speech members: a ``transformers`` audio classifier (wav2vec2, WavLM, HuBERT, …) over the 7 classes.

The model is an ordinary ``AutoModelForAudioClassification`` (``Wav2Vec2ForSequenceClassification``
for wav2vec2), saved with ``save_pretrained`` (safetensors), so ``AutoModelForAudioClassification``
and ``pipeline("audio-classification")`` load it. Batches are zero-padded with an attention mask,
which the model uses both in its transformer and in the mean pooling over frames (padding never
enters the pooled vector). Training-time options that inference must repeat (time reversal, maximum
length) are stored in the model's ``config.json`` under ``emoens_*`` keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from emoens.labels import LABELS
from emoens.models.common import (ModelError, label_kwargs, label_permutation, load_pretrained,
                                  pretrained_from_base)

DEFAULT_SPEECH_BASE = "kresnik/wav2vec2-large-xlsr-korean"
SAMPLE_RATE = 16000


def pick_device(device: str | None = None) -> torch.device:
    """``device`` if given, else CUDA when present, else CPU."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def make_feature_extractor(base: str | Path | None = None, **kwargs):
    """The base's feature extractor, or a plain 16 kHz normalising one when it has none.

    ``return_attention_mask`` is always on: emoens pads batches and masks the padding.
    """
    from transformers import AutoFeatureExtractor, Wav2Vec2FeatureExtractor

    extractor = None
    if base is not None:
        try:
            extractor = AutoFeatureExtractor.from_pretrained(str(base), **kwargs)
        except (OSError, ValueError):
            extractor = None
    if extractor is None:
        extractor = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0,
                                             do_normalize=True, return_attention_mask=True)
    extractor.return_attention_mask = True
    return extractor


def build_speech_model(base: str | Path | None = DEFAULT_SPEECH_BASE, *, model_config: dict | None = None,
                       freeze_feature_encoder: bool = True, config_overrides: dict | None = None,
                       local_files_only: bool = False):
    """A fresh audio classifier over the 7 classes, and its feature extractor.

    ``base`` is a Hub id or a local directory of a pretrained encoder (its weights are loaded, the
    classification head is new). With ``base=None``, ``model_config`` (a dict with ``model_type``,
    e.g. ``{"model_type": "wav2vec2", "hidden_size": 32, …}``) builds a random-weight model.
    """
    from transformers import AutoConfig, AutoModelForAudioClassification

    overrides = dict(config_overrides or {})
    overrides.update(label_kwargs())
    if base is None:
        if not model_config or "model_type" not in model_config:
            raise ModelError("a speech model needs a `base` (Hub id or directory) or a `model_config` "
                             "with a `model_type` (e.g. wav2vec2)")
        cfg = dict(model_config)
        config = AutoConfig.for_model(cfg.pop("model_type"), **cfg, **overrides)
        model = AutoModelForAudioClassification.from_config(config)
        extractor = make_feature_extractor(None)
    else:
        model = pretrained_from_base(AutoModelForAudioClassification, base, overrides,
                                     local_files_only=local_files_only, modality="speech")
        extractor = make_feature_extractor(base, local_files_only=local_files_only)
    if freeze_feature_encoder and hasattr(model, "freeze_feature_encoder"):
        model.freeze_feature_encoder()
    return model, extractor


def pad_batch(waves: Sequence[np.ndarray], extractor) -> dict[str, torch.Tensor]:
    """Normalise, zero-pad and mask a list of 16 kHz float32 arrays (the feature extractor's job)."""
    batch = extractor([np.asarray(w, dtype=np.float32) for w in waves], sampling_rate=SAMPLE_RATE,
                      padding=True, return_attention_mask=True, return_tensors="pt")
    return {"input_values": batch["input_values"], "attention_mask": batch["attention_mask"]}


def prepare_wave(wave: np.ndarray, *, reverse: bool = False, max_seconds: float | None = None,
                 min_samples: int = 400, rng: torch.Generator | None = None, random_crop: bool = False
                 ) -> np.ndarray:
    """One waveform as the model sees it: optionally cropped to ``max_seconds`` (a random window
    when ``random_crop``, else the start), optionally time-reversed, at least ``min_samples`` long
    (zero-padded: the convolutional encoder needs a minimum input)."""
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    if max_seconds:
        limit = int(max_seconds * SAMPLE_RATE)
        if wave.size > limit:
            start = 0
            if random_crop:
                start = int(torch.randint(0, wave.size - limit + 1, (1,), generator=rng).item())
            wave = wave[start:start + limit]
    if reverse:
        wave = wave[::-1]
    if wave.size < min_samples:
        wave = np.pad(wave, (0, min_samples - wave.size))
    return np.ascontiguousarray(wave)


class SpeechMember:
    """A loaded speech classifier: ``predict_proba(list of float32 16 kHz arrays) -> (n, 7)``."""

    modality = "speech"

    def __init__(self, model, extractor, *, path: str | Path = "", device: str | None = None,
                 batch_size: int = 8, max_seconds: float | None = None, reverse: bool | None = None):
        self.path = Path(path)
        self.device = pick_device(device)
        self.model = model.to(self.device).eval()
        self.extractor = extractor
        self.batch_size = max(1, int(batch_size))
        config = model.config
        self.reverse = bool(getattr(config, "emoens_reverse_audio", False)) if reverse is None else reverse
        self.max_seconds = max_seconds if max_seconds is not None else getattr(config, "emoens_max_seconds", None)
        self.permutation = label_permutation(config, self.path or "<in memory>")

    @torch.inference_mode()
    def predict_proba(self, waves: Sequence[np.ndarray], progress: bool = False) -> np.ndarray:
        """Probabilities over the 7 classes (canonical order), one row per waveform."""
        waves = [prepare_wave(w, reverse=self.reverse, max_seconds=self.max_seconds) for w in waves]
        out = np.zeros((len(waves), len(LABELS)), dtype=np.float32)
        if not waves:
            return out
        # Similar lengths together: less padding, faster batches.
        order = np.argsort([w.size for w in waves], kind="stable")
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="speech", unit="batch")
        for idx in batches:
            inputs = pad_batch([waves[i] for i in idx], self.extractor)
            inputs = {k: v.to(self.device) for k, v in inputs.items()}
            logits = self.model(**inputs).logits.float()
            out[idx] = torch.softmax(logits, dim=-1).cpu().numpy()[:, self.permutation]
        return out


def load_speech_model(path: str | Path):
    """The ``AutoModelForAudioClassification`` and feature extractor saved in ``path``."""
    from transformers import AutoModelForAudioClassification

    model = load_pretrained(AutoModelForAudioClassification, path, "speech")
    return model, make_feature_extractor(path, local_files_only=True)


def load_speech_member(path: Path, **options: Any) -> SpeechMember:
    """Member loader for kind ``hf-speech``; options: ``device``, ``batch_size``, ``max_seconds``,
    ``reverse`` (default: what the model's config recorded at training time)."""
    model, extractor = load_speech_model(path)
    return SpeechMember(model, extractor, path=path, **options)

