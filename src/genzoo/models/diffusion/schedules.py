"""Noise schedules of the forward process q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I).

A `NoiseSchedule` holds beta_t for t = 0, ..., T-1 (0-based, as improved-diffusion indexes
them: t = 0 is the first, least noisy step) and every quantity derived from it once:

    alpha_t = 1 - beta_t,   alpha_bar_t = prod_{s <= t} alpha_s
    alpha_bar_prev_t = alpha_bar_{t-1}, with alpha_bar_{-1} = 1 (x_{-1} is the clean x_0)

Two registered schedules, for any T:

- `linear` (Ho et al. 2020, section 4): beta rises linearly from 1e-4 to 0.02 at T = 1000;
  for other T both ends are scaled by 1000 / T (as improved-diffusion does), so the total noise
  stays about the same, and beta is clipped at 0.999 (T < 50 would reach 1).
- `cosine` (Nichol & Dhariwal 2021, eq. 17): alpha_bar_t = f(t) / f(0),
  f(t) = cos^2(((t / T) + s) / (1 + s) pi / 2) with s = 0.008, and beta_t clipped at 0.999 so
  the last steps stay finite.

`respace` keeps a subset of the steps (for faster ancestral sampling; Nichol & Dhariwal,
section 4): the kept steps' alpha_bar are unchanged and their betas are re-derived from them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from ...errors import GenzooError
from ...registry import NOISE_SCHEDULES

Spacing = Literal["linspace", "trailing"]


@dataclass(frozen=True)
class NoiseSchedule:
    """beta_t and what follows from it, all (T,) float64 tensors on the CPU; `at` moves one
    to a device and dtype. `timesteps` are the original model timesteps of each entry (for a
    respaced schedule, a subset of 0..T-1)."""

    betas: Tensor
    timesteps: Tensor

    @staticmethod
    def from_betas(betas: Tensor, timesteps: Tensor | None = None) -> NoiseSchedule:
        betas = betas.double()
        if not (betas.ndim == 1 and (betas > 0).all() and (betas <= 1).all()):
            raise ValueError("betas must be a 1-D tensor in (0, 1]")
        steps = torch.arange(len(betas)) if timesteps is None else timesteps.long()
        return NoiseSchedule(betas, steps)

    def __len__(self) -> int:
        return len(self.betas)

    @property
    def alphas(self) -> Tensor:
        return 1.0 - self.betas

    @property
    def alpha_bar(self) -> Tensor:
        return torch.cumprod(self.alphas, 0)

    @property
    def alpha_bar_prev(self) -> Tensor:
        return torch.cat([torch.ones(1, dtype=self.betas.dtype), self.alpha_bar[:-1]])

    @property
    def posterior_variance(self) -> Tensor:
        """beta~_t = beta_t (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) (Ho et al. eq. 7)."""
        return self.betas * (1.0 - self.alpha_bar_prev) / (1.0 - self.alpha_bar)

    @property
    def posterior_log_variance(self) -> Tensor:
        """log beta~_t, with beta~_0 = 0 replaced by beta~_1 so the log stays finite."""
        var = self.posterior_variance
        return torch.log(torch.cat([var[1:2], var[1:]]))

    def snr(self) -> Tensor:
        """The signal-to-noise ratio alpha_bar_t / (1 - alpha_bar_t), falling with t."""
        ab = self.alpha_bar
        return ab / (1.0 - ab)


def at(values: Tensor, t: Tensor, like: Tensor) -> Tensor:
    """values[t] shaped to broadcast against `like`, (B, 1, ..., 1), in its dtype and device."""
    out = values.to(like.device)[t.to(like.device)].to(like.dtype)
    return out.view(len(t), *([1] * (like.dim() - 1)))


# ---------------------------------------------------------------- the registered schedules
@NOISE_SCHEDULES.register("linear", "beta linear from 1e-4 to 0.02 at T = 1000 (Ho et al.)")
def linear_betas(T: int, max_beta: float = 0.999) -> Tensor:
    scale = 1000.0 / T
    return torch.linspace(scale * 1e-4, scale * 0.02, T, dtype=torch.float64).clamp(max=max_beta)


@NOISE_SCHEDULES.register("cosine", "alpha_bar a squared cosine, s = 0.008 (Nichol & Dhariwal)")
def cosine_betas(T: int, s: float = 0.008, max_beta: float = 0.999) -> Tensor:
    def f(t: Tensor) -> Tensor:
        return torch.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2

    t = torch.arange(T + 1, dtype=torch.float64)
    alpha_bar = f(t) / f(torch.zeros(1, dtype=torch.float64))
    return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=max_beta)


def make_schedule(name: str, T: int) -> NoiseSchedule:
    """The registered schedule `name` with T steps."""
    if T < 1:
        raise GenzooError(f"T {T}: choose at least 1 diffusion step")
    return NoiseSchedule.from_betas(NOISE_SCHEDULES.get(name)(T))


# ---------------------------------------------------------------- fewer steps
def spaced_timesteps(T: int, steps: int, spacing: Spacing = "linspace") -> Tensor:
    """`steps` of the T model timesteps, ascending, for a sampler that takes fewer steps.

    linspace: evenly from 0 to T-1, both ends kept (DDIM's and DPM-Solver's usual choice);
    trailing: T-1, T-1-k, ... (k = T / steps), which always starts at the noisiest step.
    """
    if not 1 <= steps <= T:
        raise GenzooError(f"--steps {steps}: choose between 1 and the model's T = {T}")
    if spacing == "linspace":
        ts = torch.linspace(0, T - 1, steps, dtype=torch.float64).round().long()
    else:
        ts = (T - 1 - torch.arange(steps) * (T / steps)).round().long().flip(0)
    return torch.unique(ts)


def logsnr_timesteps(schedule: NoiseSchedule, steps: int) -> Tensor:
    """About `steps` model timesteps, ascending, evenly spaced in the half log-SNR
    lambda_t = log(alpha_t / sigma_t) rather than in t (each is the step nearest its target;
    the rare duplicates merge). DPM-Solver's multistep formulas assume steps of comparable
    size in lambda (Lu et al. 2022, section 3.3, "logSNR" spacing): evenly spaced t makes the
    first steps, at the noisy end, many times longer than the rest."""
    T = len(schedule)
    if not 1 <= steps <= T:
        raise GenzooError(f"--steps {steps}: choose between 1 and the model's T = {T}")
    lam = 0.5 * torch.log(schedule.snr())
    target = torch.linspace(float(lam[0]), float(lam[-1]), steps, dtype=torch.float64)
    return torch.unique((lam[None] - target[:, None]).abs().argmin(1))


def respace(schedule: NoiseSchedule, timesteps: Tensor) -> NoiseSchedule:
    """The schedule restricted to `timesteps` (ascending): alpha_bar kept at those steps,
    beta'_i = 1 - alpha_bar_{t_i} / alpha_bar_{t_{i-1}} (alpha_bar_{t_{-1}} = 1)."""
    ab = schedule.alpha_bar[timesteps]
    prev = torch.cat([torch.ones(1, dtype=ab.dtype), ab[:-1]])
    return NoiseSchedule.from_betas(1 - ab / prev, schedule.timesteps[timesteps])
