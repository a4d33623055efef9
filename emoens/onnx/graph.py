"""Export-time passes over ONNX graphs (onnx, onnxruntime.quantization; no torch): dynamic int8
quantisation, one shared input quantiser per tensor, BERT attention fusion, and the
external-weights file format (page-aligned weights after a text header).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from emoens.onnx.runtime import ExportError

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
                          "without it use emoens.onnx.export.torch_dynamic_int8 on the torch model") from exc
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


def _drop_unread_layouts(nodes: list, outputs: set[str]) -> list:
    """``nodes`` without the layout nodes (and those feeding only them) that nothing reads."""
    while True:
        read = {name for n in nodes for name in n.input} | outputs
        dead = [n for n in nodes if n.op_type in LAYOUT_OPS and not any(o in read for o in n.output)]
        if not dead:
            return nodes
        nodes = [n for n in nodes if n not in dead]


def share_input_quantization(path: Path) -> int:
    """Quantise a tensor once, before the slices, reshapes and concatenations that lay it out
    for quantised MatMuls, instead of quantising each laid-out copy.

    ``quantize_dynamic`` quantises each MatMul's own input: a convolution rewritten as a MatMul
    (see :func:`emoens.onnx.rewrites.matmul_feature_encoder`) then copies float frames into its input and quantises that.
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
    new_nodes = _drop_unread_layouts(new_nodes, {o.name for o in model.graph.output})
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
