"""The denoising network that the diffusion models share (`ddpm`, `edm`): a U-Net for images,
sized to the image unless its widths are given, and a residual MLP for points and tables. Its
fields sit in `DenoiserConfig`, which each model's config extends."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from ...config import check
from ...data.dataset import DataInfo
from ...errors import ConfigError
from ...nn.sizing import (
    attention_levels,
    level_sizes,
    possible_widths,
    stages_for,
    widths_for,
)
from ...nn.unet import MLPDenoiser, UNet

UNET_WIDTHS = (16, 32, 64)  # the U-Net of 28x28 digits, highest resolution first


@dataclass
class DenoiserConfig:
    # the U-Net (images), sized for two CPU cores: 0.7M parameters on 28x28
    # one level per entry, halving the size (none: sized to the image, nn.sizing: (16, 32, 64)
    # at 28x28 and 32x32, (8, 16, 32, 64) at 64x64, the lowest level at most 8 pixels a side)
    channels: tuple[int, ...] | None = None
    res_blocks: int = 1  # residual blocks per level
    # levels with self-attention, 0 the data's size (none: the levels at most 8 pixels a side)
    attention: tuple[int, ...] | None = None
    heads: int = 4
    # fold p x p pixels into channels before the first level (1: none; 2 on 28x28 digits: the
    # U-Net works at 14x14 and below: bench/RESULTS.md, "Time to quality")
    patch: int = 1
    norm_groups: int = 8  # GroupNorm groups; must divide every width
    dropout: float = 0.0  # Ho et al. used 0.1 on CIFAR-10's long runs; short runs underfit
    # the MLP (points and tables)
    width: int = 256
    blocks: int = 4

    def __post_init__(self) -> None:
        check(
            self.channels is None
            or (len(self.channels) >= 1 and all(c >= 1 for c in self.channels)),
            "channels",
            self.channels,
            "one width >= 1 per level",
        )
        for name in ("norm_groups", "heads"):
            check(getattr(self, name) >= 1, name, getattr(self, name), "an integer >= 1")
        # unset, the widths are sized to the image: any of UNET_WIDTHS and their halvings
        widths = self.channels or possible_widths(UNET_WIDTHS)
        which = f"channels {list(self.channels)}" if self.channels else "the sized channels"
        check(
            all(c % self.norm_groups == 0 for c in widths),
            "norm_groups",
            self.norm_groups,
            f"a divisor of every width in {which} ({', '.join(map(str, widths))})",
        )
        check(
            all(c % self.heads == 0 for c in widths),
            "heads",
            self.heads,
            f"a divisor of every width in {which} ({', '.join(map(str, widths))})",
        )
        levels = len(self.channels) if self.channels else None
        check(
            self.attention is None or all(0 <= a < (levels or 10**9) for a in self.attention),
            "attention",
            self.attention,
            f"level indices in 0..{levels - 1}" if levels else "level indices >= 0",
        )
        check(self.res_blocks >= 1, "res_blocks", self.res_blocks, "an integer >= 1")
        check(self.patch >= 1, "patch", self.patch, "an integer >= 1 (1: none)")
        check(0 <= self.dropout < 1, "dropout", self.dropout, "a number in [0, 1)")
        check(self.width >= 1, "width", self.width, "an integer >= 1")
        check(self.blocks >= 1, "blocks", self.blocks, "an integer >= 1")


def sized_network(config, info: DataInfo):
    """Unset channels: one level per halving down to at most 8 pixels a side, each level
    twice as wide as the one above (nn.sizing); unset attention: at those lowest levels."""
    if config.channels is not None and config.attention is not None:
        return config
    if info.kind == "image":
        h, w = info.shape[1:]
        p = config.patch
        if h % p or w % p:
            raise ConfigError("patch", p, f"a divisor of the images' size {h}x{w}")
        stages = stages_for(h // p, w // p)
        channels = config.channels or widths_for(UNET_WIDTHS, stages + 1)
        sizes = level_sizes(h // p, w // p, len(channels) - 1)
        attention = config.attention
        if attention is None:
            attention = attention_levels(sizes) or (len(channels) - 1,)
    else:  # the MLP denoiser: the U-Net fields are kept at the digits' values, unused
        channels, attention = config.channels or UNET_WIDTHS, config.attention or (2,)
    return replace(config, channels=tuple(channels), attention=tuple(attention))


def build_network(
    config: DenoiserConfig,
    info: DataInfo,
    out_mul: int,
    classes: int | None,
    code_dim: int | None = None,
):
    """The U-Net (images) or the MLP (points, tables), `out_mul` outputs per input value;
    conditioned on classes and on a code vector of `code_dim` numbers when those are given."""
    cfg = config
    if info.kind == "image":
        c = info.shape[0]
        return UNet(
            c, out_mul * c, cfg.channels, cfg.res_blocks, cfg.attention, cfg.heads,
            cfg.norm_groups, cfg.dropout, classes, cfg.patch, code_dim,
        )  # fmt: skip
    d = math.prod(info.shape)
    return MLPDenoiser(d, out_mul * d, cfg.width, cfg.blocks, classes, code_dim)


def run_network(
    net: nn.Module,
    info: DataInfo,
    x: Tensor,
    t: Tensor,
    y: Tensor | None = None,
    code: Tensor | None = None,
):
    """The network's output at (x, t[, y][, code]); flat data goes through the MLP flat,
    (B, D)."""
    if info.kind == "image":
        return net(x, t, y, code)
    return net(x.flatten(1), t, y, code)


def sampling_trajectory(
    model, n: int, frames: int, x_T: Tensor, start: Tensor, clamp: bool, **sample_kw
) -> list[tuple[str, Tensor]]:
    """x_T -> x_0 as up to `frames` snapshots [(title, (n, *shape))]: `start` (the noise as
    the sampler sees it), states evenly spaced through `model.sample`'s steps from x_T, and
    the sample (fewer when it takes fewer steps: each state appears once)."""
    states: list[Tensor] = []
    model.sample(n, x_T=x_T, on_step=lambda i, x, x0: states.append(x), **sample_kw)
    picks = torch.linspace(0, len(states) - 1, frames - 1).round().long().unique().tolist()
    out = [("x_T", start)] + [(f"step {i + 1}", states[i]) for i in picks]
    return [(title, x.clamp(-1, 1) if clamp else x) for title, x in out]
