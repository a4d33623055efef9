"""Run time of ONNX members (registered in :mod:`emoens.models` as ``onnx-speech`` / ``onnx-text``):
ONNX Runtime sessions, the members, and the torch-free tokenizers. Imports numpy, onnxruntime and
(text) ``tokenizers`` or ``sentencepiece`` only — never torch.

An ONNX member directory holds ``model.onnx`` (+ ``model.onnx.data``, see
:func:`emoens.onnx.graph.save_external`), ``onnx_member.json`` (label order, pre-processing,
tokenizer kind) and the tokenizer / feature-extractor files.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from emoens.errors import EmoensError
from emoens.labels import LABELS
from emoens.models.sentencepiece_rules import normalize_text, split_pieces
from emoens.settings import default_threads

META_FILE = "onnx_member.json"
MODEL_FILE = "model.onnx"
META_FORMAT = "emoens-onnx-member"
META_VERSION = 1
OPSET = 17
# wav2vec2's convolutional feature encoder needs at least this many samples for one frame.
MIN_SPEECH_SAMPLES = 400


class ExportError(EmoensError):
    """A bundle or member that cannot be exported or an ONNX member that cannot be loaded/run."""


# ONNX Runtime's SkipLayerNormalization CPU kernel (residual Add + LayerNorm in one op) is ~5x
# slower than the Add and LayerNormalization it replaces (measured with onnxruntime 1.32 on
# 2 cores: 7.4 -> 1.4 ms per 5-s clip in wav2vec2-base, 3.9 -> 1.3 ms at 64 tokens in BERT-base),
# so that fusion is left out both at run time and at export (fuse_bert_attention).
UNFUSED_AT_RUN_TIME = ["SkipLayerNormFusion"]


def make_session(model_path: str | os.PathLike, threads: int | None = None, spinning: bool = True):
    """An ONNX Runtime CPU session with ``threads`` intra-op threads (default: all usable cores).

    Its threads spin between the operators of a run (saving a wake-up per operator, ~5 % of a
    request on 2 cores) and stop spinning as soon as the run returns, so that the speech and
    text sessions of one request, run one after the other, never fight over the cores.
    ``spinning=False`` makes the threads sleep between operators too."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ExportError(
            "onnxruntime is not installed: `pip install onnxruntime==1.32.0` to run ONNX members "
            "(or run the hf bundle, optionally with emoens.onnx.export.torch_dynamic_int8)"
        ) from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads or default_threads())
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Memory patterns pre-allocate one block for every activation of the largest input seen:
    # without them the peak for a 5-s clip drops by ~130 MB at no measured speed cost.
    options.enable_mem_pattern = False
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "1" if spinning else "0")
    options.add_session_config_entry("session.force_spinning_stop", "1")
    try:
        return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"],
                                    disabled_optimizers=UNFUSED_AT_RUN_TIME)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ExportError(f"cannot load ONNX model {model_path}: {exc}") from exc


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _read_meta(path: Path, modality: str) -> dict[str, Any]:
    meta_path = path / META_FILE
    if not path.is_dir():
        raise ExportError(f"ONNX member directory not found: {path}")
    if not meta_path.is_file() or not (path / MODEL_FILE).is_file():
        raise ExportError(
            f"{path} is not an ONNX member: it needs {MODEL_FILE} and {META_FILE} "
            "(write one with `emoens export --format onnx`)"
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ExportError(f"{meta_path} is not valid JSON: {exc}") from exc
    if meta.get("format") != META_FORMAT or meta.get("format_version") != META_VERSION:
        raise ExportError(
            f"{meta_path}: unknown ONNX member format {meta.get('format')!r} version "
            f"{meta.get('format_version')!r} (this emoens reads {META_FORMAT} v{META_VERSION})"
        )
    if meta.get("modality") != modality:
        raise ExportError(f"{path} holds a {meta.get('modality')!r} member, expected {modality!r}")
    order = meta.get("output_order")
    if not isinstance(order, list) or sorted(order) != list(range(len(LABELS))):
        raise ExportError(f"{meta_path}: output_order must be a permutation of 0..{len(LABELS) - 1}")
    return meta


class _OnnxMember:
    modality = ""

    def __init__(self, path: Path, meta: dict[str, Any], threads: int | None):
        self.path = path
        self.meta = meta
        self.labels = LABELS
        self.quantize = meta.get("quantize")
        self.session = make_session(path / MODEL_FILE, threads)
        self.input_names = [i.name for i in self.session.get_inputs()]
        # model output column for each canonical label
        self._order = np.asarray(meta["output_order"], dtype=np.int64)

    def _proba(self, logits: np.ndarray) -> np.ndarray:
        return _softmax(np.asarray(logits, dtype=np.float64)[:, self._order]).astype(np.float32)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, quantize={self.quantize!r})"


class OnnxSpeechMember(_OnnxMember):
    """A wav2vec2-family classifier run by ONNX Runtime; one clip per session run (no padding,
    so a clip's result does not depend on the others in the batch)."""

    modality = "speech"

    def __init__(self, path: Path, meta: dict[str, Any], threads: int | None = None,
                 max_seconds: float | None = None, reverse: bool | None = None):
        super().__init__(path, meta, threads)
        fe = meta.get("feature_extractor", {})
        self.do_normalize = bool(fe.get("do_normalize", True))
        self.sampling_rate = int(fe.get("sampling_rate", 16000))
        max_seconds = max_seconds if max_seconds is not None else meta.get("max_seconds")
        self.max_samples = int(max_seconds * self.sampling_rate) if max_seconds else None
        self.reverse = bool(meta.get("reverse", False)) if reverse is None else bool(reverse)

    def features(self, waveform: np.ndarray) -> np.ndarray:
        """The model input for one clip, as ``emoens.models.speech`` prepares it: cropped to
        ``max_seconds``, optionally time-reversed, padded to the encoder's minimum, then
        zero-mean unit-variance (``Wav2Vec2FeatureExtractor``'s rule, re-done here because
        importing transformers' extractor would import torch)."""
        x = np.asarray(waveform, dtype=np.float32).reshape(-1)
        if x.size == 0:
            raise ExportError("empty waveform: a speech member needs at least one sample")
        if self.max_samples and x.size > self.max_samples:
            x = x[: self.max_samples]
        if self.reverse:
            x = x[::-1]
        if x.size < MIN_SPEECH_SAMPLES:
            x = np.pad(x, (0, MIN_SPEECH_SAMPLES - x.size))
        if self.do_normalize:
            x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
        return np.ascontiguousarray(x, dtype=np.float32)[None, :]

    def predict_proba(self, waveforms: Sequence[np.ndarray], progress: bool = False) -> np.ndarray:
        """(n, 7) probabilities in canonical label order for n float32 16 kHz waveforms."""
        rows = []
        if progress:
            from tqdm.auto import tqdm

            waveforms = tqdm(waveforms, desc="speech", unit="clip")
        for waveform in waveforms:
            feed = {self.input_names[0]: self.features(waveform)}
            rows.append(self.session.run(None, feed)[0][0])
        if not rows:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        return self._proba(np.stack(rows))


class SentencePieceEncoder:
    """KoBERT tokenisation (``emoens.models.kobert.KoBERTTokenizer``) with sentencepiece alone.

    The transformers tokenizer imports torch; this mirrors its rules (XLNet-style text
    normalisation, the digit-comma split, ``[CLS] … [SEP]``) and is checked against it in
    tests/test_export.py.
    """

    def __init__(self, directory: Path, config: dict[str, Any]):
        import sentencepiece as spm

        model = directory / config.get("spm_file", "spiece.model")
        if not model.is_file():
            raise ExportError(f"KoBERT SentencePiece model not found: {model}")
        self.sp = spm.SentencePieceProcessor()
        self.sp.Load(str(model))
        vocab_txt = directory / "vocab.txt"
        if config.get("vocab_txt") and vocab_txt.is_file():
            tokens = vocab_txt.read_text(encoding="utf-8").splitlines()
            self.vocab = {tok: i for i, tok in enumerate(tokens)}
        else:
            self.vocab = {self.sp.IdToPiece(i): i for i in range(self.sp.GetPieceSize())}
        self.do_lower_case = bool(config.get("do_lower_case", False))
        self.remove_space = bool(config.get("remove_space", True))
        self.keep_accents = bool(config.get("keep_accents", False))
        self.unk_id = self.vocab.get(config.get("unk_token", "[UNK]"), 0)
        self.cls_id = self.vocab[config.get("cls_token", "[CLS]")]
        self.sep_id = self.vocab[config.get("sep_token", "[SEP]")]
        self.pad_id = self.vocab[config.get("pad_token", "[PAD]")]

    def _pieces(self, text: str) -> list[str]:
        normalized = normalize_text(text, remove_space=self.remove_space,
                                    keep_accents=self.keep_accents, do_lower_case=self.do_lower_case)
        return split_pieces(self.sp, normalized)

    def encode(self, text: str, max_length: int) -> list[int]:
        """Token ids ``[CLS] … [SEP]`` truncated to ``max_length``."""
        ids = [self.vocab.get(p, self.unk_id) for p in self._pieces(text)][: max(0, max_length - 2)]
        return [self.cls_id, *ids, self.sep_id]


class FastTokenizerEncoder:
    """A Hugging Face fast tokenizer (``tokenizer.json``) through the ``tokenizers`` library."""

    def __init__(self, directory: Path, config: dict[str, Any]):
        from tokenizers import Tokenizer

        path = directory / "tokenizer.json"
        if not path.is_file():
            raise ExportError(f"tokenizer file not found: {path}")
        self.tokenizer = Tokenizer.from_file(str(path))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.pad_id = int(config.get("pad_id", 0))

    def encode(self, text: str, max_length: int) -> list[int]:
        """Token ids with the tokenizer's special tokens, truncated to ``max_length``."""
        self.tokenizer.enable_truncation(max_length)
        return list(self.tokenizer.encode(text).ids)


class OnnxTextMember(_OnnxMember):
    """A BERT-family text classifier run by ONNX Runtime; texts are batched with padding."""

    modality = "text"

    def __init__(self, path: Path, meta: dict[str, Any], threads: int | None = None,
                 max_length: int | None = None, cache_size: int = 1024):
        super().__init__(path, meta, threads)
        tok = meta.get("tokenizer", {})
        kind = tok.get("kind")
        if kind == "tokenizers":
            self.encoder = FastTokenizerEncoder(path, tok)
        elif kind == "sentencepiece-kobert":
            self.encoder = SentencePieceEncoder(path, tok)
        else:
            raise ExportError(f"{path / META_FILE}: unknown tokenizer kind {kind!r}")
        self.max_length = int(max_length or meta.get("max_length") or 64)
        self._cache: OrderedDict[str, list[int]] = OrderedDict()
        self._cache_size = cache_size

    def encode(self, text: str) -> list[int]:
        """Token ids for ``text`` (cached: the same transcript is tokenised once)."""
        ids = self._cache.get(text)
        if ids is None:
            ids = self.encoder.encode(str(text), self.max_length)
            self._cache[text] = ids
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(text)
        return ids

    def inputs(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The padded numpy feed of the ONNX session for ``texts``."""
        encoded = [self.encode("" if t is None else str(t)) for t in texts]
        width = max(len(e) for e in encoded)
        ids = np.full((len(encoded), width), self.encoder.pad_id, dtype=np.int64)
        mask = np.zeros((len(encoded), width), dtype=np.int64)
        for i, e in enumerate(encoded):
            ids[i, : len(e)] = e
            mask[i, : len(e)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return {name: feed[name] for name in self.input_names}

    def predict_proba(self, texts: Sequence[str], progress: bool = False,
                      batch_size: int = 32) -> np.ndarray:
        """(n, 7) probabilities in canonical label order for n texts (batches of ``batch_size``)."""
        if isinstance(texts, str):
            raise ExportError("predict_proba expects a list of texts, got one str")
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        starts = range(0, len(texts), batch_size)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="text", unit="batch")
        return np.vstack([self._proba(self.session.run(None, self.inputs(texts[i:i + batch_size]))[0])
                          for i in starts])


def load_onnx_speech_member(path: Path, threads: int | None = None, max_seconds: float | None = None,
                            reverse: bool | None = None, **_ignored: Any) -> OnnxSpeechMember:
    """Loader of kind ``onnx-speech`` (see :data:`emoens.models.MEMBER_LOADERS`); options:
    ``threads`` (default: all usable cores), ``max_seconds``, ``reverse`` (default: as trained).
    Options of the hf kinds (``device``, ``batch_size``) are accepted and ignored."""
    path = Path(path)
    return OnnxSpeechMember(path, _read_meta(path, "speech"), threads=threads, max_seconds=max_seconds,
                            reverse=reverse)


def load_onnx_text_member(path: Path, threads: int | None = None, max_length: int | None = None,
                          **_ignored: Any) -> OnnxTextMember:
    """Loader of kind ``onnx-text`` (see :data:`emoens.models.MEMBER_LOADERS`); options:
    ``threads``, ``max_length`` (default: as trained)."""
    path = Path(path)
    return OnnxTextMember(path, _read_meta(path, "text"), threads=threads, max_length=max_length)
