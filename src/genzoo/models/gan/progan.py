"""Progressive growing of GANs (Karras, Aila, Laine & Lehtinen 2018, "Progressive Growing of
GANs for Improved Quality, Stability, and Variation").

Training starts at a low resolution and adds a block to G and D at each stage, the new block
fading in while the old path fades out (section 3, figure 2):

    G:  out = (1 - alpha) upsample(to_rgb_{k-1}(h)) + alpha to_rgb_k(block_k(h))
    D:  h   = (1 - alpha) from_rgb_{k-1}(downsample(x)) + alpha block_k(from_rgb_k(x))

and the real images D sees are blended between the two resolutions the same way, so that real
and fake stay alike while alpha goes from 0 to 1. The resolutions run from the data's size down
by halving (ceil), one per entry of `channels`: 28x28 data with three stages trains at 7x7,
14x14, then 28x28. The schedule is a share of the run, so any run length works: the networks
grow over the first `growth` of it in 2 (stages - 1) equal spans (the paper's equal fade-in
and plateau lengths): the first stage trains one span; each later one fades in over a span
and then trains one (`growth_steps`); the last resolution trains from there to the end.
`growth` is a pure function of the step and those two lengths.

With the paper's three techniques: the minibatch standard-deviation layer at the end of D
(section 3), the equalized learning rate in every layer (section 4.1) and pixelwise feature
normalization after each convolution of G (section 4.2). The default game is the paper's:
WGAN-GP with lambda 10 and the drift term eps_drift = 1e-3, Adam lr 1e-3, betas (0, 0.99)
(train.lr and train.betas).

Each stage is a pair of phases (`d.14x14`, `g.14x14`) over the layers that stage uses, so each
resolution starts with fresh Adam moments, as the paper's code resets them at each new
resolution. Externally every image is at the data's size: G's output is upsampled (nearest) and
D pools its input down to the stage's resolution, which undoes that upsampling exactly.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...config import check
from ...errors import ConfigError
from ...nn.conv import stride2_sizes
from ...nn.gan_layers import MinibatchStdDev, pack
from ...nn.sizing import stages_for, widths_for
from ...nn.style import HE_GAIN, LEAK, EqualizedConv2d, EqualizedLinear, PixelNorm
from ..base import Batch, Figure, LossOutput, Phase, StageSchedule, TrainingGrids, register_model
from .gan import GAN, GameConfig, Loss

Size = tuple[int, int]


def growth_steps(total: int, stages: int, share: float) -> tuple[int, int]:
    """(stable, fade): the plateau and fade-in lengths in steps of a run of `total` steps whose
    networks grow over its first `share`, in 2 (stages - 1) equal spans (at least one step
    each; a run too short for every stage leaves the last ones out)."""
    if stages == 1:
        return total, 0
    span = max(1, int(share * total / (2 * (stages - 1))))
    return span, span


def growth(step: int, stages: int, stable: int, fade: int) -> tuple[int, float]:
    """(stage, alpha) at `step`: stage 0 trains `stable` steps; stage k >= 1 fades in over
    `fade` steps (alpha 0 -> 1), then trains `stable` steps at alpha 1; the last stage runs on."""
    k = stage_of(step, stages, stable, fade)
    return k, fade_alpha(step, k, stable, fade)


def stage_start(k: int, stable: int, fade: int) -> int:
    """The step at which stage k begins (its fade-in, for k >= 1)."""
    return 0 if k == 0 else stable + (k - 1) * (fade + stable)


def stage_of(step: int, stages: int, stable: int, fade: int) -> int:
    if step < stable:
        return 0
    return min(stages - 1, 1 + (step - stable) // (fade + stable))


def fade_alpha(step: int, k: int, stable: int, fade: int) -> float:
    """How far stage k has faded in at `step`, in [0, 1] (1 for stage 0, and past the fade)."""
    if k == 0 or fade == 0:
        return 1.0
    return min(1.0, max(0.0, (step - stage_start(k, stable, fade)) / fade))


def fade(low: Tensor, high: Tensor, alpha: float) -> Tensor:
    """(1 - alpha) low + alpha high, in the wider of the two dtypes (under autocast one path
    may be half precision and the other fp32)."""
    return low + alpha * (high - low)


def resize(x: Tensor, size: Size) -> Tensor:
    """Nearest upsampling or average-pool downsampling of (N, C, H, W) to `size`."""
    if tuple(x.shape[2:]) == tuple(size):
        return x
    if size[0] >= x.shape[2]:
        return F.interpolate(x, size=size, mode="nearest")
    return F.adaptive_avg_pool2d(x, size)


def resolutions(channels, shape) -> list[Size]:
    """The resolution of each stage, lowest first: the image size (C, H, W) halved (ceil)
    len(channels) - 1 times; refused when halving stalls at 1x1."""
    _, h, w = shape
    sizes = stride2_sizes(h, w, len(channels) - 1)
    if len(set(sizes)) < len(sizes):
        most = len(set(stride2_sizes(h, w, 16)))
        raise ConfigError(
            "model.channels",
            list(channels),
            f"at most {most} entries for {h}x{w} images (one per resolution, halving to 1x1)",
        )
    return list(reversed(sizes))


class Resolutions:
    """For GANs whose networks run at the data's size and its halvings (ProGAN, StyleGAN): one
    resolution per entry of `config.channels`, checked when the model is built; unset, the
    resolutions go down to at most 8 pixels a side, each twice as wide as the one above."""

    LOWEST_FIRST = (64, 32, 16)  # the widths of 28x28 digits, lowest resolution first

    @classmethod
    def sized(cls, config, info):
        if config.channels is None:
            levels = stages_for(*info.shape[1:]) + 1 if info.kind == "image" else 3
            top_first = widths_for(tuple(reversed(cls.LOWEST_FIRST)), levels)
            config = replace(config, channels=tuple(reversed(top_first)))
        return config

    def check_fits(self, info) -> None:
        resolutions(self.config.channels, info.shape)

    @functools.cached_property
    def sizes(self) -> list[Size]:
        """The resolution of each stage, lowest first."""
        return resolutions(self.config.channels, self.info.shape)


@dataclass
class ProGANConfig(GameConfig):
    latent_dim: int = 128
    # feature maps per resolution, lowest first; the last stage is at the data's size and each
    # earlier one at half the next (ceil), so 3 entries on 28x28 data train at 7, 14, 28 (none:
    # sized to the image, nn.sizing: (64, 32, 16) at 28x28 and 32x32, (64, 32, 16, 8) at 64x64)
    channels: tuple[int, ...] | None = None
    # the share of the run over which the networks grow; the rest trains at the data's size
    growth: float = 0.5
    pixel_norm: bool = True  # pixelwise feature normalization in G (section 4.2)
    loss: Loss = "wasserstein"
    gp_weight: float = 10.0
    drift: float = 1e-3
    minibatch_std: int = 4  # group size of the minibatch stddev layer (0: off)
    d_norm: Literal["none"] = "none"  # no normalization in D: the paper's, and GP needs it

    def __post_init__(self) -> None:
        super().__post_init__()
        check(
            self.channels is None
            or (len(self.channels) >= 1 and all(c >= 1 for c in self.channels)),
            "channels",
            self.channels,
            "one width >= 1 per resolution, lowest first",
        )
        check(0 < self.growth < 1, "growth", self.growth, "a share of the run in (0, 1)")


def _conv(c_in: int, c_out: int, norm: bool) -> list[nn.Module]:
    """3x3 equalized convolution, LeakyReLU(0.2)[, pixel norm]."""
    return [EqualizedConv2d(c_in, c_out, 3, padding=1), nn.LeakyReLU(LEAK)] + (
        [PixelNorm()] if norm else []
    )


class GrowingGenerator(nn.Module):
    """z (N, k) -> (N, C, h_k, w_k) at stage k: a dense layer to the lowest resolution, then per
    stage [upsample x2, conv 3x3, conv 3x3], each read out by its own 1x1 `to_rgb`."""

    def __init__(self, z_dim: int, image_channels: int, sizes, channels, pixel_norm: bool):
        super().__init__()
        (h0, w0), c0 = sizes[0], channels[0]
        # the dense layer acts as a (h0 w0)-position convolution: gain sqrt(2) / sqrt(h0 w0)
        self.base = nn.Sequential(
            PixelNorm() if pixel_norm else nn.Identity(),  # normalize z, as the paper does
            EqualizedLinear(z_dim, c0 * h0 * w0, gain=HE_GAIN / math.sqrt(h0 * w0)),
            nn.Unflatten(1, (c0, h0, w0)),
            nn.LeakyReLU(LEAK),
            *([PixelNorm()] if pixel_norm else []),
            *_conv(c0, c0, pixel_norm),
        )
        self.blocks = nn.ModuleList([nn.Identity()])  # stage 0 is the base
        for k in range(1, len(sizes)):
            self.blocks.append(
                nn.Sequential(
                    *_conv(channels[k - 1], channels[k], pixel_norm),
                    *_conv(channels[k], channels[k], pixel_norm),
                )
            )
        self.to_rgb = nn.ModuleList(
            EqualizedConv2d(c, image_channels, 1, gain=1.0) for c in channels
        )
        self.sizes = list(sizes)

    def forward(self, z: Tensor, stage: int, alpha: float) -> Tensor:
        h = self.base(z)  # (N, C_0, h_0, w_0)
        prev = h
        for k in range(1, stage + 1):
            prev = h
            h = self.blocks[k](resize(h, self.sizes[k]))  # (N, C_k, h_k, w_k)
        out = self.to_rgb[stage](h)
        if stage > 0 and alpha < 1:  # fade in: blend with the previous stage's image
            low = resize(self.to_rgb[stage - 1](prev), self.sizes[stage])
            out = fade(low, out, alpha)
        return out

    def stage_parameters(self, k: int) -> list[nn.Parameter]:
        mods = [self.base, *self.blocks[1 : k + 1], self.to_rgb[k]]
        mods += [self.to_rgb[k - 1]] if k > 0 else []
        return [p for m in mods for p in m.parameters()]


class GrowingDiscriminator(nn.Module):
    """(N, C, H, W) -> (N,) at stage k: pool to (h_k, w_k), a 1x1 `from_rgb`, then per stage
    [conv 3x3, conv 3x3, downsample x2], and at the lowest resolution the minibatch stddev
    layer, a conv 3x3 and two dense layers. With `grow=False` only the last stage has an input
    layer (a fixed-resolution D, as StyleGAN uses)."""

    def __init__(self, image_channels: int, sizes, channels, std_group: int, grow: bool = True):
        super().__init__()
        last = len(channels) - 1
        self.from_rgb = nn.ModuleList(
            nn.Sequential(EqualizedConv2d(image_channels, c, 1), nn.LeakyReLU(LEAK))
            if grow or k == last
            else nn.Identity()
            for k, c in enumerate(channels)
        )
        self.blocks = nn.ModuleList([nn.Identity()])
        for k in range(1, len(sizes)):
            self.blocks.append(
                nn.Sequential(
                    *_conv(channels[k], channels[k], False),
                    *_conv(channels[k], channels[k - 1], False),
                )
            )
        (h0, w0), c0 = sizes[0], channels[0]
        self.final = nn.Sequential(
            *([MinibatchStdDev(std_group)] if std_group else []),
            *_conv(c0 + (1 if std_group else 0), c0, False),
            nn.Flatten(),
            EqualizedLinear(c0 * h0 * w0, c0),
            nn.LeakyReLU(LEAK),
            EqualizedLinear(c0, 1, gain=1.0),
        )
        self.sizes = list(sizes)

    def forward(self, x: Tensor, stage: int, alpha: float) -> Tensor:
        h = self.from_rgb[stage](resize(x, self.sizes[stage]))
        if stage > 0:
            h = resize(self.blocks[stage](h), self.sizes[stage - 1])
            if alpha < 1:  # fade in: blend with the previous stage's input path
                low = self.from_rgb[stage - 1](resize(x, self.sizes[stage - 1]))
                h = fade(low, h, alpha)
        for k in range(stage - 1, 0, -1):
            h = resize(self.blocks[k](h), self.sizes[k - 1])  # (N, C_{k-1}, h_{k-1}, w_{k-1})
        return self.final(h).squeeze(1)

    def stage_parameters(self, k: int) -> list[nn.Parameter]:
        mods = [self.final, *self.blocks[1 : k + 1], self.from_rgb[k]]
        mods += [self.from_rgb[k - 1]] if k > 0 else []
        return [p for m in mods for p in m.parameters()]


@register_model("progan", "ProGAN: progressive growing with fade-in, equalized lr, pixel norm")
class ProGAN(Resolutions, GAN):
    """A GAN whose networks grow during training; the game, stabilisers and diagnostics are
    the GAN's. Sampling uses the stage and fade the model was last trained at (saved with its
    weights), so a model stopped mid-growth samples as it stood."""

    Config = ProGANConfig
    data_kinds = ("image",)
    train_defaults: ClassVar[dict] = {"lr": 1e-3, "betas": (0.0, 0.99)}  # the paper's Adam
    # fields of older versions, read from their model folders and dropped: they only shaped
    # training, which the growth share and train.lr, train.betas now do
    retired = {
        "stable_steps": "model.growth", "fade_steps": "model.growth", "lr": "train.lr",
        "betas": "train.betas", "optimizer": "train.optimizer",
    }  # fmt: skip
    DEFAULT_HORIZON = 2000  # train.steps' default: the schedule drawn before any training

    def __init__(self, config, info):
        super().__init__(config, info)
        # (stage, alpha) of the last training update: a buffer, saved with the weights
        self.register_buffer("growth_state", torch.tensor([0.0, 1.0]))
        # the length of the run the schedule was planned for (train.steps when it started)
        self.register_buffer("growth_plan", torch.tensor(self.DEFAULT_HORIZON))
        self.active: tuple[int, float] | None = None  # set while a stage's loss runs

    def schedule(self) -> tuple[int, int]:
        """(stable, fade) steps of this run's growth."""
        return growth_steps(int(self.growth_plan), len(self.sizes), self.config.growth)

    def grown_at(self) -> int:
        """The first step at which every resolution is in and fully faded in."""
        stable, fade = self.schedule()
        last = len(self.sizes) - 1
        return stage_start(last, stable, fade) + (fade if last else 0)

    def build(self) -> None:
        cfg, c = self.config, self.info.shape[0]
        self.generator = GrowingGenerator(
            cfg.latent_dim, c, self.sizes, cfg.channels, cfg.pixel_norm
        )
        self.discriminator = GrowingDiscriminator(
            c * cfg.pack, self.sizes, cfg.channels, cfg.minibatch_std
        )

    # ---------------------------------------------------------------- the growth state
    def now(self) -> tuple[int, float]:
        """The (stage, alpha) the networks run at: the loss's own while one runs, else the
        last trained."""
        if self.active is not None:
            return self.active
        return int(self.growth_state[0]), float(self.growth_state[1])

    def _alpha(self, k: int) -> float:
        if self.training and torch.is_grad_enabled():  # a training update: the schedule's
            return fade_alpha(self.step, k, *self.schedule())
        trained, alpha = int(self.growth_state[0]), float(self.growth_state[1])
        return alpha if k == trained else float(k < trained)  # evaluating: as trained

    def _at_stage(self, k: int, loss, batch: Batch) -> LossOutput:
        alpha = self._alpha(k)
        if self.training and torch.is_grad_enabled():
            self.growth_state.copy_(torch.tensor([float(k), alpha]))
        self.active = (k, alpha)
        try:
            return loss(batch)
        finally:
            self.active = None

    # ---------------------------------------------------------------- the networks
    def generate(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """G(z) at the current stage, upsampled to the data's size: (N, C, H, W)."""
        stage, alpha = self.now()
        return resize(self.generator(z, stage, alpha), tuple(self.info.shape[1:]))

    def critic(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        stage, alpha = self.now()
        return self.discriminator(pack(x, self.config.pack), stage, alpha)

    def real_view(self, x: Tensor) -> Tensor:
        """Reals at the stage's resolution, blended during a fade-in with the previous one."""
        stage, alpha = self.now()
        full = tuple(x.shape[2:])
        v = resize(x, self.sizes[stage])
        if stage > 0 and alpha < 1:
            low = resize(resize(x, self.sizes[stage - 1]), self.sizes[stage])
            v = fade(low, v, alpha)
        return resize(v, full)

    # ---------------------------------------------------------------- the report
    def report_figures(self, data) -> list[Figure]:
        """The growth schedule, and the last sample grid the run wrote in each stage."""
        stable, fade = self.schedule()
        horizon = int(self.growth_plan)
        windows = self.stage_windows()
        curve = [
            (s, k, a)
            for s in range(0, horizon + 1, max(1, horizon // 200))
            for k, a in [growth(s, len(self.sizes), stable, fade)]
        ]
        return [
            StageSchedule(
                "Growth schedule",
                f"stage and fade-in (alpha) against the step, for a run of {horizon} steps: "
                f"each resolution fades in over {fade} steps, then trains {stable}; the "
                f"networks are grown at step {self.grown_at()}",
                curve,
                [w[0] for w in windows],
            ),
            TrainingGrids(
                "Growth stages",
                "the last sample grid written in each stage, left to right (shown at the "
                "data's size; a stage's images are upsampled from its resolution)",
                windows,
            ),
        ]

    @torch.no_grad()
    def sample(self, n: int, *, generator=None, labels=None, truncation=None) -> Tensor:
        """G(z) clamped to [-1, 1] (G's output is linear, as in the paper)."""
        return (
            super()
            .sample(n, generator=generator, labels=labels, truncation=truncation)
            .clamp(-1, 1)
        )

    def stage_windows(self) -> list[tuple[str, int, int | None]]:
        """(resolution name, first step, step it stops before or None) of each stage."""
        last, (stable, fade) = len(self.sizes) - 1, self.schedule()
        return [
            (
                f"{h}x{w}",
                stage_start(k, stable, fade),
                None if k == last else stage_start(k + 1, stable, fade),
            )
            for k, (h, w) in enumerate(self.sizes)
        ]

    def phases(self) -> list[Phase]:
        cfg = self.config
        if self.total_steps is not None:  # training: plan the growth over this run
            self.growth_plan.fill_(self.total_steps)
        out = []
        for k, (name, start, stop) in enumerate(self.stage_windows()):
            common = dict(
                start=start,
                stop=stop,
                log_grad_norm=True,
                partial=True,  # the previous resolution's from_rgb sits out once faded
            )
            out += [
                Phase(
                    f"d.{name}",
                    self.discriminator.stage_parameters(k),
                    functools.partial(self._at_stage, k, self.d_loss),
                    lr=cfg.d_lr,  # None: train.lr
                    after_update=self.clip_critic if cfg.clip else None,
                    **common,
                ),
                Phase(
                    f"g.{name}",
                    self.generator.stage_parameters(k),
                    functools.partial(self._at_stage, k, self.g_loss),
                    every=cfg.d_steps,
                    **common,
                ),
            ]
        return out
