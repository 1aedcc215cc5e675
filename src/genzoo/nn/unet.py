"""Denoisers for diffusion models: a U-Net for images and a residual MLP for points and tables.

Both see only (x_t, t[, y]) and return a tensor of x_t's shape (or twice its channels, when a
model learns its variances too).

- `timestep_embedding` (Vaswani et al. 2017, as used by Ho et al. 2020): sin/cos of t at
  geometrically spaced frequencies, then a 2-layer MLP.
- `UNet` (Ho et al. 2020, appendix B; Nichol & Dhariwal 2021, section 3): one level per entry
  of `channels`, each with `res_blocks` residual blocks (GroupNorm, SiLU, 3x3 convolutions; the
  time and class embedding scale and shift the second normalization, "AdaGN"), a stride-2
  convolution down between levels and nearest-neighbour upsampling back, skip connections
  from every down block to its mirror, multi-head self-attention at the levels listed in
  `attention`, and Res-Attention-Res in the middle. The last convolution of every residual
  branch and the output start at zero, so at initialization each block is the identity.
- `MLPDenoiser`: residual blocks of (LayerNorm, SiLU, Linear) with the embedding added to each.

Either may also see a code vector (a diffusion autoencoder's semantic code): an affine map of
it joins the time and class embedding, and so scales and shifts every block as they do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10_000.0) -> Tensor:
    """(B,) timesteps -> (B, dim): [cos(t w_k), sin(t w_k)], w_k = max_period^(-k / (dim/2))."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], 1)
    return F.pad(emb, (0, dim % 2))  # an odd dim gets one zero column


class Conditioning(nn.Module):
    """(t, y, code) -> one embedding (B, emb_dim): the sinusoidal t through an MLP, plus a
    learned class vector when the model is conditional, plus an affine map of a code vector
    (B, code_dim) when it is given one. Class index `num_classes` is the null label that
    classifier-free guidance trains with."""

    def __init__(
        self, base: int, emb_dim: int, num_classes: int | None, code_dim: int | None = None
    ):
        super().__init__()
        self.base = base
        self.mlp = nn.Sequential(nn.Linear(base, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.classes = nn.Embedding(num_classes + 1, emb_dim) if num_classes else None
        self.code = nn.Linear(code_dim, emb_dim) if code_dim else None

    def forward(self, t: Tensor, y: Tensor | None = None, code: Tensor | None = None) -> Tensor:
        emb = self.mlp(timestep_embedding(t, self.base))
        if self.classes is not None:
            if y is None:
                raise ValueError("a conditional denoiser needs labels y (the null label too)")
            emb = emb + self.classes(y)
        if self.code is not None:
            if code is None:
                raise ValueError("this denoiser is conditioned on a code: give it one")
            emb = emb + self.code(code)
        return emb


def zero(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    """x + F(x, emb): GN, SiLU, conv 3x3; GN scaled and shifted by the embedding, SiLU,
    dropout, conv 3x3 (zero at first). A 1x1 convolution matches channels on the skip."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int, dropout: float):
        super().__init__()
        self.in_layers = nn.Sequential(
            nn.GroupNorm(groups, c_in), nn.SiLU(), nn.Conv2d(c_in, c_out, 3, padding=1)
        )
        self.emb = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, 2 * c_out))
        self.out_norm = nn.GroupNorm(groups, c_out)
        self.out_layers = nn.Sequential(
            nn.SiLU(), nn.Dropout(dropout), zero(nn.Conv2d(c_out, c_out, 3, padding=1))
        )
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.in_layers(x)
        scale, shift = self.emb(emb)[:, :, None, None].chunk(2, 1)  # (B, C, 1, 1) each
        h = self.out_norm(h) * (1 + scale) + shift
        return self.skip(x) + self.out_layers(h)


class AttentionBlock(nn.Module):
    """x + proj(softmax(q k^T / sqrt(d)) v) over the H x W positions, `heads` heads."""

    def __init__(self, channels: int, groups: int, heads: int):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = zero(nn.Conv2d(channels, channels, 1))
        self.heads = heads

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        qkv = self.qkv(self.norm(x)).view(b, 3, self.heads, c // self.heads, h * w)
        q, k, v = (qkv[:, i].transpose(-1, -2) for i in range(3))  # (B, heads, HW, d)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, heads, HW, d)
        return x + self.proj(out.transpose(-1, -2).reshape(b, c, h, w))


class UNet(nn.Module):
    """(x_t (B, C, H, W), t (B,), y (B,)?, code (B, code_dim)?) -> (B, out_channels, H, W).

    `patch` p > 1 first folds each p x p block of pixels into channels (pixel unshuffle:
    (C, H, W) -> (C p^2, H/p, W/p)) and unfolds the output at the end, as vision
    transformers take patches: every level then works on p^2 times fewer positions."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        channels: Sequence[int] = (32, 64, 64),
        res_blocks: int = 1,
        attention: Sequence[int] = (2,),
        heads: int = 4,
        groups: int = 8,
        dropout: float = 0.1,
        num_classes: int | None = None,
        patch: int = 1,
        code_dim: int | None = None,
    ):
        super().__init__()
        self.patch = patch
        emb_dim = 4 * channels[0]
        self.cond = Conditioning(channels[0], emb_dim, num_classes, code_dim)
        self.input = nn.Conv2d(in_channels * patch**2, channels[0], 3, padding=1)
        self.down, skips = nn.ModuleList(), [channels[0]]
        c = channels[0]
        for level, width in enumerate(channels):
            for _ in range(res_blocks):
                blocks = [ResBlock(c, width, emb_dim, groups, dropout)]
                if level in attention:
                    blocks.append(AttentionBlock(width, groups, heads))
                self.down.append(nn.ModuleList(blocks))
                c = width
                skips.append(c)
            if level < len(channels) - 1:  # stride-2 down to the next level
                self.down.append(nn.ModuleList([nn.Conv2d(c, c, 3, stride=2, padding=1)]))
                skips.append(c)
        self.middle = nn.ModuleList(
            [
                ResBlock(c, c, emb_dim, groups, dropout),
                AttentionBlock(c, groups, heads),
                ResBlock(c, c, emb_dim, groups, dropout),
            ]
        )
        self.up = nn.ModuleList()
        for level, width in reversed(list(enumerate(channels))):
            for i in range(
                res_blocks + 1
            ):  # one more than down: it also takes the downsample's skip
                blocks = [ResBlock(c + skips.pop(), width, emb_dim, groups, dropout)]
                c = width
                if level in attention:
                    blocks.append(AttentionBlock(width, groups, heads))
                if level > 0 and i == res_blocks:
                    blocks.append(Upsample(c))
                self.up.append(nn.ModuleList(blocks))
        self.out = nn.Sequential(
            nn.GroupNorm(groups, c),
            nn.SiLU(),
            zero(nn.Conv2d(c, out_channels * patch**2, 3, padding=1)),
        )

    def forward(
        self, x: Tensor, t: Tensor, y: Tensor | None = None, code: Tensor | None = None
    ) -> Tensor:
        emb = self.cond(t, y, code)
        if self.patch > 1:
            x = F.pixel_unshuffle(x, self.patch)
        h = self.input(x)
        hs = [h]
        for blocks in self.down:
            for block in blocks:
                h = block(h, emb) if isinstance(block, ResBlock) else block(h)
            hs.append(h)
        for block in self.middle:
            h = block(h, emb) if isinstance(block, ResBlock) else block(h)
        for blocks in self.up:
            skip = hs.pop()
            h = torch.cat([_fit(h, skip), skip], 1)
            for block in blocks:
                h = block(h, emb) if isinstance(block, ResBlock) else block(h)
        out = self.out(h)
        return F.pixel_shuffle(out, self.patch) if self.patch > 1 else out


class Upsample(nn.Module):
    """Nearest x2 then a 3x3 convolution; `_fit` trims odd sizes (7 -> 14 -> 28, 4 -> 7)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def _fit(h: Tensor, skip: Tensor) -> Tensor:
    """h cropped to the skip's spatial size (an odd size downsampled rounds up)."""
    return h[:, :, : skip.shape[2], : skip.shape[3]]


class MLPDenoiser(nn.Module):
    """(x_t (B, D), t (B,), y (B,)?, code (B, code_dim)?) -> (B, out_features): an input
    layer, `blocks` residual blocks h + Linear(SiLU(LN(h) + emb)), and an output layer that
    starts at zero."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        width: int = 256,
        blocks: int = 3,
        num_classes: int | None = None,
        code_dim: int | None = None,
    ):
        super().__init__()
        self.cond = Conditioning(width, width, num_classes, code_dim)
        self.input = nn.Linear(in_features, width)
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(blocks))
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(blocks))
        self.out = nn.Sequential(
            nn.LayerNorm(width), nn.SiLU(), zero(nn.Linear(width, out_features))
        )

    def forward(
        self, x: Tensor, t: Tensor, y: Tensor | None = None, code: Tensor | None = None
    ) -> Tensor:
        emb = self.cond(t, y, code)
        h = self.input(x)
        for norm, layer in zip(self.norms, self.layers, strict=True):
            h = h + layer(F.silu(norm(h) + emb))
        return self.out(h)
