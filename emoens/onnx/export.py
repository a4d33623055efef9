"""Export time: hf-speech / hf-text members to ONNX members (optionally int8), whole bundles, and
the ``torch.ao`` fallback when ONNX Runtime is absent. Imports torch and transformers (lazily).

:func:`export_bundle` turns a bundle whose members are ``hf-speech``/``hf-text`` into one whose
members are ``onnx-speech``/``onnx-text`` (other kinds are copied unchanged). The speech model is
first rewritten for speed (:mod:`emoens.onnx.rewrites`), then exported, fused, quantised and saved
(:mod:`emoens.onnx.graph`).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any, Sequence

from emoens.files import atomic_directory, write_json
from emoens.onnx.graph import fuse_bert_attention, quantize_int8, save_external
from emoens.onnx.runtime import META_FILE, META_FORMAT, META_VERSION, MODEL_FILE, OPSET, ExportError

# text model types whose layers match ONNX Runtime's BERT attention fusion
BERT_LIKE = ("bert",)
EXPORTED_KINDS = {"hf-speech": "onnx-speech", "hf-text": "onnx-text"}


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


def _load_for_export(loader, src: Path):
    """``(model, extractor or tokenizer, canonical label order)`` of the member in ``src``."""
    from emoens.models.common import ModelError, label_permutation

    try:
        model, aux = loader(src)
        return model, aux, label_permutation(model.config, src)
    except ModelError as exc:
        raise ExportError(str(exc)) from exc


def export_speech_member(src: Path, dst: Path, quantize: str | None = "int8") -> dict[str, Any]:
    """Export the hf-speech member in ``src`` (a transformers audio classifier) to ``dst``.

    The ONNX graph takes ``input_values`` (batch, samples) and returns ``logits``; returns the
    member's meta (also written to ``dst/onnx_member.json``)."""
    import torch

    from emoens.models.speech import load_speech_model
    from emoens.onnx import rewrites

    src, dst = Path(src), Path(dst)
    model, extractor, order = _load_for_export(load_speech_model, src)
    model.eval()
    rewritten = bool(quantize) and rewrites.matmul_feature_encoder(model)
    fused = rewrites.fuse_self_attention(model)
    spectral = rewrites.spectral_positional_conv(model)
    # int8 would ruin the DFTs; the first layer reads the raw waveform and costs little in float
    keep_float = [rewrites.onnx_scope(path) for path in spectral]
    if rewritten:
        keep_float.append(rewrites.onnx_scope(f"{model.base_model_prefix}.feature_extractor.first"))
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

    from emoens.models.text import DEFAULT_MAX_LENGTH, load_text_model

    src, dst = Path(src), Path(dst)
    model, tokenizer, order = _load_for_export(load_text_model, src)
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
