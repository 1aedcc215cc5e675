"""EDM: diffusion in the formulation of Karras et al. 2022 (the maths is in `karras.py`).

Where `ddpm` draws a timestep of a fixed schedule and regresses eps, `edm` draws a noise level
sigma from a log-normal, noises the data as x = y + sigma n, and trains a preconditioned
denoiser D(x; sigma) = c_skip x + c_out F(c_in x; c_noise) so that the network F sees inputs and
targets of unit variance at every sigma, with every sigma weighted the same. Sampling solves
the probability-flow ODE with Heun's 2nd-order method on Karras' sigma steps: 18 steps, 35
network evaluations (optionally with algorithm 2's churn). It shares its denoising network
(U-Net or MLP) with `ddpm`.

A conditional model (`cedm`) sees the label through the network's class embedding, trained
with label dropout, and samples with classifier-free guidance, as `cddpm` does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from ...config import check
from ...errors import ConfigError, GenzooError
from ..base import (
    Batch,
    Figure,
    Frames,
    GenerativeModel,
    LossOutput,
    Phase,
    SampleSets,
    register_model,
)
from . import karras as K
from .denoiser import (
    DenoiserConfig,
    build_network,
    run_network,
    sampling_trajectory,
    sized_network,
)

# F sees c_noise = ln(sigma) / 4, about -1.6 to 1.1 over the training sigmas: scaled by this
# before the sinusoidal embedding, it spans the range of timesteps that embedding resolves
NOISE_EMBED_SCALE = 250.0


@dataclass
class EDMConfig(DenoiserConfig):
    # the data's standard deviation (none: 0.5 for images in [-1, 1], 1 for standardized
    # points and tables)
    sigma_data: float | None = None
    # training noise levels: ln sigma ~ N(p_mean, p_std^2) (Karras et al.: -1.2, 1.2)
    p_mean: float = K.P_MEAN
    p_std: float = K.P_STD
    # sampling: Heun on sample_steps Karras steps from sigma_max to sigma_min, then 0
    sample_steps: int = 18  # 2 N - 1 = 35 network evaluations
    sigma_min: float = K.SIGMA_MIN
    sigma_max: float = K.SIGMA_MAX
    sigma_rho: float = K.RHO  # rho of eq. 5: how the steps crowd toward sigma_min
    churn: float = 0.0  # S_churn of algorithm 2 (0: the deterministic ODE of algorithm 1)
    # conditional models
    label_dropout: float = 0.1  # share of labels replaced by the null label in training
    guidance: float = 1.0  # classifier-free guidance scale s (1: none)

    def __post_init__(self) -> None:
        super().__post_init__()
        check(
            self.sigma_data is None or (math.isfinite(self.sigma_data) and self.sigma_data > 0),
            "sigma_data",
            self.sigma_data,
            "a number > 0 (none: from the data's range)",
        )
        check(math.isfinite(self.p_mean), "p_mean", self.p_mean, "a number")
        check(math.isfinite(self.p_std) and self.p_std > 0, "p_std", self.p_std, "a number > 0")
        check(self.sample_steps >= 1, "sample_steps", self.sample_steps, "an integer >= 1")
        check(self.sigma_min > 0, "sigma_min", self.sigma_min, "a noise level > 0")
        check(
            self.sigma_min < self.sigma_max < math.inf,
            "sigma_max",
            self.sigma_max,
            f"a finite noise level above sigma_min = {self.sigma_min}",
        )
        check(self.sigma_rho > 0, "sigma_rho", self.sigma_rho, "a number > 0 (Karras et al.: 7)")
        check(self.churn >= 0, "churn", self.churn, "a number >= 0 (0: deterministic)")
        check(0 <= self.label_dropout < 1, "label_dropout", self.label_dropout, "in [0, 1)")
        check(self.guidance >= 0, "guidance", self.guidance, "a scale >= 0 (1: no guidance)")


@register_model("edm", "EDM (Karras et al. 2022): preconditioned denoiser, Heun sampler")
class EDM(GenerativeModel):
    Config = EDMConfig
    # Sampled from an EMA whose half-life is set in images (StyleGAN2-ADA's 10k, ramped up as
    # 5% of the images seen, as EDM does): a short run averages its last stretch only. Small
    # batches: in the minutes of a CPU run, more updates beat larger ones (FID 56 after 120 s
    # at batch 32 where batch 128 is still at noise; bench/RESULTS.md, "Time to quality").
    train_defaults: ClassVar[dict] = {
        "ema": True, "warmup_steps": 200, "ema_halflife_images": 10_000, "ema_rampup": 0.05,
    }  # fmt: skip
    default_batch: ClassVar[int | None] = 32

    @classmethod
    def sized(cls, config, info):
        return sized_network(config, info)

    def __init__(self, config, info):
        super().__init__(config, info)
        classes = info.num_classes if self.conditional else None
        self.net = build_network(self.config, info, 1, classes)

    def data_range(self):
        return "symmetric" if self.info.kind == "image" else "standard"

    @property
    def sigma_data(self) -> float:
        if self.config.sigma_data is not None:
            return self.config.sigma_data
        return 0.5 if self.info.kind == "image" else 1.0

    # ---------------------------------------------------------------- the denoiser
    def _network(self, y: Tensor | None) -> Callable[[Tensor, Tensor], Tensor]:
        """F(input, c_noise) with the labels y (or none) bound."""
        return lambda v, noise: run_network(
            self.net, self.info, v, noise * NOISE_EMBED_SCALE, y
        ).reshape(v.shape)

    def denoise(
        self, x: Tensor, sigma: Tensor, y: Tensor | None = None, guidance: float | None = None
    ) -> Tensor:
        """D(x; sigma), the estimate of the clean data; guided when conditional."""
        scale = self.config.guidance if guidance is None else guidance
        sd = self.sigma_data
        if not self.conditional:
            return K.precondition(self._network(None), x, sigma, sd)
        null = torch.full_like(y, self.info.num_classes)
        if scale in (0.0, 1.0):  # one pass: the unconditional or the conditional model alone
            return K.precondition(self._network(null if scale == 0.0 else y), x, sigma, sd)
        both = K.precondition(
            self._network(torch.cat([y, null])), torch.cat([x, x]), torch.cat([sigma, sigma]), sd
        )
        cond, uncond = both.chunk(2)
        return uncond + scale * (cond - uncond)

    # ---------------------------------------------------------------- training
    def _labels(self, y: Tensor | None, n: int) -> Tensor | None:
        return None

    def loss(self, batch: Batch) -> LossOutput:
        y0 = batch["x"]
        labels = self._labels(batch.get("y"), len(y0))
        cfg = self.config
        net = self._network(labels)
        loss = K.denoising_loss(net, y0, self.sigma_data, cfg.p_mean, cfg.p_std)
        return LossOutput(loss, {"denoise": loss})

    def phases(self) -> list[Phase]:
        return [Phase("denoiser", list(self.parameters()), self.loss)]

    # ---------------------------------------------------------------- sampling
    def sigmas(self, steps: int | None = None) -> Tensor:
        """The sampler's noise levels: Karras steps from sigma_max to sigma_min, then 0."""
        cfg = self.config
        n = steps or cfg.sample_steps
        return K.karras_sigmas(n, cfg.sigma_min, cfg.sigma_max, cfg.sigma_rho)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        labels: Tensor | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        churn: float | None = None,
        x_T: Tensor | None = None,
        on_step=None,
    ) -> Tensor:
        """n samples by Heun's method in `steps` steps (default: sample_steps; 2 steps - 1
        network evaluations) from x_T ~ N(0, I), scaled to sigma_max. Images are clamped to
        [-1, 1]."""
        if steps is not None and steps < 1:
            raise GenzooError(f"--steps {steps}: choose 1 or more")
        y = self.default_labels(n, labels)
        if x_T is None:
            x_T = torch.randn((n, *self.info.shape), generator=generator, device=self.device)
        x = K.heun_sample(
            lambda v, sigma: self.denoise(v, sigma, y, guidance),
            self.sigmas(steps),
            x_T,
            churn=self.config.churn if churn is None else churn,
            generator=generator,
            on_step=on_step,
        )
        return x.clamp(-1, 1) if self.info.kind == "image" else x

    def fast_options(self, method: str) -> dict:
        """Pictures sample in 10 Heun steps (19 network evaluations)."""
        return {"steps": min(10, self.config.sample_steps)} if method == "sample" else {}

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """x_T ~ N(0, I), the noise `sample` starts from (scaled to sigma_max there)."""
        return torch.randn(n, *self.info.shape, generator=generator, device=self.device)

    @torch.no_grad()
    def trajectory(
        self, n: int, frames: int = 10, *, generator=None, labels=None, **sample_kw
    ) -> list[tuple[str, Tensor]]:
        """x_T -> x_0 as up to `frames` snapshots [(title, (n, *shape))]: the noise at
        sigma_max, states evenly spaced through the steps, and the sample."""
        x_T = self.sample_latent(n, generator)
        kw = {"labels": labels, "generator": generator, **sample_kw}
        image = self.info.kind == "image"
        start = x_T * self.config.sigma_max
        return sampling_trajectory(self, n, frames, x_T, start, image, **kw)

    def report_figures(self, data) -> Iterator[Figure]:
        """The trajectory, then samples in 5, 10, 18 and 32 Heun steps from the same noise."""
        image = self.info.kind == "image"
        g = torch.Generator(device=self.device).manual_seed(0)
        frames = self.trajectory(8 if image else 1000, generator=g)
        yield Frames(
            "Trajectory",
            f"x_T to x_0 with Heun in {self.config.sample_steps} steps, left to right: "
            + ", ".join(t for t, _ in frames),
            frames,
        )
        n = 10 if image else 1000
        for steps in (5, 10, 18, 32):
            g = torch.Generator(device=self.device).manual_seed(0)
            x = self.sample(n, generator=g, steps=steps)
            yield SampleSets(
                f"Samples: {steps} Heun steps ({K.network_evaluations(steps)} evaluations)",
                "the same noise x_T in every figure",
                [("samples", x)],
            )


@register_model("cedm", "class-conditional EDM with classifier-free guidance")
class ConditionalEDM(EDM):
    conditional: ClassVar[bool] = True

    def __init__(self, config, info):
        if not info.num_classes:
            raise ConfigError("data", info.source, "labelled data (cedm is conditioned on labels)")
        super().__init__(config, info)

    def _labels(self, y: Tensor | None, n: int) -> Tensor:
        """Training labels, each replaced by the null label with probability label_dropout."""
        if y is None:
            raise GenzooError("cedm: this needs the examples' labels (the model is conditional)")
        y = y.long().to(self.device)
        drop = torch.rand(n, device=y.device) < self.config.label_dropout
        return torch.where(drop, torch.full_like(y, self.info.num_classes), y)

    def default_labels(self, n: int, labels: Tensor | None) -> Tensor:
        """The given labels, or the classes in turn (0, 1, ..., 0, 1, ...)."""
        if labels is None:
            return torch.arange(n, device=self.device) % self.info.num_classes
        return labels.to(self.device).long()
