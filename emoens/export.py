"""The fast CPU path: export hf-speech / hf-text members to ONNX (optionally int8) and run them
with ONNX Runtime **without importing torch**.

- :func:`export_bundle` turns a bundle whose members are ``hf-speech``/``hf-text`` into one whose
  members are ``onnx-speech``/``onnx-text`` (other kinds are copied unchanged).
- :func:`load_onnx_speech_member` / :func:`load_onnx_text_member` are the member loaders
  registered in :mod:`emoens.models` for those kinds.
- :func:`torch_dynamic_int8` is the fallback when ONNX Runtime is absent (``torch.ao`` dynamic
  quantisation of the ``nn.Linear`` layers of a loaded model).

An ONNX member directory holds ``model.onnx``, ``onnx_member.json`` (what the runtime needs:
label order, pre-processing, tokenizer kind) and the tokenizer / feature-extractor files.
Only numpy, onnxruntime and (text) ``tokenizers`` or ``sentencepiece`` are imported at run time.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from emoens.errors import EmoensError
from emoens.files import atomic_directory, write_json
from emoens.labels import LABELS
from emoens.models.sentencepiece_rules import normalize_text, split_pieces

META_FILE = "onnx_member.json"
MODEL_FILE = "model.onnx"
META_FORMAT = "emoens-onnx-member"
META_VERSION = 1
OPSET = 17
# text model types whose layers match ONNX Runtime's BERT attention fusion
BERT_LIKE = ("bert",)
# wav2vec2's convolutional feature encoder needs at least this many samples for one frame.
MIN_SPEECH_SAMPLES = 400
EXPORTED_KINDS = {"hf-speech": "onnx-speech", "hf-text": "onnx-text"}


class ExportError(EmoensError):
    """A bundle or member that cannot be exported or an ONNX member that cannot be loaded/run."""


# --------------------------------------------------------------------------------------------
# Run time (no torch)
# --------------------------------------------------------------------------------------------

def default_threads() -> int:
    """Cores this process may use (the affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


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
            "(or run the hf bundle, optionally with emoens.export.torch_dynamic_int8)"
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


# --------------------------------------------------------------------------------------------
# Export time (torch, transformers, onnx, onnxruntime.quantization)
# --------------------------------------------------------------------------------------------

def quantize_int8(src: Path, dst: Path, op_types: Sequence[str] = ("MatMul", "Gemm"),
                  keep_float: Sequence[str] = ()) -> None:
    """Dynamic int8 quantisation (weights int8, activations quantised at run time) of ``op_types``
    (MatMuls with a constant weight only; ``Attention`` becomes ``QAttention``). Nodes whose
    names start with one of ``keep_float`` stay float.

    For wav2vec2 only MatMul/Gemm: int8 convolutions (ConvInteger) are slower than fp32 on CPU.
    """
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise ExportError("int8 quantisation needs onnxruntime (pip install onnxruntime==1.32.0); "
                          "without it use emoens.export.torch_dynamic_int8 on the torch model") from exc
    import logging

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # quantize_dynamic warns about pre-processing on the root logger
    try:
        # shape inference cannot type the outputs of fused contrib ops: they are float
        excluded = []
        if keep_float:
            import onnx

            graph = onnx.load(str(src), load_external_data=False).graph
            excluded = [n.name for n in graph.node if n.name.startswith(tuple(keep_float))]
        quantize_dynamic(src, dst, op_types_to_quantize=list(op_types), weight_type=QuantType.QInt8,
                         nodes_to_exclude=excluded, extra_options={"DefaultTensorType": 1})
    finally:
        root.setLevel(level)
    share_input_quantization(dst)


# Operators that only select or rearrange elements: they give the same result on int8 data.
LAYOUT_OPS = ("Slice", "Reshape", "Concat")


def share_input_quantization(path: Path) -> int:
    """Quantise a tensor once, before the slices, reshapes and concatenations that lay it out
    for quantised MatMuls, instead of quantising each laid-out copy.

    ``quantize_dynamic`` quantises each MatMul's own input: a convolution rewritten as a MatMul
    (see ``_matmul_feature_encoder``) then copies float frames into its input and quantises that.
    Here a ``DynamicQuantizeLinear`` whose input is made from one tensor X by Slice/Reshape/Concat
    nodes (read by nothing else) is replaced by X quantised once and the same layout done on the
    int8 tensor (a quarter of the bytes to copy; the scale from X's whole range), where that
    saves work: X feeds several such quantisers, or the layout copies through a Concat.
    Rewrites the ONNX file in place; returns the number of tensors now quantised before layout."""
    import onnx
    from onnx import helper

    model = onnx.load(str(path))
    nodes = list(model.graph.node)
    producer = {out: n for n in nodes for out in n.output}
    consumers: dict[str, int] = {}
    for n in nodes:
        for name in n.input:
            consumers[name] = consumers.get(name, 0) + 1

    def data_inputs(node) -> list[str]:
        return list(node.input) if node.op_type == "Concat" else [node.input[0]]

    def layout_tree(tensor: str) -> tuple[str, list] | None:
        """(source, layout nodes in graph order) when ``tensor`` is laid out from one source."""
        node = producer.get(tensor)
        if node is None or node.op_type not in LAYOUT_OPS:
            return None
        sources, tree = set(), []
        for name in data_inputs(node):
            if name in producer and producer[name].op_type in LAYOUT_OPS:
                sub = layout_tree(name) if consumers.get(name) == 1 else None
                if sub is None:
                    return None
                sources.add(sub[0])
                tree += sub[1]
            else:
                sources.add(name)
        return (sources.pop(), tree + [node]) if len(sources) == 1 else None

    by_source: dict[str, list] = {}
    for n in nodes:
        if n.op_type == "DynamicQuantizeLinear" and (found := layout_tree(n.input[0])):
            by_source.setdefault(found[0], []).append((n, found[1]))
    chosen = {src: pairs for src, pairs in by_source.items()
              if len(pairs) > 1 or any(node.op_type == "Concat" for _, tree in pairs for node in tree)}
    if not chosen:
        return 0
    # each old quantiser's place gets its int8 layout, the first of a source also the shared
    # quantiser (its source was computed before that layout's nodes, so the order stays valid)
    in_place_of, rename = {}, {}
    for src, pairs in chosen.items():
        quantized = [f"{src}_shared_{k}" for k in ("quantized", "scale", "zero_point")]
        placed = [helper.make_node("DynamicQuantizeLinear", [src], quantized, name=f"{src}_SharedQuantize")]
        for old, tree in pairs:
            int8_name = {src: quantized[0]}
            for node in tree:
                data = set(data_inputs(node))
                out = int8_name[node.output[0]] = f"{node.output[0]}_int8"
                copy = helper.make_node(node.op_type, [int8_name[i] if i in data else i for i in node.input],
                                        [out], name=f"{node.name}_int8", domain=node.domain)
                copy.attribute.extend(node.attribute)
                placed.append(copy)
            rename.update(zip(old.output, [int8_name[old.input[0]], quantized[1], quantized[2]]))
            in_place_of[id(old)], placed = placed, []
    new_nodes = []
    for n in nodes:
        n.input[:] = [rename.get(name, name) for name in n.input]
        new_nodes.extend(in_place_of.get(id(n), [n]))
    # drop the float layouts nothing reads any more
    outputs = {o.name for o in model.graph.output}
    while True:
        read = {name for n in new_nodes for name in n.input} | outputs
        dead = [n for n in new_nodes if n.op_type in LAYOUT_OPS and not any(o in read for o in n.output)]
        if not dead:
            break
        new_nodes = [n for n in new_nodes if n not in dead]
    del model.graph.node[:]
    model.graph.node.extend(new_nodes)
    onnx.save(model, str(path))
    return len(chosen)


def fuse_bert_attention(src: Path, dst: Path, num_heads: int, hidden_size: int) -> dict[str, int]:
    """Rewrite a BERT-style ONNX graph with ONNX Runtime's transformer optimizer: each layer's
    attention becomes one ``Attention`` op (int8: ``QAttention``), the embeddings one
    ``EmbedLayerNormalization``. Returns the fused-operator counts (all 0: nothing matched).

    The attention mask is turned into per-row lengths, which assumes right padding (as
    :meth:`OnnxTextMember.inputs` pads)."""
    import contextlib
    import io
    import logging

    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    quiet = logging.getLogger("onnxruntime.transformers")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints shape-inference notes
            fusions = FusionOptions("bert")
            fusions.enable_skip_layer_norm = fusions.enable_bias_skip_layer_norm = False  # slower
            model = optimize_model(str(src), model_type="bert", num_heads=int(num_heads),
                                   hidden_size=int(hidden_size), opt_level=0, optimization_options=fusions)
        counts = {k: int(v) for k, v in model.get_fused_operator_statistics().items() if v}
        model.save_model_to_file(str(dst))
    finally:
        quiet.setLevel(level)
    return counts


def _torch_export(model, args: tuple, path: Path, input_names: list[str],
                  dynamic_axes: dict[str, dict[int, str]], contrib_ops: bool = False) -> None:
    import warnings

    import torch

    # The TorchScript exporter: no onnxscript needed, dynamic axes for batch and length.
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, str(path), input_names=input_names, output_names=["logits"],
                          dynamic_axes=dynamic_axes, opset_version=OPSET, dynamo=False,
                          custom_opsets={"com.microsoft": 1} if contrib_ops else None,
                          do_constant_folding=True)


DATA_HEADER = b"emoens ONNX external weights\n"
DATA_ALIGN = 4096  # page-aligned tensors: ONNX Runtime can map them instead of copying


def save_external(src: Path, dst: Path, min_bytes: int = 1024) -> None:
    """Save the ONNX model ``src`` as ``dst`` + ``dst.data`` (weights of ``min_bytes`` or more
    outside the protobuf, page-aligned, after a text header so no tool mistakes the file for a
    pickle). Loading then skips one in-memory copy of the weights (~90 MB less for BERT-base)."""
    import onnx

    from emoens.files import atomic_write, write_bytes

    model = onnx.load(str(src))
    data_name = dst.name + ".data"
    with atomic_write(dst.parent / data_name, "wb") as handle:
        handle.write(DATA_HEADER.ljust(DATA_ALIGN, b"\0"))
        offset = DATA_ALIGN
        for tensor in model.graph.initializer:
            if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.raw_data) < min_bytes:
                continue
            raw = tensor.raw_data
            pad = (-offset) % DATA_ALIGN
            handle.write(b"\0" * pad)
            offset += pad
            handle.write(raw)
            del tensor.external_data[:]
            for key, value in (("location", data_name), ("offset", str(offset)), ("length", str(len(raw)))):
                entry = tensor.external_data.add()
                entry.key, entry.value = key, value
            tensor.data_location = onnx.TensorProto.EXTERNAL
            tensor.ClearField("raw_data")
            offset += len(raw)
    write_bytes(dst, model.SerializeToString())


def _write_onnx(model, args: tuple, dst: Path, input_names: list[str], axes: dict,
                quantize: str | None, attention: tuple[int, int] | None = None,
                contrib_ops: bool = False, keep_float: Sequence[str] = ()) -> dict[str, int]:
    """Export ``model`` to ``dst/model.onnx`` (+ ``.data``); with ``attention`` = (heads, hidden)
    fuse BERT attention first; ``contrib_ops``: the model emits com.microsoft ops itself;
    ``keep_float``: ONNX node-name prefixes that int8 quantisation leaves alone.
    Returns the fused-operator counts."""
    temps = [dst / "model.fp32.tmp.onnx"]
    _torch_export(model, args, temps[-1], input_names, axes, contrib_ops)
    fused: dict[str, int] = {}
    try:
        if attention:
            temps.append(dst / "model.fused.tmp.onnx")
            fused = fuse_bert_attention(temps[-2], temps[-1], *attention)
        if quantize:
            temps.append(dst / "model.int8.tmp.onnx")
            quantize_int8(temps[-2], temps[-1], ("MatMul", "Gemm", "Attention"), keep_float)
        save_external(temps[-1], dst / MODEL_FILE)
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
    return fused


def _meta(modality: str, order: Sequence[int], quantize: str | None, source: Path, **extra) -> dict:
    return {"format": META_FORMAT, "format_version": META_VERSION, "modality": modality,
            "output_order": [int(i) for i in order], "quantize": quantize, "opset": OPSET,
            "source": str(source), **extra}


def _copy_files(src: Path, dst: Path, names: Sequence[str]) -> None:
    for name in names:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)


def _matmul_feature_encoder(model):
    """Replace a wav2vec2-family convolutional feature encoder (for export only) by an
    equivalent one whose strided convolutions after the first are reshapes/slices + MatMuls,
    channel-last. Dynamic int8 then covers them: as MatMulInteger they are several times faster
    than fp32 Conv, while ConvInteger is slower. Returns True when the model was rewritten."""
    import torch
    from torch import nn

    base = getattr(model, getattr(model, "base_model_prefix", ""), None)
    encoder = getattr(base, "feature_extractor", None)
    layers = getattr(encoder, "conv_layers", None)
    if layers is None or len(layers) < 2:
        return False
    first = layers[0]
    conv = getattr(first, "conv", None)
    norm = getattr(first, "layer_norm", None)
    if not isinstance(conv, nn.Conv1d) or conv.in_channels != 1 or conv.groups != 1 \
            or conv.padding not in ((0,), 0) or conv.dilation != (1,) \
            or conv.kernel_size[0] > 2 * conv.stride[0] or not (
                norm is None or isinstance(norm, nn.LayerNorm)
                or (isinstance(norm, nn.GroupNorm) and norm.num_groups == conv.out_channels
                    and norm.affine)):
        return False
    for layer in list(layers)[1:]:
        conv = getattr(layer, "conv", None)
        norm = getattr(layer, "layer_norm", None)
        if not isinstance(conv, nn.Conv1d) or conv.groups != 1 or conv.padding not in ((0,), 0) \
                or conv.dilation != (1,) or conv.kernel_size[0] > 2 * conv.stride[0] \
                or (norm is not None and not isinstance(norm, nn.LayerNorm)):
            return False

    class ConvAsMatMul(nn.Module):
        """``layer`` (Conv1d [+ LayerNorm] + activation) on channel-last input (batch, time, C).

        With stride s and kernel k <= 2s, output frame t reads frames st … st+k-1: the first s
        of them are row t of the input viewed as (time/s, s*C) (a free reshape), the other k-s
        are strided slices. Those side by side make one MatMul (weights of frames >= k are
        zero), with far less copying than an im2col; in int8 the copies are of int8 data (see
        :func:`share_input_quantization`).
        """

        def __init__(self, layer):
            super().__init__()
            conv = layer.conv
            k, s, cin, cout = conv.kernel_size[0], conv.stride[0], conv.in_channels, conv.out_channels
            self.k, self.s, self.cin = k, s, cin
            weight = conv.weight.detach()  # (cout, cin, k)
            head = torch.zeros(cout, s, cin)
            head[:, : min(k, s)] = weight[:, :, : min(k, s)].permute(0, 2, 1)
            tail = weight[:, :, s:k].permute(0, 2, 1)  # (cout, k - s, cin); empty when k <= s
            self.linear = nn.Linear(s * cin + tail.shape[1] * cin, cout, bias=conv.bias is not None)
            with torch.no_grad():
                self.linear.weight.copy_(torch.cat([head.reshape(cout, -1), tail.reshape(cout, -1)], dim=1))
                if conv.bias is not None:
                    self.linear.bias.copy_(conv.bias)
            self.norm = getattr(layer, "layer_norm", None)
            self.activation = layer.activation

        def forward(self, x):
            k, s = self.k, self.s
            frames = (x.shape[1] - k) // s + 1
            if k < s:  # the last group of s frames may be cut short: pad (zero weights read it)
                x = nn.functional.pad(x, (0, 0, 0, s - k))
            parts = [x[:, : s * frames].reshape(x.shape[0], -1, s * self.cin)]
            # static negative ends: every slice has `frames` rows, the length stays dynamic
            parts += [x[:, j:(j - k + 1) or None:s] for j in range(s, k)]
            h = self.linear(torch.cat(parts, dim=2) if len(parts) > 1 else parts[0])
            if self.norm is not None:
                h = self.norm(h)
            return self.activation(h)

    class FirstConvAsMatMul(nn.Module):
        """The first layer (Conv1d on the raw waveform [+ GroupNorm or LayerNorm] + activation)
        as one small MatMul giving channel-last output, so no transpose follows it.

        The waveform viewed as rows of s samples gives each frame's k <= 2s samples as its row
        plus the first k-s of the next. wav2vec2's GroupNorm has one group per channel, i.e. a
        per-channel normalisation over time; since the convolution is linear, each channel's
        mean and variance follow from the patches' mean and k x k covariance (w' m + b and
        w' C w), and the normalisation folds into the weights: (P - m) (W * gamma / sd) + beta.
        That replaces an InstanceNormalization, a Mul, an Add and a Transpose over the largest
        tensor of the model by arithmetic on a k x channels matrix.
        """

        def __init__(self, layer):
            super().__init__()
            conv = layer.conv
            self.k, self.s = conv.kernel_size[0], conv.stride[0]
            self.weight = nn.Parameter(conv.weight.detach()[:, 0].t().contiguous())  # (k, channels)
            self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone())
            self.norm = getattr(layer, "layer_norm", None)
            self.activation = layer.activation

        def forward(self, x):
            k, s = self.k, self.s
            frames = (x.shape[1] - k) // s + 1
            rows = nn.functional.pad(x, (0, s))[:, : s * (frames + 1)].reshape(x.shape[0], -1, s)
            patches = rows[:, :frames, :k]
            if k > s:
                patches = torch.cat([rows[:, :frames], rows[:, 1:frames + 1, : k - s]], dim=2)
            if isinstance(self.norm, nn.GroupNorm):
                mean = patches.mean(dim=1, keepdim=True)  # (batch, 1, k)
                centred = patches - mean
                cov = centred.transpose(1, 2) @ centred / frames  # (batch, k, k)
                var = ((cov @ self.weight) * self.weight).sum(dim=1, keepdim=True)  # (batch, 1, C)
                scale = self.norm.weight / torch.sqrt(var + self.norm.eps)
                # the conv bias cancels; beta rides on a column of ones (a separate Add fuses into
                # a BiasGelu that is twice as slow as Gelu on this tensor)
                ones = torch.ones_like(centred[:, :, :1])
                weight = torch.cat([self.weight * scale, self.norm.bias.expand_as(scale)], dim=1)
                h = torch.cat([centred, ones], dim=2) @ weight
            else:
                h = patches @ self.weight
                if self.bias is not None:
                    h = h + self.bias
                if self.norm is not None:
                    h = self.norm(h)
            return self.activation(h)

    class MatMulFeatureEncoder(nn.Module):
        def __init__(self, encoder):
            super().__init__()
            self.first = FirstConvAsMatMul(encoder.conv_layers[0])
            self.rest = nn.ModuleList(ConvAsMatMul(layer) for layer in list(encoder.conv_layers)[1:])

        def forward(self, input_values):
            h = self.first(input_values)
            for layer in self.rest:
                h = layer(h)
            return h.transpose(1, 2)  # (batch, channels, frames) as the model expects

    setattr(base, "feature_extractor", MatMulFeatureEncoder(encoder).eval())
    return True


def _replace_modules(model, matches, replacement) -> list[str]:
    """Swap every submodule for which ``matches(module)`` holds by ``replacement(module)`` (in
    eval mode); returns the paths swapped."""
    paths = [path for path, module in model.named_modules() if path and matches(module)]
    for path in paths:
        parent_path, _, name = path.rpartition(".")
        parent = model.get_submodule(parent_path)
        setattr(parent, name, replacement(getattr(parent, name)).eval())
    return paths


def _fuse_self_attention(model) -> int:
    """Replace (for export only) every self-attention block with q/k/v/out projections, as in
    wav2vec2, HuBERT and WavLM-less relatives, by one packed QKV projection (a MatMul, int8
    when quantised), one ``com.microsoft::MultiHeadAttention`` op and the output projection.
    ONNX Runtime's own fusion does not recognise these graphs, and the unfused attention (three
    projections, transposes, two MatMuls and a Softmax) costs about twice as much at 5 s; the
    ``Attention`` op (int8: ``QAttention``) is ~8 % slower at 5 s and ~13 % at 60 s.
    Returns the number of blocks replaced (0 when the model has none of that shape)."""
    import torch
    from torch import nn

    class AttentionOp(torch.autograd.Function):
        """Multi-head scaled dot-product attention; exports as one contrib op."""

        @staticmethod
        def forward(ctx, q, k, v, num_heads):
            batch, length, _ = q.shape
            q, k, v = (t.reshape(batch, length, num_heads, -1).transpose(1, 2) for t in (q, k, v))
            scores = (q @ k.transpose(2, 3)) * (q.shape[-1] ** -0.5)
            return (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(batch, length, -1)

        @staticmethod
        def symbolic(g, q, k, v, num_heads):
            return g.op("com.microsoft::MultiHeadAttention", q, k, v, num_heads_i=num_heads).setType(q.type())

    class FusedSelfAttention(nn.Module):
        def __init__(self, block):
            super().__init__()
            projections = (block.q_proj, block.k_proj, block.v_proj)
            self.weight = nn.Parameter(torch.cat([p.weight.detach().t() for p in projections], dim=1))
            self.bias = nn.Parameter(torch.cat([p.bias.detach() for p in projections]))
            self.num_heads = int(block.num_heads)
            self.out_proj = block.out_proj

        def forward(self, hidden_states, attention_mask=None, **_unused):
            if attention_mask is not None:  # the exported graph takes no mask (one clip per run)
                raise ExportError("fused attention is exported without an attention mask")
            q, k, v = (hidden_states @ self.weight + self.bias).chunk(3, dim=-1)
            return self.out_proj(AttentionOp.apply(q, k, v, self.num_heads)), None

    def fusable(block) -> bool:
        projections = [getattr(block, n, None) for n in ("q_proj", "k_proj", "v_proj", "out_proj")]
        return isinstance(getattr(block, "num_heads", None), int) and not getattr(block, "is_decoder", False) \
            and all(isinstance(p, nn.Linear) and p.bias is not None for p in projections)

    return len(_replace_modules(model, fusable, FusedSelfAttention))


def _onnx_scope(module_path: str) -> str:
    """The prefix of the ONNX node names the TorchScript exporter gives a module's operators."""
    return "/" + module_path.replace(".", "/") + "/"


def _spectral_positional_conv(model) -> list[str]:
    """Replace (for export only) wav2vec2-family positional convolutions (one grouped Conv1d of
    kernel K with 'same' padding, then an activation) by the same convolution computed in the
    frequency domain. Returns the module paths replaced (empty when the model has none).

    On CPU, ONNX Runtime runs that grouped convolution (768 channels, K = 128) at ~12 ms for a
    5-s clip, more than any other single operator; overlap-save over blocks of N = 2K frames
    with DFTs as MatMuls and one complex channel mix per frequency needs ~8x fewer operations
    (~3.5 ms) and agrees with the convolution to ~1e-6. These MatMuls must stay float."""
    import math

    import torch
    from torch import nn

    class SpectralPositionalConv(nn.Module):
        """``y[t] = act(bias + sum_j x[t + j - pad] W_j)`` block by block: each block of N padded
        frames gives N - K + 1 outputs (overlap-save); the cross-correlation is a product with
        the conjugate kernel spectrum, channel-mixed within each group."""

        def __init__(self, module):
            super().__init__()
            conv = module.conv
            weight = conv.weight.detach().double()  # (channels, per group, K), weight norm applied
            per_group, K = weight.shape[1], weight.shape[2]
            groups = conv.groups
            N = 2 ** math.ceil(math.log2(2 * K))
            F = N // 2 + 1
            self.K, self.N, self.H, self.F = K, N, N - K + 1, F
            self.groups, self.per_group, self.pad = groups, per_group, conv.padding[0]
            freqs = torch.arange(F, dtype=torch.float64)
            angle = 2 * math.pi / N * torch.outer(freqs, torch.arange(N, dtype=torch.float64))
            # real DFT of a block, time-major: rows 0..F-1 real part, F..2F-1 imaginary part
            self.register_buffer("dft", torch.cat([torch.cos(angle), -torch.sin(angle)]).float())
            w = weight.reshape(groups, per_group, per_group, K)  # (group, out, in, tap)
            # conjugate kernel spectrum per (frequency, group) as (in, out) matrices
            self.register_buffer("w_re", torch.einsum("goik,fk->fgio", w, torch.cos(angle[:, :K]))
                                 .float().contiguous())
            self.register_buffer("w_im", torch.einsum("goik,fk->fgio", w, torch.sin(angle[:, :K]))
                                 .float().contiguous())
            twice = torch.full((F,), 2.0, dtype=torch.float64)  # Hermitian bins counted twice
            twice[0] = twice[-1] = 1.0
            out_angle = 2 * math.pi / N * torch.outer(torch.arange(self.H, dtype=torch.float64), freqs)
            inverse = torch.cat([twice * torch.cos(out_angle), -twice * torch.sin(out_angle)], 1) / N
            self.register_buffer("idft", inverse.float())  # (H, 2F): the first H outputs of a block
            self.register_buffer("bias", conv.bias.detach().float().clone())
            self.activation = module.activation

        def forward(self, hidden_states):  # (batch, frames, channels), as the HF module
            batch, frames, channels = hidden_states.shape
            N, H, F, G, c = self.N, self.H, self.F, self.groups, self.per_group
            blocks = (frames - 1) // H + 1
            padded = nn.functional.pad(hidden_states, (0, 0, self.pad, blocks * H + self.K - 1 - frames - self.pad))
            index = (torch.arange(blocks) * H).unsqueeze(1) + torch.arange(N).unsqueeze(0)
            segments = torch.index_select(padded, 1, index.reshape(-1)).reshape(batch, blocks, N, channels)
            rows = batch * blocks
            spectrum = (self.dft @ segments).reshape(rows, 2, F, G, c)
            spectrum = spectrum.permute(2, 3, 1, 0, 4).reshape(F, G, 2 * rows, c)  # real rows, then imaginary
            a, b = spectrum @ self.w_re, spectrum @ self.w_im
            mixed = torch.cat([a[:, :, :rows] - b[:, :, rows:], b[:, :, :rows] + a[:, :, rows:]], 0)
            out = (self.idft @ mixed.reshape(2 * F, -1)).reshape(H, G, batch, blocks, c)
            out = out.permute(2, 3, 0, 1, 4).reshape(batch, blocks * H, channels)
            return self.activation(out[:, :frames] + self.bias)

    def matches(module) -> bool:
        conv, same = getattr(module, "conv", None), getattr(module, "padding", None)
        return isinstance(conv, nn.Conv1d) and conv.groups > 1 and conv.bias is not None \
            and conv.stride == (1,) and conv.dilation == (1,) \
            and conv.padding == (conv.kernel_size[0] // 2,) \
            and getattr(same, "num_pad_remove", None) == (1 if conv.kernel_size[0] % 2 == 0 else 0) \
            and callable(getattr(module, "activation", None))

    return _replace_modules(model, matches, SpectralPositionalConv)


def export_speech_member(src: Path, dst: Path, quantize: str | None = "int8") -> dict[str, Any]:
    """Export the hf-speech member in ``src`` (a transformers audio classifier) to ``dst``.

    The ONNX graph takes ``input_values`` (batch, samples) and returns ``logits``; returns the
    member's meta (also written to ``dst/onnx_member.json``)."""
    import torch

    from emoens.models.speech import ModelError, label_permutation, load_speech_model

    src, dst = Path(src), Path(dst)
    try:
        model, extractor = load_speech_model(src)
        order = label_permutation(model.config, src)
    except ModelError as exc:
        raise ExportError(str(exc)) from exc
    model.eval()
    rewritten = bool(quantize) and _matmul_feature_encoder(model)
    fused = _fuse_self_attention(model)
    spectral = _spectral_positional_conv(model)
    # int8 would ruin the DFTs; the first layer reads the raw waveform and costs little in float
    keep_float = [_onnx_scope(path) for path in spectral]
    if rewritten:
        keep_float.append(_onnx_scope(f"{model.base_model_prefix}.feature_extractor.first"))
    dst.mkdir(parents=True, exist_ok=True)
    _write_onnx(model, (torch.zeros(1, 16000),), dst, ["input_values"],
                {"input_values": {0: "batch", 1: "samples"}, "logits": {0: "batch"}}, quantize,
                contrib_ops=bool(fused), keep_float=keep_float)
    _copy_files(src, dst, ["config.json", "preprocessor_config.json"])
    config = model.config
    meta = _meta("speech", order, quantize, src, model_type=config.model_type,
                 conv_as_matmul=rewritten, fused_operators={"MultiHeadAttention": fused} if fused else {},
                 spectral_positional_conv=bool(spectral),
                 feature_extractor={"do_normalize": bool(getattr(extractor, "do_normalize", True)),
                                    "sampling_rate": int(getattr(extractor, "sampling_rate", 16000))},
                 max_seconds=getattr(config, "emoens_max_seconds", None),
                 reverse=bool(getattr(config, "emoens_reverse_audio", False)))
    write_json(dst / META_FILE, meta)
    return meta


def _tokenizer_spec(src: Path, dst: Path, tokenizer) -> dict[str, Any]:
    """Write the tokenizer files the torch-free runtime reads into ``dst``; returns its spec."""
    if getattr(tokenizer, "is_fast", False):
        tokenizer.backend_tokenizer.save(str(dst / "tokenizer.json"))
        return {"kind": "tokenizers", "pad_id": int(tokenizer.pad_token_id or 0)}
    if type(tokenizer).__name__ == "KoBERTTokenizer":
        shutil.copy2(tokenizer.vocab_file, dst / "spiece.model")
        has_txt = bool(getattr(tokenizer, "vocab_txt", None))
        if has_txt:
            shutil.copy2(tokenizer.vocab_txt, dst / "vocab.txt")
        return {"kind": "sentencepiece-kobert", "spm_file": "spiece.model", "vocab_txt": has_txt,
                "do_lower_case": bool(tokenizer.do_lower_case),
                "remove_space": bool(tokenizer.remove_space),
                "keep_accents": bool(tokenizer.keep_accents), "unk_token": str(tokenizer.unk_token),
                "cls_token": str(tokenizer.cls_token), "sep_token": str(tokenizer.sep_token),
                "pad_token": str(tokenizer.pad_token)}
    try:
        from transformers.convert_slow_tokenizer import convert_slow_tokenizer

        convert_slow_tokenizer(tokenizer).save(str(dst / "tokenizer.json"))
    except Exception as exc:  # no converter for this class
        raise ExportError(f"{src}: tokenizer {type(tokenizer).__name__} has no torch-free form "
                          f"(not a fast tokenizer, not KoBERT, cannot convert: {exc})") from exc
    return {"kind": "tokenizers", "pad_id": int(tokenizer.pad_token_id or 0)}


def export_text_member(src: Path, dst: Path, quantize: str | None = "int8",
                       max_length: int | None = None) -> dict[str, Any]:
    """Export the hf-text member in ``src`` (classifier + tokenizer) to ``dst``; returns its meta."""
    import torch

    from emoens.models.speech import ModelError, label_permutation
    from emoens.models.text import DEFAULT_MAX_LENGTH, load_text_model

    src, dst = Path(src), Path(dst)
    try:
        model, tokenizer = load_text_model(src)
        order = label_permutation(model.config, src)
    except ModelError as exc:
        raise ExportError(str(exc)) from exc
    # Eager attention exports as plain MatMul/Softmax, the pattern ONNX Runtime's fusion knows
    # (the SDPA graph is not recognised): one Attention op per layer, ~30 % faster at 64 tokens.
    model.set_attn_implementation("eager")
    model.eval()
    config = model.config
    dst.mkdir(parents=True, exist_ok=True)
    tok_spec = _tokenizer_spec(src, dst, tokenizer)
    max_length = int(max_length or getattr(config, "emoens_max_length", None) or DEFAULT_MAX_LENGTH)
    names = ["input_ids", "attention_mask"]
    if getattr(config, "type_vocab_size", 0):
        names.append("token_type_ids")
    dummy = tuple(torch.zeros(1, 8, dtype=torch.long) if n == "token_type_ids"
                  else torch.ones(1, 8, dtype=torch.long) for n in names)
    axes: dict[str, dict[int, str]] = {n: {0: "batch", 1: "tokens"} for n in names}
    axes["logits"] = {0: "batch"}
    attention = None
    if config.model_type in BERT_LIKE and getattr(config, "num_attention_heads", None):
        attention = (config.num_attention_heads, config.hidden_size)
    fused = _write_onnx(model, dummy, dst, names, axes, quantize, attention)
    _copy_files(src, dst, ["config.json", "tokenizer_config.json", "special_tokens_map.json"])
    meta = _meta("text", order, quantize, src, model_type=config.model_type, tokenizer=tok_spec,
                 max_length=max_length, fused_operators=fused)
    write_json(dst / META_FILE, meta)
    return meta


def export_bundle(bundle: str | os.PathLike, out: str | os.PathLike, *, fmt: str = "onnx",
                  quantize: str | None = None, overwrite: bool = False, log=print) -> dict[str, Any]:
    """Write ``out``: a copy of ``bundle`` whose hf-speech/hf-text members are ONNX members
    (int8 when ``quantize == "int8"``); other members and files are copied unchanged.

    Built in a temporary folder beside ``out`` and renamed into place. Returns the new bundle.json.
    """
    from emoens.bundle import BundleError, load_bundle, model_card, write_config
    from emoens.files import write_text

    if fmt != "onnx":
        raise ExportError(f"unknown export format {fmt!r}: only 'onnx' is supported")
    if quantize not in (None, "int8"):
        raise ExportError(f"unknown quantisation {quantize!r}: use int8 or none")
    bundle, out = Path(bundle), Path(out)
    try:
        source = load_bundle(bundle)
    except BundleError as exc:
        raise ExportError(str(exc)) from exc
    if out.resolve() == source.root.resolve():
        raise ExportError(f"--out {out} is the input bundle: choose another folder")
    if out.exists() and not overwrite:
        raise ExportError(f"{out} already exists: choose another --out or pass --overwrite")
    with atomic_directory(out) as staging:
        config = dict(source.config)
        members, exports = [], []
        for member in config["members"]:
            member = dict(member)
            src, dst = source.root / member["path"], staging / member["path"]
            kind = member["kind"]
            if kind in EXPORTED_KINDS:
                t0 = time.perf_counter()
                if kind == "hf-speech":
                    export_speech_member(src, dst, quantize)
                else:
                    export_text_member(src, dst, quantize,
                                       max_length=(member.get("options") or {}).get("max_length"))
                member["kind"] = EXPORTED_KINDS[kind]
                seconds = round(time.perf_counter() - t0, 1)
                exports.append({"member": member["name"], "from": kind, "to": member["kind"],
                                "seconds": seconds})
                log(f"exported {member['name']} ({kind} -> {member['kind']}"
                    f"{', int8' if quantize else ''}) in {seconds} s")
            else:
                dst.parent.mkdir(parents=True, exist_ok=True)
                (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
            members.append(member)
        for item in source.root.iterdir():  # stacking weights, extra files of the bundle
            target = staging / item.name
            if item.name not in ("bundle.json", "MODEL_CARD.md") and not target.exists():
                (shutil.copytree if item.is_dir() else shutil.copy2)(item, target)
        config["members"] = members
        provenance = dict(config.get("provenance") or {})
        provenance["export"] = {"from": config.get("name") or source.root.name, "format": fmt,
                                "quantize": quantize, "opset": OPSET, "members": exports}
        config["provenance"] = provenance
        try:
            write_config(staging, config)
        except BundleError as exc:
            raise ExportError(str(exc)) from exc
        write_text(staging / "MODEL_CARD.md", model_card(config))
    return config



# --------------------------------------------------------------------------------------------
# Fallback without ONNX Runtime
# --------------------------------------------------------------------------------------------

def torch_dynamic_int8(model):
    """``torch.ao`` dynamic int8 quantisation of a model's ``nn.Linear`` layers (CPU), for when
    ONNX Runtime is absent. Returns the quantised model (the input is left unchanged)."""
    import torch
    from torch.ao.quantization import quantize_dynamic

    return quantize_dynamic(model.eval(), {torch.nn.Linear}, dtype=torch.qint8)


def torch_int8_member(member):
    """Quantise a loaded hf-speech/hf-text member's ``model`` in place with
    :func:`torch_dynamic_int8` (CPU only); returns the member."""
    model = getattr(member, "model", None)
    if model is None:
        raise ExportError(f"{member!r} has no torch model to quantise")
    member.model = torch_dynamic_int8(model.cpu())
    return member


def onnxruntime_available() -> bool:
    """True when onnxruntime can be imported."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True
