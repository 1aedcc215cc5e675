"""Samplers: stateless functions from noise x_T to data, given a denoiser and the schedule.

Each takes `predict(x_t, t) -> Prediction` (the x_0 and eps estimates at model timesteps t,
(B,) long; guidance and clipping live inside it), the model's full `NoiseSchedule`, the
timesteps to visit (ascending; all T for full ancestral sampling), the starting noise and a
`generator` for any fresh noise. `on_step(i, x, x0)` sees every intermediate state (the
trajectory figure). Every step calls `tick()`: a stop request (Ctrl-C) acts between steps,
and a long sampling run keeps its progress lines coming.

- `ddpm_sample`: ancestral sampling (Ho et al. 2020, algorithm 2) over the given steps; on a
  subset the schedule is respaced (Nichol & Dhariwal 2021, section 4).
- `ddim_sample`: DDIM (Song, Meng & Ermon 2021, eq. 12) with its eta: 0 deterministic, 1 the
  ancestral sampler's variance.
- `dpm_solver_sample`: DPM-Solver++(2M) (Lu et al. 2022, algorithm 2), a second-order
  multistep solver of the probability-flow ODE in the data-prediction form, for 10-25 steps
  (give it timesteps evenly spaced in log-SNR: `schedules.logsnr_timesteps`).
- `ddim_invert`: DDIM with eta = 0 run forward, x_0 -> x_T (Song et al. section 4.3;
  Dhariwal & Nichol 2021 appendix F): the deterministic encoding that `ddim_sample` decodes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ...progress import tick
from .process import Prediction, learned_log_variance, q_posterior
from .schedules import NoiseSchedule, logsnr_timesteps, respace, spaced_timesteps

Predict = Callable[[Tensor, Tensor], Prediction]
OnStep = Callable[[int, Tensor, Tensor], None] | None


def _steps(t: int, x: Tensor) -> Tensor:
    return torch.full((len(x),), int(t), device=x.device, dtype=torch.long)


def _noise(x: Tensor, generator: torch.Generator | None) -> Tensor:
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


@torch.no_grad()
def ddpm_sample(
    predict: Predict,
    schedule: NoiseSchedule,
    timesteps: Tensor,
    x_T: Tensor,
    generator: torch.Generator | None = None,
    variance: str = "small",
    on_step: OnStep = None,
) -> Tensor:
    """Ancestral sampling: x_{t-1} ~ N(mu~(x_t, x0_hat), Sigma) from the last kept step down.
    `variance`: "small" beta~_t (the true posterior's), "large" beta_t, or the model's learned
    interpolation when `predict` returns one."""
    s = respace(schedule, timesteps)
    x = x_T
    for i in reversed(range(len(s))):
        tick()  # a stop request acts between steps
        idx = _steps(i, x)  # index into the respaced schedule
        pred = predict(x, _steps(s.timesteps[i], x))  # 1. the network at the model's timestep
        mean, logvar = q_posterior(s, pred.x0, x, idx)  # 2. mu~(x_t, x0_hat), log beta~
        if pred.var_frac is not None:
            logvar = learned_log_variance(s, idx, pred.var_frac)
        elif variance == "large":  # beta_t, with beta_0 replaced by beta~_1 as in eq. 13
            large = torch.cat([s.posterior_variance[1:2], s.betas[1:]]).log()
            logvar = large.to(x)[i].expand(len(x), *([1] * (x.dim() - 1)))
        x = mean + (0.5 * logvar).exp() * _noise(x, generator) if i > 0 else mean  # 3.
        if on_step is not None:
            on_step(len(s) - 1 - i, x, pred.x0)
    return x


@torch.no_grad()
def ddim_sample(
    predict: Predict,
    schedule: NoiseSchedule,
    timesteps: Tensor,
    x_T: Tensor,
    eta: float = 0.0,
    generator: torch.Generator | None = None,
    on_step: OnStep = None,
) -> Tensor:
    """DDIM from the last of `timesteps` down; the final step lands on x_0_hat itself."""
    ab_all = schedule.alpha_bar.to(x_T)
    x = x_T
    for j in reversed(range(len(timesteps))):
        tick()
        t = int(timesteps[j])
        ab = ab_all[t]
        ab_prev = ab_all[int(timesteps[j - 1])] if j > 0 else torch.ones_like(ab)
        pred = predict(x, _steps(t, x))  # 1. x0_hat and eps_hat at (x_t, t)
        # 2. sigma_t(eta) (eq. 16); eta = 1 gives the ancestral sampler's beta~
        sigma = eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)).sqrt()
        # 3. eq. 12: the predicted x_0, the direction pointing to x_t, and fresh noise
        x = ab_prev.sqrt() * pred.x0 + (1 - ab_prev - sigma**2).clamp(min=0).sqrt() * pred.eps
        if eta > 0 and j > 0:
            x = x + sigma * _noise(x, generator)
        if on_step is not None:
            on_step(len(timesteps) - 1 - j, x, pred.x0)
    return x


@torch.no_grad()
def dpm_solver_sample(
    predict: Predict,
    schedule: NoiseSchedule,
    timesteps: Tensor,
    x_T: Tensor,
    on_step: OnStep = None,
) -> Tensor:
    """DPM-Solver++(2M). With alpha_t = sqrt(alpha_bar_t), sigma_t = sqrt(1 - alpha_bar_t),
    lambda_t = log(alpha_t / sigma_t) and h_i = lambda_{t_i} - lambda_{t_{i-1}}:

        x_{t_i} = (sigma_{t_i} / sigma_{t_{i-1}}) x_{t_{i-1}} - alpha_{t_i} (e^{-h_i} - 1) D_i,
        D_i = (1 + 1 / (2 r_i)) x0_{i-1} - 1 / (2 r_i) x0_{i-2},  r_i = h_{i-1} / h_i,

    first order (D_i = x0_{i-1}) on the first step. The last step goes to sigma = 0, where the
    update is exactly the last x_0 estimate."""
    ab_all = schedule.alpha_bar.to(x_T)
    x, prev_x0, h_prev = x_T, None, None
    order = list(reversed(timesteps.tolist()))
    for j, t in enumerate(order):
        tick()
        pred = predict(x, _steps(t, x))  # 1. the data prediction x0_{i-1} at (x, t)
        if j == len(order) - 1:  # 2. the final step, to sigma = 0: x = x0_hat
            x = pred.x0
        else:
            ab, ab_next = ab_all[t], ab_all[order[j + 1]]
            lam, lam_next = _lambda(ab), _lambda(ab_next)
            h = lam_next - lam
            d = pred.x0
            if prev_x0 is not None:  # 3. the second-order multistep correction
                r = h_prev / h
                d = (1 + 1 / (2 * r)) * pred.x0 - 1 / (2 * r) * prev_x0
            sigma, sigma_next = (1 - ab).sqrt(), (1 - ab_next).sqrt()
            x = (sigma_next / sigma) * x - ab_next.sqrt() * torch.expm1(-h) * d
            prev_x0, h_prev = pred.x0, h
        if on_step is not None:
            on_step(j, x, pred.x0)
    return x


def _lambda(ab: Tensor) -> Tensor:
    """lambda = log(alpha / sigma) = 0.5 log(alpha_bar / (1 - alpha_bar))."""
    return 0.5 * (ab.log() - (1 - ab).log())


@torch.no_grad()
def ddim_invert(predict: Predict, schedule: NoiseSchedule, timesteps: Tensor, x0: Tensor) -> Tensor:
    """x_0 -> x_T by DDIM (eta = 0) run upward through `timesteps` (ascending), each step the
    mirror of a `ddim_sample` step with the prediction read at the step's start instead of its
    end (the approximation that makes inversion need no solve):

        x_{t_0} = sqrt(ab_{t_0}) x_0 + sqrt(1 - ab_{t_0}) eps_hat(x_0, t_0),
        x_{t_j} = sqrt(ab_{t_j}) x0_hat + sqrt(1 - ab_{t_j}) eps_hat,
                  x0_hat and eps_hat read at (x_{t_{j-1}}, t_{j-1}).
    """
    ab_all = schedule.alpha_bar.to(x0)
    ts = timesteps.tolist()
    pred = predict(x0, _steps(ts[0], x0))  # 1. from the clean x_0 to the first step
    x = ab_all[ts[0]].sqrt() * x0 + (1 - ab_all[ts[0]]).sqrt() * pred.eps
    for t_prev, t in zip(ts[:-1], ts[1:], strict=True):  # 2. upward, one step at a time
        tick()
        pred = predict(x, _steps(t_prev, x))
        x = ab_all[t].sqrt() * pred.x0 + (1 - ab_all[t]).sqrt() * pred.eps
    return x


# ---------------------------------------------------------------- the samplers by name
@dataclass(frozen=True)
class SamplerSpec:
    """A sampler as config and the command line name it: the timesteps it visits for a step
    count, and its loop, called as run(predict, schedule, timesteps, x_T, generator, eta,
    variance, on_step) with the model's eta (DDIM's) and variance (ancestral's) settings."""

    timesteps: Callable[[NoiseSchedule, int], Tensor]
    run: Callable[..., Tensor]
    takes_eta: bool = False  # --eta means something to it


SAMPLERS: dict[str, SamplerSpec] = {
    "ddpm": SamplerSpec(
        lambda s, k: spaced_timesteps(len(s), k),
        lambda f, s, ts, x, g, eta, var, on_step: ddpm_sample(f, s, ts, x, g, var, on_step),
    ),
    "ddim": SamplerSpec(
        lambda s, k: spaced_timesteps(len(s), k),
        lambda f, s, ts, x, g, eta, var, on_step: ddim_sample(f, s, ts, x, eta, g, on_step),
        takes_eta=True,
    ),
    "dpm-solver": SamplerSpec(
        logsnr_timesteps,
        lambda f, s, ts, x, g, eta, var, on_step: dpm_solver_sample(f, s, ts, x, on_step),
    ),
}
