"""CycleGAN (Zhu, Park, Isola & Efros 2017, "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks"): translation between two domains A and B without pairs.

Two generators G: A -> B and F: B -> A, two discriminators D_B (on B) and D_A (on A), and the
full objective (eq. 3 and section 5.2):

    L = L_GAN(G, D_B) + L_GAN(F, D_A) + lambda_cyc L_cyc + lambda_id L_id
    L_cyc = E_a ||F(G(a)) - a||_1 + E_b ||G(F(b)) - b||_1   (cycle consistency, eq. 2)
    L_id  = E_b ||G(b) - b||_1 + E_a ||F(a) - a||_1          (identity; lambda_id = lambda_cyc / 2)

with the least-squares GAN loss (section 4), lambda_cyc = 10, each D's objective halved, and
a history of 50 generated images per domain that the discriminators also see (Shrivastava et
al. 2017). ResNet generators and 70x70-style PatchGAN discriminators with instance norm; Adam
lr 2e-4, betas (0.5, 0.999). The identity term needs both domains to have one channel count.

Data: `x_in` holds domain A (the input) and `x` domain B; the trainer draws them
independently when the domains are unpaired. `translate` maps A -> B and `translate_back`
B -> A.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Literal

import torch
from torch import Tensor

from ...config import check
from ...errors import ConfigError
from ...nn.sizing import stages_for
from ...nn.translation import PatchDiscriminator, ResnetGenerator
from ..base import Batch, Diagnosis, ImageRows, LossOutput, Phase, register_model, set_trainable
from . import losses as L
from .common import ReplayBuffer
from .translation import TranslationModel


@dataclass
class CycleGANConfig:
    width: int = 32  # generator widths k, 2k, 4k (the paper: 64); the blocks run at 4k
    n_blocks: int = 6  # residual blocks (the paper: 6 at 128x128, 9 at 256x256)
    # stride-2 stages before the blocks (the paper: 2; none: down to at most 8 pixels a side,
    # 2 at 28x28 and 32x32, 3 at 64x64, each extra one on top half as wide)
    downsample: int | None = None
    d_layers: int = 1  # PatchGAN stride-2 layers (1: 16x16 patches; 3: 70x70)
    d_width: int = 64
    loss: Literal["least-squares", "non-saturating"] = "least-squares"
    cycle_weight: float = 10.0  # lambda_cyc
    # lambda_id / lambda_cyc (0: no identity term; none: 0.5, or 0 when the domains differ in
    # channels, where G(b) cannot be b)
    identity_weight: float | None = None
    pool_size: int = 50  # history of generated images per domain (0: off)

    def __post_init__(self) -> None:
        for name in ("width", "d_width"):
            check(getattr(self, name) >= 1, name, getattr(self, name), "an integer >= 1")
        check(self.n_blocks >= 0, "n_blocks", self.n_blocks, "an integer >= 0")
        check(
            self.downsample is None or self.downsample >= 1,
            "downsample",
            self.downsample,
            "an integer >= 1, or none",
        )
        check(self.d_layers >= 0, "d_layers", self.d_layers, "an integer >= 0")
        for name in ("cycle_weight", "identity_weight"):
            value = getattr(self, name)
            check(value is None or value >= 0, name, value, "a weight >= 0")
        check(self.pool_size >= 0, "pool_size", self.pool_size, "an integer >= 0")


@register_model("cyclegan", "CycleGAN: unpaired translation, two G, two D, cycle consistency")
class CycleGAN(TranslationModel):
    Config = CycleGANConfig
    train_defaults: ClassVar[dict] = {"lr": 2e-4, "betas": (0.5, 0.999)}  # the paper's Adam
    retired = {"lr": "train.lr", "betas": "train.betas", "optimizer": "train.optimizer"}

    IDENTITY = 0.5  # the paper's lambda_id / lambda_cyc

    @classmethod
    def sized(cls, config, info):
        if config.identity_weight is None:
            same = info.input is None or info.input.shape[0] == info.shape[0]
            config = replace(config, identity_weight=cls.IDENTITY if same else 0.0)
        if config.downsample is None:
            config = replace(config, downsample=stages_for(*info.shape[1:]))
        return config

    def __init__(self, config, info):
        super().__init__(config, info)
        cfg, size = self.config, tuple(info.shape[1:])
        a, b = self.in_channels, self.out_channels
        if cfg.identity_weight and a != b:
            raise ConfigError(
                "model.identity_weight",
                cfg.identity_weight,
                f"0 when the domains differ in channels ({a} and {b}): G(b) cannot equal b",
            )
        # the blocks run at 4k whatever the depth: a deeper generator is narrower on top
        top = max(8, cfg.width * 4 // 2**cfg.downsample)
        self.g_ab = ResnetGenerator(a, b, size, top, cfg.n_blocks, cfg.downsample)  # G
        self.g_ba = ResnetGenerator(b, a, size, top, cfg.n_blocks, cfg.downsample)  # F
        self.d_a = PatchDiscriminator(a, cfg.d_layers, cfg.d_width, norm="instance")
        self.d_b = PatchDiscriminator(b, cfg.d_layers, cfg.d_width, norm="instance")
        pool = cfg.pool_size
        self.pool_a = ReplayBuffer(pool, 0.5) if pool else None
        self.pool_b = ReplayBuffer(pool, 0.5) if pool else None

    def translate(self, x_in: Tensor) -> Tensor:
        """G: A -> B."""
        return self.g_ab(x_in)

    def translate_back(self, x: Tensor) -> Tensor:
        """F: B -> A."""
        return self.g_ba(x)

    def _train_only(self, generators: bool) -> None:
        if torch.is_grad_enabled():
            for net in (self.g_ab, self.g_ba):
                set_trainable(net, generators)
            for net in (self.d_a, self.d_b):
                set_trainable(net, not generators)

    def g_loss(self, batch: Batch) -> LossOutput:
        cfg = self.config
        self._train_only(generators=True)
        a, b = batch["x_in"], batch["x"]
        fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        adv_b = L.G_LOSSES[cfg.loss](self.d_b(fake_b))
        adv_a = L.G_LOSSES[cfg.loss](self.d_a(fake_a))
        cyc_a = (self.g_ba(fake_b) - a).abs().mean()  # ||F(G(a)) - a||_1
        cyc_b = (self.g_ab(fake_a) - b).abs().mean()  # ||G(F(b)) - b||_1
        loss = adv_a + adv_b + cfg.cycle_weight * (cyc_a + cyc_b)
        terms = {"adv_a": adv_a, "adv_b": adv_b, "cycle_a": cyc_a, "cycle_b": cyc_b}
        if cfg.identity_weight:
            idt = (self.g_ab(b) - b).abs().mean() + (self.g_ba(a) - a).abs().mean()
            loss = loss + cfg.cycle_weight * cfg.identity_weight * idt
            terms["identity"] = idt
        return LossOutput(loss, {k: v.detach() for k, v in terms.items()})

    def d_loss(self, batch: Batch) -> LossOutput:
        cfg = self.config
        self._train_only(generators=False)
        a, b = batch["x_in"], batch["x"]
        with torch.no_grad():
            fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        if self.training and self.pool_a is not None:  # the history of generated images
            fake_b, _ = self.pool_b.mix(fake_b, None)
            fake_a, _ = self.pool_a.mix(fake_a, None)
        d_loss = L.D_LOSSES[cfg.loss]
        real_b, out_b = self.d_b(b), self.d_b(fake_b)
        real_a, out_a = self.d_a(a), self.d_a(fake_a)
        loss_b, loss_a = 0.5 * d_loss(real_b, out_b), 0.5 * d_loss(real_a, out_a)
        terms = {"d_b": loss_b.detach(), "d_a": loss_a.detach()}
        terms |= {"d_real": real_b.mean().detach(), "d_fake": out_b.mean().detach()}
        return LossOutput(loss_a + loss_b, terms)

    def phases(self) -> list[Phase]:
        gens = [*self.g_ab.parameters(), *self.g_ba.parameters()]
        discs = [*self.d_a.parameters(), *self.d_b.parameters()]
        kw = dict(log_grad_norm=True)
        return [Phase("g", gens, self.g_loss, **kw), Phase("d", discs, self.d_loss, **kw)]

    # ---------------------------------------------------------------- training state, health
    def training_state(self) -> dict[str, Tensor]:
        out = {}
        for name, pool in (("pool_a", self.pool_a), ("pool_b", self.pool_b)):
            if pool is not None:
                out |= {f"{name}.{k}": v for k, v in pool.state_dict().items()}
        return out

    def load_training_state(self, state: dict[str, Tensor]) -> None:
        for name, pool in (("pool_a", self.pool_a), ("pool_b", self.pool_b)):
            if pool is not None:
                n = len(name) + 1
                pool.load_state_dict({k[n:]: v for k, v in state.items() if k.startswith(name)})

    @torch.no_grad()
    def cycle_errors(self, a: Tensor, b: Tensor) -> dict[str, float]:
        """Mean absolute cycle reconstruction errors, in [0, 1] image units."""
        return {
            "cycle_a": float((self.g_ba(self.g_ab(a)) - a).abs().mean() / 2),
            "cycle_b": float((self.g_ab(self.g_ba(b)) - b).abs().mean() / 2),
        }

    def diagnose(self, x: Tensor, y: Tensor | None = None, x_in: Tensor | None = None, **_):
        if x_in is None:
            return None
        return Diagnosis(self.cycle_errors(x_in, x))

    def report_figures(self, data) -> list[ImageRows]:
        """Both directions, each with its cycle back."""
        pick = lambda n: torch.linspace(0, n - 1, 16).long()  # noqa: E731
        a = self.to_model_input(data.input.x_test)
        a = a[pick(len(a))]
        b = self.to_model(data.x_test)
        b = b[pick(len(b))]
        with torch.no_grad():
            ab, ba = self.g_ab(a), self.g_ba(b)
            aba, bab = self.g_ba(ab), self.g_ab(ba)
        info_a, info_b = self.info.input, self.info
        ta, tb = self.input_transform, self.transform
        return [
            ImageRows(
                "Translations A to B",
                f"rows: test images of A ({info_a.source}), G(a) in B, and the cycle F(G(a))",
                [(a, info_a, ta), (ab, info_b, tb), (aba, info_a, ta)],
            ),
            ImageRows(
                "Translations B to A",
                f"rows: test images of B ({info_b.source}), F(b) in A, and the cycle G(F(b))",
                [(b, info_b, tb), (ba, info_a, ta), (bab, info_b, tb)],
            ),
        ]
