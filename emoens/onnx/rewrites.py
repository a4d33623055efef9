"""Export-time rewrites of torch modules into equivalent ones that export to faster ONNX graphs.

Each rewrite is a top-level ``nn.Module`` built from the module it replaces (so it can be built
and compared with the original alone, see tests/test_onnx_rewrites.py), plus the function that
swaps it into a model:

- :func:`matmul_feature_encoder`: a wav2vec2-family convolutional feature encoder as MatMuls
  (:class:`FirstConvAsMatMul` with its GroupNorm folded in, then :class:`ConvAsMatMul` layers);
- :func:`fuse_self_attention`: q/k/v/out self-attention as :class:`FusedSelfAttention` (one packed
  projection and one ``com.microsoft::MultiHeadAttention`` op, :class:`AttentionOp`);
- :func:`spectral_positional_conv`: the positional convolution in the frequency domain
  (:class:`SpectralPositionalConv`).

Imports torch at module level: only the exporter imports this module.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from emoens.onnx.runtime import ExportError


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
    """A wav2vec2-family feature encoder of :class:`FirstConvAsMatMul` + :class:`ConvAsMatMul`
    layers, channel-last inside, (batch, channels, frames) out like the original."""

    def __init__(self, encoder):
        super().__init__()
        self.first = FirstConvAsMatMul(encoder.conv_layers[0])
        self.rest = nn.ModuleList(ConvAsMatMul(layer) for layer in list(encoder.conv_layers)[1:])

    def forward(self, input_values):
        h = self.first(input_values)
        for layer in self.rest:
            h = layer(h)
        return h.transpose(1, 2)  # (batch, channels, frames) as the model expects


def matmul_feature_encoder(model) -> bool:
    """Replace a wav2vec2-family convolutional feature encoder (for export only) by an
    equivalent one whose strided convolutions after the first are reshapes/slices + MatMuls,
    channel-last. Dynamic int8 then covers them: as MatMulInteger they are several times faster
    than fp32 Conv, while ConvInteger is slower. Returns True when the model was rewritten."""
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
    setattr(base, "feature_extractor", MatMulFeatureEncoder(encoder).eval())
    return True


def replace_modules(model, matches, replacement) -> list[str]:
    """Swap every submodule for which ``matches(module)`` holds by ``replacement(module)`` (in
    eval mode); returns the paths swapped."""
    paths = [path for path, module in model.named_modules() if path and matches(module)]
    for path in paths:
        parent_path, _, name = path.rpartition(".")
        parent = model.get_submodule(parent_path)
        setattr(parent, name, replacement(getattr(parent, name)).eval())
    return paths


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
    """A self-attention block as one packed QKV projection, :class:`AttentionOp` and the output
    projection (no attention mask: one clip per run)."""

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


def fusable_attention(block) -> bool:
    """A self-attention block with biased q/k/v/out projections (not a decoder's)."""
    projections = [getattr(block, n, None) for n in ("q_proj", "k_proj", "v_proj", "out_proj")]
    return isinstance(getattr(block, "num_heads", None), int) and not getattr(block, "is_decoder", False) \
        and all(isinstance(p, nn.Linear) and p.bias is not None for p in projections)


def fuse_self_attention(model) -> int:
    """Replace (for export only) every self-attention block with q/k/v/out projections, as in
    wav2vec2, HuBERT and WavLM-less relatives, by one packed QKV projection (a MatMul, int8
    when quantised), one ``com.microsoft::MultiHeadAttention`` op and the output projection.
    ONNX Runtime's own fusion does not recognise these graphs, and the unfused attention (three
    projections, transposes, two MatMuls and a Softmax) costs about twice as much at 5 s; the
    ``Attention`` op (int8: ``QAttention``) is ~8 % slower at 5 s and ~13 % at 60 s.
    Returns the number of blocks replaced (0 when the model has none of that shape)."""
    return len(replace_modules(model, fusable_attention, FusedSelfAttention))


def onnx_scope(module_path: str) -> str:
    """The prefix of the ONNX node names the TorchScript exporter gives a module's operators."""
    return "/" + module_path.replace(".", "/") + "/"


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


def is_positional_conv(module) -> bool:
    """A wav2vec2-family positional convolution: grouped Conv1d, 'same' padding, activation."""
    conv, same = getattr(module, "conv", None), getattr(module, "padding", None)
    return isinstance(conv, nn.Conv1d) and conv.groups > 1 and conv.bias is not None \
        and conv.stride == (1,) and conv.dilation == (1,) \
        and conv.padding == (conv.kernel_size[0] // 2,) \
        and getattr(same, "num_pad_remove", None) == (1 if conv.kernel_size[0] % 2 == 0 else 0) \
        and callable(getattr(module, "activation", None))


def spectral_positional_conv(model) -> list[str]:
    """Replace (for export only) wav2vec2-family positional convolutions (one grouped Conv1d of
    kernel K with 'same' padding, then an activation) by the same convolution computed in the
    frequency domain. Returns the module paths replaced (empty when the model has none).

    On CPU, ONNX Runtime runs that grouped convolution (768 channels, K = 128) at ~12 ms for a
    5-s clip, more than any other single operator; overlap-save over blocks of N = 2K frames
    with DFTs as MatMuls and one complex channel mix per frequency needs ~8x fewer operations
    (~3.5 ms) and agrees with the convolution to ~1e-6. These MatMuls must stay float."""
    return replace_modules(model, is_positional_conv, SpectralPositionalConv)
