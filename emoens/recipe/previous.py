"""The previous default's recipe, refitted on any fold: the baseline the new recipe must beat.

Its features (Whisper-base encoder states pooled by mean and standard deviation), heads (the
class-balanced MLP it shipped with; char TF-IDF + USE text head with C = 3 on the KEMDy
transcripts only) and fixed soft-voting fusion (speech 0.2, text 0.8), as chosen by the
previous ``emoens train-default``. Trained on the same rows as the new recipe, so the difference
between the two is the gain of method; the gain of data shows against the shipped bundle.
"""

from __future__ import annotations

import numpy as np

from emoens.recipe.speech import SpeechEmotionClassifier, class_weights

SPEECH = {"blocks": ("mean", "std"), "prosody": False, "head": "mlp", "hidden": 128,
          "alpha": 1.0, "max_iter": 100}
TEXT = {"C": 3.0, "encoder": "use", "max_features": None, "min_df": 1}
FUSION_WEIGHTS = {"speech": 0.2, "text": 0.8}


def fit_previous(data, idx) -> tuple:
    """(speech estimator, text estimator or None) of the previous recipe on rows ``idx``."""
    from emoens.recipe.text import TextEmotionClassifier

    idx = np.asarray(idx)
    y = data.y[idx]
    speech = SpeechEmotionClassifier(**SPEECH).fit(data.X[idx], y, sample_weight=class_weights(y))
    kor = data.korean(idx)
    text = None
    if len(kor):
        text = TextEmotionClassifier(**TEXT, extra=None).fit(
            data.transcripts(kor), data.y[kor], sample_weight=class_weights(data.y[kor]))
    return speech, text


def predict_previous(models, data, idx) -> dict[str, np.ndarray]:
    """Speech, text and fixed-weight ensemble probabilities of rows ``idx``."""
    speech_model, text_model = models
    idx = np.asarray(idx)
    speech = speech_model.predict_proba(data.X[idx])
    words = data.transcripts(idx)
    has = np.array([bool(w) for w in words]) & (text_model is not None)
    text = np.full_like(speech, 1.0 / 7)
    if has.any():
        text[has] = text_model.predict_proba([w for w in words if w])
    ensemble = np.where(has[:, None], FUSION_WEIGHTS["speech"] * speech + FUSION_WEIGHTS["text"] * text,
                        speech)
    return {"speech": speech, "text": text, "ensemble": ensemble, "reliability": has.astype(float)}
