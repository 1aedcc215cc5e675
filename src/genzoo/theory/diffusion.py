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
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..models.diffusion.schedules import make_schedule
from . import Check, Finding, Panel, Series, experiment


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
