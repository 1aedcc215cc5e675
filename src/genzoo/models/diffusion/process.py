"""The maths of the diffusion process, as pure functions of a `NoiseSchedule` and tensors.

Notation of Ho et al. 2020 ("Denoising Diffusion Probabilistic Models"), t 0-based:

- forward marginal (eq. 4):  q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I),
  sampled as x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps;
- posterior (eq. 6-7):  q(x_{t-1} | x_t, x_0) = N(mu~_t, beta~_t I),
  mu~_t = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t) x_0
        + sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) x_t;
- what a denoiser predicts: eps, x_0, or v = sqrt(alpha_bar_t) eps - sqrt(1 - alpha_bar_t) x_0
  (Salimans & Ho 2022, "Progressive Distillation", appendix D); each determines the others
  given x_t;
- learned variances (Nichol & Dhariwal 2021, eq. 15): an output u in [-1, 1] interpolates the
  log-variance between the two natural choices, log Sigma = f log beta_t + (1 - f) log beta~_t,
  f = (u + 1) / 2;
- the variational bound (Ho et al. eq. 5; Nichol & Dhariwal section 2):
  L = L_T + sum_{t >= 1} L_{t-1} + L_0, with L_T = KL(q(x_T | x_0) || N(0, I)),
  L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t)) and L_0 = -log p(x_0 | x_1), a
  discretized Gaussian over 256 bins for 8-bit images in [-1, 1] (Ho et al. eq. 13) or a
  Gaussian density for continuous data.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .schedules import NoiseSchedule, at

Target = Literal["eps", "x0", "v"]


# ---------------------------------------------------------------- forward process
def q_sample(s: NoiseSchedule, x0: Tensor, t: Tensor, eps: Tensor) -> Tensor:
    """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, per example t (B,)."""
    ab = at(s.alpha_bar, t, x0)
    return ab.sqrt() * x0 + (1 - ab).sqrt() * eps


def q_posterior(s: NoiseSchedule, x0: Tensor, x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    """(mu~_t, log beta~_t) of q(x_{t-1} | x_t, x_0), each broadcastable to x_t."""
    ab, ab_prev = at(s.alpha_bar, t, x_t), at(s.alpha_bar_prev, t, x_t)
    beta, alpha = at(s.betas, t, x_t), at(s.alphas, t, x_t)
    mean = (ab_prev.sqrt() * beta * x0 + alpha.sqrt() * (1 - ab_prev) * x_t) / (1 - ab)
    return mean, at(s.posterior_log_variance, t, x_t)


# ---------------------------------------------------------------- eps, x0 and v
def x0_from_eps(s: NoiseSchedule, x_t: Tensor, t: Tensor, eps: Tensor) -> Tensor:
    ab = at(s.alpha_bar, t, x_t)
    return (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()


def eps_from_x0(s: NoiseSchedule, x_t: Tensor, t: Tensor, x0: Tensor) -> Tensor:
    ab = at(s.alpha_bar, t, x_t)
    return (x_t - ab.sqrt() * x0) / (1 - ab).sqrt()


def v_from(s: NoiseSchedule, x0: Tensor, t: Tensor, eps: Tensor) -> Tensor:
    """v = sqrt(alpha_bar_t) eps - sqrt(1 - alpha_bar_t) x_0."""
    ab = at(s.alpha_bar, t, x0)
    return ab.sqrt() * eps - (1 - ab).sqrt() * x0


def x0_eps_from_v(s: NoiseSchedule, x_t: Tensor, t: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """x_0 = sqrt(ab) x_t - sqrt(1 - ab) v and eps = sqrt(1 - ab) x_t + sqrt(ab) v."""
    ab = at(s.alpha_bar, t, x_t)
    return ab.sqrt() * x_t - (1 - ab).sqrt() * v, (1 - ab).sqrt() * x_t + ab.sqrt() * v


def training_target(kind: Target, s: NoiseSchedule, x0: Tensor, t: Tensor, eps: Tensor) -> Tensor:
    """What a denoiser predicting `kind` regresses onto."""
    return {"eps": lambda: eps, "x0": lambda: x0, "v": lambda: v_from(s, x0, t, eps)}[kind]()


def min_snr_weight(kind: Target, s: NoiseSchedule, t: Tensor, gamma: float) -> Tensor:
    """Min-SNR-gamma loss weights (Hang et al. 2023), per example t (B,): each step's loss,
    rewritten as an x_0 error, weighted by min(SNR_t, gamma), SNR_t = alpha_bar_t /
    (1 - alpha_bar_t), so that the nearly clean steps stop dominating the gradient. In the
    unit of each target's own MSE: eps error = SNR_t x_0 error and v error = (SNR_t + 1) x_0
    error, so w_eps = min(SNR_t, gamma) / SNR_t, w_x0 = min(SNR_t, gamma) and
    w_v = min(SNR_t, gamma) / (SNR_t + 1)."""
    ab = s.alpha_bar.to(t.device)[t].double()
    snr = ab / (1 - ab)
    clipped = snr.clamp(max=gamma)
    w = {"eps": lambda: clipped / snr, "x0": lambda: clipped, "v": lambda: clipped / (snr + 1)}
    return w[kind]().float()


def lognormal_timestep_probs(s: NoiseSchedule, mean: float, std: float) -> Tensor:
    """p(t), (T,) float64, for drawing training timesteps as EDM draws its noise levels
    (Karras et al. 2022, section 5: ln sigma ~ N(P_mean, P_std^2)), on this schedule's
    discrete steps: sigma_t = sqrt((1 - alpha_bar_t) / alpha_bar_t) is the noise-to-signal
    ratio of x_t / sqrt(alpha_bar_t), and step t takes the normal's mass between the midpoints
    of ln sigma_t and its neighbours (the first and last steps take the tails). Uniform t spends
    over half of the linear schedule's draws at SNR below 0.1 (ln sigma above 1.15, beyond
    EDM's P_mean + 2 P_std), which Min-SNR weighting then all but ignores; these draws put a
    short run's steps on the noise levels that shape the samples."""
    ab = s.alpha_bar
    log_sigma = 0.5 * torch.log((1 - ab) / ab)
    edges = (log_sigma[1:] + log_sigma[:-1]) / 2
    normal = torch.distributions.Normal(torch.tensor(mean, dtype=torch.float64), std)
    cdf = F.pad(normal.cdf(edges), (1, 0), value=0.0)
    cdf = F.pad(cdf, (0, 1), value=1.0)
    probs = (cdf[1:] - cdf[:-1]).clamp(min=0)
    return probs / probs.sum()


def x0_eps_from(
    kind: Target, s: NoiseSchedule, x_t: Tensor, t: Tensor, out: Tensor
) -> tuple[Tensor, Tensor]:
    """A denoiser's output of `kind` -> (x_0 estimate, eps estimate)."""
    if kind == "eps":
        return x0_from_eps(s, x_t, t, out), out
    if kind == "x0":
        return out, eps_from_x0(s, x_t, t, out)
    return x0_eps_from_v(s, x_t, t, out)


class Prediction(NamedTuple):
    """What a sampler needs from the denoiser at (x_t, t): the x_0 and eps estimates and, for
    learned variances, the interpolation f in [0, 1] of eq. 15 (None: a fixed variance)."""

    x0: Tensor
    eps: Tensor
    var_frac: Tensor | None = None


def learned_log_variance(s: NoiseSchedule, t: Tensor, frac: Tensor) -> Tensor:
    """log Sigma = f log beta_t + (1 - f) log beta~_t (Nichol & Dhariwal eq. 15)."""
    return frac * at(s.betas.log(), t, frac) + (1 - frac) * at(s.posterior_log_variance, t, frac)


# ---------------------------------------------------------------- the variational bound
def normal_kl(mean1: Tensor, logvar1: Tensor, mean2: Tensor, logvar2: Tensor) -> Tensor:
    """KL(N(mean1, e^logvar1) || N(mean2, e^logvar2)) per element, in nats."""
    return 0.5 * (
        logvar2
        - logvar1
        + torch.exp(logvar1 - logvar2)
        + (mean1 - mean2) ** 2 * torch.exp(-logvar2)
        - 1
    )


def _std_normal_cdf(x: Tensor) -> Tensor:
    return 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


def discretized_gaussian_log_likelihood(x: Tensor, mean: Tensor, log_scale: Tensor) -> Tensor:
    """log P(x) per element for x on the 256-level grid of [-1, 1] (bin width 2/255), under
    N(mean, e^{2 log_scale}); the end bins extend to -inf and +inf (Ho et al. eq. 13)."""
    centred = x - mean
    inv = torch.exp(-log_scale)
    cdf_plus = _std_normal_cdf(inv * (centred + 1.0 / 255))
    cdf_minus = _std_normal_cdf(inv * (centred - 1.0 / 255))
    tiny = 1e-12
    log_cdf_plus = torch.log(cdf_plus.clamp(min=tiny))
    log_one_minus_cdf_minus = torch.log((1.0 - cdf_minus).clamp(min=tiny))
    log_delta = torch.log((cdf_plus - cdf_minus).clamp(min=tiny))
    return torch.where(
        x < -0.999, log_cdf_plus, torch.where(x > 0.999, log_one_minus_cdf_minus, log_delta)
    )


def gaussian_log_likelihood(x: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
    """log N(x; mean, e^logvar) per element (a density: continuous data)."""
    return -0.5 * (math.log(2 * math.pi) + logvar + (x - mean) ** 2 * torch.exp(-logvar))


def prior_kl(s: NoiseSchedule, x0: Tensor) -> Tensor:
    """L_T = KL(q(x_T | x_0) || N(0, I)) summed over dimensions, (B,) nats."""
    t = torch.full((len(x0),), len(s) - 1, device=x0.device, dtype=torch.long)
    ab = at(s.alpha_bar, t, x0)
    kl = normal_kl(
        ab.sqrt() * x0, (1 - ab).log().expand_as(x0), torch.zeros_like(x0), torch.zeros_like(x0)
    )
    return kl.flatten(1).sum(1)


def bound_strata(T: int, k: int) -> list[int]:
    """Edges 1 = e_0 < e_1 < ... < e_{k-1} = T of k - 1 strata of the timesteps 1..T-1 for a
    stratified estimate of the bound's sum, spaced geometrically: L_{t-1} falls by orders of
    magnitude over the first steps, so single-step strata there and wide ones late cut the
    estimate's spread (an MNIST model, k = 10: sd 0.011 bits/dim across seeds against 0.128
    with equal strata; bench/RESULTS.md). Each stratum holds at least one step (2 <= k <= T)."""
    if not 2 <= k <= T:
        raise ValueError(f"k must be in [2, T={T}], got {k}")
    edges = [1]
    for left in range(k - 1, 0, -1):  # strata still to place in [edges[-1], T)
        lo = edges[-1]
        step = round(lo * (T / lo) ** (1 / left))
        edges.append(min(T - (left - 1), max(lo + 1, step)))
    return edges


def vlb_term(
    s: NoiseSchedule,
    x0: Tensor,
    x_t: Tensor,
    t: Tensor,
    model_mean: Tensor,
    model_logvar: Tensor,
    discrete: bool,
) -> Tensor:
    """L_{t-1} for each example, summed over dimensions, (B,) nats: the KL to the true
    posterior where t > 0, the decoder's -log p(x_0 | x_1) where t = 0."""
    true_mean, true_logvar = q_posterior(s, x0, x_t, t)
    kl = normal_kl(true_mean, true_logvar, model_mean, model_logvar).flatten(1).sum(1)
    if discrete:
        nll = -discretized_gaussian_log_likelihood(x0, model_mean, 0.5 * model_logvar)
    else:
        nll = -gaussian_log_likelihood(x0, model_mean, model_logvar.expand_as(x0))
    return torch.where(t == 0, nll.flatten(1).sum(1), kl)
