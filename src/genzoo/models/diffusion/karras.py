"""The EDM formulation of diffusion (Karras, Aittala, Aila & Laine 2022, "Elucidating the Design
Space of Diffusion-Based Generative Models"), as pure functions of the noise level sigma.

The data y is noised as x = y + sigma n, n ~ N(0, I) (a variance-exploding process whose time
is sigma itself). A denoiser D(x; sigma) estimates y, and the probability-flow ODE
dx/dsigma = (x - D(x; sigma)) / sigma (eq. 3 with sigma(t) = t) carries noise N(0, sigma_max^2 I)
to data.

- Preconditioning (section 5, table 1): the network F sees a unit-variance input and predicts
  a unit-variance target,
      D(x; sigma) = c_skip(sigma) x + c_out(sigma) F(c_in(sigma) x; c_noise(sigma)),
      c_skip = sigma_data^2 / (sigma^2 + sigma_data^2),
      c_out  = sigma sigma_data / sqrt(sigma^2 + sigma_data^2),
      c_in   = 1 / sqrt(sigma^2 + sigma_data^2),
      c_noise = ln(sigma) / 4.
- Training (eq. 2 and 8): ln sigma ~ N(P_mean, P_std^2) (-1.2 and 1.2), and the loss
  lambda(sigma) ||D(y + n; sigma) - y||^2 with lambda = (sigma^2 + sigma_data^2) /
  (sigma sigma_data)^2, which is exactly ||F - F_target||^2 with
  F_target = (y - c_skip (y + n)) / c_out: every noise level weighs the same (eq. 8).
- Sampling: the time steps of eq. 5, sigma_i = (sigma_max^(1/rho) + i/(N-1)
  (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho, then sigma_N = 0, rho = 7; Heun's 2nd-order
  method on the ODE (algorithm 1; 2N - 1 network evaluations), with the optional churn of
  algorithm 2 (fresh noise that raises sigma_i by a factor 1 + gamma before each step).
- DDIM (Song, Meng & Ermon 2021) with eta = 0 is Euler's method on this same ODE (Karras et
  al. table 1; x here is DDIM's x_t / sqrt(alpha_bar_t), sigma = sqrt(1 / alpha_bar_t - 1)):
      x_{i+1} = x_i + (sigma_{i+1} - sigma_i) (x_i - D(x_i; sigma_i)) / sigma_i,
  and DDIM inversion is the same step taken toward higher sigma (`probability_flow` runs
  either way).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ...progress import tick

# Karras et al. table 1 and section 5
P_MEAN, P_STD = -1.2, 1.2
SIGMA_MIN, SIGMA_MAX, RHO = 0.002, 80.0, 7.0

Denoiser = Callable[[Tensor, Tensor], Tensor]  # D(x, sigma (B,)) -> the estimate of y
OnStep = Callable[[int, Tensor, Tensor], None] | None


def _col(sigma: Tensor, x: Tensor) -> Tensor:
    """(B,) -> (B, 1, ..., 1), broadcastable against x."""
    return sigma.reshape(-1, *([1] * (x.dim() - 1)))


def c_skip(sigma: Tensor, sigma_data: float) -> Tensor:
    """sigma_data^2 / (sigma^2 + sigma_data^2): how much of x passes through (table 1)."""
    return sigma_data**2 / (sigma**2 + sigma_data**2)


def c_out(sigma: Tensor, sigma_data: float) -> Tensor:
    """sigma sigma_data / sqrt(sigma^2 + sigma_data^2): the scale of F's output (table 1)."""
    return sigma * sigma_data / (sigma**2 + sigma_data**2).sqrt()


def c_in(sigma: Tensor, sigma_data: float) -> Tensor:
    """1 / sqrt(sigma^2 + sigma_data^2): makes F's input unit-variance (table 1)."""
    return 1 / (sigma**2 + sigma_data**2).sqrt()


def c_noise(sigma: Tensor) -> Tensor:
    """ln(sigma) / 4: the noise level as F sees it (table 1)."""
    return sigma.log() / 4


def loss_weight(sigma: Tensor, sigma_data: float) -> Tensor:
    """lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2 = 1 / c_out^2 (eq. 8)."""
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


def precondition(
    net: Callable[[Tensor, Tensor], Tensor], x: Tensor, sigma: Tensor, sigma_data: float
) -> Tensor:
    """D(x; sigma) = c_skip x + c_out F(c_in x; c_noise), with F = net(input, c_noise)."""
    s = _col(sigma, x)
    out = net(c_in(s, sigma_data) * x, c_noise(sigma))
    return c_skip(s, sigma_data) * x + c_out(s, sigma_data) * out.to(x.dtype)


def training_target(y: Tensor, noisy: Tensor, sigma: Tensor, sigma_data: float) -> Tensor:
    """F_target = (y - c_skip x) / c_out for x = y + sigma n: the target whose unweighted MSE
    against F equals the weighted denoising loss lambda(sigma) ||D(x; sigma) - y||^2."""
    s = _col(sigma, y)
    return (y - c_skip(s, sigma_data) * noisy) / c_out(s, sigma_data)


def denoising_loss(
    net: Callable[[Tensor, Tensor], Tensor],
    y: Tensor,
    sigma_data: float,
    p_mean: float = P_MEAN,
    p_std: float = P_STD,
) -> Tensor:
    """The training loss of eq. 2 with the weighting of eq. 8, as the mean of ||F - F_target||^2
    over a batch of clean data y, F = net(input, c_noise):
    1. ln sigma ~ N(p_mean, p_std^2) per example, 2. x = y + sigma n, 3. F at (c_in x, c_noise),
    regressed on F_target (which weighs every noise level the same)."""
    sigma = training_sigmas(len(y), p_mean, p_std, device=y.device)  # 1.
    s = _col(sigma, y)
    noisy = y + s * torch.randn_like(y)  # 2. x = y + sigma n
    out = net(c_in(s, sigma_data) * noisy, c_noise(sigma))  # 3.
    return (out.float() - training_target(y, noisy, sigma, sigma_data)).pow(2).mean()


def training_sigmas(
    n: int,
    p_mean: float = P_MEAN,
    p_std: float = P_STD,
    generator: torch.Generator | None = None,
    device=None,
) -> Tensor:
    """n noise levels with ln sigma ~ N(p_mean, p_std^2) (section 5, 'noise distribution')."""
    return (torch.randn(n, generator=generator, device=device) * p_std + p_mean).exp()


def karras_sigmas(
    steps: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX, rho: float = RHO
) -> Tensor:
    """(steps + 1,) float64: sigma_0 = sigma_max > ... > sigma_{N-1} = sigma_min, then 0 (eq. 5).
    One step runs straight from sigma_max to 0."""
    if steps == 1:
        return torch.tensor([sigma_max, 0.0], dtype=torch.float64)
    i = torch.arange(steps, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sigmas = (hi + i / (steps - 1) * (lo - hi)) ** rho
    return torch.cat([sigmas, sigmas.new_zeros(1)])


def inversion_sigmas(
    steps: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX, rho: float = RHO
) -> Tensor:
    """(steps,) float64, ascending: the sampler's noise levels from sigma_min up to sigma_max,
    where the ODE that `karras_sigmas` descends is climbed back (the data taken as the state at
    sigma_min, whose noise is 0.002 of the data's scale). Sampling then needs `steps` steps
    down, the last one to 0: those of `karras_sigmas(steps)`."""
    return karras_sigmas(steps, sigma_min, sigma_max, rho)[:-1].flip(0)


@torch.no_grad()
def probability_flow(
    denoise: Denoiser, sigmas: Tensor, x: Tensor, heun: bool = False, on_step: OnStep = None
) -> Tensor:
    """The probability-flow ODE dx/dsigma = (x - D(x; sigma)) / sigma solved from the state x
    at sigmas[0] through each of `sigmas` in turn (descending: toward the data, a sampler;
    ascending: toward the noise, an inversion), by Euler's method (DDIM with eta = 0) or, with
    `heun`, Heun's 2nd-order method wherever the step does not end at 0. Deterministic: no
    churn. Returns the state at sigmas[-1]; `on_step(i, x, x0)` sees each new state."""
    sig = sigmas.to(device=x.device, dtype=torch.float64).tolist()
    for i in range(len(sig) - 1):
        tick()
        s_cur, s_next = sig[i], sig[i + 1]
        batch = torch.full((len(x),), s_cur, device=x.device, dtype=x.dtype)
        x0 = denoise(x, batch)
        d = (x - x0) / s_cur  # dx/dsigma at sigma_i
        x_next = x + (s_next - s_cur) * d  # Euler: DDIM's step
        if heun and s_next > 0:  # the slope at the far end too, averaged
            x0 = denoise(x_next, torch.full_like(batch, s_next))
            x_next = x + (s_next - s_cur) * (d + (x_next - x0) / s_next) / 2
        x = x_next
        if on_step is not None:
            on_step(i, x, x0)
    return x


def network_evaluations(steps: int) -> int:
    """Heun's method on `steps` steps: two evaluations a step but the last (to sigma = 0),
    which is an Euler step: 2 N - 1 (35 for the paper's 18)."""
    return 2 * steps - 1


def heun_sample(
    denoise: Denoiser,
    sigmas: Tensor,
    x_T: Tensor,
    churn: float = 0.0,
    s_tmin: float = 0.0,
    s_tmax: float = math.inf,
    s_noise: float = 1.0,
    generator: torch.Generator | None = None,
    on_step: OnStep = None,
) -> Tensor:
    """Algorithm 2 of Karras et al. (algorithm 1 with churn = 0): x_T ~ N(0, I) scaled to
    sigma_0, then for each i: optionally raise the noise to sigma_hat = (1 + gamma) sigma_i
    (gamma = min(churn / N, sqrt 2 - 1) inside [s_tmin, s_tmax]), an Euler step of the ODE to
    sigma_{i+1} and, unless sigma_{i+1} = 0, Heun's correction with the slope there.
    `on_step(i, x, x0)` sees each new state and the denoiser's estimate."""
    n = len(sigmas) - 1
    sig = sigmas.to(device=x_T.device, dtype=torch.float64)
    x = x_T * float(sig[0])
    gamma_max = min(churn / n, math.sqrt(2) - 1) if churn > 0 else 0.0
    for i in range(n):
        tick()
        s_cur, s_next = float(sig[i]), float(sig[i + 1])
        gamma = gamma_max if s_tmin <= s_cur <= s_tmax else 0.0
        s_hat = s_cur * (1 + gamma)
        if gamma > 0:
            noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            x = x + math.sqrt(s_hat**2 - s_cur**2) * s_noise * noise
        batch = torch.full((len(x),), s_hat, device=x.device, dtype=x.dtype)
        x0 = denoise(x, batch)
        d = (x - x0) / s_hat  # dx/dsigma at sigma_hat (eq. 3)
        x_next = x + (s_next - s_hat) * d
        if s_next > 0:  # Heun: average the slopes at both ends
            x0_next = denoise(x_next, torch.full_like(batch, s_next))
            d_next = (x_next - x0_next) / s_next
            x_next = x + (s_next - s_hat) * (d + d_next) / 2
            x0 = x0_next
        x = x_next
        if on_step is not None:
            on_step(i, x, x0)
    return x
