"""The ONNX fast path: export of tiny hf members, parity with torch, no torch at run time, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from emoens.onnx.export import export_speech_member, export_text_member
from emoens.onnx.runtime import (ExportError, SentencePieceEncoder, load_onnx_speech_member,
                                 load_onnx_text_member)
from emoens.models import load_member

REPO = Path(__file__).resolve().parents[1]
TEXTS = ["오늘 날씨가 정말 좋아서 기분이 좋아요", "왜 이렇게   화가 나는지 모르겠어", "", "숫자 123, 456 그리고 789",
         "Café 놀랐잖아!!", "ａｂｃ 전각 문자와 e\u0301 결합 문자", "너무 " * 80]


def _waves(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(0.1 * rng.standard_normal(n)).astype(np.float32) for n in (16000, 5000, 300, 24000)]


@pytest.fixture(scope="module")
def onnx_members(tmp_path_factory, tiny_speech_model_dir, tiny_text_model_dir):
    """fp32 and int8 exports of the tiny speech and text models."""
    root = tmp_path_factory.mktemp("onnx")
    out = {}
    for q in (None, "int8"):
        out[("speech", q)] = root / f"speech-{q}"
        export_speech_member(tiny_speech_model_dir, out[("speech", q)], q)
        out[("text", q)] = root / f"text-{q}"
        export_text_member(tiny_text_model_dir, out[("text", q)], q)
    return out


def test_speech_fp32_matches_torch(onnx_members, tiny_speech_model_dir):
    ref = load_member("hf-speech", tiny_speech_model_dir, batch_size=1).predict_proba(_waves())
    fast = load_member("onnx-speech", onnx_members[("speech", None)])
    got = fast.predict_proba(_waves())
    assert fast.modality == "speech" and got.shape == (4, 7)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)
    assert np.abs(got - ref).max() < 1e-4


@pytest.mark.parametrize("kernels,strides,norm", [(None, None, None), ([10, 3, 2], [5, 2, 2], "layer"),
                                                  ([10, 3, 2], [5, 2, 2], "group"),
                                                  ([4, 3], [5, 2], "group")])
def test_conv_as_matmul_rewrite_is_exact(tiny_speech_model_dir, tmp_path, kernels, strides, norm):
    """Exact in torch and in the exported graph, for kernel < stride (the fixture) and for
    wav2vec2's kernel 3 / stride 2 and kernel 2 / stride 2, with LayerNorm on every layer
    (XLSR) or a per-channel GroupNorm on the first (wav2vec2-base; folded into its weights)."""
    import torch

    from emoens.onnx.rewrites import matmul_feature_encoder
    from emoens.models.speech import build_speech_model, load_speech_model
    from tests.fixtures.models import TINY_SPEECH_CONFIG

    if kernels is None:
        model, _ = load_speech_model(tiny_speech_model_dir)
    else:
        torch.manual_seed(0)
        model, _ = build_speech_model(None, model_config={
            **TINY_SPEECH_CONFIG, "conv_kernel": kernels, "conv_stride": strides,
            "conv_dim": [16] * len(kernels), "num_feat_extract_layers": len(kernels),
            "feat_extract_norm": norm, "conv_bias": norm == "group"})
        if norm == "group":  # non-trivial affine parameters, so folding them is tested
            norm_layer = model.base_model.feature_extractor.conv_layers[0].layer_norm
            torch.nn.init.uniform_(norm_layer.weight, 0.5, 2.0)
            torch.nn.init.uniform_(norm_layer.bias, -0.5, 0.5)
    model.eval()
    waves = [torch.from_numpy(w)[None] for w in _waves(2)]
    with torch.no_grad():
        ref = [model(w).logits for w in waves]
        assert matmul_feature_encoder(model)
        got = [model(w).logits for w in waves]
    assert max((a - b).abs().max().item() for a, b in zip(ref, got)) < 1e-5
    # and the exported graph keeps the length dynamic (odd lengths, other lengths than traced)
    from emoens.onnx.export import _torch_export
    from emoens.onnx.runtime import make_session

    _torch_export(model, (torch.zeros(1, 16000),), tmp_path / "m.onnx", ["input_values"],
                  {"input_values": {0: "batch", 1: "samples"}, "logits": {0: "batch"}})
    session = make_session(tmp_path / "m.onnx")
    for w, r in zip(waves, ref):
        assert np.abs(session.run(None, {"input_values": w.numpy()})[0] - r.numpy()).max() < 1e-4


@pytest.mark.parametrize("kernel,groups", [(16, 2), (5, 4), (128, 16)])
def test_spectral_positional_conv_is_exact(tmp_path, kernel, groups):
    """The frequency-domain positional convolution equals the grouped Conv1d (even and odd
    kernels, one block and several, one frame) in torch and in the exported graph."""
    import torch

    from emoens.onnx.export import _torch_export
    from emoens.onnx.rewrites import spectral_positional_conv
    from emoens.onnx.runtime import make_session
    from emoens.models.speech import build_speech_model
    from tests.fixtures.models import TINY_SPEECH_CONFIG

    torch.manual_seed(0)
    model, _ = build_speech_model(None, model_config={
        **TINY_SPEECH_CONFIG, "num_conv_pos_embeddings": kernel, "num_conv_pos_embedding_groups": groups})
    model.eval()
    original = model.base_model.encoder.pos_conv_embed
    xs = [torch.randn(1, frames, TINY_SPEECH_CONFIG["hidden_size"]) for frames in (1, 7, 3 * kernel + 5)]
    with torch.no_grad():
        ref = [original(x) for x in xs]
        assert spectral_positional_conv(model) == ["wav2vec2.encoder.pos_conv_embed"]
        spectral = model.base_model.encoder.pos_conv_embed
        got = [spectral(x) for x in xs]
    for r, g in zip(ref, got):
        assert r.shape == g.shape and (r - g).abs().max().item() < 1e-5
    _torch_export(spectral, (xs[1],), tmp_path / "pos.onnx", ["hidden_states"], {"hidden_states": {1: "frames"}})
    session = make_session(tmp_path / "pos.onnx")
    for x, r in zip(xs, ref):
        assert np.abs(session.run(None, {"hidden_states": x.numpy()})[0] - r.numpy()).max() < 1e-5
    assert spectral_positional_conv(model) == []  # nothing left to replace


def test_int8_conv_layers_quantise_their_input_once(tmp_path):
    """With wav2vec2's kernel 3 / stride 2 each rewritten convolution lays its input out as a
    reshape (head) beside a strided slice (tail): the int8 graph quantises that input once and
    lays out the int8 tensor, and stays close to the float export."""
    import onnx
    import torch

    from emoens.models.speech import build_speech_model
    from tests.fixtures.models import TINY_SPEECH_CONFIG

    torch.manual_seed(0)
    model, extractor = build_speech_model(None, model_config={
        **TINY_SPEECH_CONFIG, "conv_kernel": [10, 3, 3, 2], "conv_stride": [5, 2, 2, 2],
        "conv_dim": [16] * 4, "num_feat_extract_layers": 4})
    src = tmp_path / "hf"
    model.save_pretrained(str(src))
    extractor.save_pretrained(str(src))
    for q in (None, "int8"):
        export_speech_member(src, tmp_path / str(q), q)
    nodes = onnx.load(str(tmp_path / "int8" / "model.onnx"), load_external_data=False).graph.node
    shared = [n for n in nodes if n.op_type == "DynamicQuantizeLinear" and n.name.endswith("_SharedQuantize")]
    assert len(shared) == 2  # the two kernel-3 layers; the kernel-2 one has no tail
    assert len([n for n in nodes if n.op_type == "Concat" and n.name.endswith("_int8")]) == 2
    producer = {out: n for n in nodes for out in n.output}
    for n in nodes:  # no float slice of the feature encoder is quantised on its own any more
        if n.op_type == "DynamicQuantizeLinear" and n not in shared:
            assert producer.get(n.input[0]) is None or producer[n.input[0]].op_type != "Slice", n.name
    waves = _waves(3)
    fp32 = load_member("onnx-speech", tmp_path / "None").predict_proba(waves)
    int8 = load_member("onnx-speech", tmp_path / "int8").predict_proba(waves)
    assert np.abs(int8 - fp32).max() < 0.05


def test_text_fp32_matches_torch(onnx_members, tiny_text_model_dir):
    ref = load_member("hf-text", tiny_text_model_dir).predict_proba(TEXTS)
    fast = load_member("onnx-text", onnx_members[("text", None)])
    got = fast.predict_proba(TEXTS)
    assert fast.modality == "text" and got.shape == (len(TEXTS), 7)
    assert np.abs(got - ref).max() < 1e-4
    # batching with padding gives each text the same result as alone
    alone = np.vstack([fast.predict_proba([t]) for t in TEXTS])
    assert np.abs(alone - got).max() < 1e-5


def test_int8_is_close_to_fp32_and_smaller(onnx_members):
    for modality, inputs in (("speech", _waves(1)), ("text", TEXTS)):
        fp32 = load_member(f"onnx-{modality}", onnx_members[(modality, None)]).predict_proba(inputs)
        int8 = load_member(f"onnx-{modality}", onnx_members[(modality, "int8")]).predict_proba(inputs)
        assert np.abs(int8 - fp32).max() < 0.05, modality
        meta = json.loads((onnx_members[(modality, "int8")] / "onnx_member.json").read_text())
        assert meta["quantize"] == "int8"
    speech_model = onnx_members[("speech", "int8")] / "model.onnx"
    # weights live beside the graph, page-aligned, behind a text header
    data = (onnx_members[("speech", "int8")] / "model.onnx.data").read_bytes()
    assert data.startswith(b"emoens ONNX")
    import onnx

    graph = onnx.load(str(speech_model), load_external_data=False).graph
    external = [t for t in graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    assert external and all(int(dict((e.key, e.value) for e in t.external_data)["offset"]) % 4096 == 0
                            for t in external)
    ops = {n.op_type for n in onnx.load(str(speech_model)).graph.node}
    assert "MatMulInteger" in ops or "DynamicQuantizeMatMul" in ops
    assert "ConvInteger" not in ops  # int8 convolutions are slower than fp32 ones on CPU
    # the feature encoder's convolutions became MatMuls (the first one float, the others
    # quantised) and the positional convolution float MatMuls in the frequency domain: no Conv left
    nodes = onnx.load(str(speech_model)).graph.node
    assert not [n.name for n in nodes if n.op_type == "Conv"]
    kept_float = [n for n in nodes if "/pos_conv_embed/" in n.name or "/feature_extractor/first/" in n.name]
    assert any(n.op_type == "MatMul" for n in kept_float)
    assert not [n.name for n in kept_float if "Integer" in n.op_type or "Quantize" in n.op_type]
    meta = json.loads((onnx_members[("speech", "int8")] / "onnx_member.json").read_text())
    assert meta["conv_as_matmul"] and meta["spectral_positional_conv"]
    # both graphs: one fused (int8) attention op per layer, no separate Softmax
    for modality in ("speech", "text"):
        member = onnx_members[(modality, "int8")]
        meta = json.loads((member / "onnx_member.json").read_text())
        ops = [n.op_type for n in onnx.load(str(member / "model.onnx")).graph.node]
        layers = json.loads((member / "config.json").read_text())["num_hidden_layers"]
        if modality == "speech":  # int8 packed projection + float attention
            assert meta["fused_operators"]["MultiHeadAttention"] == layers == ops.count("MultiHeadAttention")
        else:
            assert meta["fused_operators"]["Attention"] == layers == ops.count("QAttention")
        assert "Softmax" not in ops, modality
        # residual + LayerNorm stay two ops: ONNX Runtime's fused kernel is the slower one
        assert "SkipLayerNormalization" not in ops and "LayerNormalization" in ops, modality


def test_sentencepiece_encoder_matches_kobert_tokenizer(onnx_members, tiny_text_model_dir):
    from emoens.models.text import load_tokenizer

    tok = load_tokenizer(tiny_text_model_dir)
    meta = json.loads((onnx_members[("text", None)] / "onnx_member.json").read_text())
    assert meta["tokenizer"]["kind"] == "sentencepiece-kobert"
    enc = SentencePieceEncoder(onnx_members[("text", None)], meta["tokenizer"])
    for text in TEXTS:
        want = tok(text, truncation=True, max_length=32)["input_ids"]
        assert enc.encode(text, 32) == want, text


def test_sentencepiece_encoder_on_real_transcripts(onnx_members, tiny_text_model_dir, shared_data):
    from emoens.models.text import load_tokenizer
    from emoens.text import clean_transcript, read_transcript

    tok = load_tokenizer(tiny_text_model_dir)
    meta = json.loads((onnx_members[("text", None)] / "onnx_member.json").read_text())
    enc = SentencePieceEncoder(onnx_members[("text", None)], meta["tokenizer"])
    files = sorted((shared_data / "KEMDy20").rglob("*.txt"))[:300]
    assert files
    for path in files:
        text = clean_transcript(read_transcript(path))
        assert enc.encode(text, 64) == tok(text, truncation=True, max_length=64)["input_ids"], path


def test_onnx_members_never_import_torch(onnx_members):
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from emoens.models import load_member
        s = load_member("onnx-speech", {str(onnx_members[("speech", "int8")])!r})
        t = load_member("onnx-text", {str(onnx_members[("text", "int8")])!r})
        p = s.predict_proba([np.zeros(16000, np.float32)])
        q = t.predict_proba(["안녕하세요"])
        assert p.shape == (1, 7) and q.shape == (1, 7)
        print("torch" in sys.modules, "transformers" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_session_options(onnx_members):
    member = load_onnx_text_member(onnx_members[("text", "int8")], threads=1)
    options = member.session.get_session_options()
    assert options.intra_op_num_threads == 1
    # threads spin within a run and stop when it returns (two sessions in turn do not fight)
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "1"
    assert options.get_session_config_entry("session.force_spinning_stop") == "1"


def test_sessions_leave_other_onnxruntime_sessions_alone(onnx_members):
    """emoens' sessions use pools of their own: another library's session in the same process,
    with its own thread settings, still loads and runs."""
    import onnxruntime as ort

    member = load_onnx_speech_member(onnx_members[("speech", "int8")])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    other = ort.InferenceSession(str(onnx_members[("speech", None)] / "model.onnx"), options,
                                 providers=["CPUExecutionProvider"])
    clip = np.zeros((1, 16000), np.float32)
    assert other.run(None, {"input_values": clip})[0].shape == (1, 7)
    assert member.predict_proba([clip[0]]).shape == (1, 7)


def test_bad_member_dirs(tmp_path, onnx_members):
    with pytest.raises(ExportError, match="not found"):
        load_onnx_speech_member(tmp_path / "nope")
    with pytest.raises(ExportError, match="onnx_member.json"):
        load_onnx_speech_member(tmp_path)
    with pytest.raises(ExportError, match="expected 'speech'"):
        load_onnx_speech_member(onnx_members[("text", None)])
    with pytest.raises(ExportError, match="empty waveform"):
        load_onnx_speech_member(onnx_members[("speech", None)]).predict_proba([np.zeros(0, np.float32)])
    with pytest.raises(ExportError, match="not a speech model directory"):
        export_speech_member(tmp_path, tmp_path / "out")


def _bundle(tmp_path, speech_dir, text_dir) -> Path:
    from emoens.bundle import MemberSpec, build_bundle

    out = tmp_path / "hf-bundle"
    other = tmp_path / "other-member"
    other.mkdir()
    (other / "head.json").write_text('{"weights": [1, 2, 3]}')
    build_bundle(out, [(MemberSpec("speech", "hf-speech", "speech", "speech", 0.4), speech_dir),
                       (MemberSpec("text", "hf-text", "text", "text", 0.4), text_dir),
                       (MemberSpec("light", "text-head", "text", "light", 0.2), other)],
                 name="tiny", asr={"backend": "none"})
    return out


def test_cli_export_bundle(tmp_path, tiny_speech_model_dir, tiny_text_model_dir, capsys):
    from emoens.bundle import load_bundle
    from emoens.cli import main

    src = _bundle(tmp_path, tiny_speech_model_dir, tiny_text_model_dir)
    out = tmp_path / "onnx-bundle"
    assert main(["export", "--bundle", str(src), "--format", "onnx", "--quantize", "int8",
                 "--out", str(out)]) == 0
    bundle = load_bundle(out)
    assert [(m.name, m.kind) for m in bundle.members] == [
        ("speech", "onnx-speech"), ("text", "onnx-text"), ("light", "text-head")]
    assert (out / "light" / "head.json").read_bytes() == (src / "light" / "head.json").read_bytes()
    assert [m.weight for m in bundle.members] == [m.weight for m in load_bundle(src).members]
    assert bundle.config["provenance"]["export"]["quantize"] == "int8"
    assert not list(out.rglob("*.safetensors"))
    assert (out / "MODEL_CARD.md").is_file()
    member = load_member("onnx-text", bundle.member_path(bundle.members[1]))
    assert member.predict_proba(["좋아요"]).shape == (1, 7)
    # refusing to overwrite, and bad input, are clean errors
    capsys.readouterr()
    assert main(["export", "--bundle", str(src), "--out", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["export", "--bundle", str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 1
    assert "missing" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left over


def test_torch_int8_member(tiny_text_model_dir):
    from emoens.onnx.export import torch_int8_member

    ref = load_member("hf-text", tiny_text_model_dir).predict_proba(TEXTS)
    member = torch_int8_member(load_member("hf-text", tiny_text_model_dir))
    assert np.abs(member.predict_proba(TEXTS) - ref).max() < 0.05
    with pytest.raises(ExportError, match="no torch model"):
        torch_int8_member(object())


def test_torch_dynamic_int8_fallback(tiny_text_model_dir):
    import torch

    from emoens.onnx.export import torch_dynamic_int8
    from emoens.models.text import load_text_model

    model, tok = load_text_model(tiny_text_model_dir)
    q = torch_dynamic_int8(model)
    assert any("quantized" in type(m).__module__ for m in q.modules())
    enc = tok(TEXTS[:3], padding=True, return_tensors="pt")
    with torch.no_grad():
        a = torch.softmax(model(**enc).logits, -1)
        b = torch.softmax(q(**enc).logits, -1)
    assert (a - b).abs().max().item() < 0.05


@pytest.mark.slow
def test_latency_bench_quick_smoke():
    """bench/latency.py --quick runs end to end and ends with the speed-up line."""
    out = subprocess.run([sys.executable, "bench/latency.py", "--quick", "--requests", "2",
                          "--accuracy-clips", "2"], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("speedup_vs_naive=") and float(last.split("=")[1]) > 0
    result = json.loads((REPO / ".cache" / "bench" / "results-quick" / "latency.json").read_text())
    assert result["base"]["process"]["fast"]["torch_imported"] is False
    assert result["base"]["process"]["naive"]["torch_imported"] is True


def test_fast_tokenizer_text_member(tmp_path):
    """A text model with a Hugging Face fast tokenizer runs through ``tokenizers`` alone."""
    import torch
    from transformers import BertTokenizerFast

    from emoens.models.text import build_text_model

    chars = sorted({c for t in TEXTS for c in t if not c.isspace()})
    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]))
    tok_dir = tmp_path / "tok"
    BertTokenizerFast(str(tmp_path / "vocab.txt")).save_pretrained(str(tok_dir))
    torch.manual_seed(0)
    model, tok = build_text_model(None, tokenizer=tok_dir, model_config={
        "model_type": "bert", "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
        "intermediate_size": 64, "max_position_embeddings": 128})
    src = tmp_path / "model"
    model.save_pretrained(str(src))
    tok.save_pretrained(str(src))
    meta = export_text_member(src, tmp_path / "onnx", None)
    assert meta["tokenizer"]["kind"] == "tokenizers"
    ref = load_member("hf-text", src).predict_proba(TEXTS)
    got = load_member("onnx-text", tmp_path / "onnx").predict_proba(TEXTS)
    assert np.abs(got - ref).max() < 1e-4
