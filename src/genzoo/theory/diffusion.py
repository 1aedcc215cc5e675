"""Diffusion: the forward process's closed form against running its chain.

The forward process adds a little Gaussian noise at each of T steps,

    q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I),          (1)

with beta_t a *variance*. Writing alpha_t = 1 - beta_t, one step is
x_t = sqrt(alpha_t) x_{t-1} + sqrt(1 - alpha_t) eps_t. Two steps compose into one Gaussian:

    x_t = sqrt(alpha_t alpha_{t-1}) x_{t-2} + sqrt(alpha_t (1 - alpha_{t-1})) eps_{t-1}
          + sqrt(1 - alpha_t) eps_t,

whose noise has variance alpha_t (1 - alpha_{t-1}) + 1 - alpha_t = 1 - alpha_t alpha_{t-1}. By
induction, with alpha_bar_t = prod_{s <= t} alpha_s,

    q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I),      (2)

so any x_t is drawn in one step, which is what makes training by random t cheap.

Going back: the posterior. Given x_0, the pair (x_{t-1}, x_t) is jointly Gaussian: x_{t-1} has
mean sqrt(alpha_bar_{t-1}) x_0 and variance 1 - alpha_bar_{t-1}, x_t = sqrt(alpha_t) x_{t-1} +
sqrt(beta_t) eps, so Cov(x_{t-1}, x_t) = sqrt(alpha_t) (1 - alpha_bar_{t-1}) and Var x_t =
1 - alpha_bar_t. Conditioning one Gaussian on the other,

    E[x_{t-1} | x_t, x_0] = sqrt(alpha_bar_{t-1}) x_0
                            + sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)
                              (x_t - sqrt(alpha_bar_t) x_0),                          (3a)
    Var[x_{t-1} | x_t, x_0] = (1 - alpha_bar_{t-1}) - alpha_t (1 - alpha_bar_{t-1})^2
                              / (1 - alpha_bar_t),

and collecting terms (beta_t + alpha_t (1 - alpha_bar_{t-1}) = 1 - alpha_bar_t),

    q(x_{t-1} | x_t, x_0) = N(c0_t x_0 + ct_t x_t, beta~_t),
    c0_t = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t),
    ct_t = sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t),
    beta~_t = (1 - alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t)                          (3)

(alpha_bar_0 = 1: the last step's posterior is the point x_0). Writing x_0 through the noise,
x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t), the mean becomes

    mu~_t = (1 / sqrt(alpha_t)) (x_t - beta_t / sqrt(1 - alpha_bar_t) eps)              (4)
          = sqrt(alpha_bar_{t-1}) x_0 + sqrt(1 - alpha_bar_{t-1} - beta~_t) eps.         (4b)

Three reverse steps, each fed a denoiser's estimates x0^(x_t, t) and eps^(x_t, t):

    (a) x_{t-1} = mu~_t(x_t, eps^)                    the course report's eq. 10 (no noise)
    (b) x_{t-1} = mu~_t(x_t, eps^) + sqrt(beta~_t) z   DDPM's ancestral step, z ~ N(0, 1)
    (c) x_{t-1} = sqrt(alpha_bar_{t-1}) x0^ + sqrt(1 - alpha_bar_{t-1}) eps^   DDIM, eta = 0  (5)

(b) is (4b) with the variance beta~_t the eps-term gave up put back as fresh noise; (c) keeps
the eps-term whole and adds none (the probability-flow ODE, discretized); (a) does neither.

An exact denoiser. For data sum_k w_k N(m_k, s_k^2) (per dimension), x_t given the component k
is N(sqrt(alpha_bar_t) m_k, v_k) with v_k = alpha_bar_t s_k^2 + 1 - alpha_bar_t, so

    r_k(x_t) = w_k N(x_t; sqrt(alpha_bar_t) m_k, v_k) / sum_j (same),
    E[x_0 | x_t] = sum_k r_k (m_k + sqrt(alpha_bar_t) s_k^2 / v_k (x_t - sqrt(alpha_bar_t) m_k)),
    Var[x_0 | x_t, k] = s_k^2 (1 - alpha_bar_t) / v_k,                                     (6)

and eps^ = (x_t - sqrt(alpha_bar_t) E[x_0 | x_t]) / sqrt(1 - alpha_bar_t), which is
-sqrt(1 - alpha_bar_t) times the exact score of q(x_t) (Tweedie's formula).

Why (a) does not sample the data. mu~_t is linear in x_0, so with the exact denoiser
mu~_t(x_t, E[x_0 | x_t]) = E[E[x_{t-1} | x_t, x_0] | x_t] = E[x_{t-1} | x_t]: step (a) replaces
x_{t-1} by its conditional mean. The law of total variance, Var x_{t-1} = Var E[x_{t-1} | x_t]
+ E Var[x_{t-1} | x_t], says what that loses at every step; (b) puts back (most of) the second
term, (a) never does. For Gaussian data N(m, s^2) the step is affine, x_{t-1} = a_t x_t + b_t with

    a_t = ct_t + c0_t sqrt(alpha_bar_t) s^2 / v_t,    v_t = alpha_bar_t s^2 + 1 - alpha_bar_t,

so (a) run from x_T ~ N(0, 1) ends with variance G^2 = prod_t a_t^2 (7). For s = 1, a_t is
exactly sqrt(alpha_t) and G^2 = alpha_bar_T (4e-5 for the linear schedule): the chain shrinks
its input by sqrt(alpha_t) a step where the forward process's noise had kept the variance at 1.
For a mixture the early steps see one wide blob (the modes are not yet told apart), the cloud
contracts the same way long before the modes separate, and it then falls into a mode as one
clump.

The variational bound (Ho et al. eq. 5) on -log p(x_0), t in 1..T:

    L = L_T + sum_{t=2}^T L_{t-1} + L_0,   L_T = KL(q(x_T | x_0) || N(0, I)),
    L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t)),   L_0 = -log p(x_0 | x_1).     (8)

Between Gaussians, per dimension,

    KL(N(m1, v1) || N(m2, v2)) = (1/2) (log(v2 / v1) + v1 / v2 + (m1 - m2)^2 / v2 - 1).     (9)

L_T is (9) with m1 = sqrt(alpha_bar_T) x_0, v1 = 1 - alpha_bar_T against N(0, 1):
(1/2) sum_d (alpha_bar_T x_{0,d}^2 - alpha_bar_T - log(1 - alpha_bar_T)); over standardized
data (E x_{0,d}^2 = 1) it is -(d/2) log(1 - alpha_bar_T), about (d/2) alpha_bar_T: nothing to
learn. With p(x_{t-1} | x_t) = N(mu~_t(x_t, x0^), beta~_t) the variances match and only the
means differ: by (3) and (4), c0_t (x_0 - x0^) = -beta_t / sqrt(alpha_t (1 - alpha_bar_t))
(eps - eps^), so

    L_{t-1} = w_t |eps - eps^|^2,   w_t = beta_t / (2 alpha_t (1 - alpha_bar_{t-1})),         (10)

the weight L_simple drops (Ho et al. eq. 12). L_0 is a Gaussian density here (continuous data):
-log N(x_0; x0^(x_1), sigma^2), with genzoo's sigma^2 = beta~ of the second step (beta~ of the
first is 0). An oracle that knows E[x_0 | x_t] is the best mean a model with these variances
can have; on a one-point data set it knows x_0 itself, eps^ = eps, and every L_{t-1} is 0 (11).

Indices: the equations count t = 1..T as Ho et al. do; genzoo's schedules (and the code below)
index the same steps 0..T-1, so step t is entry t - 1.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..data import load_dataset
from ..models import build_model
from ..models.diffusion.process import Prediction, prior_kl, q_posterior, vlb_term
from ..models.diffusion.samplers import ddim_sample, ddpm_sample
from ..models.diffusion.schedules import NoiseSchedule, make_schedule, spaced_timesteps
from ..train.config import TrainConfig
from ..train.trainer import Trainer
from . import Check, Finding, Panel, Series, experiment, one_thread

Tensor = torch.Tensor
F64 = torch.float64
Z = 5.0  # tolerances: five Monte-Carlo standard errors


def run_chain(betas: torch.Tensor, x0: torch.Tensor, generator: torch.Generator,
              beta_is_std: bool = False) -> torch.Tensor:  # fmt: skip
    """Run (1) step by step from x0 (n,): every x_t, (T, n). With `beta_is_std`, read beta_t
    as a standard deviation (the slip): x_t = sqrt(1 - beta_t^2) x_{t-1} + beta_t eps."""
    xs, x = [], x0.double()
    for beta in betas.double():
        noise = torch.randn(x.shape, generator=generator, dtype=torch.float64)
        if beta_is_std:
            x = (1 - beta**2).sqrt() * x + beta * noise
        else:
            x = (1 - beta).sqrt() * x + beta.sqrt() * noise
        xs.append(x)
    return torch.stack(xs)


def marginal(betas: torch.Tensor, x0: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(2): the mean sqrt(alpha_bar_t) x0 and variance 1 - alpha_bar_t of x_t given x0."""
    alpha_bar = torch.cumprod(1 - betas.double(), 0)
    return alpha_bar.sqrt() * x0, 1 - alpha_bar


@experiment("forward-marginal", "q(x_t|x_0) in closed form against running the noising chain")
def forward_marginal(seed: int = 0) -> Finding:
    """Run the linear schedule's chain (T = 1000) from x0 = 1.5 for 20,000 walkers and compare
    the mean and variance of x_t with (2) at every t; then the two slips: alpha_t where
    alpha_bar_t is meant (the mean sqrt(alpha_t) x0 stays near x0), and beta_t read as a
    standard deviation (the chain then barely moves)."""
    T, n, x0 = 1000, 20_000, 1.5
    betas = make_schedule("linear", T).betas
    g = torch.Generator().manual_seed(seed)
    xs = run_chain(betas, torch.full((n,), x0), g)
    mean, var = marginal(betas, x0)
    m_chain, v_chain = xs.mean(1), xs.var(1)
    # Monte-Carlo error: the mean's standard error is sqrt(var / n) <= sqrt(1/n); the
    # variance's is var sqrt(2 / (n - 1)); 5 standard errors over all t
    se_mean = 5 * math.sqrt(1 / n)
    se_var = 5 * math.sqrt(2 / (n - 1))
    worst_mean = float((m_chain - mean).abs().max())
    worst_var = float(((v_chain - var) / var.clamp_min(1e-12)).abs().max())
    ts = [10, 100, 500, 999]
    slips_g = torch.Generator().manual_seed(seed + 1)
    std_chain = run_chain(betas, torch.full((n,), x0), slips_g, beta_is_std=True)
    alpha_mean = (1 - betas.double()).sqrt() * x0  # the mean with alpha_t for alpha_bar_t
    t_axis = np.arange(1, T + 1)
    checks = [
        Check("largest |chain mean - sqrt(alpha_bar_t) x0| over t", worst_mean, 0.0, se_mean),
        Check(
            "largest relative error of the chain's variance against 1 - alpha_bar_t",
            worst_var,
            0.0,
            se_var,
        ),  # fmt: skip
        Check(
            "variance at t = T, against 1 - alpha_bar_T",
            float(v_chain[-1]),
            float(var[-1]),
            se_var,
            relative=True,
        ),  # fmt: skip
    ]
    numbers = {
        "T": T, "walkers": n, "x0": x0,
        "alpha_bar_T": float(1 - var[-1]),
        "chain_mean": {t: float(m_chain[t - 1]) for t in ts},
        "closed_form_mean": {t: float(mean[t - 1]) for t in ts},
        "chain_variance": {t: float(v_chain[t - 1]) for t in ts},
        "closed_form_variance": {t: float(var[t - 1]) for t in ts},
        "slip_alpha_for_alpha_bar_mean_at_T": float(alpha_mean[-1]),
        "slip_beta_as_std_variance_at_T": float(std_chain[-1].var()),
    }  # fmt: skip
    walkers = xs[:, :12].numpy()
    panels = [
        Panel(
            "walkers of the chain and the closed form's ±2 sd",
            [
                *[Series("line", t_axis, walkers[:, i], color="0.6") for i in range(12)],
                Series("line", t_axis, mean.numpy(), "sqrt(ᾱ_t) x0", color="C0"),
                Series(
                    "band",
                    t_axis,
                    (mean - 2 * var.sqrt()).numpy(),
                    "±2 sqrt(1-ᾱ_t)",
                    upper=(mean + 2 * var.sqrt()).numpy(),
                    color="C0",
                ),
            ],
            "t",
            "x_t",
        ),  # fmt: skip
        Panel(
            "mean and variance of x_t",
            [
                Series("line", t_axis, m_chain.numpy(), "chain mean", color="C0"),
                Series("line", t_axis, mean.numpy(), "sqrt(ᾱ_t) x0", "--", color="k"),
                Series("line", t_axis, v_chain.numpy(), "chain variance", color="C1"),
                Series("line", t_axis, var.numpy(), "1 - ᾱ_t", ":", color="k"),
                Series("line", t_axis, alpha_mean.numpy(), "slip: sqrt(α_t) x0", color="C3"),
                Series("line", t_axis, std_chain.var(1).numpy(), "slip: β_t as a std", color="C4"),
            ],
            "t",
        ),  # fmt: skip
        Panel(
            "x_T: 20,000 walkers against N(0, 1)",
            [
                Series("hist", xs[-1].numpy(), label="chain at t = T"),
                Series(
                    "line",
                    np.linspace(-4, 4, 200),
                    np.exp(-(np.linspace(-4, 4, 200) ** 2) / 2) / math.sqrt(2 * math.pi),
                    "N(0, 1)",
                    color="k",
                ),  # fmt: skip
            ],
            "x_T",
            "density",
        ),  # fmt: skip
    ]
    return Finding("forward-marginal", "The forward process in one step", numbers, checks, panels)


# ---------------------------------------------------------------- the posterior and the steps
def posterior_coefficients(s: NoiseSchedule) -> tuple[Tensor, Tensor, Tensor]:
    """(3): c0_t, ct_t and beta~_t of q(x_{t-1} | x_t, x_0) for every step, (T,) float64 each
    (entry t - 1 is step t)."""
    beta, alpha, ab, ab_prev = s.betas, s.alphas, s.alpha_bar, s.alpha_bar_prev
    c0 = ab_prev.sqrt() * beta / (1 - ab)
    ct = alpha.sqrt() * (1 - ab_prev) / (1 - ab)
    return c0, ct, (1 - ab_prev) * beta / (1 - ab)


def posterior_by_conditioning(s: NoiseSchedule) -> tuple[Tensor, Tensor, Tensor]:
    """(3a): the same three from conditioning the joint Gaussian of (x_{t-1}, x_t) given x_0:
    gain Cov / Var, c0 = sqrt(alpha_bar_{t-1}) - gain sqrt(alpha_bar_t), Var - Cov^2 / Var."""
    alpha, ab, ab_prev = s.alphas, s.alpha_bar, s.alpha_bar_prev
    cov, var_t = alpha.sqrt() * (1 - ab_prev), 1 - ab
    gain = cov / var_t
    return ab_prev.sqrt() - gain * ab.sqrt(), gain, (1 - ab_prev) - cov**2 / var_t


def reverse_step(x_t: Tensor, eps: Tensor, t: int, s: NoiseSchedule,
                 z: Tensor | None = None) -> Tensor:  # fmt: skip
    """One reverse step at entry t (0-based) from the denoiser's eps^: the mean (4),
    (1/sqrt(alpha_t)) (x_t - beta_t / sqrt(1 - alpha_bar_t) eps^), plus sqrt(beta~_t) z when
    the noise z is given (DDPM's step, (5b)). Without z this is the course report's eq. 10,
    (5a): the mean alone."""
    beta, ab = s.betas[t], s.alpha_bar[t]
    mean = (x_t - beta / (1 - ab).sqrt() * eps) / (1 - beta).sqrt()
    if z is None:
        return mean
    return mean + posterior_coefficients(s)[2][t].sqrt() * z


def responsibilities(x_t: Tensor, ab: Tensor | float, weights: Tensor, means: Tensor,
                     stds: Tensor) -> Tensor:  # fmt: skip
    """(6): r_k(x_t), (n, K), for data sum_k w_k N(m_k, diag s_k^2) (means, stds (K, d)) at
    alpha_bar_t = ab (ab = 1: the component posteriors of clean data). The squares
    sum_d (x_d - sqrt(ab) m_kd)^2 / v_kd are expanded into products with x and x^2, so that
    each is one matrix product over the n points, laid out (K, n) for the softmax over k."""
    ab = torch.as_tensor(ab, dtype=F64)
    inv_v = 1 / (ab * stds**2 + 1 - ab)
    centre = ab.sqrt() * means
    quad = inv_v @ (x_t**2).T - 2 * (centre * inv_v) @ x_t.T + (centre**2 * inv_v).sum(1)[:, None]
    log_r = (weights.log() + 0.5 * inv_v.log().sum(1))[:, None] - 0.5 * quad
    return torch.softmax(log_r, 0).T


def mixture_posterior(x_t: Tensor, ab: Tensor | float, weights: Tensor, means: Tensor,
                      stds: Tensor) -> tuple[Tensor, Tensor]:  # fmt: skip
    """(6): E[x_0 | x_t] and Var[x_0 | x_t] per dimension, (n, d) each, for the Gaussian
    mixture: the exact denoiser. Given k, E[x_0 | x_t, k] = A_k + B_k x_t with
    A_k = m_k (1 - alpha_bar_t) / v_k and B_k = sqrt(alpha_bar_t) s_k^2 / v_k."""
    ab = torch.as_tensor(ab, dtype=F64)
    v = ab * stds**2 + 1 - ab
    r = responsibilities(x_t, ab, weights, means, stds)
    a, b = means * (1 - ab) / v, ab.sqrt() * stds**2 / v
    mean = r @ a + x_t * (r @ b)
    second = r @ (stds**2 * (1 - ab) / v + a**2) + 2 * x_t * (r @ (a * b)) + x_t**2 * (r @ b**2)
    return mean, (second - mean**2).clamp_min(0)


def exact_predict(s: NoiseSchedule, weights: Tensor, means: Tensor, stds: Tensor):
    """The exact denoiser (6) as genzoo's samplers call a network: (x_t, t) -> x0^ and eps^."""

    def predict(x: Tensor, t: Tensor) -> Prediction:
        ab = s.alpha_bar[int(t[0])]
        x0 = mixture_posterior(x, ab, weights, means, stds)[0]
        return Prediction(x0, (x - ab.sqrt() * x0) / (1 - ab).sqrt())

    return predict


def mean_chain_variances(s: NoiseSchedule, s2: float) -> Tensor:
    """(7): for data N(m, s2) and the exact denoiser, step (a) is x_{t-1} = a_t x_t + b_t with
    a_t = ct_t + c0_t sqrt(alpha_bar_t) s2 / v_t; the variance left of x_T's after the steps
    T..t, (T,) (entry t - 1); entry 0 is G^2 = prod_t a_t^2."""
    c0, ct, _ = posterior_coefficients(s)
    ab = s.alpha_bar
    a = ct + c0 * ab.sqrt() * s2 / (ab * s2 + 1 - ab)
    return torch.cumprod((a**2).flip(0), 0).flip(0)


def run_mean_chain(predict, s: NoiseSchedule, x_T: Tensor, on_step=None) -> Tensor:
    """Step (a), the course's eq. 10, from x_T down to x_0: no noise is ever added."""
    x = x_T
    for t in reversed(range(len(s))):
        eps = predict(x, torch.full((len(x),), t, dtype=torch.long)).eps
        x = reverse_step(x, eps, t, s)
        if on_step is not None:
            on_step(len(s) - 1 - t, x, None)
    return x


def mixture_log_density(x: Tensor, weights: Tensor, means: Tensor, stds: Tensor) -> Tensor:
    """log sum_k w_k N(x; m_k, diag s_k^2) at x (n, d): the data's own log density."""
    diff = (x[:, None, :] - means) / stds
    log_k = -0.5 * (diff**2 + torch.log(2 * math.pi * stds**2)).sum(-1)
    return torch.logsumexp(weights.log() + log_k, 1)


def mixture_density(x: Tensor, weights: Tensor, means: Tensor, stds: Tensor) -> Tensor:
    """The 1-D mixture's density at x (n,); means and stds (K,)."""
    z = (x[:, None] - means) / stds
    return (weights * torch.exp(-0.5 * z**2) / (stds * math.sqrt(2 * math.pi))).sum(1)


def mixture_cdf(x: Tensor, weights: Tensor, means: Tensor, stds: Tensor) -> Tensor:
    """The 1-D mixture's CDF at x (n,)."""
    return (weights * 0.5 * (1 + torch.erf((x[:, None] - means) / (stds * math.sqrt(2))))).sum(1)


def ks_distance(x: Tensor, cdf) -> float:
    """sup_x |F_n(x) - F(x)|, the Kolmogorov-Smirnov distance of the sample x (n,) to F."""
    xs = torch.sort(x).values
    f = cdf(xs)
    i = torch.arange(1, len(xs) + 1, dtype=F64)
    return float(torch.maximum(i / len(xs) - f, f - (i - 1) / len(xs)).max())


# two-sided 5-standard-error false-alarm rate, 2 Phi(-5), and the Kolmogorov distance with the
# same rate: P(sqrt(n) D > c) ~ 2 exp(-2 c^2) for large n, so c = sqrt(log(2 / rate) / 2)
FALSE_ALARM = math.erfc(Z / math.sqrt(2))
KS_C = math.sqrt(math.log(2 / FALSE_ALARM) / 2)


class Recorder:
    """Keeps, at every step of a sampler, the particles' variance and the first `keep` paths."""

    def __init__(self, x_T: Tensor, keep: int):
        self.keep = keep
        self.var = [float(x_T.var())]
        self.paths = [x_T[:keep, 0].clone()]

    def __call__(self, i: int, x: Tensor, x0: Tensor | None) -> None:
        self.var.append(float(x.var()))
        self.paths.append(x[: self.keep, 0].clone())


def summarize(x: Tensor, weights: Tensor, means: Tensor, stds: Tensor) -> dict[str, float]:
    """Mean, variance and mode weights of a 1-D sample (n, 1), each with its standard error,
    and its KS distance to the mixture. A mode's weight is the mean responsibility r_k(x) under
    the data: E_data r_k = w_k exactly, so it needs no boundary between the modes."""
    n = len(x)
    r = responsibilities(x, 1.0, weights, means, stds)
    flat = x[:, 0]
    centred = flat - flat.mean()
    var = float(centred.pow(2).mean())
    m4 = float(centred.pow(4).mean())
    out = {
        "mean": float(flat.mean()),
        "se_mean": math.sqrt(var / n),
        "variance": float(flat.var()),
        "se_variance": math.sqrt(max(m4 - var**2, 0.0) / n),
        "ks": ks_distance(flat, lambda v: mixture_cdf(v, weights, means[:, 0], stds[:, 0])),
    }
    for k in range(len(weights)):
        out[f"weight_{k}"] = float(r[:, k].mean())
        out[f"se_weight_{k}"] = float(r[:, k].std()) / math.sqrt(n)
    return out


MIXTURE = {"weights": (0.3, 0.7), "means": (-2.0, 1.0), "stds": (0.3, 0.5)}
PARTICLES = 40_000  # particles per sampler (the tolerances follow from it)


@experiment("reverse-steps", "eq. 10's noiseless step against DDPM and DDIM, exact denoiser")
@one_thread()
def reverse_steps(seed: int = 0) -> Finding:
    """Data: the 1-D mixture 0.3 N(-2, 0.3^2) + 0.7 N(1, 0.5^2), whose denoiser E[x_0 | x_t] is
    exact (6). 40,000 particles from x_T ~ N(0, 1) run three reverse steps (5) on the linear
    schedule, T = 1000: DDPM's ancestral step and DDIM (eta = 0, 1000 steps) through genzoo's
    samplers, and the course's eq. 10, DDPM's mean without its noise. Checks: the posterior
    (3) against conditioning (3a) and genzoo's q_posterior (float precision) and against a
    regression of x_{t-1} on x_t drawn from the forward process (5 se); DDPM's and DDIM's
    samples against the data's mean, variance, mode weight and CDF (5 se; KS at the same
    false-alarm rate); eq. 10 on Gaussian data against the variance (7) it must leave."""
    T, n, keep = 1000, PARTICLES, 12
    s = make_schedule("linear", T)
    w = torch.tensor(MIXTURE["weights"], dtype=F64)
    m = torch.tensor(MIXTURE["means"], dtype=F64)[:, None]
    sd = torch.tensor(MIXTURE["stds"], dtype=F64)[:, None]
    data_mean = float((w * m[:, 0]).sum())
    data_var = float((w * (sd[:, 0] ** 2 + m[:, 0] ** 2)).sum()) - data_mean**2
    g = torch.Generator().manual_seed(seed)

    # 1. the posterior (3): against (3a), genzoo's q_posterior, and a regression by sampling
    c0, ct, var = posterior_coefficients(s)
    c0_b, ct_b, var_b = posterior_by_conditioning(s)
    steps = torch.arange(T)
    ones, zeros = torch.ones(T, 1, dtype=F64), torch.zeros(T, 1, dtype=F64)
    g_c0 = q_posterior(s, ones, zeros, steps)[0][:, 0]
    g_ct = q_posterior(s, zeros, ones, steps)[0][:, 0]
    g_var = q_posterior(s, zeros, zeros, steps)[1][1:, 0].exp()  # entry 0 is replaced there

    def rel(a: Tensor, b: Tensor) -> float:
        return float(((a - b).abs() / b.abs().clamp_min(1e-300)).max())

    t_mc, x0_mc = 10, 1.5  # step t = 10 (entry 9), from x_0 = 1.5: c0_t and ct_t both matter
    i_mc = t_mc - 1
    ab_prev, alpha = s.alpha_bar_prev[i_mc], s.alphas[i_mc]
    x_prev = ab_prev.sqrt() * x0_mc + (1 - ab_prev).sqrt() * torch.randn(n, generator=g, dtype=F64)
    x_t = alpha.sqrt() * x_prev + (1 - alpha).sqrt() * torch.randn(n, generator=g, dtype=F64)
    xm, ym = x_t.mean(), x_prev.mean()
    sxx = ((x_t - xm) ** 2).sum()
    slope = ((x_t - xm) * (x_prev - ym)).sum() / sxx
    icept = ym - slope * xm
    resid = float(((x_prev - icept - slope * x_t) ** 2).sum() / (n - 2))
    se_slope = math.sqrt(resid / float(sxx))
    se_icept = math.sqrt(resid * (1 / n + float(xm) ** 2 / float(sxx)))
    se_resid = float(var[i_mc]) * math.sqrt(2 / (n - 2))

    # 2. the three samplers from the same x_T, with the exact denoiser
    predict = exact_predict(s, w, m, sd)
    x_T = torch.randn(n, 1, generator=g, dtype=F64)
    rec = {k: Recorder(x_T, keep) for k in ("ddpm", "ddim", "eq10")}
    out = {
        "ddpm": ddpm_sample(predict, s, steps, x_T, g, on_step=rec["ddpm"]),
        "ddim_1000": ddim_sample(predict, s, steps, x_T, on_step=rec["ddim"]),
        "ddim_50": ddim_sample(predict, s, spaced_timesteps(T, 50), x_T),
        "eq10": run_mean_chain(predict, s, x_T, on_step=rec["eq10"]),
    }
    stats = {k: summarize(x, w, m, sd) for k, x in out.items()}

    # 3. eq. 10 on Gaussian data with the mixture's mean and variance: an affine chain (7)
    gauss = exact_predict(s, torch.ones(1, dtype=F64), torch.tensor([[data_mean]], dtype=F64),
                          torch.tensor([[math.sqrt(data_var)]], dtype=F64))  # fmt: skip
    x_gauss = run_mean_chain(gauss, s, x_T)
    chain_var = mean_chain_variances(s, data_var)
    gain2 = float(chain_var[0])
    gauss_ratio = float(x_gauss.var() / x_T.var())

    # float64 throughout: 1 - alpha_bar_t is 1e-4 at the first step, so the coefficients carry
    # about 1e-12 relative rounding; 1e-10 bounds it with room
    eps64 = 1e-10
    checks = [
        Check("c0_t of (3) against conditioning (3a), largest relative difference",
              rel(c0, c0_b), 0.0, eps64),
        Check("beta~_t of (3) against conditioning (3a), largest relative difference",
              rel(var, var_b), 0.0, eps64),
        Check("(3) against genzoo's q_posterior (c0, ct, beta~), largest relative difference",
              max(rel(g_c0, c0), rel(g_ct, ct), rel(g_var, var[1:])), 0.0, eps64),
        Check(f"slope of x_{{t-1}} on x_t at t = {t_mc} (sampled) against ct_t",
              float(slope), float(ct[i_mc]), Z * se_slope),
        Check(f"intercept at t = {t_mc}, x_0 = {x0_mc}, against c0_t x_0",
              float(icept), float(c0[i_mc]) * x0_mc, Z * se_icept),
        Check(f"residual variance at t = {t_mc} against beta~_t",
              resid, float(var[i_mc]), Z * se_resid),
    ]  # fmt: skip
    # the samplers against the data: 5 standard errors of the sample (its own mean, variance
    # from the fourth moment, responsibilities' spread); KS at the same false-alarm rate
    truth = {"mean": data_mean, "variance": data_var, "weight_0": float(w[0])}
    for key, name in (("ddpm", "DDPM (1000 steps)"), ("ddim_1000", "DDIM (eta = 0, 1000 steps)")):
        st = stats[key]
        for q, label in (
            ("mean", "mean"),
            ("variance", "variance"),
            ("weight_0", "weight of the mode at -2"),
        ):
            checks.append(Check(f"{name}: {label} against the data's", st[q], truth[q],
                                Z * st[f"se_{q}"]))  # fmt: skip
        checks.append(Check(f"{name}: KS distance to the mixture's CDF", st["ks"], 0.0,
                            KS_C / math.sqrt(n)))  # fmt: skip
    # the chain is affine: the ratio of two sample variances of the same particles is G^2 up
    # to the rounding of 1000 float64 steps (~1e-13 relative); 1e-9 bounds it with room
    checks.append(Check("eq. 10 on N(mean, var) of the data: Var x_0 / Var x_T against G^2 (7)",
                        gauss_ratio, gain2, 1e-9 * gain2))  # fmt: skip

    def brief(st: dict[str, float]) -> dict[str, float]:
        return {"mean": st["mean"], "variance": st["variance"], "weights": [st["weight_0"],
                st["weight_1"]], "ks": st["ks"]}  # fmt: skip

    numbers = {
        "T": T, "particles": n,
        "data": {"mean": data_mean, "variance": data_var, "weights": list(MIXTURE["weights"])},
        **{k: brief(v) for k, v in stats.items()},
        "eq10_location": float(out["eq10"].mean()),
        "eq10_variance_over_data": stats["eq10"]["variance"] / data_var,
        "eq10_gaussian_G2": gain2,
        "eq10_gaussian_measured": gauss_ratio,
        "eq10_unit_gaussian_G2_is_alpha_bar_T": float(s.alpha_bar[-1]),
        f"posterior_at_t{t_mc}": {"ct": float(ct[i_mc]), "slope": float(slope),
                              "beta_tilde": float(var[i_mc]), "residual_variance": resid},
    }  # fmt: skip
    panels = reverse_panels(s, out, rec, w, m, sd, data_var, chain_var)
    return Finding("reverse-steps", "Three reverse steps with an exact denoiser", numbers,
                   checks, panels)  # fmt: skip


def reverse_panels(s: NoiseSchedule, out: dict[str, Tensor], rec: dict[str, Recorder],
                   w: Tensor, m: Tensor, sd: Tensor, data_var: float,
                   chain_var: Tensor) -> list[Panel]:  # fmt: skip
    T = len(s)
    grid = torch.linspace(-3.5, 3.2, 400, dtype=F64)
    dens = mixture_density(grid, w, m[:, 0], sd[:, 0]).numpy()
    density = Series("line", grid.numpy(), dens, "data density", color="k")
    labels = np.arange(T, -1, -1)  # the state after each step: x_T, x_{T-1}, ..., x_0
    ab = torch.cat([s.alpha_bar.flip(0), torch.ones(1, dtype=F64)])
    true_var = (ab * data_var + 1 - ab).numpy()
    colors = {"ddpm": "0.55", "ddim": "C0", "eq10": "C3"}
    names = {"ddpm": "DDPM", "ddim": "DDIM", "eq10": "eq. 10"}
    paths = []
    for key in ("ddpm", "ddim", "eq10"):
        p = torch.stack(rec[key].paths).numpy()
        for i in range(min(6, p.shape[1])):
            paths.append(Series("line", labels, p[:, i], names[key] if i == 0 else None,
                                color=colors[key]))  # fmt: skip
    return [
        Panel(f"x_0 of each sampler against the data ({len(out['ddpm']):,} particles)",
              [Series("hist", out["ddpm"][:, 0].numpy(), label="DDPM, 1000 steps", color="0.5"),
               Series("hist", out["ddim_1000"][:, 0].numpy(), label="DDIM, 1000 steps",
                      color="C0"),
               Series("hist", out["eq10"][:, 0].numpy(), label="eq. 10: one clump", color="C3"),
               density], "x_0", "density (log scale)", logy=True),
        Panel("six paths from the same x_T", paths, "t (sampling runs from T = 1000 to 0)",
              "x_t"),
        Panel("variance of the particles at each step",
              [Series("line", labels, np.array(rec["ddpm"].var), "DDPM", color=colors["ddpm"]),
               Series("line", labels, np.array(rec["ddim"].var), "DDIM", "--",
                      color=colors["ddim"]),
               Series("line", labels, np.array(rec["eq10"].var), "eq. 10", color=colors["eq10"]),
               Series("line", labels, true_var, "Var q(x_t) = ᾱ_t Var x_0 + 1 - ᾱ_t", ":",
                      color="k"),
               Series("line", np.arange(T + 1), np.append(chain_var.numpy(), 1.0),
                      "(7): eq. 10 on N(mean, var) of the data", "-.", color="C1")],
              "t", "variance", logy=True),
    ]  # fmt: skip


# ---------------------------------------------------------------- the variational bound
def gaussian_kl(m1: Tensor, v1: Tensor, m2: Tensor, v2: Tensor) -> Tensor:
    """(9): KL(N(m1, v1) || N(m2, v2)) per element, in nats."""
    return 0.5 * (torch.log(v2 / v1) + v1 / v2 + (m1 - m2) ** 2 / v2 - 1)


def gaussian_log_density(x: Tensor, m: Tensor, v: Tensor) -> Tensor:
    """log N(x; m, v) per element."""
    return -0.5 * (torch.log(2 * math.pi * v) + (x - m) ** 2 / v)


def prior_term_standardized(alpha_bar_T: float, d: int) -> float:
    """(8): L_T averaged over data with E x_{0,i}^2 = 1 in each of d dimensions,
    -(d/2) log(1 - alpha_bar_T)."""
    return -0.5 * d * math.log1p(-alpha_bar_T)


def eps_weights(s: NoiseSchedule) -> Tensor:
    """(10): w_t = beta_t / (2 alpha_t (1 - alpha_bar_{t-1})), (T,); entry 0 (step 1, whose term
    L_0 is no KL) is infinite."""
    return s.betas / (2 * s.alphas * (1 - s.alpha_bar_prev))


def bound_term(s: NoiseSchedule, x0: Tensor, x_t: Tensor, t: int, x0_hat: Tensor) -> Tensor:
    """The bound's term at entry t, (n,) nats summed over dimensions, for a model whose mean is
    mu~_t(x_t, x0^) with the posterior's variance beta~_t: L_{t-1} by (3) and (9) for t >= 1,
    and L_0 = -log N(x_0; x0^, beta~ of the second step) at t = 0 (x0^ is then the mean)."""
    c0, ct, var = posterior_coefficients(s)
    if t == 0:
        return -gaussian_log_density(x0, x0_hat, var[1]).sum(-1)
    v = var[t].expand_as(x0)
    return gaussian_kl(c0[t] * x0 + ct[t] * x_t, v, c0[t] * x0_hat + ct[t] * x_t, v).sum(-1)


def train_toy_ddpm(seed: int, steps: int):
    """A small DDPM (MLP denoiser of width 64 with 2 blocks, eps prediction, linear schedule,
    T = 1000) trained by genzoo's Trainer on ring8 with std 0.05 (4,000 points, 3,200 of them
    for training), batch 256, Adam at 2e-3; returns the weights it ships (the EMA) and the
    dataset."""
    ds = load_dataset("ring8", n=4000, noise=0.05)
    model = build_model("ddpm", ds.info(), {"width": 64, "blocks": 2, "T": 1000}, seed=seed)
    quiet = {"log_every": 0, "eval_every": 0, "sample_every": 0, "checkpoint_every": 0}
    cfg = TrainConfig(steps=steps, batch_size=256, lr=2e-3, ema=True, warmup_steps=100,
                      tensorboard=False, final_eval=False, seed=seed, **quiet)  # fmt: skip
    trainer = Trainer(model, ds, cfg, console=False)
    trainer.fit()
    net = trainer.eval_model().eval()
    return net, ds


TRAIN_STEPS = 2000  # optimizer steps of the small DDPM
EVAL_POINTS = 1024  # training points the bound's terms are averaged over


@experiment("vlb-terms", "the variational bound's terms against t for a trained DDPM")
@one_thread()
def vlb_terms(seed: int = 0) -> Finding:
    """Train a small DDPM on ring8 (8 Gaussians, std 0.05, standardized) for 2,000 steps with
    genzoo's Trainer, then compute every term of the bound (8) on 1,024 training points, one
    fresh x_t per point and step: L_T by genzoo's prior_kl, L_{t-1} by (3) and (9), L_0 as a
    Gaussian density. Beside the model, the oracle that knows E[x_0 | x_t] for the mixture (6):
    the floor of any model with these variances. Checks: L_T against its closed form; (9)
    against a Monte-Carlo KL, log q - log p averaged over draws of q, with p's variance beta~_t
    and beta_t (5 se); the terms against genzoo's vlb_term and (10) (float precision); the
    oracle on one-point data: every L_{t-1} is 0; and the sum of the terms against genzoo's
    log_likelihood (all T terms, independent noise; 5 se of the per-point difference)."""
    net, ds = train_toy_ddpm(seed, TRAIN_STEPS)
    s = net.schedule
    T, n_eval = len(s), EVAL_POINTS
    c0, ct, var = posterior_coefficients(s)
    g = torch.Generator().manual_seed(seed + 1)
    x_all = torch.as_tensor(net.transform.forward(ds.x_train), dtype=F64)
    x0 = x_all[torch.randperm(len(x_all), generator=g)[:n_eval]]
    d = x0.shape[1]
    # the mixture in the model's units: the transform is affine per feature
    scale = torch.as_tensor(net.transform.scale, dtype=F64)
    shift = torch.as_tensor(net.transform.shift, dtype=F64)
    means = torch.as_tensor(ds.info().meta["means"], dtype=F64) * scale + shift
    stds = float(ds.info().meta["std"]) * scale.expand_as(means)
    weights = torch.full((len(means),), 1 / len(means), dtype=F64)

    def model_x0(x_t: Tensor, t: int) -> tuple[Tensor, Tensor]:
        """The network's eps^ (float32) and the x0^ it implies, in float64."""
        with torch.no_grad():
            steps = torch.full((len(x_t),), t, dtype=torch.long)
            eps_hat = net.predict(x_t.float(), steps).eps.double()
        ab = s.alpha_bar[t]
        return eps_hat, (x_t - (1 - ab).sqrt() * eps_hat) / ab.sqrt()

    terms = torch.zeros(T, n_eval, dtype=F64)
    oracle = torch.zeros(T, n_eval, dtype=F64)
    eps_mse = torch.zeros(T, dtype=F64)
    oracle_eps_mse = torch.zeros(T, dtype=F64)
    worst_genzoo = worst_weight = 0.0
    w_eps = eps_weights(s)
    for t in range(T):
        ab = s.alpha_bar[t]
        eps = torch.randn(x0.shape, generator=g, dtype=F64)
        x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
        eps_hat, x0_hat = model_x0(x_t, t)
        terms[t] = bound_term(s, x0, x_t, t, x0_hat)
        best = mixture_posterior(x_t, ab, weights, means, stds)[0]
        oracle[t] = bound_term(s, x0, x_t, t, best)
        eps_mse[t] = ((eps - eps_hat) ** 2).sum(-1).mean()
        best_eps = (x_t - ab.sqrt() * best) / (1 - ab).sqrt()
        oracle_eps_mse[t] = ((eps - best_eps) ** 2).sum(-1).mean()
        # genzoo's vlb_term on the same x_t and mean, and (10), for the same number
        steps = torch.full((n_eval,), t, dtype=torch.long)
        mean = c0[t] * x0_hat + ct[t] * x_t
        logvar = s.posterior_log_variance[t].expand_as(x0)
        theirs = vlb_term(s, x0, x_t, steps, mean, logvar, discrete=False)
        scale = float(terms[t].abs().mean())  # each step's differences against its own size
        worst_genzoo = max(worst_genzoo, float((theirs - terms[t]).abs().max()) / scale)
        if t > 0:
            by_weight = w_eps[t] * ((eps - eps_hat) ** 2).sum(-1)
            worst_weight = max(worst_weight, float((by_weight - terms[t]).abs().max()) / scale)

    # L_T over the whole training split, and its closed form
    l_T_all = prior_kl(s, x_all)
    l_T_closed = prior_term_standardized(float(s.alpha_bar[-1]), d)
    l_T = prior_kl(s, x0)
    total = l_T + terms.sum(0)
    with torch.no_grad():
        theirs_total = -net.log_likelihood(x0.float(), generator=g).double()
    diff = total - theirs_total

    # (9) against Monte Carlo: log q(y) - log p(y), y ~ q(x_{t-1} | x_t, x_0), at three steps
    kl_checks, kl_numbers = [], {}
    draws = 256
    for t in (2, 20, 200):  # steps t, entries t - 1
        i = t - 1
        ab = s.alpha_bar[i]
        x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * torch.randn(x0.shape, generator=g, dtype=F64)
        m_q = c0[i] * x0 + ct[i] * x_t
        m_p = c0[i] * model_x0(x_t, i)[1] + ct[i] * x_t
        for name, v_p in (("beta~_t", var[i]), ("beta_t", s.betas[i])):
            y = m_q + var[i].sqrt() * torch.randn(draws, *x0.shape, generator=g, dtype=F64)
            log_ratio = (gaussian_log_density(y, m_q, var[i])
                         - gaussian_log_density(y, m_p, v_p)).sum(-1)  # fmt: skip
            exact = gaussian_kl(m_q, var[i].expand_as(x0), m_p, v_p.expand_as(x0)).sum(-1)
            per_point = log_ratio.mean(0) - exact  # the Monte-Carlo error alone, per point
            se = float(per_point.std()) / math.sqrt(n_eval)
            claim = f"(9) against Monte Carlo at t = {t}, p's variance {name}"
            kl_checks.append(Check(claim, float(log_ratio.mean()), float(exact.mean()), Z * se))
            kl_numbers[f"t={t}, var {name}"] = float(exact.mean())

    # the oracle on one-point data: eps^ = eps exactly, every L_{t-1} is 0
    point = torch.tensor([[0.7, -1.2]], dtype=F64).expand(256, 2)
    worst_point = 0.0
    for t in range(1, T):
        ab = s.alpha_bar[t]
        x_t = ab.sqrt() * point + (1 - ab).sqrt() * torch.randn(point.shape, generator=g, dtype=F64)
        eps_hat = (x_t - ab.sqrt() * point) / (1 - ab).sqrt()
        model_mean = reverse_step(x_t, eps_hat, t, s)  # (4), the eps form
        v = var[t].expand_as(point)
        kl = gaussian_kl(c0[t] * point + ct[t] * x_t, v, model_mean, v).sum(-1)
        worst_point = max(worst_point, float(kl.max()))

    mean_terms = terms.mean(1)
    kl_sum = float(mean_terms[1:].sum())
    share = torch.cumsum(mean_terms[1:], 0) / kl_sum
    # share[k] is the share of steps 2..k + 2: the step t at which it first reaches one half
    half_at = int(torch.searchsorted(share, torch.tensor(0.5, dtype=F64))) + 2
    bound = float(total.mean())
    checks = [
        # the data are standardized in float32: E x^2 = 1 to ~1e-7 per dimension, and
        # L_T ~ (d/2) alpha_bar_T E x^2; 1e-5 relative bounds that with room
        Check("L_T over the training split against -(d/2) log(1 - ᾱ_T)",
              float(l_T_all.mean()), l_T_closed, 1e-5 * l_T_closed),
        *kl_checks,
        # both in float64 from the same inputs: rounding only (~1e-15 relative; a KL of two
        # close means loses a few digits more), 1e-9 bounds it
        Check("the terms against genzoo's vlb_term, largest difference / the step's mean",
              worst_genzoo, 0.0, 1e-9),
        Check("L_{t-1} against w_t |eps - eps^|^2 (10), largest difference / the step's mean",
              worst_weight, 0.0, 1e-9),
        # the model mean by (4) and the posterior mean by (3) agree to float64 rounding of
        # numbers of order 1 (~1e-15); squared over beta~ >= 5e-5 that is below 1e-25
        Check("oracle on one-point data: largest L_{t-1} over t and points", worst_point, 0.0,
              1e-20),
        Check("sum of the terms against genzoo's log_likelihood (-bound, nats per point)",
              bound, float(theirs_total.mean()), Z * float(diff.std()) / math.sqrt(n_eval)),
    ]  # fmt: skip
    oracle_mean = oracle.mean(1)
    numbers = {
        "T": T, "train_steps": TRAIN_STEPS, "points": n_eval, "dims": d,
        "bound_nats": bound, "bound_nats_per_dim": bound / d,
        "data_minus_log_density": -float(mixture_log_density(x0, weights, means, stds).mean()),
        "genzoo_log_likelihood_bound": float(theirs_total.mean()),
        "L_T": float(l_T.mean()), "L_T_train_split": float(l_T_all.mean()),
        "L_T_closed_form": l_T_closed,
        "L_0": float(mean_terms[0]), "sum_L_t-1": kl_sum,
        "oracle_sum_L_t-1": float(oracle_mean[1:].sum()), "oracle_L_0": float(oracle_mean[0]),
        "L_t-1_at": {t: float(mean_terms[t - 1]) for t in (2, 10, 100, 500, 1000)},
        "oracle_L_t-1_at": {t: float(oracle_mean[t - 1]) for t in (2, 10, 100, 500, 1000)},
        "t_where_half_the_KL_sum_is_reached": half_at,
        "weight_w_t_at": {t: float(w_eps[t - 1]) for t in (2, 10, 100, 1000)},
        "eps_mse_at": {t: float(eps_mse[t - 1]) for t in (2, 10, 100, 1000)},
        "oracle_eps_mse_at": {t: float(oracle_eps_mse[t - 1]) for t in (2, 10, 100, 1000)},
        "kl_formula": kl_numbers,
    }  # fmt: skip
    t_axis = np.arange(2, T + 1)
    panels = [
        Panel(f"L_{{t-1}} against t (mean over {n_eval} points)",
              [Series("line", t_axis, mean_terms[1:].numpy(), "trained DDPM", color="C0"),
               Series("line", t_axis, oracle_mean[1:].clamp_min(1e-12).numpy(),
                      "oracle E[x_0 | x_t] (floor)", color="C1"),
               Series("hline", [0], [float(l_T_all.mean())], f"L_T = {float(l_T_all.mean()):.1e}",
                      "--", color="C3")],
              "t", "nats", logx=True, logy=True),
        Panel("share of sum_t L_{t-1} in steps 2..t",
              [Series("line", t_axis, share.numpy(), "trained DDPM", color="C0"),
               Series("line", t_axis, (torch.cumsum(oracle_mean[1:], 0)
                                       / oracle_mean[1:].sum()).numpy(), "oracle", color="C1"),
               Series("hline", [0], [0.5], color="0.5")],
              "t", "cumulative share", logx=True),
        Panel("L_{t-1} = w_t E|ε - ε̂|² (10): the weight and the error",
              [Series("line", t_axis, w_eps[1:].numpy(), "w_t = β_t / (2 α_t (1 - ᾱ_{t-1}))",
                      color="C2"),
               Series("line", t_axis, eps_mse[1:].numpy(), "E|ε - ε̂|², trained", color="C0"),
               Series("line", t_axis, oracle_eps_mse[1:].numpy(), "E|ε - ε̂|², oracle",
                      color="C1")],
              "t", "", logx=True, logy=True),
    ]  # fmt: skip
    return Finding("vlb-terms", "The variational bound, term by term", numbers, checks, panels)
