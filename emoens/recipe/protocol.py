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


def loco_oof(estimator, X, y, corpus, sample_weight=None, memo: dict | None = None,
             rows=None) -> np.ndarray:
    """Out-of-fold (n, 7) probabilities, each corpus predicted by a model fitted on the others
    (scikit-learn's ``LeaveOneGroupOut`` splits; estimators fitted on clones).

    ``rows``: indices of these rows in a larger table; with ``memo``, a model fitted on a set of
    corpora is fitted once and reused by every nested fold that trains on exactly those corpora
    (outer fold A / inner fold B and outer B / inner A share one fit).
    """
    from sklearn.base import clone
    from sklearn.model_selection import LeaveOneGroupOut

    corpus = np.asarray(corpus)
    rows = np.arange(len(y)) if rows is None else np.asarray(rows)
    proba = np.zeros((len(y), len(LABELS)))
    for train, test in LeaveOneGroupOut().split(X, y, corpus):
        key = (repr(sorted(estimator.get_params().items())), tuple(sorted(set(corpus[train]))),
               tuple(rows[train[:1]]), len(train))
        model = memo.get(key) if memo is not None else None
        if model is None:
            weight = None if sample_weight is None else np.asarray(sample_weight)[train]
            model = clone(estimator).fit(X[train], y[train], sample_weight=weight)
            if memo is not None:
                memo[key] = model
        proba[test] = model.predict_proba(X[test])
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


def concordance(a, b) -> float:
    """Lin's concordance correlation coefficient (CCC) of two rating vectors."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2:
        return float("nan")
    cov = np.mean((a - a.mean()) * (b - b.mean()))
    return float(2 * cov / (a.var() + b.var() + (a.mean() - b.mean()) ** 2 + 1e-12))
