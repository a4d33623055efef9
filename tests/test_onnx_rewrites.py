"""The export-time rewrites of emoens.onnx.rewrites, each alone against the torch computation it
replaces (no transformers model, no ONNX): same outputs to float precision."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from emoens.onnx import rewrites  # noqa: E402
from emoens.onnx.runtime import ExportError  # noqa: E402


class ConvLayer(nn.Module):
    """A wav2vec2-style conv layer: Conv1d, optional norm over channels, activation."""

    def __init__(self, cin, cout, k, s, norm=None):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, k, stride=s, bias=norm != "group")
        self.layer_norm = {"layer": nn.LayerNorm(cout), "group": nn.GroupNorm(cout, cout),
                           None: None}[norm]
        self.activation = nn.GELU()

    def reference(self, x):  # x: (batch, cin, time) -> (batch, time', cout)
        h = self.conv(x)
        if isinstance(self.layer_norm, nn.GroupNorm):
            h = self.layer_norm(h)
        elif self.layer_norm is not None:
            h = self.layer_norm(h.transpose(1, 2)).transpose(1, 2)
        return self.activation(h).transpose(1, 2)


def _randomise(module):
    torch.manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(-0.5, 0.5)
        norm = getattr(module, "layer_norm", None)
        if norm is not None:
            norm.weight.uniform_(0.5, 2.0)
    return module.eval()


@pytest.mark.parametrize("k, s, norm", [(3, 2, "layer"), (2, 2, None), (3, 3, "layer"), (4, 3, None)])
def test_conv_as_matmul_equals_the_convolution(k, s, norm):
    layer = _randomise(ConvLayer(6, 5, k, s, norm))
    x = torch.randn(2, 6, 37)
    with torch.no_grad():
        got = rewrites.ConvAsMatMul(layer)(x.transpose(1, 2))
        assert torch.allclose(got, layer.reference(x), atol=1e-5)


@pytest.mark.parametrize("norm", ["group", "layer", None])
def test_first_conv_as_matmul_folds_the_group_norm(norm):
    layer = _randomise(ConvLayer(1, 8, 10, 5, norm))
    wave = torch.randn(3, 1601)
    with torch.no_grad():
        got = rewrites.FirstConvAsMatMul(layer)(wave)
        assert torch.allclose(got, layer.reference(wave[:, None]), atol=1e-4)


class Attention(nn.Module):
    def __init__(self, dim=16, heads=4):
        super().__init__()
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(dim, dim) for _ in range(4))
        self.num_heads = heads

    def reference(self, x):
        b, n, d = x.shape
        h = self.num_heads
        q, k, v = (p(x).reshape(b, n, h, -1).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        weights = torch.softmax(q @ k.transpose(2, 3) / (d // h) ** 0.5, dim=-1)
        return self.out_proj((weights @ v).transpose(1, 2).reshape(b, n, d))


def test_fused_self_attention_equals_multi_head_attention():
    block = _randomise(Attention())
    x = torch.randn(2, 9, 16)
    fused = rewrites.FusedSelfAttention(block).eval()
    with torch.no_grad():
        out, _ = fused(x)
        assert torch.allclose(out, block.reference(x), atol=1e-5)
    with pytest.raises(ExportError, match="attention mask"):
        fused(x, attention_mask=torch.ones(2, 9))
    assert rewrites.fusable_attention(block)
    block.is_decoder = True
    assert not rewrites.fusable_attention(block)


class PositionalConv(nn.Module):
    def __init__(self, channels=8, kernel=6, groups=2):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel, padding=kernel // 2, groups=groups)
        self.padding = type("Pad", (), {"num_pad_remove": 1 if kernel % 2 == 0 else 0})()
        self.activation = nn.GELU()

    def reference(self, x):  # (batch, frames, channels)
        h = self.conv(x.transpose(1, 2))
        if self.padding.num_pad_remove:
            h = h[:, :, : -self.padding.num_pad_remove]
        return self.activation(h).transpose(1, 2)


@pytest.mark.parametrize("kernel, frames", [(6, 1), (6, 40), (5, 13)])
def test_spectral_positional_conv_equals_the_grouped_convolution(kernel, frames):
    module = _randomise(PositionalConv(kernel=kernel))
    assert rewrites.is_positional_conv(module)
    x = torch.randn(2, frames, 8)
    with torch.no_grad():
        got = rewrites.SpectralPositionalConv(module)(x)
        assert torch.allclose(got, module.reference(x), atol=1e-5)


def test_replace_modules_swaps_by_path_and_names_the_onnx_scope():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(PositionalConv(), nn.ReLU()))
    swapped = rewrites.replace_modules(model, rewrites.is_positional_conv,
                                       rewrites.SpectralPositionalConv)
    assert swapped == ["1.0"] and isinstance(model[1][0], rewrites.SpectralPositionalConv)
    assert not model[1][0].training
    assert rewrites.onnx_scope("wav2vec2.encoder.pos_conv_embed") == "/wav2vec2/encoder/pos_conv_embed/"
