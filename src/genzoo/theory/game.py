"""The GAN game: the optimal discriminator, the value of the game at it, and why the generator's
minimax loss stops teaching early in training.

The value. With data density a(x) = p_data(x) and the generator's density b(x) = p_g(x),

    V(D, G) = E_{x ~ p_data} log D(x) + E_{z ~ p(z)} log(1 - D(G(z)))
            = int [a(x) log D(x) + b(x) log(1 - D(x))] dx.                              (1)

The optimal discriminator. The integrand depends on D only through its value y = D(x) at the
same x, so V is maximized point by point. On (0, 1), y -> a log y + b log(1 - y) has slope
a/y - b/(1 - y), zero at y = a/(a + b), and curvature -a/y^2 - b/(1 - y)^2 < 0: a maximum,

    D*(x) = p_data(x) / (p_data(x) + p_g(x))                                             (2)

(Goodfellow et al. 2014, Prop. 1). Training a network by binary cross-entropy, label 1 on the
data and 0 on the samples, batches of equal size, minimizes

    L_D = -E log D(x) - E log(1 - D(G(z))) = -V(D, G),                                  (3)

(genzoo's d_loss_bce), so it climbs V towards (2). Two slips:
  - swapped labels (0 on the data, 1 on the samples) minimize -E log(1 - D(x)) - E log D(G(z)),
    whose pointwise maximizer is b/(a + b): the discriminator learns 1 - D*;
  - the wrong sign (maximizing L_D): -a log y - b log(1 - y) is convex in y and unbounded at
    both ends, so there is no optimum at all: D runs to 0 or 1 everywhere, the logits without
    bound, and the loss to +infinity.

How far a discriminator is from (2). Substituting (2) into (1) and subtracting,

    V(D*) - V(D) = int (a + b) kl(D* || D) dx = 2 E_m kl(D* || D),   m = (a + b)/2,      (4)

kl the KL between Bernoullis: every D's value is below D*'s, by twice the mean Bernoulli KL
under the mixture m that the two samples are drawn from. Pinsker (kl(p || q) >= 2 (p - q)^2)
and Jensen turn the gap into a bound on the mean error: E_m |D - D*| <= sqrt(gap / 4).

A discriminator fitted to samples. With N samples of each, BCE is the mean negative
log-likelihood of the labels over n = 2N examples, and a fitted model with k parameters that
contains D* exceeds the optimum's population loss by chi^2_k / (2n) (Wilks), which by (3) and
(4) is a value gap

    V(D*) - V(D_fit) ~ chi^2_k / n,   below (k + 5 sqrt(2k)) / n at 5 standard deviations. (5)

(Wilks' theorem holds for a regular model that contains D*; a network is neither exactly,
and is trained to a local optimum, so (5) is the scale a k-parameter fit to n examples should
reach rather than a theorem about this one.)

The fit that needs no network: D constant on bins. The empirical V is then maximized by
D^_b = k_b / (k_b + m_b), k_b data and m_b samples in bin b; given n_b = k_b + m_b, k_b is
binomial with the probability

    q_b = P_data(b) / (P_data(b) + P_g(b)),                                              (6)

(2) averaged over the bin, so sum_b (k_b - n_b q_b)^2 / (n_b q_b (1 - q_b)) is chi-square with
as many degrees of freedom as bins. (Exactly binomial if the two sample sizes were Poisson;
with fixed sizes the spread is smaller by the factor 1 - P(b), a few per cent here.)

The value at the optimum. Substituting (2) into (1), with m = (a + b)/2,

    V(D*, G) = int a log(a / 2m) + b log(b / 2m) = KL(p_data || m) + KL(p_g || m) - log 4
             = 2 JS(p_data, p_g) - log 4.                                                (7)

JS >= 0 with equality only at p_g = p_data, so the generator's best is V = -log 4 = -2 log 2,
reached exactly there (Theorem 1); and JS <= log 2 bounds V <= 0.

The generator's two losses. Write D(G(z)) = sigma(l), l the discriminator's logit. The minimax
generator minimizes log(1 - sigma(l)) = -softplus(l), the non-saturating one
-log sigma(l) = softplus(-l) (same paper, section 3). Their slopes in the logit,

    d/dl log(1 - D) = -sigma(l) = -D,        d/dl (-log D) = -(1 - sigma(l)) = -(1 - D),  (8)

point the same way, but early in training, when the discriminator rejects the samples
(D(G(z)) -> 0), the minimax slope vanishes like D and the non-saturating one tends to -1: their
ratio is D / (1 - D). (In D itself the slopes are -1/(1 - D) and -1/D; the vanishing comes from
the sigmoid's dD/dl = D (1 - D), which every gradient to the generator passes through.)

Against an optimal discriminator. D* maximizes V for each G, so the derivative of V(D*_theta,
G_theta) in the generator's parameter theta is its partial derivative at fixed D (the envelope
theorem): by (7) the minimax generator's gradient is

    d/d theta E log(1 - D*(G_theta(z))) = 2 d/d theta JS(p_data, p_g),                   (9)

which vanishes as JS saturates at log 2, when the two distributions barely overlap. The
non-saturating one follows another divergence (Arjovsky & Bottou 2017, Thm 2.5): since
d/db [b log(b/a)] integrates to log(b/a) and d/db of (7)'s integrand is log(b/(a + b)),

    d/d theta E -log D*(G_theta(z)) = d/d theta [KL(p_g || p_data) - 2 JS(p_data, p_g)],  (10)

with D* held at the current theta. For p_data = N(mu, 1) and G_theta(z) = theta + z,
KL(p_g || p_data) = (theta - mu)^2 / 2 and D* has the logit (mu - theta) x - (mu^2 - theta^2)/2,
so (10) is (theta - mu) - 2 d JS / d theta: it keeps the size of the distance.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy import integrate, special

from ..models.gan.losses import (
    d_loss_bce,
    g_loss_minimax,
    g_loss_non_saturating,
    game_value,
)
from ..models.gan.losses import optimal_discriminator as genzoo_optimal_discriminator
from . import Check, Finding, Panel, Series, experiment, one_thread
from .divergences import js

Tensor = torch.Tensor
F64 = torch.float64
Z = 5.0  # Monte-Carlo tolerances: five standard errors
LOG4 = math.log(4)
# float64 rounding: unit roundoff 1.1e-16; a few operations per value stay below 1e-12
EXACT = 1e-12


# 1-D Gaussian mixtures (weights, means, standard deviations)
DATA = ((0.5, 0.5), (-2.0, 1.5), (0.5, 0.75))
GEN = ((0.6, 0.4), (-0.5, 2.5), (1.0, 0.6))


# ---------------------------------------------------------------- densities
def mixture_density(x: Tensor, mix=DATA) -> Tensor:
    w, m, s = mix
    return sum(wi * torch.exp(-0.5 * ((x - mi) / si) ** 2) / (si * math.sqrt(2 * math.pi))
               for wi, mi, si in zip(w, m, s, strict=True))  # fmt: skip


def mixture_cdf(x: np.ndarray, mix=DATA) -> np.ndarray:
    w, m, s = mix
    return sum(wi * special.ndtr((x - mi) / si) for wi, mi, si in zip(w, m, s, strict=True))


def mixture_sample(n: int, mix, g: torch.Generator) -> Tensor:
    w, m, s = (torch.tensor(v, dtype=F64) for v in mix)
    k = torch.multinomial(w, n, replacement=True, generator=g)
    return m[k] + s[k] * torch.randn(n, generator=g, dtype=F64)


# ---------------------------------------------------------------- (1)-(4)
def value_integrand(a: Tensor, b: Tensor, logit: Tensor) -> Tensor:
    """(1) pointwise, from D's logit: a log D + b log(1 - D), log sigma(l) = -softplus(-l)."""
    return -a * F.softplus(-logit) - b * F.softplus(logit)


def optimal_discriminator(a: Tensor, b: Tensor) -> Tensor:
    """(2): D* = p_data / (p_data + p_g)."""
    return a / (a + b)


def pointwise_maximizer(a: np.ndarray, b: np.ndarray, iters: int = 200) -> np.ndarray:
    """The maximizer of a log y + b log(1 - y) found numerically, by golden-section search on
    the logit in [-40, 40] (the objective is concave in the logit), for each pair (a, b)."""
    lo, hi = np.full(a.shape, -40.0), np.full(a.shape, 40.0)
    r = (math.sqrt(5) - 1) / 2

    def f(lg: np.ndarray) -> np.ndarray:
        return -a * np.logaddexp(0, -lg) - b * np.logaddexp(0, lg)

    c, d = hi - r * (hi - lo), lo + r * (hi - lo)
    fc, fd = f(c), f(d)
    for _ in range(iters):
        left = fc >= fd  # the maximum lies in [lo, d]
        hi = np.where(left, d, hi)
        lo = np.where(left, lo, c)
        c, d = hi - r * (hi - lo), lo + r * (hi - lo)
        fc, fd = f(c), f(d)
    return special.expit((lo + hi) / 2)


def discriminator_loss(real: Tensor, fake: Tensor, swap_labels: bool = False,
                       wrong_sign: bool = False) -> Tensor:  # fmt: skip
    """(3): L_D = -V = E softplus(-l(x)) + E softplus(l(G(z))) from the logits. The slips:
    `swap_labels` (data labelled 0, samples 1), `wrong_sign` (the loss maximized)."""
    if swap_labels:
        real, fake = fake, real
    loss = F.softplus(-real).mean() + F.softplus(fake).mean()
    return -loss if wrong_sign else loss


def bernoulli_kl(p: Tensor, q: Tensor) -> Tensor:
    """kl(p || q) between Bernoullis, elementwise (0 log 0 = 0)."""
    return torch.xlogy(p, p) - torch.xlogy(p, q) + torch.xlogy(1 - p, 1 - p) \
        - torch.xlogy(1 - p, 1 - q)  # fmt: skip


def wilks_gap_bound(k: int, n: int) -> float:
    """(5): the value gap of a k-parameter fit to n labelled examples, 5 sd above its mean."""
    return (k + Z * math.sqrt(2 * k)) / n


# ---------------------------------------------------------------- a small discriminator
def init_mlp(g: torch.Generator, hidden: int = 8) -> list[Tensor]:
    """A 1 -> hidden -> hidden -> 1 tanh network, uniform(+-1/sqrt(fan_in)) weights."""

    def u(shape: tuple[int, ...], fan_in: int) -> Tensor:
        w = (torch.rand(shape, generator=g, dtype=F64) * 2 - 1) / math.sqrt(fan_in)
        return w.requires_grad_(True)

    h = hidden
    return [u((1, h), 1), u((h,), 1), u((h, h), h), u((h,), h), u((h, 1), h), u((1,), h)]


def mlp_logit(params: list[Tensor], x: Tensor) -> Tensor:
    w1, b1, w2, b2, w3, b3 = params
    h = torch.tanh(x[:, None] @ w1 + b1)
    return (torch.tanh(h @ w2 + b2) @ w3 + b3)[:, 0]


def fit_discriminator(params: list[Tensor], real: Tensor, fake: Tensor,
                      swap_labels: bool = False, iters: int = 150) -> list[float]:  # fmt: skip
    """Minimize (3) over the full sample by L-BFGS (at most `iters` iterations); genzoo's
    d_loss_bce at each evaluation."""
    opt = torch.optim.LBFGS(params, lr=1, max_iter=iters, history_size=20,
                            line_search_fn="strong_wolfe", tolerance_grad=1e-10,
                            tolerance_change=1e-14)  # fmt: skip
    trace: list[float] = []

    def closure() -> Tensor:
        opt.zero_grad()
        lr, lf = mlp_logit(params, real), mlp_logit(params, fake)
        loss = discriminator_loss(lr, lf, swap_labels=swap_labels)
        loss.backward()
        trace.append(float(d_loss_bce(lr.detach(), lf.detach())))
        return loss

    opt.step(closure)
    return trace


def ascend_discriminator(params: list[Tensor], real: Tensor, fake: Tensor, steps: int = 150,
                         lr: float = 0.05) -> list[float]:  # fmt: skip
    """The wrong sign: Adam on -L_D, i.e. L_D maximized; genzoo's d_loss_bce at each step."""
    opt = torch.optim.Adam(params, lr=lr)
    trace: list[float] = []
    for _ in range(steps):
        opt.zero_grad()
        lr_, lf = mlp_logit(params, real), mlp_logit(params, fake)
        discriminator_loss(lr_, lf, wrong_sign=True).backward()
        trace.append(float(d_loss_bce(lr_.detach(), lf.detach())))
        opt.step()
    return trace


def histogram_discriminator(real: np.ndarray, fake: np.ndarray, edges: np.ndarray
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """The bin-wise maximizer of the empirical V: counts k_b, m_b and D^_b = k_b/(k_b + m_b)."""
    k = np.histogram(real, edges)[0].astype(float)
    m = np.histogram(fake, edges)[0].astype(float)
    with np.errstate(invalid="ignore"):
        return k, m, k / (k + m)


@experiment(
    "optimal-discriminator", "D* = p_data/(p_data + p_g): trained, binned, pointwise; slips"
)
@one_thread()
def optimal_discriminator_experiment(seed: int = 0) -> Finding:
    """p_data = 0.5 N(-2, 0.5²) + 0.5 N(1.5, 0.75²), p_g = 0.6 N(-0.5, 1) + 0.4 N(2.5, 0.6²),
    10,000 samples of each. Checks: the numerical maximizer of the pointwise objective against
    (2) (float precision); genzoo's optimal_discriminator and d_loss_bce against (2) and (3);
    the bin-wise discriminator against (6) (chi-square, 5 sd); a 1-8-8-1 tanh network trained by
    BCE: its value gap (4) by quadrature within the Wilks bound (5), its mean error within
    sqrt(bound / 4) (Pinsker), and (4) itself (quadrature precision). The slips:
    swapped labels learn 1 - D* (same bounds); the wrong sign's logits run away."""
    g = torch.Generator().manual_seed(seed)
    n_each = 10_000
    real = mixture_sample(n_each, DATA, g)
    fake = mixture_sample(n_each, GEN, g)
    dx = 1e-3
    x = torch.arange(-9.0, 9.0 + dx / 2, dx, dtype=F64)  # both mixtures < 1e-17 beyond
    a, b = mixture_density(x, DATA), mixture_density(x, GEN)
    d_star = optimal_discriminator(a, b)
    logit_star = torch.log(a) - torch.log(b)
    m = (a + b) / 2
    v_star = float(value_integrand(a, b, logit_star).sum() * dx)
    js_ab = js(a.numpy(), b.numpy(), dx)
    checks: list[Check] = []

    # (2) numerically: golden section compares two values of f, each rounded by a couple of
    # ulps, so it cannot tell points apart once |f''| dl^2 / 2 < c eps |f|, c ~ 4; in the logit
    # |f| / |f''| = H(D) / (D (1 - D)), so |Delta D| = D (1 - D) dl <= sqrt(2 c eps H(D) D (1 - D))
    # <= sqrt(8 * 2.2e-16 * log 2 / 4) = 1.8e-8; 1e-7 leaves room
    y = pointwise_maximizer(a.numpy(), b.numpy())
    checks.append(Check("numerical maximizer of a log y + b log(1 - y) against a/(a + b) (2), "
                        "largest difference on the grid", float(np.abs(y - d_star.numpy()).max()),
                        0.0, 1e-7))  # fmt: skip
    checks.append(Check("genzoo's optimal_discriminator against (2), largest difference",
                        float((genzoo_optimal_discriminator(a, b) - d_star).abs().max()), 0.0,
                        EXACT))  # fmt: skip

    # (6): the bin-wise discriminator, on bins the closed form expects >= 100 samples in
    edges = np.linspace(-5.0, 5.0, 51)
    p_bins = np.diff(mixture_cdf(edges, DATA))
    q_bins_g = np.diff(mixture_cdf(edges, GEN))
    used = n_each * (p_bins + q_bins_g) >= 100
    k_b, m_b, d_hat = histogram_discriminator(real.numpy(), fake.numpy(), edges)
    q_b = p_bins / (p_bins + q_bins_g)
    n_b = k_b + m_b
    k_u, n_u, q_u = k_b[used], n_b[used], q_b[used]
    chi2 = float(((k_u - n_u * q_u) ** 2 / (n_u * q_u * (1 - q_u))).sum())
    dof = int(used.sum())
    # chi-square with dof degrees of freedom: mean dof, standard deviation sqrt(2 dof)
    checks.append(Check(f"bin-wise discriminator against (6): chi-square over {dof} bins", chi2,
                        float(dof), Z * math.sqrt(2 * dof)))  # fmt: skip

    # (3)-(5): a small network trained by BCE, and by the two slips
    def trained(swap: bool) -> tuple[list[Tensor], list[float]]:
        params = init_mlp(torch.Generator().manual_seed(seed + 1))
        return params, fit_discriminator(params, real, fake, swap_labels=swap)

    params, trace = trained(False)
    k = sum(p.numel() for p in params)
    with torch.no_grad():
        logit_fit = mlp_logit(params, x)
        lr_, lf_ = mlp_logit(params, real), mlp_logit(params, fake)
    checks.append(Check("genzoo's d_loss_bce against (3), -V on the samples",
                        float(d_loss_bce(lr_, lf_)), float(discriminator_loss(lr_, lf_)),
                        EXACT))  # fmt: skip
    d_fit = torch.sigmoid(logit_fit)
    gap = v_star - float(value_integrand(a, b, logit_fit).sum() * dx)
    gap_kl = float(2 * (m * bernoulli_kl(d_star, d_fit)).sum() * dx)
    gap_tol = wilks_gap_bound(k, 2 * n_each)
    mae_tol = math.sqrt(gap_tol / 4)  # Pinsker applied to the bound (5)
    mae = float((m * (d_fit - d_star).abs()).sum() * dx)
    # (4) by quadrature: the two integrals of the same smooth integrand, on the same grid;
    # their rounding over 18,000 terms stays below 1e-10
    checks.append(Check("V(D*) - V(D_net) against 2 E_m kl(D* || D_net) (4)", gap, gap_kl, 1e-10))
    checks.append(Check(f"value gap V(D*) - V(D_net) by quadrature, within the Wilks bound (5), "
                        f"k = {k}, n = {2 * n_each}", gap, 0.0, gap_tol))  # fmt: skip
    checks.append(Check("E_m |D_net - D*|, within sqrt(bound / 4) (Pinsker)", mae, 0.0, mae_tol))

    params_sw, trace_sw = trained(True)
    with torch.no_grad():
        d_sw = torch.sigmoid(mlp_logit(params_sw, x))
    gap_sw = v_star - float(value_integrand(a, b, -mlp_logit(params_sw, x).detach()).sum() * dx)
    mae_sw = float((m * (d_sw - (1 - d_star)).abs()).sum() * dx)
    checks.append(Check("slip, swapped labels: E_m |D_swapped - (1 - D*)|, within the same bound",
                        mae_sw, 0.0, mae_tol))  # fmt: skip
    checks.append(Check("slip, swapped labels: value gap of 1 - D_swapped within the Wilks bound",
                        gap_sw, 0.0, gap_tol))  # fmt: skip

    params_wr = init_mlp(torch.Generator().manual_seed(seed + 1))
    trace_wr = ascend_discriminator(params_wr, real, fake)
    with torch.no_grad():
        logit_wr = mlp_logit(params_wr, x)
    d_wr = torch.sigmoid(logit_wr)
    saturated = float((m * ((d_wr < 0.01) | (d_wr > 0.99))).sum() * dx)

    numbers = {
        "samples_each": n_each,
        "js_data_gen": js_ab,
        "value_at_d_star": v_star,
        "value_closed_form_2js_minus_log4": 2 * js_ab - LOG4,
        "bce_at_d_star_log4_minus_2js": LOG4 - 2 * js_ab,
        "pointwise_maximizer_largest_error": float(np.abs(y - d_star.numpy()).max()),
        "bins": {"used": dof, "chi_square": chi2},
        "network": {"parameters": k, "value_gap": gap, "wilks_bound": gap_tol,
                    "mean_abs_error": mae, "pinsker_bound": mae_tol,
                    "final_bce": trace[-1], "evaluations": len(trace)},
        "swapped_labels": {"mean_abs_error_to_1_minus_d_star": mae_sw,
                           "mean_abs_error_to_d_star": float((m * (d_sw - d_star).abs()).sum()
                                                             * dx),
                           "genzoo_d_loss_bce": trace_sw[-1]},
        "wrong_sign": {"steps": len(trace_wr), "genzoo_d_loss_bce_final": trace_wr[-1],
                       "mass_with_d_below_0.01_or_above_0.99": saturated,
                       "largest_abs_logit": float(logit_wr.abs().max()),
                       "mean_abs_error_to_d_star": float((m * (d_wr - d_star).abs()).sum()
                                                         * dx)},
    }  # fmt: skip

    xs = x.numpy()
    view = np.abs(xs) <= 5  # where the samples are
    xv = xs[view]
    centres = (edges[1:] + edges[:-1]) / 2
    panels = [
        Panel("p_data and p_g, and 10,000 samples of each",
              [Series("hist", real.numpy(), label="data samples", color="C0"),
               Series("hist", fake.numpy(), label="generator samples", color="C3"),
               Series("line", xv, a.numpy()[view], "p_data", color="C0"),
               Series("line", xv, b.numpy()[view], "p_g", color="C3")], "x", "density"),
        Panel("D*(x) = p_data/(p_data + p_g) (2), and fits to the samples",
              [Series("line", xv, d_star.numpy()[view], "D* (2)", color="k"),
               Series("line", xv, d_fit.numpy()[view], f"network, BCE ({k} parameters)", "--",
                      color="C0"),
               Series("scatter", centres[used], d_hat[used], "bin-wise k/(k + m) (6)",
                      color="C1"),
               Series("scatter", xv[::250], y[view][::250], "numerical argmax of "
                      "a log y + b log(1-y)", color="C2")], "x", "D(x)"),
        Panel("the slips: swapped labels and the wrong sign",
              [Series("line", xv, 1 - d_star.numpy()[view], "1 - D*", color="k"),
               Series("line", xv, d_sw.numpy()[view], "swapped labels", "--", color="C3"),
               Series("line", xv, d_wr.numpy()[view], "wrong sign (loss maximized)",
                      color="C4")], "x", "D(x)"),
        Panel("genzoo's d_loss_bce (-V) during training",
              [Series("line", np.arange(len(trace)), trace, "BCE, L-BFGS", color="C0"),
               Series("line", np.arange(len(trace_sw)), trace_sw, "swapped labels",
                      color="C3"),
               Series("line", np.arange(len(trace_wr)), trace_wr, "wrong sign, Adam",
                      color="C4"),
               Series("hline", [0], [LOG4 - 2 * js_ab], "log 4 - 2 JS (7)", "--")],
              "optimizer evaluation", "-V(D, G)", logy=True),
    ]  # fmt: skip
    return Finding("optimal-discriminator", "The optimal discriminator D* and two slips",
                   numbers, checks, panels)  # fmt: skip


# ---------------------------------------------------------------- (7): the value along a path
MU_DATA = 2.0  # p_data = N(MU_DATA, 1); the generators p_g = N(m, 1)


def value_at_optimum(m: float, mu: float = MU_DATA) -> float:
    """(1) at D = D* (2) for p_data = N(mu, 1), p_g = N(m, 1), by adaptive quadrature:
    log D* = log a - logaddexp(log a, log b), kept in logs for the tails."""

    def integrand(x: float) -> float:
        la, lb = -0.5 * (x - mu) ** 2, -0.5 * (x - m) ** 2
        lse = np.logaddexp(la, lb)
        c = 1 / math.sqrt(2 * math.pi)
        return c * math.exp(la) * (la - lse) + c * math.exp(lb) * (lb - lse)

    lo, hi = min(mu, m) - 14, max(mu, m) + 14
    return integrate.quad(integrand, lo, hi, points=[(mu + m) / 2], epsabs=1e-14,
                          epsrel=1e-13, limit=200)[0]  # fmt: skip


def value_from_js(js_value: float) -> float:
    """(7): V(D*, G) = 2 JS(p_data, p_g) - log 4."""
    return 2 * js_value - LOG4


def js_gaussians(m: float, mu: float = MU_DATA, dx: float = 0.002) -> float:
    """JS(N(mu, 1), N(m, 1)) on a grid, by genzoo.theory.divergences.js."""
    x = np.arange(min(mu, m) - 14, max(mu, m) + 14 + dx / 2, dx)
    c = 1 / math.sqrt(2 * math.pi)
    return js(c * np.exp(-0.5 * (x - mu) ** 2), c * np.exp(-0.5 * (x - m) ** 2), dx)


@experiment("game-value", "V(D*, G) = 2 JS(p_data, p_g) - log 4 along a path of generators")
def game_value_experiment(seed: int = 0) -> Finding:
    """p_data = N(2, 1), generators p_g = N(m, 1) for m from -6 to 10. Checks: V(D*, G) by
    adaptive quadrature of (1) at (2) against 2 JS - log 4 (7), JS from the grid (quadrature
    precision); V = -log 4 at m = 2 (float precision); JS <= log 2; genzoo's game_value on
    100,000 samples of each against the quadrature value (5 standard errors)."""
    g = torch.Generator().manual_seed(seed)
    ms = np.linspace(-6.0, 10.0, 65)  # includes m = 2
    values = np.array([value_at_optimum(float(m)) for m in ms])
    jss = np.array([js_gaussians(float(m)) for m in ms])
    closed = np.array([value_from_js(j) for j in jss])
    at = int(np.argmin(np.abs(ms - MU_DATA)))
    checks = [
        # two quadratures of smooth integrands: adaptive (asked for 1e-13) and the grid's
        # trapezoid rule on vanished ends (rounding ~1e-13); 1e-9 bounds both with room
        Check("V(D*, G) by quadrature against 2 JS - log 4 (7), largest difference on the path",
              float(np.abs(values - closed).max()), 0.0, 1e-9),
        Check("V(D*, G) at p_g = p_data against -log 4", float(values[at]), -LOG4, EXACT),
        Check("smallest V(D*, G) on the path is at m = 2 (its distance from 2)",
              float(abs(ms[int(np.argmin(values))] - MU_DATA)), 0.0, EXACT),
        Check("largest JS on the path, at most log 2 (V <= 0)",
              max(float(jss.max()) - math.log(2), 0.0), 0.0, EXACT),
    ]  # fmt: skip
    n = 100_000
    mc = {}
    for m in (-2.0, 1.0, 2.0):
        xr = MU_DATA + torch.randn(n, generator=g, dtype=F64)
        xf = m + torch.randn(n, generator=g, dtype=F64)

        def d_star(v: Tensor, m: float = m) -> Tensor:
            a, b = torch.exp(-0.5 * (v - MU_DATA) ** 2), torch.exp(-0.5 * (v - m) ** 2)
            return optimal_discriminator(a, b)

        dr, df = d_star(xr), d_star(xf)
        est = float(game_value(dr, df))
        se = math.sqrt(float(dr.log().var()) / n + float((1 - df).log().var()) / n)
        exact = value_at_optimum(m)
        mc[m] = {"samples": est, "quadrature": exact, "standard_error": se}
        checks.append(Check(f"genzoo's game_value on 100,000 samples each at m = {m:g}", est,
                            exact, Z * se if se > 0 else EXACT))  # fmt: skip
    # the slope of V along the path: the generator's signal (central differences)
    slope = np.gradient(values, ms)
    numbers = {
        "data": "N(2, 1)",
        "value_at": {f"{m:g}": float(v) for m, v in zip(ms[::8], values[::8], strict=True)},
        "js_at": {f"{m:g}": float(j) for m, j in zip(ms[::8], jss[::8], strict=True)},
        "value_at_data": float(values[at]),
        "minus_log4": -LOG4,
        "largest_abs_difference_from_2js_minus_log4": float(np.abs(values - closed).max()),
        "slope_dv_dm_at": {f"{m:g}": float(s) for m, s in zip(ms[::8], slope[::8], strict=True)},
        "monte_carlo": {f"{m:g}": v for m, v in mc.items()},
    }
    xs = np.linspace(-6, 10, 400)
    c = 1 / math.sqrt(2 * math.pi)
    dens = c * np.exp(-0.5 * (xs - MU_DATA) ** 2)
    d_panel = [Series("line", xs, dens / (dens + c * np.exp(-0.5 * (xs - m) ** 2)),
                      f"D*, p_g = N({m:g}, 1)") for m in (-4.0, 0.0, 1.5, 2.0)]  # fmt: skip
    panels = [
        Panel("V(D*, G) along p_g = N(m, 1), data N(2, 1)",
              [Series("line", ms, closed, "2 JS - log 4 (7)", color="k"),
               Series("scatter", ms, values, "V(D*, G), quadrature of (1)", color="C0"),
               Series("scatter", list(mc), [v["samples"] for v in mc.values()],
                      "genzoo game_value, samples", color="C3"),
               Series("hline", [0], [-LOG4], "-log 4", ":"),
               Series("hline", [0], [0.0], "0 (JS = log 2)", "--", color="0.5")],
              "m (mean of p_g)", "V(D*, G)"),
        Panel("D*(x) for four generators", d_panel, "x", "D*(x)"),
        Panel("the generator's signal: dV(D*, G)/dm", [
              Series("line", ms, slope, "dV/dm = 2 dJS/dm", color="C0"),
              Series("hline", [0], [0.0], None, ":")], "m (mean of p_g)", "slope"),
    ]  # fmt: skip
    return Finding("game-value", "The value of the game at the optimal discriminator", numbers,
                   checks, panels)  # fmt: skip


# ---------------------------------------------------------------- (8)-(10): the generator
def generator_loss(logit: Tensor, non_saturating: bool = False) -> Tensor:
    """(8) per sample: log(1 - D) = -softplus(l) (minimax) or -log D = softplus(-l)."""
    return F.softplus(-logit) if non_saturating else -F.softplus(logit)


def generator_logit_gradient(d: Tensor, non_saturating: bool = False) -> Tensor:
    """(8): d/dl of the generator's loss at D = sigma(l): -D (minimax), -(1 - D) (NS)."""
    return -(1 - d) if non_saturating else -d


def gaussian_d_star_logit(x: Tensor, theta: float, mu: float) -> Tensor:
    """The logit of D* for p_data = N(mu, 1), p_g = N(theta, 1): log a - log b."""
    return (mu - theta) * x - (mu**2 - theta**2) / 2


def generator_gradients(theta: float, mu: float, n: int, g: torch.Generator
                        ) -> dict[str, tuple[float, float]]:  # fmt: skip
    """One generator step's gradient in theta, G_theta(z) = theta + z, against D* of the current
    theta held fixed, by autograd through genzoo's g_loss_minimax and g_loss_non_saturating on
    n draws of z: (mean, standard error) of the per-sample gradients for each loss."""
    z = torch.randn(n, generator=g, dtype=F64)
    out = {}
    for name, loss_fn in (("minimax", g_loss_minimax), ("non-saturating", g_loss_non_saturating)):
        th = torch.full((n,), theta, dtype=F64, requires_grad=True)  # one copy per sample
        logit = gaussian_d_star_logit(th + z, theta, mu)
        (grad,) = torch.autograd.grad(loss_fn(logit) * n, th)
        out[name] = (float(grad.mean()), float(grad.std()) / math.sqrt(n))
    return out


def js_slope(theta: float, mu: float, h: float = 1e-3) -> float:
    """d JS(N(mu, 1), N(theta, 1)) / d theta by a central difference of the grid JS."""
    return (js_gaussians(theta + h, mu) - js_gaussians(theta - h, mu)) / (2 * h)


def train_small_gan(non_saturating: bool, g: torch.Generator, theta0: float, mu: float,
                    steps: int = 300, batch: int = 256, d_steps: int = 5, lr_d: float = 0.1,
                    lr_g: float = 0.02) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Alternating SGD: data N(mu, 1), generator theta + z, discriminator sigma(w x + c)
    started at D* for theta0 (a family that contains every D*). `d_steps` discriminator steps
    of genzoo's d_loss_bce, then one generator step; returns theta and the mean D(G(z)) seen
    by each generator step."""
    theta = torch.tensor(theta0, dtype=F64, requires_grad=True)
    w = torch.tensor(mu - theta0, dtype=F64, requires_grad=True)
    c = torch.tensor(-(mu**2 - theta0**2) / 2, dtype=F64, requires_grad=True)
    loss_g = g_loss_non_saturating if non_saturating else g_loss_minimax
    thetas, d_fake = [], []
    for _ in range(steps):
        for _ in range(d_steps):
            xr = mu + torch.randn(batch, generator=g, dtype=F64)
            xf = theta.detach() + torch.randn(batch, generator=g, dtype=F64)
            gw, gc = torch.autograd.grad(d_loss_bce(w * xr + c, w * xf + c), (w, c))
            with torch.no_grad():
                w -= lr_d * gw
                c -= lr_d * gc
        fake_logit = w.detach() * (theta + torch.randn(batch, generator=g, dtype=F64)) + c.detach()
        (gt,) = torch.autograd.grad(loss_g(fake_logit), theta)
        with torch.no_grad():
            theta -= lr_g * gt
        thetas.append(float(theta.detach()))
        d_fake.append(float(torch.sigmoid(fake_logit.detach()).mean()))
    return np.array(thetas), np.array(d_fake)


@experiment("generator-saturation", "minimax vs non-saturating generator loss: the gradients")
@one_thread()
def generator_saturation(seed: int = 0) -> Finding:
    """The two generator losses' slopes in the logit (8), autograd of genzoo's losses against
    the closed forms (float precision), and their ratio D/(1 - D). Then p_data = N(3, 1),
    G_theta(z) = theta + z against D* held fixed: the generator's gradient on 200,000 draws
    against 2 dJS/d theta (9) and d/d theta [KL(p_g || p_data) - 2 JS] (10) at theta = -3 (early:
    D(G(z)) ~ 0) and theta = 2 (late), each within 5 standard errors. A small GAN trained by
    alternating SGD from theta = -3 shows the minimax generator stalling."""
    g = torch.Generator().manual_seed(seed)
    mu = 3.0
    d = torch.logspace(-6, math.log10(1 - 1e-6), 200, dtype=F64)  # D(G(z)) in (0, 1)
    logit = torch.logit(d).requires_grad_(True)
    n = len(d)
    (grad_mm,) = torch.autograd.grad(g_loss_minimax(logit) * n, logit)  # genzoo's losses
    (grad_ns,) = torch.autograd.grad(g_loss_non_saturating(logit) * n, logit)  # are means
    closed_mm, closed_ns = generator_logit_gradient(d), generator_logit_gradient(d, True)

    def rel(u: Tensor, v: Tensor) -> float:
        return float(((u - v) / v).abs().max())

    # softplus' derivative is the sigmoid to float rounding; logit(d) and back cost a few ulps
    checks = [
        Check("autograd of genzoo's g_loss_minimax in the logit against -D (8), largest "
              "relative difference", rel(grad_mm, closed_mm), 0.0, 1e-10),
        Check("autograd of genzoo's g_loss_non_saturating against -(1 - D) (8), largest "
              "relative difference", rel(grad_ns, closed_ns), 0.0, 1e-10),
        Check("genzoo's g_loss_minimax against log(1 - D), largest difference",
              float((torch.stack([g_loss_minimax(v[None]) for v in logit.detach()])
                     - generator_loss(logit.detach())).abs().max()), 0.0, EXACT),
    ]  # fmt: skip
    numbers: dict = {
        "slope_ratio_minimax_over_ns_at_d": {f"{v:g}": v / (1 - v) for v in (1e-4, 1e-2, 0.5)},
    }

    # (9), (10) on a generator step
    n_draws = 200_000
    steps = {}
    for theta in (-3.0, 2.0):
        grads = generator_gradients(theta, mu, n_draws, g)
        jsp = js_slope(theta, mu)
        expect = {"minimax": 2 * jsp, "non-saturating": (theta - mu) - 2 * jsp}
        eq = {"minimax": "2 dJS/dθ (9)", "non-saturating": "d/dθ [KL(p_g || p_data) - 2 JS] (10)"}
        for name, (mean, se) in grads.items():
            # the central difference errs by h^2/6 |JS'''| < 1e-7, far below 5 se
            checks.append(Check(f"{name} generator's gradient at θ = {theta:g} against "
                                f"{eq[name]}", mean, expect[name], Z * se))  # fmt: skip
        with torch.no_grad():
            zs = torch.randn(n_draws, generator=g, dtype=F64)
            d_mean = float(torch.sigmoid(gaussian_d_star_logit(theta + zs, theta, mu)).mean())
        steps[f"{theta:g}"] = {"minimax": grads["minimax"][0], "non_saturating":
                               grads["non-saturating"][0], "two_djs_dtheta": 2 * jsp,
                               "mean_d_of_g_z": d_mean,
                               "ratio_minimax_over_ns": grads["minimax"][0]
                               / grads["non-saturating"][0]}  # fmt: skip
    numbers["generator_step_data_N(3,1)"] = steps

    # the gradient against the distance, from the closed forms (9), (10) by quadrature
    thetas = np.linspace(-7.0, 2.9, 45)
    jsps = np.array([js_slope(float(t), mu) for t in thetas])
    curve_mm = np.abs(2 * jsps)
    curve_ns = np.abs((thetas - mu) - 2 * jsps)

    runs = {ns: train_small_gan(ns, g, -3.0, mu) for ns in (False, True)}
    numbers["small_gan_300_steps_from_theta_-3"] = {
        "minimax_final_theta": float(runs[False][0][-1]),
        "non_saturating_final_theta": float(runs[True][0][-1]),
        "minimax_mean_d_of_g_z_first_50": float(runs[False][1][:50].mean()),
    }

    dn = d.numpy()
    it = np.arange(1, len(runs[False][0]) + 1)
    panels = [
        Panel("the two generator losses against D(G(z))",
              [Series("line", dn, np.log1p(-dn), "minimax: log(1 - D)", color="C3"),
               Series("line", dn, -np.log(dn), "non-saturating: -log D", color="C0")],
              "D(G(z))", "generator's loss (minimized)", logx=True),
        Panel("their slopes in the logit, |d loss / dl| (8)",
              [Series("line", dn, dn, "minimax: D", color="C3"),
               Series("line", dn, 1 - dn, "non-saturating: 1 - D", color="C0"),
               Series("scatter", dn[::10], grad_mm.abs().numpy()[::10], "autograd (genzoo)",
                      color="k"),
               Series("scatter", dn[::10], grad_ns.abs().numpy()[::10], None, color="k")],
              "D(G(z))", "|slope|", logx=True, logy=True),
        Panel("gradient in θ against D*, data N(3, 1)",
              [Series("line", thetas, curve_mm, "minimax: |2 dJS/dθ| (9)", color="C3"),
               Series("line", thetas, curve_ns, "non-saturating (10)", color="C0"),
               Series("scatter", [float(t) for t in steps],
                      [abs(v["minimax"]) for v in steps.values()], "autograd, 200,000 z",
                      color="k"),
               Series("scatter", [float(t) for t in steps],
                      [abs(v["non_saturating"]) for v in steps.values()], None, color="k")],
              "θ (data at 3)", "|gradient in θ|", logy=True),
        Panel("a small GAN from θ = -3 (alternating SGD)",
              [Series("line", it, runs[False][0], "minimax", color="C3"),
               Series("line", it, runs[True][0], "non-saturating", color="C0"),
               Series("hline", [0], [mu], "data mean", ":")], "step", "θ"),
    ]  # fmt: skip
    return Finding("generator-saturation", "Minimax against non-saturating generator loss",
                   numbers, checks, panels)  # fmt: skip
