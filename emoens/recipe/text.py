"""The text member of the default recipe: Korean emotion text corpora, a scikit-learn-style
estimator over char TF-IDF + offline sentence embeddings, and its held-out parameter selection.

Label policies (recorded in :data:`LABEL_POLICIES`):

- ``danbal``: the corpus's own label (already our 7 classes);
- ``aihub_dialogue``: the class chosen by at least 3 of the 5 raters (``situation`` is a label of
  the whole scene, not of the sentence, and is empty for a third of the rows); other rows dropped;
- ``continuous``: the corpus's own label; ``group`` = the dialogue;
- ``kote``: KOTE test + val comments whose tags map onto exactly one of the 7 classes
  (:data:`KOTE_MAP`).

Texts that occur with two different labels are dropped; repeated texts are kept once. Big sources
are subsampled deterministically (by text hash) per class: ``max_per_class``.

Cost (2 shared CPU cores, one thread): USE embeds ~5 ms a text (11k texts in 56 s), e5 30-150 ms
a text; 123,590 texts remain after cleaning and deduplication, so ``max_per_class=400`` (~9.8k
texts) or 2000 (~33k) keeps a cold build within minutes; embeddings are cached by text hash.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from emoens.labels import LABEL_TO_ID, LABELS

log = logging.getLogger(__name__)

SOURCES = ("danbal", "aihub_dialogue", "continuous", "kote")
LABEL_POLICIES = {
    "danbal": "own label (7 classes)",
    "aihub_dialogue": "majority: the class given by >= 3 of 5 raters (situation label not used)",
    "continuous": "own label; group = dialogue",
    "kote": "KOTE test+val comments whose tags hit exactly one class (KOTE_MAP)",
}
KOTE_LABELS = (
    "불평/불만 환영/호의 감동/감탄 지긋지긋 고마움 슬픔 화남/분노 존경 기대감 우쭐댐/무시함 안타까움/실망 비장함 "
    "의심/불신 뿌듯함 편안/쾌적 신기함/관심 아껴주는 부끄러움 공포/무서움 절망 한심함 역겨움/징그러움 짜증 어이없음 "
    "없음 패배/자기혐오 귀찮음 힘듦/지침 즐거움/신남 깨달음 죄책감 증오/혐오 흐뭇함(귀여움/예쁨) 당황/난처 경악 "
    "부담/안_내킴 서러움 재미없음 불쌍함/연민 놀람 행복 불안/걱정 기쁨 안심/신뢰").split()
KOTE_MAP = {"angry": ("화남/분노", "짜증"), "disgust": ("역겨움/징그러움", "증오/혐오"),
            "fear": ("공포/무서움",), "happy": ("기쁨", "행복", "즐거움/신남"), "neutral": ("없음",),
            "sad": ("슬픔", "서러움", "절망"), "surprise": ("놀람", "경악")}
COLUMNS = ["text", "label", "source", "group"]
DEFAULT_CACHE = Path(".cache") / "text-embeddings"
CACHE_VERSION = "v1"


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- corpora


def _danbal(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return pd.DataFrame({"text": frame["text"], "label": frame["label"], "group": ""})


def _aihub(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    raters = frame[[f"rater{i}" for i in range(1, 6)]].to_numpy()
    labels = []
    for row in raters:
        values, counts = np.unique([r for r in row if r in LABEL_TO_ID], return_counts=True)
        labels.append(str(values[counts.argmax()]) if len(counts) and counts.max() >= 3 else "")
    # a run of consecutive rows by the same speaker (part, age, gender) stands for a dialogue
    speaker = frame["part"] + ":" + frame["age"] + ":" + frame["gender"]
    run = (speaker != speaker.shift()).cumsum()
    return pd.DataFrame({"text": frame["text"], "label": labels,
                         "group": "aihub:" + run.astype(str)})


def _continuous(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return pd.DataFrame({"text": frame["text"], "label": frame["label"],
                         "group": "continuous:" + frame["dialogue"]})


def _kote(paths: Sequence[Path]) -> pd.DataFrame:
    to_class = {KOTE_LABELS.index(n): label for label, names in KOTE_MAP.items() for n in names}
    texts, labels = [], []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) < 3:
                continue
            hits = {to_class[int(i)] for i in parts[2].split(",")
                    if i.strip().isdigit() and int(i) in to_class}
            if len(hits) == 1:
                texts.append(parts[1])
                labels.append(hits.pop())
    return pd.DataFrame({"text": texts, "label": labels, "group": ""})


def _source_files(data: Path) -> dict[str, list[Path]]:
    text = data / "extra" / "text"
    return {"danbal": [text / "danbal.csv"], "aihub_dialogue": [text / "aihub_dialogue_text.csv"],
            "continuous": [text / "continuous_dialogue.csv"],
            "kote": [text / "kote_test.tsv", data / "KOTE" / "val.tsv"]}


def _clean(frame: pd.DataFrame) -> pd.DataFrame:
    """Texts cleaned by ``prepare_text``; unlabelled/empty rows, conflicting texts dropped."""
    from emoens.models.text_head import prepare_text

    frame = frame.copy()
    frame["text"] = [prepare_text(t) for t in frame["text"]]
    frame = frame[(frame["text"] != "") & frame["label"].isin(LABELS)]
    n_labels = frame.groupby("text")["label"].transform("nunique")
    frame = frame[n_labels == 1].drop_duplicates("text", keep="first")
    return frame.reset_index(drop=True)


def subsample(frame: pd.DataFrame, max_per_class: int | None) -> pd.DataFrame:
    """At most ``max_per_class`` rows per (source, label), chosen by text hash (deterministic)."""
    if not max_per_class or frame.empty:
        return frame.reset_index(drop=True)
    key = frame["text"].map(_text_hash)
    order = frame.assign(_key=key).sort_values(["source", "label", "_key"], kind="mergesort")
    kept = order.groupby(["source", "label"], sort=False).head(max_per_class)
    return frame.loc[sorted(kept.index)].reset_index(drop=True)


def load_text_corpora(data_dir: str | Path, sources: Sequence[str] = SOURCES,
                      max_per_class: int | None = None) -> pd.DataFrame:
    """The Korean emotion text corpora under ``data_dir`` (``../shared/data`` layout) as one frame.

    Columns ``text`` (cleaned), ``label`` (one of the 7), ``source``, ``group`` ("" where the
    corpus has no dialogue). A missing source is skipped with a logged note; none present gives
    an empty frame. Texts are kept in memory only: never store them.
    """
    readers = {"danbal": lambda p: _danbal(p[0]), "aihub_dialogue": lambda p: _aihub(p[0]),
               "continuous": lambda p: _continuous(p[0]), "kote": _kote}
    data = Path(data_dir)
    frames = []
    for name in sources:
        if name not in readers:
            raise ValueError(f"unknown text source {name!r}: expected one of {', '.join(SOURCES)}")
        paths = [p for p in _source_files(data)[name] if p.is_file()]
        if not paths:
            log.info("text source %s not found under %s: skipped", name, data)
            continue
        frames.append(_clean(readers[name](paths)).assign(source=name))
    if not frames:
        log.info("no Korean text corpus under %s (extra/text/): text member fitted without them", data)
        return pd.DataFrame({c: pd.Series(dtype=str) for c in COLUMNS})
    frame = pd.concat(frames, ignore_index=True)[COLUMNS]
    # a text in two sources keeps its first source's row; two labels -> dropped everywhere
    n_labels = frame.groupby("text")["label"].transform("nunique")
    frame = frame[n_labels == 1].drop_duplicates("text", keep="first")
    return subsample(frame, max_per_class)


# --------------------------------------------------------------------------- embedding cache

_MEMO: dict[str, dict[str, np.ndarray]] = {}


def _store(encoder: str, cache_dir: Path | None) -> dict[str, np.ndarray]:
    """``{text hash: embedding}`` for ``encoder``, read once per process from ``cache_dir``."""
    key = f"{encoder}|{cache_dir}"
    if key not in _MEMO:
        store: dict[str, np.ndarray] = {}
        folder = Path(cache_dir) / f"{encoder}-{CACHE_VERSION}" if cache_dir else None
        for shard in sorted(folder.glob("shard-*.npz")) if folder and folder.is_dir() else ():
            try:
                with np.load(shard, allow_pickle=False) as data:
                    store.update(zip(data["keys"].tolist(), data["emb"]))
            except (OSError, ValueError, KeyError) as exc:
                log.warning("ignoring unreadable embedding cache %s: %s", shard, exc)
        _MEMO[key] = store
    return _MEMO[key]


def cached_embeddings(texts: Sequence[str], encoder: str, cache_dir: str | Path | None = DEFAULT_CACHE,
                      chunk: int = 2000) -> np.ndarray:
    """Embeddings (n, dim) float32 of cleaned ``texts``, computed once per distinct text.

    New embeddings are written to ``cache_dir/<encoder>-v1/shard-<hash>.npz`` (atomically, one
    shard per ``chunk`` texts, so an interrupted run resumes); ``cache_dir=None``: memory only.
    """
    from emoens.models.light import _save_npz
    from emoens.models.text_head import ENCODERS, sentence_embeddings

    cache_dir = Path(cache_dir) if cache_dir else None
    store = _store(encoder, cache_dir)
    keys = [_text_hash(t) for t in texts]
    missing = dict(sorted({k: t for k, t in zip(keys, texts) if k not in store}.items()))
    items = list(missing.items())
    for start in range(0, len(items), chunk):
        part = items[start:start + chunk]
        emb = sentence_embeddings([t for _, t in part], encoder)
        store.update(zip([k for k, _ in part], emb))
        if cache_dir is not None:
            names = np.array([k for k, _ in part])
            digest = hashlib.sha256("".join(names.tolist()).encode()).hexdigest()[:16]
            folder = cache_dir / f"{encoder}-{CACHE_VERSION}"
            folder.mkdir(parents=True, exist_ok=True)
            _save_npz(folder / f"shard-{digest}.npz", {"keys": names, "emb": emb})
    if not keys:
        return np.zeros((0, ENCODERS[encoder][0]), dtype=np.float32)
    return np.stack([store[k] for k in keys]).astype(np.float32)


# --------------------------------------------------------------------------- the estimator


def _label_ids(y) -> np.ndarray:
    values = list(y)
    if all(isinstance(v, (int, np.integer)) for v in values):
        return np.asarray(values, dtype=int)
    return np.asarray([LABEL_TO_ID[str(v)] for v in values], dtype=int)


def _balanced(y: np.ndarray, total: float) -> np.ndarray:
    """Per-row weights: each class present gets the same share; they sum to ``total``."""
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    weights = (1.0 / counts)[inverse]
    return weights * (total / weights.sum())


class TextEmotionClassifier(BaseEstimator, ClassifierMixin):
    """Char TF-IDF + sentence embeddings -> logistic regression, with extra text corpora.

    ``encoder``: ``use``, ``e5``, ``use+e5`` or ``none``. ``extra``: a :func:`load_text_corpora`
    frame added to *every* fit (so cross-validation over the ``fit`` rows never trains on a
    validation row); ``extra_weights``: {source: weight}, each source's total weight relative to
    the ``fit`` rows (class-balanced within each source; missing sources get 1.0, 0 drops them).
    ``y``: label names or class indices (0..6, :data:`emoens.labels.LABELS`); ``predict_proba``
    always returns the 7 canonical columns (``classes_`` = 0..6). ``cross_val_predict(...,
    method="predict_proba")`` re-encodes ``y`` and is right only when ``y`` holds all 7 classes
    (it fails otherwise): :func:`oof_proba` works for any ``y``.
    """

    def __init__(self, C: float = 1.0, encoder: str = "use", encoder_scale: float = 1.0,
                 extra: pd.DataFrame | None = None, extra_weights: Mapping[str, float] | None = None,
                 ngram_range: tuple[int, int] = (1, 3), max_features: int | None = 30000,
                 min_df: int = 2, max_iter: int = 300, cache_dir: str | None = str(DEFAULT_CACHE)):
        self.C = C
        self.encoder = encoder
        self.encoder_scale = encoder_scale
        self.extra = extra
        self.extra_weights = extra_weights
        self.ngram_range = ngram_range
        self.max_features = max_features
        self.min_df = min_df
        self.max_iter = max_iter
        self.cache_dir = cache_dir

    def _encoders(self) -> list[tuple[str, float]]:
        names = [] if self.encoder in ("none", "", None) else str(self.encoder).split("+")
        return [(n, float(self.encoder_scale)) for n in names]

    def _training_set(self, texts, y, sample_weight):
        main_w = (np.asarray(sample_weight, float) if sample_weight is not None
                  else _balanced(y, float(len(y))) if len(y) else np.zeros(0))
        reference = float(len(y)) if len(y) else 1000.0
        parts_t, parts_y, parts_w, counts = [list(texts)], [y], [main_w], {"fit": len(y)}
        extra = self.extra if self.extra is not None else pd.DataFrame(columns=COLUMNS)
        for source, rows in extra.groupby("source", sort=True):
            weight = float((self.extra_weights or {}).get(source, 1.0))
            if weight <= 0 or rows.empty:
                continue
            ids = _label_ids(rows["label"])
            parts_t.append(rows["text"].tolist())
            parts_y.append(ids)
            parts_w.append(_balanced(ids, weight * reference))
            counts[str(source)] = len(rows)
        return (sum(parts_t, []), np.concatenate(parts_y), np.concatenate(parts_w), counts)

    def _features(self, texts: Sequence[str], fit: bool = False):
        from scipy import sparse

        tfidf = self.vectorizer_.fit_transform(texts) if fit else self.vectorizer_.transform(texts)
        blocks = [tfidf] + [scale * cached_embeddings(texts, name, self.cache_dir).astype(np.float64)
                            for name, scale in self._encoders()]
        return sparse.hstack(blocks).tocsr() if len(blocks) > 1 else tfidf.tocsr()

    def fit(self, texts, y, sample_weight=None):
        """Fit on ``texts`` (raw transcripts, cleaned here) + the ``extra`` corpora."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        from emoens.models.text_head import prepare_text

        cleaned = [prepare_text(str(t)) for t in texts]
        all_t, all_y, all_w, self.n_rows_ = self._training_set(cleaned, _label_ids(y), sample_weight)
        if len(np.unique(all_y)) < 2:
            raise ValueError(f"the text member needs at least 2 classes to fit, got {np.unique(all_y)}")
        self.vectorizer_ = TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(self.ngram_range),
                                           sublinear_tf=True, max_features=self.max_features,
                                           min_df=min(self.min_df, len(all_t)), dtype=np.float64)
        x = self._features(all_t, fit=True)
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter, tol=1e-4)
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model_.fit(x, all_y, sample_weight=all_w / all_w.mean())
        self.classes_ = np.arange(len(LABELS))
        return self

    def predict_proba(self, texts) -> np.ndarray:
        """Probabilities (n, 7) in :data:`LABELS` order."""
        from emoens.models.text_head import prepare_text

        cleaned = [prepare_text(str(t)) for t in texts]
        proba = self.model_.predict_proba(self._features(cleaned))
        out = np.zeros((len(cleaned), len(LABELS)))
        out[:, self.model_.classes_.astype(int)] = proba
        return out

    def predict(self, texts) -> np.ndarray:
        return self.predict_proba(texts).argmax(axis=1)

    def to_head(self):
        """The fitted estimator as a runtime :class:`~emoens.models.text_head.TextHead`."""
        from emoens.models.text_head import TextHead

        params = {k: v for k, v in self.get_params().items() if k not in ("extra", "cache_dir")}
        params["ngram_range"] = list(params["ngram_range"])
        config = {"hyperparameters": params, "training_rows": dict(self.n_rows_),
                  "label_policies": {s: LABEL_POLICIES[s] for s in self.n_rows_ if s in LABEL_POLICIES}}
        return TextHead.from_sklearn(self.vectorizer_, self.model_, config=config,
                                     encoders=self._encoders())


# --------------------------------------------------------------------------- held-out selection

# stage 1: C x one weight for every source (+ no extra text); stage 2: each source dropped / up-weighted
C_GRID = (0.3, 1.0, 3.0)
WEIGHT_GRID = (0.1, 0.3, 1.0)
SELECTION = ("mean of (a) KEMDy19 improvised macro-F1 (out-of-fold, folds grouped by dialogue) and "
             "(b) the mean macro-F1 over the text corpora, each held out in turn (leave-one-source-out)")


def _score(y, proba) -> dict:
    from emoens.evaluate import compute_metrics

    m = compute_metrics(np.asarray(y, dtype=np.int64), proba)
    return {"macro_f1": round(m["macro_f1"], 4), "uar": round(m["unweighted_accuracy"], 4), "n": m["n"]}


def evaluate_text_params(params: Mapping, kemdy: pd.DataFrame, corpora: pd.DataFrame, *,
                         n_splits: int = 3, holdout_per_class: int = 300) -> dict:
    """Held-out scores of one candidate: KEMDy19 improvised (OOF) and each text source held out."""
    from sklearn.model_selection import GroupKFold

    texts, y = kemdy["text"].tolist(), _label_ids(kemdy["label"])
    est = TextEmotionClassifier(**params, extra=corpora)
    proba = oof_proba(est, texts, y, kemdy["group"].to_numpy(), GroupKFold(n_splits=n_splits))
    impro = (kemdy["style"].to_numpy() == "impro") & (kemdy["corpus"].to_numpy() == "kemdy19")
    scores = {"kemdy19_impro": _score(y[impro], proba[impro])}
    for source in sorted(corpora["source"].unique()):
        held = subsample(corpora[corpora["source"] == source], holdout_per_class)
        rest = corpora[corpora["source"] != source]
        fitted = TextEmotionClassifier(**params, extra=rest).fit(texts, y)
        scores[f"heldout_{source}"] = _score(_label_ids(held["label"]), fitted.predict_proba(held["text"]))
    held_out = [v["macro_f1"] for k, v in scores.items() if k.startswith("heldout_")]
    parts = [scores["kemdy19_impro"]["macro_f1"]] + ([float(np.mean(held_out))] if held_out else [])
    scores["criterion"] = round(float(np.mean(parts)), 4)
    return scores


def oof_proba(estimator, texts, y, groups, cv) -> np.ndarray:
    """Out-of-fold probabilities (n, 7) by scikit-learn's ``cross_validate`` with a group splitter."""
    from sklearn.model_selection import cross_validate

    texts, y = list(texts), _label_ids(y)
    result = cross_validate(estimator, texts, y, groups=groups, cv=cv, return_estimator=True,
                            return_indices=True, scoring=lambda *a: 0.0)
    proba = np.zeros((len(y), len(LABELS)))
    for fitted, test in zip(result["estimator"], result["indices"]["test"]):
        proba[test] = fitted.predict_proba([texts[i] for i in test])
    return proba


def _row(params: Mapping, scores: Mapping) -> dict:
    row = {"C": params["C"], "encoder": params.get("encoder", "use"),
           "extra_weights": ", ".join(f"{k}={v:g}" for k, v in sorted(params["extra_weights"].items()))}
    row.update({k: (v["macro_f1"] if isinstance(v, Mapping) else v) for k, v in scores.items()})
    return row


def select_text_params(kemdy: pd.DataFrame, corpora: pd.DataFrame, *, encoder: str = "use",
                       c_grid: Sequence[float] = C_GRID, weight_grid: Sequence[float] = WEIGHT_GRID,
                       n_splits: int = 3, holdout_per_class: int = 300, stage2: bool = True,
                       log=log.info, **fixed) -> tuple[dict, pd.DataFrame]:
    """(chosen estimator params, table of every candidate's held-out macro-F1) by :data:`SELECTION`.

    ``kemdy``: speech rows with ``text``, ``label``, ``group`` (dialogue), ``style``, ``corpus``;
    ``corpora``: :func:`load_text_corpora`. Stage 1 tries ``c_grid`` x one weight for all sources
    (and no extra text); stage 2 (``stage2``) drops each source or triples its weight, kept if it
    helps. Each candidate costs ``n_splits`` + one fit per source.
    """
    sources = sorted(corpora["source"].unique()) if len(corpora) else []
    rows, seen = [], {}

    def trial(C, weights):
        params = {"C": float(C), "encoder": encoder, "extra_weights": dict(weights), **fixed}
        key = (params["C"], tuple(sorted(weights.items())))
        if key not in seen:
            scores = evaluate_text_params(params, kemdy, corpora, n_splits=n_splits,
                                          holdout_per_class=holdout_per_class)
            seen[key] = (scores["criterion"], params)
            rows.append(_row(params, scores))
            log(f"text candidate {rows[-1]}")
        return seen[key]

    for C in c_grid:
        for w in (weight_grid if sources else ()):
            trial(C, {s: w for s in sources})
        trial(C, {s: 0.0 for s in sources})
    best = max(seen.values(), key=lambda v: v[0])
    for source in sources if stage2 else ():  # stage 2: one source at a time, from the best so far
        for factor in (0.0, 3.0):
            weights = dict(best[1]["extra_weights"])
            weights[source] = weights[source] * factor
            candidate = trial(best[1]["C"], weights)
            if candidate[0] > best[0]:
                best = candidate
    table = pd.DataFrame(rows)
    chosen = _row(best[1], {})
    table["chosen"] = [all(r[k] == chosen[k] for k in chosen) for r in rows]
    return dict(best[1]), table
