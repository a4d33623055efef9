"""The honest cross-corpus protocol: leave-one-corpus-out folds, nested selection, scores.

Every choice of the recipe is made by :func:`loco_score` on out-of-fold predictions *inside* the
rows a model is trained on: leave one training corpus out at a time (scikit-learn's
``LeaveOneGroupOut`` through ``cross_val_predict``), and score the mean over those corpora of the
unweighted average recall (UAR), so that every corpus counts the same whatever its size.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

from emoens.evaluate import macro_f1, unweighted_recall
from emoens.labels import LABEL_TO_ID, LABELS


def label_ids(labels) -> np.ndarray:
    """Class indices (:data:`emoens.labels.LABELS` order) of label names."""
    return np.array([LABEL_TO_ID[str(l)] for l in labels], dtype=int)


def scores(y, proba) -> dict:
    """``{"uar", "macro_f1", "n"}`` of probabilities (or predicted ids) against ids ``y``."""
    proba = np.asarray(proba)
    pred = proba.argmax(axis=1) if proba.ndim == 2 else proba.astype(int)
    return {"uar": round(unweighted_recall(y, pred), 6), "macro_f1": round(macro_f1(y, pred), 6),
            "n": int(len(y))}


def per_corpus_uar(y, proba, corpus) -> float:
    """Mean over corpora of each corpus's UAR (every corpus counts the same)."""
    corpus = np.asarray(corpus)
    pred = np.asarray(proba).argmax(axis=1)
    return float(np.mean([unweighted_recall(y[corpus == c], pred[corpus == c])
                          for c in np.unique(corpus)]))


def loco_oof(estimator, X, y, corpus, sample_weight=None) -> np.ndarray:
    """Out-of-fold (n, 7) probabilities, each corpus predicted by a model fitted on the others."""
    from sklearn.model_selection import LeaveOneGroupOut, cross_val_predict

    params = {} if sample_weight is None else {"sample_weight": np.asarray(sample_weight)}
    proba = cross_val_predict(estimator, X, y, groups=corpus, cv=LeaveOneGroupOut(),
                              method="predict_proba", params=params)
    if proba.shape[1] != len(LABELS):  # y lacked a class: cross_val_predict drops its column
        full = np.zeros((len(y), len(LABELS)))
        full[:, np.unique(y)] = proba
        proba = full
    return proba


def select(candidates: Sequence[Mapping], oof: Callable[[Mapping], np.ndarray], y, corpus,
           log=print) -> tuple[Mapping, np.ndarray, list[dict]]:
    """(best candidate, its OOF probabilities, table) by :func:`per_corpus_uar` of ``oof(c)``.

    Ties keep the earlier candidate (list the simpler ones first).
    """
    table, best = [], None
    for cand in candidates:
        proba = oof(cand)
        score = per_corpus_uar(y, proba, corpus)
        table.append({**{k: (list(v) if isinstance(v, tuple) else v) for k, v in cand.items()},
                      "inner_loco_uar": round(score, 6)})
        log(f"    candidate {table[-1]}")
        if best is None or score > best[0] + 1e-9:
            best = (score, cand, proba)
    return best[1], best[2], table


def baselines(y_test, y_train) -> dict[str, np.ndarray]:
    """Predicted ids of the all-neutral and class-prior baselines (:mod:`emoens.evaluate`)."""
    from emoens.evaluate import baseline_predictions

    return baseline_predictions(y_test, y_train)


def concordance(a, b) -> float:
    """Lin's concordance correlation coefficient (CCC) of two rating vectors."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2:
        return float("nan")
    cov = np.mean((a - a.mean()) * (b - b.mean()))
    return float(2 * cov / (a.var() + b.var() + (a.mean() - b.mean()) ** 2 + 1e-12))
