"""pix2pix (Isola, Zhu, Zhou & Efros 2017, "Image-to-Image Translation with Conditional
Adversarial Networks"): a conditional GAN for paired translation A -> B.

G is a U-Net (skip connections between mirror layers) and D a PatchGAN that judges pairs
(input, output) patch by patch (`nn/translation.py`). The objective (eq. 4):

    G* = arg min_G max_D  L_cGAN(G, D) + lambda L_L1(G),
    L_cGAN = E[log D(x, y)] + E[log(1 - D(x, G(x)))],   L_L1 = E[||y - G(x)||_1],

with lambda = 100, the non-saturating generator loss, D's objective halved "to slow down the
rate at which D learns relative to G" (section 3.3), Adam lr 2e-4, betas (0.5, 0.999). The
only noise is dropout in G's decoder. `adv_weight = 0` drops D and leaves the L1-only U-Net,
the paper's baseline.

The training pairs come from the data: `x_in` is the input (domain A) and `x` its target.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import torch
from torch import Tensor

from ...config import check
from ...nn.sizing import stages_for, widths_for
from ...nn.translation import PatchDiscriminator, UNetGenerator
from ..base import Batch, LossOutput, Phase, register_model, set_trainable
from . import losses as L
from .translation import TranslationModel


@dataclass
class Pix2PixConfig:
    # U-Net encoder widths, one stride-2 stage each, down to 1x1 (none: sized to the image,
    # nn.sizing: (64, 128, 256, 256, 256) at 28x28 and 32x32, 32 more on top at 64x64)
    channels: tuple[int, ...] | None = None
    dropout: float = 0.5  # in the innermost decoder layers, G's only noise
    dropout_layers: int = 3
    d_layers: int = 1  # PatchGAN stride-2 layers: 1 -> 16x16 patches, 3 -> 70x70
    d_width: int = 64
    l1_weight: float = 100.0  # lambda
    adv_weight: float = 1.0  # weight of the adversarial term (0: L1-only U-Net, no D)

    def __post_init__(self) -> None:
        check(
            self.channels is None
            or (len(self.channels) >= 1 and all(c >= 1 for c in self.channels)),
            "channels",
            self.channels,
            "widths >= 1, one per stride-2 stage",
        )
        check(0 <= self.dropout < 1, "dropout", self.dropout, "a probability in [0, 1)")
        check(self.dropout_layers >= 0, "dropout_layers", self.dropout_layers, "an integer >= 0")
        check(self.d_layers >= 0, "d_layers", self.d_layers, "an integer >= 0")
        check(self.d_width >= 1, "d_width", self.d_width, "an integer >= 1")
        for name in ("l1_weight", "adv_weight"):
            check(getattr(self, name) >= 0, name, getattr(self, name), "a weight >= 0")
        check(
            self.l1_weight > 0 or self.adv_weight > 0,
            "l1_weight",
            self.l1_weight,
            "> 0 when adv_weight is 0 (something must train G)",
        )


@register_model("pix2pix", "pix2pix: paired translation, U-Net G, PatchGAN D, adversarial + L1")
class Pix2Pix(TranslationModel):
    Config = Pix2PixConfig
    CHANNELS = (64, 128, 256, 256, 256)  # the U-Net of 28x28 digits, highest resolution first

    @classmethod
    def sized(cls, config, info):
        """Unset channels: stages down to a 1x1 bottleneck (the paper's), the lowest widths
        the digits', each extra stage on top half as wide as the one below."""
        if config.channels is None:
            stages = stages_for(*info.shape[1:], lowest=1)
            config = replace(config, channels=widths_for(cls.CHANNELS, stages))
        return config

    train_defaults: ClassVar[dict] = {"lr": 2e-4, "betas": (0.5, 0.999)}  # the paper's Adam
    retired = {"lr": "train.lr", "betas": "train.betas", "optimizer": "train.optimizer"}

    def __init__(self, config, info):
        super().__init__(config, info)
        cfg = self.config
        self.generator = UNetGenerator(
            self.in_channels,
            self.out_channels,
            tuple(info.shape[1:]),
            cfg.channels,
            cfg.dropout_layers,
            cfg.dropout,
        )
        self.discriminator = (
            PatchDiscriminator(self.in_channels + self.out_channels, cfg.d_layers, cfg.d_width)
            if cfg.adv_weight > 0
            else None
        )

    def translate(self, x_in: Tensor) -> Tensor:
        return self.generator(x_in)

    def critic(self, x_in: Tensor, y: Tensor) -> Tensor:
        """D(x, y): one logit per patch of the pair (input, output), (N, 1, h, w)."""
        return self.discriminator(torch.cat([x_in, y], 1))

    def _train_only(self, net) -> None:
        if torch.is_grad_enabled() and self.discriminator is not None:
            set_trainable(self.generator, net is self.generator)
            set_trainable(self.discriminator, net is self.discriminator)

    def d_loss(self, batch: Batch) -> LossOutput:
        """(1/2) [-log D(x, y) - log(1 - D(x, G(x)))], averaged over patches."""
        self._train_only(self.discriminator)
        x_in, y = batch["x_in"], batch["x"]
        with torch.no_grad():
            fake = self.generator(x_in)
        real_out, fake_out = self.critic(x_in, y), self.critic(x_in, fake)
        loss = 0.5 * L.d_loss_bce(real_out, fake_out)
        terms = {
            "d_real": torch.sigmoid(real_out).mean().detach(),
            "d_fake": torch.sigmoid(fake_out).mean().detach(),
        }
        return LossOutput(loss, terms)

    def g_loss(self, batch: Batch) -> LossOutput:
        """adv_weight (-log D(x, G(x))) + lambda ||y - G(x)||_1."""
        cfg = self.config
        self._train_only(self.generator)
        x_in, y = batch["x_in"], batch["x"]
        fake = self.generator(x_in)
        l1 = (fake - y).abs().mean()
        loss, terms = cfg.l1_weight * l1, {"l1": l1.detach()}
        if self.discriminator is not None:
            out = self.critic(x_in, fake)
            adv = L.g_loss_non_saturating(out)
            loss = loss + cfg.adv_weight * adv
            terms |= {"adv": adv.detach(), "d_fake": torch.sigmoid(out).mean().detach()}
        return LossOutput(loss, terms)

    def phases(self) -> list[Phase]:
        kw = dict(log_grad_norm=True)
        g = Phase("g", list(self.generator.parameters()), self.g_loss, **kw)
        if self.discriminator is None:
            return [g]
        return [Phase("d", list(self.discriminator.parameters()), self.d_loss, **kw), g]
