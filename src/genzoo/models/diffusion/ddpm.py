"""Denoising diffusion probabilistic models (Ho, Jain & Abbeel 2020), with the improvements of
Nichol & Dhariwal 2021 ("Improved DDPM"), DDIM and DPM-Solver sampling, and classifier-free
guidance (Ho & Salimans 2021).

Training (Ho et al. algorithm 1): draw t ~ U{0, ..., T-1} and eps ~ N(0, I), make
x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, and regress the denoiser's output onto
eps, x_0 or v (`prediction`): L_simple, the mean squared error. With `learn_variance` the
denoiser also outputs the interpolation of eq. 15 and trains it on the variational bound with
the mean held fixed (stop-gradient), L_hybrid = L_simple + lambda L_vlb, lambda = `vlb_weight`.

`log_likelihood` is the variational bound per example (a lower bound on log p(x), in nats):
-(L_T + sum_t L_{t-1} + L_0), exact with all T terms or estimated without bias from k
stratified timesteps. Images are 8-bit in [-1, 1], so the bound is on a discrete probability.

Sampling runs one of the samplers in `samplers.py` on the network's predictions; images clip
the x_0 estimate to [-1, 1] at every step. A conditional model (`cddpm`) sees the label through
a class embedding; training replaces it with a null label at rate `label_dropout`, so one
network learns both p(x | y) and p(x), and sampling mixes their predictions with the guidance
scale s: eps = eps(x_t, null) + s (eps(x_t, y) - eps(x_t, null)); s = 1 is the plain
conditional model, s > 1 trades variety for fidelity to the label.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ...config import check
from ...errors import ConfigError, GenzooError
from ...progress import tick
from ...registry import NOISE_SCHEDULES
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
from . import process as P
from .denoiser import (
    DenoiserConfig,
    build_network,
    run_network,
    sampling_trajectory,
    sized_network,
)
from .samplers import SAMPLERS, ddim_invert, ddim_sample
from .schedules import make_schedule

Sampler = Literal["ddpm", "ddim", "dpm-solver"]
# beyond 1, sigma_t exceeds the posterior's and the sampler leaves the forward marginals
ETA_RANGE = "a number in [0, 1] (0: deterministic DDIM, 1: ancestral)"


@dataclass
class DDPMConfig(DenoiserConfig):
    T: int = 1000  # diffusion steps
    schedule: str = "linear"  # noise schedule: linear or cosine
    prediction: Literal["eps", "x0", "v"] = "eps"  # what the denoiser outputs
    learn_variance: bool = False  # Improved DDPM: learned Sigma, hybrid loss
    vlb_weight: float = 0.001  # lambda of the hybrid loss
    # Min-SNR-gamma weighting of L_simple (Hang et al. 2023: 5; 0: off, the uniform mean)
    min_snr_gamma: float = 0.0
    # training timesteps: uniform (Ho et al.) or lognormal (EDM's ln sigma ~ N(mean, std^2) on
    # this schedule's steps; Karras et al. 2022: -1.2 and 1.2)
    timesteps: Literal["uniform", "lognormal"] = "uniform"
    lognormal_mean: float = -1.2
    lognormal_std: float = 1.2
    # sampling defaults (each can be overridden per call and on the CLI)
    sampler: Sampler = "ddim"
    # steps of the default sampler and of ddim / dpm-solver; ddpm asked for by name (when it
    # is not the default) takes all T unless told
    sample_steps: int = 50
    eta: float = 0.0  # ddim: 0 deterministic, 1 ancestral
    variance: Literal["small", "large"] = "small"  # ddpm with fixed variances: beta~ or beta
    # conditional models
    label_dropout: float = 0.1  # share of labels replaced by the null label in training
    guidance: float = 1.0  # classifier-free guidance scale s (1: none)

    def __post_init__(self) -> None:
        check(self.T >= 2, "T", self.T, "an integer >= 2")
        check(
            self.schedule in NOISE_SCHEDULES,
            "schedule",
            self.schedule,
            " or ".join(NOISE_SCHEDULES.names()),
        )
        check(self.vlb_weight >= 0, "vlb_weight", self.vlb_weight, "a number >= 0")
        check(self.min_snr_gamma >= 0, "min_snr_gamma", self.min_snr_gamma, "a number >= 0")
        check(math.isfinite(self.lognormal_mean), "lognormal_mean", self.lognormal_mean, "a number")
        check(
            math.isfinite(self.lognormal_std) and self.lognormal_std > 0,
            "lognormal_std",
            self.lognormal_std,
            "a number > 0",
        )
        check(
            not (self.learn_variance and self.timesteps != "uniform"),
            "timesteps",
            self.timesteps,
            "uniform with learn_variance (the bound's term L_vlb = T E_t[L_t] needs t uniform)",
        )
        super().__post_init__()
        check(
            1 <= self.sample_steps <= self.T,
            "sample_steps",
            self.sample_steps,
            f"an integer in 1..T = {self.T} (a sampler cannot take more steps than the "
            "diffusion has)",
        )
        check(0 <= self.eta <= 1, "eta", self.eta, ETA_RANGE)
        check(0 <= self.label_dropout < 1, "label_dropout", self.label_dropout, "in [0, 1)")
        check(self.guidance >= 0, "guidance", self.guidance, "a scale >= 0 (1: no guidance)")


@register_model("ddpm", "DDPM: U-Net or MLP denoiser; eps, x0 or v; DDIM and DPM-Solver sampling")
class DDPM(GenerativeModel):
    Config = DDPMConfig
    train_defaults: ClassVar[dict] = {"ema": True, "warmup_steps": 200}  # sample from the EMA
    report_latent_points: ClassVar[int] = 200  # each code is a DDIM inversion: plot a subset

    @classmethod
    def sized(cls, config, info):
        return sized_network(config, info)

    def __init__(self, config, info):
        super().__init__(config, info)
        config = self.config
        self.schedule = make_schedule(config.schedule, config.T)
        # p(t) of the training timesteps (none: uniform); a buffer, so it moves with the
        # model, and not saved: the config makes it
        probs = None
        if config.timesteps == "lognormal":
            probs = P.lognormal_timestep_probs(
                self.schedule, config.lognormal_mean, config.lognormal_std
            ).float()
        self.register_buffer("t_probs", probs, persistent=False)
        classes = info.num_classes if self.conditional else None
        self.net = build_network(config, info, 2 if config.learn_variance else 1, classes)

    def data_range(self):
        return "symmetric" if self.info.kind == "image" else "standard"

    @property
    def discrete(self) -> bool:
        """8-bit images: the bound's L_0 is a discretized Gaussian over 256 levels."""
        return self.info.kind == "image"

    # ---------------------------------------------------------------- the denoiser
    def denoise(self, x_t: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        """The network's raw output at (x_t, t[, y]); flat data goes through the MLP flat."""
        return run_network(self.net, self.info, x_t, t, y)

    def _split(self, out: Tensor) -> tuple[Tensor, Tensor | None]:
        """(prediction, variance interpolation f in [0, 1] or None)."""
        if not self.config.learn_variance:
            return out, None
        pred, u = out.chunk(2, dim=1)
        return pred, (u + 1) / 2

    def predict(
        self, x_t: Tensor, t: Tensor, y: Tensor | None = None, guidance: float | None = None
    ) -> P.Prediction:
        """x0_hat, eps_hat (and f) at (x_t, t); guided when conditional, clipped for images."""
        out = self._guided(x_t, t, y, self.config.guidance if guidance is None else guidance)
        out, frac = self._split(out)
        x0, eps = P.x0_eps_from(self.config.prediction, self.schedule, x_t, t, out)
        if self.discrete:  # images live in [-1, 1]: clip x_0 and re-derive eps from it
            x0 = x0.clamp(-1, 1)
            eps = P.eps_from_x0(self.schedule, x_t, t, x0)
        return P.Prediction(x0, eps, frac)

    def _guided(self, x_t: Tensor, t: Tensor, y: Tensor | None, scale: float) -> Tensor:
        if not self.conditional:
            return self.denoise(x_t, t)
        null = torch.full_like(y, self.info.num_classes)
        if scale in (0.0, 1.0):  # one pass: the unconditional or the conditional model alone
            return self.denoise(x_t, t, null if scale == 0.0 else y)
        both = self.denoise(torch.cat([x_t, x_t]), torch.cat([t, t]), torch.cat([y, null]))
        cond, uncond = both.chunk(2)
        if self.config.learn_variance:  # guide the mean only; the variance is the conditional's
            (c_mean, c_var), (u_mean, _) = cond.chunk(2, 1), uncond.chunk(2, 1)
            return torch.cat([u_mean + scale * (c_mean - u_mean), c_var], 1)
        return uncond + scale * (cond - uncond)

    # ---------------------------------------------------------------- training
    def _labels(self, y: Tensor | None, n: int) -> Tensor | None:
        return None

    def _timesteps(self, n: int, device) -> Tensor:
        if self.t_probs is None:
            return torch.randint(0, len(self.schedule), (n,), device=device)
        return torch.multinomial(self.t_probs, n, replacement=True).to(device)

    def loss(self, batch: Batch) -> LossOutput:
        x0 = batch["x"]
        y = self._labels(batch.get("y"), len(x0))
        n, s = len(x0), self.schedule
        t = self._timesteps(n, x0.device)  # 1. t ~ U{0, ..., T-1} (or the lognormal's p(t))
        eps = torch.randn_like(x0)  # 2. eps ~ N(0, I)
        x_t = P.q_sample(s, x0, t, eps)  # 3. x_t ~ q(x_t | x_0)
        out, frac = self._split(self.denoise(x_t, t, y))
        target = P.training_target(self.config.prediction, s, x0, t, eps)
        if self.config.min_snr_gamma:  # 4. L_simple, each example weighted by min(SNR, gamma)
            w = P.min_snr_weight(self.config.prediction, s, t, self.config.min_snr_gamma)
            simple = (w * (out.float() - target).pow(2).flatten(1).mean(1)).mean()
        else:  # 4. L_simple, the mean over every element
            simple = F.mse_loss(out.float(), target)
        terms = {"simple": simple}
        loss = simple
        if frac is not None:  # 5. L_vlb trains the variance only: the mean is held fixed
            x0_hat, _ = P.x0_eps_from(self.config.prediction, s, x_t, t, out.detach().float())
            mean, _ = P.q_posterior(s, x0_hat, x_t, t)
            logvar = P.learned_log_variance(s, t, frac.float())
            vlb = P.vlb_term(s, x0, x_t, t, mean, logvar, self.discrete) / x0[0].numel()
            vlb = len(s) * vlb.mean()  # L_vlb = T E_t[L_t], in nats per dimension
            terms["vlb"] = vlb
            loss = simple + self.config.vlb_weight * vlb
        return LossOutput(loss, terms)

    def phases(self) -> list[Phase]:
        return [Phase("denoiser", list(self.parameters()), self.loss)]

    # ---------------------------------------------------------------- sampling
    def _sampler_args(self, sampler: str | None, steps: int | None) -> tuple[str, Tensor]:
        sampler = sampler or self.config.sampler
        if sampler not in SAMPLERS:
            raise GenzooError(f"--sampler {sampler}: choose {', '.join(SAMPLERS)}")
        T = len(self.schedule)
        if steps is None:  # the configured pair (sampler, sample_steps) is the default;
            # ancestral sampling asked for by name walks all T unless told
            own = sampler == self.config.sampler
            steps = self.config.sample_steps if own or sampler != "ddpm" else T
        return sampler, SAMPLERS[sampler].timesteps(self.schedule, steps)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        labels: Tensor | None = None,
        sampler: str | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        eta: float | None = None,
        x_T: Tensor | None = None,
        on_step=None,
    ) -> Tensor:
        """n samples with `sampler` (default: the config's) in `steps` steps, from x_T ~ N(0, I)
        drawn with `generator` unless given. Images are clamped to [-1, 1]."""
        sampler, ts = self._sampler_args(sampler, steps)
        if eta is not None and not SAMPLERS[sampler].takes_eta:
            raise GenzooError(f"--eta: only the ddim sampler takes it, not {sampler}")
        eta = self.config.eta if eta is None else eta
        check(0 <= eta <= 1, "eta", eta, ETA_RANGE)
        y = self.default_labels(n, labels)
        if x_T is None:
            shape = (n, *self.info.shape)
            x_T = torch.randn(shape, generator=generator, device=self.device)

        def predict(x, t):
            return self.predict(x, t, y, guidance)

        run = SAMPLERS[sampler].run
        x = run(predict, self.schedule, ts, x_T, generator, eta, self.config.variance, on_step)
        return x.clamp(-1, 1) if self.discrete else x

    def fast_options(self, method: str) -> dict:
        """Pictures sample with DPM-Solver++ in 20 steps (as good as DDIM in 50 on the models
        bench/RESULTS.md measured) and invert and decode in 10 DDIM steps."""
        T = len(self.schedule)
        if method == "sample":
            return {"sampler": "dpm-solver", "steps": min(20, T)}
        if method in ("reconstruct", "encode", "decode"):
            return {"steps": min(10, T)}
        return {}

    @torch.no_grad()
    def trajectory(
        self, n: int, frames: int = 10, *, generator=None, labels=None, **sample_kw
    ) -> list[tuple[str, Tensor]]:
        """x_T -> x_0 as up to `frames` snapshots [(title, (n, *shape))]: the noise, states
        evenly spaced through the sampler's steps, and the sample (fewer when it takes fewer
        steps: each state appears once)."""
        x_T = torch.randn(n, *self.info.shape, generator=generator, device=self.device)
        kw = {"labels": labels, "generator": generator, **sample_kw}
        return sampling_trajectory(self, n, frames, x_T, x_T, self.discrete, **kw)

    def report_figures(self, data) -> Iterator[Figure]:
        """The trajectory, the samples of each sampler and step count, and (conditional) the
        guidance sweep: one figure at a time, so a report short of time can stop between."""
        g = torch.Generator(device=self.device).manual_seed(0)
        frames = self.trajectory(8 if self.discrete else 1000, generator=g)
        yield Frames(
            "Trajectory",
            f"x_T to x_0 with {self.config.sampler} in {self.config.sample_steps} steps, "
            f"left to right: {', '.join(t for t, _ in frames)}",
            frames,
        )
        n = 10 if self.discrete else 1000
        T = len(self.schedule)
        # ancestral sampling respaced to 100 steps is as good as over all T on the models we
        # measured (bench/RESULTS.md), at a tenth of the report's time on a CPU
        runs = [
            ("ddpm", 20), ("ddpm", 100), ("ddim", 10), ("ddim", 50),
            ("dpm-solver", 10), ("dpm-solver", 20),
        ]  # fmt: skip
        for sampler, steps in dict.fromkeys((s, min(k, T)) for s, k in runs):
            g = torch.Generator(device=self.device).manual_seed(0)
            x = self.sample(n, generator=g, sampler=sampler, steps=steps)
            yield SampleSets(
                f"Samples: {sampler}, {steps} steps",
                "the same noise x_T in every sampler's figure",
                [("samples", x)],
            )
        if self.conditional:
            scales = [0.0, 1.0, 2.0, 4.0]
            rows = []
            for w in scales:
                g = torch.Generator(device=self.device).manual_seed(0)
                rows.append(self.sample(self.info.num_classes, generator=g, guidance=w))
            yield SampleSets(
                "Classifier-free guidance",
                "one class per column; rows: guidance scale "
                + ", ".join(f"{w:g}" for w in scales)
                + " (0: unconditional, 1: the conditional model alone)",
                [("samples", torch.cat(rows))],
                self.info.num_classes,
            )

    # ---------------------------------------------------------------- DDIM inversion
    @torch.no_grad()
    def encode(self, x: Tensor, y: Tensor | None = None, steps: int | None = None) -> Tensor:
        """x_0 -> x_T by DDIM inversion (eta = 0) in `steps` steps (default: sample_steps)."""
        _, ts = self._sampler_args("ddim", steps)
        y = self._condition_labels(y, len(x))
        return ddim_invert(lambda v, t: self.predict(v, t, y, 1.0), self.schedule, ts, x)

    @torch.no_grad()
    def decode(self, z: Tensor, y: Tensor | None = None, steps: int | None = None) -> Tensor:
        """x_T -> x_0 by DDIM with eta = 0: the inverse of `encode`."""
        _, ts = self._sampler_args("ddim", steps)
        y = self._condition_labels(y, len(z))
        x = ddim_sample(lambda v, t: self.predict(v, t, y, 1.0), self.schedule, ts, z, 0.0)
        return x.clamp(-1, 1) if self.discrete else x

    def reconstruct(self, x: Tensor, y: Tensor | None = None, steps: int | None = None) -> Tensor:
        """decode(encode(x)): how well DDIM inversion round-trips x."""
        return self.decode(self.encode(x, y, steps), y, steps)

    def _condition_labels(self, y: Tensor | None, n: int) -> Tensor | None:
        return None

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """x_T ~ N(0, I), the 'code' that `decode` maps to data."""
        return torch.randn(n, *self.info.shape, generator=generator, device=self.device)

    # ---------------------------------------------------------------- the variational bound
    @torch.no_grad()
    def log_likelihood(
        self,
        x: Tensor,
        k: int | None = None,
        *,
        y: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """The variational lower bound on log p(x) (nats, (B,)): -(L_T + sum_t L_{t-1} + L_0).

        k = None or k >= T: the exact bound, every term. k < T: L_0 exactly and the sum over
        t = 1..T-1 split into k - 1 strata, one t drawn per stratum and per example, weighted
        by the stratum's size: an unbiased estimate of the same bound. The strata are spaced
        geometrically (P.bound_strata): most of the bound sits in the first few steps."""
        s, T = self.schedule, len(self.schedule)
        y = self._condition_labels(y, len(x))
        n, dev = len(x), x.device
        total = P.prior_kl(s, x)  # L_T
        total = total + self._vlb_at(x, torch.zeros(n, dtype=torch.long, device=dev), y, generator)
        if k is None or k >= T:
            for t_int in range(1, T):
                tick()
                t = torch.full((n,), t_int, dtype=torch.long, device=dev)
                total = total + self._vlb_at(x, t, y, generator)
            return -total
        edges = P.bound_strata(T, max(k, 2))
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            tick()
            t = torch.randint(lo, hi, (n,), generator=generator, device=dev)
            total = total + (hi - lo) * self._vlb_at(x, t, y, generator)
        return -total

    def likelihood_provenance(self, k: int | None) -> dict:
        """What the nll metric's estimate is, for its provenance."""
        T = len(self.schedule)
        exact = k is None or k >= T
        return {
            "estimator": "variational bound" + (" (all T terms)" if exact else ""),
            "timesteps": T if exact else k,
            "discrete": self.discrete,
            "binarized": False,
        }

    def _vlb_at(self, x: Tensor, t: Tensor, y: Tensor | None, generator) -> Tensor:
        """L_{t-1} per example at timesteps t (B,), x_t drawn from q(x_t | x)."""
        s = self.schedule
        eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        x_t = P.q_sample(s, x, t, eps)
        out, frac = self._split(self._guided(x_t, t, y, 1.0))
        x0_hat, _ = P.x0_eps_from(self.config.prediction, s, x_t, t, out)
        if self.discrete:
            x0_hat = x0_hat.clamp(-1, 1)
        mean, logvar = P.q_posterior(s, x0_hat, x_t, t)
        if frac is not None:
            logvar = P.learned_log_variance(s, t, frac)
        return P.vlb_term(s, x, x_t, t, mean, logvar.expand_as(x), self.discrete)


@register_model("cddpm", "class-conditional DDPM with classifier-free guidance")
class ConditionalDDPM(DDPM):
    conditional: ClassVar[bool] = True

    def __init__(self, config, info):
        if not info.num_classes:
            raise ConfigError("data", info.source, "labelled data (cddpm is conditioned on labels)")
        super().__init__(config, info)

    def _labels(self, y: Tensor | None, n: int) -> Tensor:
        """Training labels, each replaced by the null label with probability label_dropout."""
        y = self._condition_labels(y, n)
        drop = torch.rand(n, device=y.device) < self.config.label_dropout
        return torch.where(drop, torch.full_like(y, self.info.num_classes), y)

    def _condition_labels(self, y: Tensor | None, n: int) -> Tensor:
        if y is None:
            raise GenzooError("cddpm: this needs the examples' labels (the model is conditional)")
        return y.long().to(self.device)

    def default_labels(self, n: int, labels: Tensor | None) -> Tensor:
        """Without labels, samples cycle through the classes: 0, 1, ..., K-1, 0, ..."""
        if labels is None:
            return torch.arange(n, device=self.device) % self.info.num_classes
        return labels.long().to(self.device)
