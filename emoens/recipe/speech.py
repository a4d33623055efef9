"""The speech member of the default recipe as scikit-learn estimators.

``SpeechEmotionClassifier`` takes the feature rows of :mod:`emoens.recipe.speech_features`
(``[pooled encoder states | prosody]``), keeps the blocks its parameters name, standardises them
and fits a class-balanced linear (softmax regression) or small MLP head. ``to_head()`` exports
the fitted parameters as the runtime member :class:`emoens.models.speech_head.SpeechHead`
(JSON + npz, no pickle), valence/arousal regressors included when fitted.
``SpeechEnsemble`` is a soft vote of several of them (e.g. a few seeds of a small MLP beside a
linear head): one feature pass, several heads, their probabilities averaged.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from emoens.labels import LABELS
from emoens.recipe.speech_features import PROSODY_NAMES, feature_columns

N_CLASSES = len(LABELS)
TODAY_BLOCKS = ("mean", "std")  # the previous default's pooling


def balanced_weights(y, corpus) -> np.ndarray:
    """Sample weights that give every corpus the same total and, within it, every class the same.

    Weights average 1 over the rows, so regularisation strengths mean the same for any data size.
    """
    y, corpus = np.asarray(y), np.asarray(corpus)
    w = np.zeros(len(y), dtype=np.float64)
    corpora = np.unique(corpus)
    for c in corpora:
        in_c = corpus == c
        classes = np.unique(y[in_c])
        for k in classes:
            mask = in_c & (y == k)
            w[mask] = 1.0 / (len(corpora) * len(classes) * mask.sum())
    return w * len(y)


def class_weights(y) -> np.ndarray:
    """scikit-learn's ``balanced`` class weights as per-row weights (the previous recipe)."""
    from sklearn.utils.class_weight import compute_sample_weight

    return compute_sample_weight("balanced", y)


class SpeechEmotionClassifier(BaseEstimator, ClassifierMixin):
    """Standardised features -> class-balanced linear or MLP head; 7 canonical columns out.

    ``blocks``: state statistics to use (names of :data:`STATE_BLOCKS`); ``prosody``: add the
    prosodic features; ``head``: ``linear`` (``C``) or ``mlp`` (``hidden``, ``alpha``).
    Pass the corpus/class balance as ``sample_weight`` (:func:`balanced_weights`).
    """

    def __init__(self, blocks=("mean", "std", "norm_mean", "norm_std"), prosody=True,
                 head="linear", C=0.01, hidden=128, alpha=1.0, max_iter=300, random_state=0,
                 prosody_scale=1.0):
        self.blocks = blocks
        self.prosody = prosody
        self.prosody_scale = prosody_scale
        self.head = head
        self.C = C
        self.hidden = hidden
        self.alpha = alpha
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression
        from sklearn.neural_network import MLPClassifier
        from sklearn.preprocessing import StandardScaler

        self.columns_ = feature_columns(self.blocks, self.prosody)
        x = np.asarray(X, dtype=np.float64)[:, self.columns_]
        y = np.asarray(y, dtype=int)
        sample_weight = class_weights(y) if sample_weight is None else np.asarray(sample_weight, float)
        sample_weight = sample_weight / sample_weight.mean()  # the same C for any subset of rows
        self.scaler_ = StandardScaler().fit(x)
        if self.prosody and self.prosody_scale != 1.0:
            # standardised prosody x prosody_scale: 24 values against ~1,000 encoder statistics
            # would otherwise weigh little under one L2 penalty
            self.scaler_.scale_[-len(PROSODY_NAMES):] /= self.prosody_scale
        xs = self.scaler_.transform(x)
        if self.head == "linear":
            self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter)
        else:
            self.model_ = MLPClassifier(hidden_layer_sizes=(self.hidden,), alpha=self.alpha,
                                        max_iter=self.max_iter, random_state=self.random_state)
        with warnings.catch_warnings():  # a fixed iteration budget is part of the recipe
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model_.fit(xs, y, sample_weight=sample_weight)
        self.classes_ = np.arange(N_CLASSES)
        return self

    def predict_proba(self, X) -> np.ndarray:
        proba = self.model_.predict_proba(self.scaler_.transform(np.asarray(X, np.float64)[:, self.columns_]))
        out = np.zeros((proba.shape[0], N_CLASSES))
        out[:, self.model_.classes_] = proba
        return out

    def predict(self, X) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)

    def head_part(self, weight: float = 1.0):
        """This fitted estimator as one :class:`~emoens.models.speech_head.HeadPart`."""
        from emoens.models.light import Classifier
        from emoens.models.speech_head import HeadPart

        kind, arrays = Classifier.export(self.model_, self.scaler_)
        return HeadPart(Classifier(kind, arrays), [LABELS[int(c)] for c in self.model_.classes_],
                        list(self.blocks), bool(self.prosody), float(weight),
                        {"head": self.head, "C": self.C, "hidden": self.hidden, "alpha": self.alpha,
                         "prosody_scale": self.prosody_scale, "random_state": self.random_state})

    def to_head(self, valence_arousal=None):
        """The fitted estimator as a runtime :class:`~emoens.models.speech_head.SpeechHead`.

        ``valence_arousal``: ``(coef, intercept, blocks, prosody)`` of
        :meth:`ValenceArousalRegressor.export`, or None."""
        from emoens.models.speech_head import SpeechHead

        return SpeechHead([self.head_part()], valence_arousal=valence_arousal)


def make_speech(params: dict):
    """The speech estimator a recipe candidate names: :class:`SpeechEnsemble` when it lists
    ``members``, else one :class:`SpeechEmotionClassifier`."""
    return SpeechEnsemble(**params) if "members" in params else SpeechEmotionClassifier(**params)


class SpeechEnsemble(BaseEstimator, ClassifierMixin):
    """Soft vote of :class:`SpeechEmotionClassifier` members (``members``: their parameters).

    ``weights``: one per member (default equal), normalised to sum to 1. ``n_jobs``: members
    fitted in that many threads; every member is deterministic, so the result is too.
    """

    def __init__(self, members=(), weights=None, n_jobs=None):
        self.members = members
        self.weights = weights
        self.n_jobs = n_jobs

    def fit(self, X, y, sample_weight=None):
        from concurrent.futures import ThreadPoolExecutor

        if not self.members:
            raise ValueError("SpeechEnsemble needs at least one member")
        weights = np.ones(len(self.members)) if self.weights is None else np.asarray(self.weights, float)
        if weights.shape != (len(self.members),) or (weights <= 0).any():
            raise ValueError(f"SpeechEnsemble: {len(self.members)} members need as many positive weights")
        self.weights_ = weights / weights.sum()
        fit = lambda params: SpeechEmotionClassifier(**params).fit(X, y, sample_weight)  # noqa: E731
        with ThreadPoolExecutor(max(1, int(self.n_jobs or 1))) as pool:  # numpy releases the GIL
            self.estimators_ = list(pool.map(fit, [dict(p) for p in self.members]))
        self.classes_ = np.arange(N_CLASSES)
        return self

    def predict_proba(self, X) -> np.ndarray:
        return sum(w * est.predict_proba(X) for w, est in zip(self.weights_, self.estimators_))

    def predict(self, X) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)

    def to_head(self, valence_arousal=None):
        """The fitted vote as one runtime :class:`~emoens.models.speech_head.SpeechHead`."""
        from emoens.models.speech_head import SpeechHead

        return SpeechHead([est.head_part(w) for est, w in zip(self.estimators_, self.weights_)],
                          valence_arousal=valence_arousal)


class ValenceArousalRegressor(BaseEstimator):
    """Ridge regression of (valence, arousal) on 1–5 from standardised speech features."""

    def __init__(self, blocks=("mean", "std", "norm_mean", "norm_std"), prosody=True, alpha=1000.0):
        self.blocks = blocks
        self.prosody = prosody
        self.alpha = alpha

    def fit(self, X, Y, sample_weight=None):
        from sklearn.linear_model import Ridge
        from sklearn.preprocessing import StandardScaler

        self.columns_ = feature_columns(self.blocks, self.prosody)
        x = np.asarray(X, dtype=np.float64)[:, self.columns_]
        self.scaler_ = StandardScaler().fit(x)
        self.model_ = Ridge(alpha=self.alpha).fit(self.scaler_.transform(x), np.asarray(Y, float),
                                                  sample_weight=sample_weight)
        return self

    def predict(self, X) -> np.ndarray:
        x = self.scaler_.transform(np.asarray(X, np.float64)[:, self.columns_])
        return np.clip(self.model_.predict(x), 1.0, 5.0)

    def export(self) -> tuple[np.ndarray, np.ndarray, list, bool]:
        """(coef (2, d), intercept (2,), blocks, prosody): the same map on the raw
        (unstandardised) features of the blocks (+ prosody) it reads."""
        coef = self.model_.coef_ / self.scaler_.scale_
        intercept = self.model_.intercept_ - coef @ self.scaler_.mean_
        return coef, intercept, list(self.blocks), bool(self.prosody)
