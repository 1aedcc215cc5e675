"""Divergences between distributions: KL both ways, Jensen-Shannon, total variation and the
Wasserstein-1 distance, on discrete distributions, on densities sampled on a grid and from
samples, each against its closed form; and the sparse autoencoder's KL penalty, whose two
arguments are easily swapped.

Kullback-Leibler. For distributions p, q (probability vectors, or densities with the sum
replaced by an integral),

    KL(p || q) = sum_x p(x) log(p(x) / q(x)),   0 log 0 = 0,   = +inf if q = 0 < p,     (1)

is >= 0 (Jensen: -KL = E_p log(q/p) <= log E_p(q/p) <= log 1) and 0 only for p = q. It is not
symmetric: KL(p || q) weighs log(p/q) by p, so it punishes q for missing mass where p has some,
while KL(q || p) punishes q for putting mass where p has little. Between Gaussians,
E_p[log p] = -log s1 - 1/2 - (1/2) log 2 pi and E_p[(x - m2)^2] = s1^2 + (m1 - m2)^2 give

    KL(N(m1, s1^2) || N(m2, s2^2)) = log(s2 / s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2.  (2)

Jensen-Shannon. With the mixture m = (p + q)/2,

    JS(p, q) = (1/2) KL(p || m) + (1/2) KL(q || m) = H(m) - (H(p) + H(q)) / 2,          (3)

H the (differential) entropy. It is symmetric and finite, and since p / m = 2p / (p + q) <= 2,
KL(p || m) <= log 2: so 0 <= JS <= log 2, with log 2 exactly when p and q have disjoint
supports (then KL(p || m) = sum p log 2). A Gaussian's entropy is (1/2) log(2 pi e s^2), so
(3) gives JS of two Gaussians with the one integral H(m).

Total variation.

    TV(p, q) = (1/2) sum_x |p(x) - q(x)| = sup_A |P(A) - Q(A)| in [0, 1],               (4)

the sup attained at A = {p > q}. For N(m1, s^2) and N(m2, s^2), m1 < m2, A is
{x < (m1 + m2)/2}, so with Delta = m2 - m1 and Phi the standard normal CDF

    TV = Phi(Delta / 2s) - Phi(-Delta / 2s) = 2 Phi(|Delta| / 2s) - 1.                  (5)

Pinsker's inequality ties (1) and (4): TV(p, q) <= sqrt(KL(p || q) / 2), both ways.

Wasserstein-1. W1(P, Q) = inf over couplings of E|X - Y|. On the line the best coupling pairs
equal quantiles (the monotone coupling), and

    W1 = int_0^1 |F_P^-1(u) - F_Q^-1(u)| du = int |F_P(t) - F_Q(t)| dt.                  (6)

For two samples of the same size n that is mean_i |x_(i) - y_(i)| over the sorted values; for
any sizes it is int |F_n(t) - G_m(t)| dt over the empirical CDFs, a finite sum between the
merged sorted points (both exact; no optimization). For Gaussians F^-1(u) = m + s Phi^-1(u), so
W1 = E|Delta_m + Delta_s Z| with Z ~ N(0, 1), a folded normal mean:

    W1 = |Delta_s| sqrt(2/pi) exp(-Delta_m^2 / (2 Delta_s^2))
         + Delta_m (1 - 2 Phi(-Delta_m / |Delta_s|)),                                  (7)

Delta_m = m2 - m1, Delta_s = s2 - s1; for equal variances W1 = |Delta_m|. Unlike KL, JS and TV,
which saturate (JS at log 2, TV at 1) once the supports barely overlap, W1 keeps growing with
the distance: the reason the WGAN's critic estimates it.

The error of W1 from samples. W1 of the empirical distributions is, to first order, the
L-statistic int s(u) (F_n^-1(u) - G_m^-1(u)) du with s(u) = sign(F^-1(u) - G^-1(u)); its
influence function psi(x) = int_c^x s(F(t)) dt makes it a sample mean to first order, so

    Var W1_n ~ Var_P psi_P(X) / n + Var_Q psi_Q(Y) / m,                                 (8)

where psi_P(x) = s0 x - 2 s0 (x - t*)_+ when s changes sign once, at t* (s0 its sign below
t*), and psi_P(x) = s0 x when it does not. For equal variances s never changes sign and (8) is
the standard error of the difference of the two means.

The sparse autoencoder's penalty. Each code unit j should be active a fraction rho of the time;
its mean activation over a batch is rho^_j, and Ng's notes penalize sum_j KL(rho || rho^_j),
the KL (1) between Bernoulli(rho), the target, and Bernoulli(rho^_j):

    KL(rho || rho^) = rho log(rho / rho^) + (1 - rho) log((1 - rho) / (1 - rho^)),
    d/d rho^ KL(rho || rho^) = (rho^ - rho) / (rho^ (1 - rho^)).                         (9)

The reversed penalty KL(rho^ || rho) = rho^ log(rho^ / rho) + (1 - rho^) log((1 - rho^) /
(1 - rho)) has d/d rho^ = logit(rho^) - logit(rho). Both vanish at rho^ = rho, with the same
curvature there, 1 / (rho (1 - rho)) (the Fisher information of the Bernoulli): near the
target the two agree to second order. Far from it they do not. (9) goes to infinity at both
ends, its slope -rho / rho^ near a dead unit (rho^ -> 0). The reversed one is bounded,

    KL(rho^ || rho) -> -log(1 - rho) as rho^ -> 0,   -> -log rho as rho^ -> 1,          (10)

and its slope grows only like log rho^: at rho = 0.05 a dead unit costs it at most 0.051
nats, and a unit at rho^ = 1e-3 is pushed back to life by the slope -4.0 where (9) pushes with
-49 (at 1e-4: -6.3 against -499). Between rho and 1 - rho the reversed penalty is the larger
one; the two are equal at rho^ = 1 - rho.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import special

from ..models.autoencoders.common import kl_sparsity
from ..models.diffusion.process import normal_kl
from . import Check, Finding, Panel, Series, experiment

F64 = torch.float64
Z = 5.0  # Monte-Carlo tolerances: five standard errors
LOG2 = math.log(2)
# float64: unit roundoff 1.1e-16; a sum of ~10^4 terms of size <= 1 rounds to below 1e-12
EXACT = 1e-12


# ---------------------------------------------------------------- the API
def _pair(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}")
    if (p < 0).any() or (q < 0).any():
        raise ValueError("probabilities and densities are >= 0")
    return p, q


def kl(p: np.ndarray, q: np.ndarray, dx: float | None = None) -> float:
    """(1): KL(p || q) in nats. Without dx, p and q are probability vectors; with dx, densities
    on a uniform grid of step dx (the sum times dx: the trapezoid rule where the densities have
    vanished at the ends). 0 log 0 = 0; +inf where q = 0 < p (also where q underflows to 0
    in a tail that p still covers: choose the grid so that neither does). Call kl(q, p) for the
    other way."""
    p, q = _pair(p, q)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0)
    total = float(terms.sum())
    return total * dx if dx is not None else total


def js(p: np.ndarray, q: np.ndarray, dx: float | None = None) -> float:
    """(3): JS(p, q) = (KL(p || m) + KL(q || m)) / 2, m = (p + q)/2; in [0, log 2]."""
    p, q = _pair(p, q)
    m = 0.5 * (p + q)
    return 0.5 * (kl(p, m, dx) + kl(q, m, dx))


def total_variation(p: np.ndarray, q: np.ndarray, dx: float | None = None) -> float:
    """(4): TV(p, q) = (1/2) sum |p - q| (times dx for densities on a grid); in [0, 1]."""
    p, q = _pair(p, q)
    total = 0.5 * float(np.abs(p - q).sum())
    return total * dx if dx is not None else total


def wasserstein1(x: np.ndarray, y: np.ndarray) -> float:
    """(6): W1 between the empirical distributions of samples x and y (any sizes), exactly:
    int |F_n(t) - G_m(t)| dt, a sum over the gaps between the merged sorted points."""
    x = np.sort(np.asarray(x, dtype=np.float64).ravel())
    y = np.sort(np.asarray(y, dtype=np.float64).ravel())
    t = np.sort(np.concatenate([x, y]))
    f = np.searchsorted(x, t[:-1], side="right") / len(x)  # F_n on [t_k, t_{k+1})
    g = np.searchsorted(y, t[:-1], side="right") / len(y)
    return float((np.abs(f - g) * np.diff(t)).sum())


def wasserstein1_sorted(x: np.ndarray, y: np.ndarray) -> float:
    """(6) through the quantile coupling: mean_i |x_(i) - y_(i)| for samples of equal size."""
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if len(x) != len(y):
        raise ValueError("the sorted coupling needs samples of one size; use wasserstein1")
    return float(np.abs(np.sort(x) - np.sort(y)).mean())


def wasserstein1_cdf(f: np.ndarray, g: np.ndarray, dx: float) -> float:
    """(6): int |F(t) - G(t)| dt from two CDFs on a uniform grid of step dx."""
    f, g = _pair(f, g)
    return float(np.abs(f - g).sum()) * dx


def wasserstein1_density(p: np.ndarray, q: np.ndarray, dx: float) -> float:
    """(6) from densities on a uniform grid: their CDFs by the cumulative trapezoid rule."""
    p, q = _pair(p, q)

    def cdf(d: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(0.5 * (d[1:] + d[:-1]) * dx)])

    return wasserstein1_cdf(cdf(p), cdf(q), dx)


# ---------------------------------------------------------------- Gaussian closed forms
def kl_gaussian(m1: float, s1: float, m2: float, s2: float) -> float:
    """(2): KL(N(m1, s1^2) || N(m2, s2^2)), standard deviations s1, s2."""
    return math.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5


def gaussian_entropy(s: float) -> float:
    """H(N(m, s^2)) = (1/2) log(2 pi e s^2)."""
    return 0.5 * math.log(2 * math.pi * math.e * s**2)


def tv_gaussian_equal_variance(delta: float, s: float) -> float:
    """(5): TV(N(m, s^2), N(m + delta, s^2)) = 2 Phi(|delta| / 2s) - 1."""
    return float(2 * special.ndtr(abs(delta) / (2 * s)) - 1)


def w1_gaussian(m1: float, s1: float, m2: float, s2: float) -> float:
    """(7): W1(N(m1, s1^2), N(m2, s2^2)) = E|dm + ds Z|, a folded normal mean."""
    dm, ds = m2 - m1, abs(s2 - s1)
    if ds == 0:
        return float(abs(dm))
    return float(ds * math.sqrt(2 / math.pi) * math.exp(-(dm**2) / (2 * ds**2))
                 + dm * (1 - 2 * special.ndtr(-dm / ds)))  # fmt: skip


def entropy(p: np.ndarray, dx: float) -> float:
    """-int p log p on a uniform grid of step dx (0 log 0 = 0)."""
    p = np.asarray(p, dtype=np.float64)
    return -float(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum()) * dx


def gaussian_density(x: np.ndarray, m: float, s: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))


def w1_standard_error(x: np.ndarray, y: np.ndarray) -> float:
    """(8): the standard error of W1 from samples x ~ P, y ~ Q, from the samples: the sign s of
    the quantile difference on a common grid of levels, its one change (if any) at t*, and the
    variance of the influence functions psi_P, psi_Q."""
    x, y = np.sort(np.asarray(x, dtype=np.float64)), np.sort(np.asarray(y, dtype=np.float64))
    u = (np.arange(2000) + 0.5) / 2000
    diff = np.quantile(x, u) - np.quantile(y, u)
    sign = np.sign(diff)
    s0 = float(sign[0]) or 1.0
    changes = np.flatnonzero(sign[1:] != sign[:-1])
    var = 0.0
    for sample, own in ((x, 1.0), (y, -1.0)):
        psi = own * s0 * sample
        if len(changes):  # one crossing at level u*: t* is that quantile of this sample
            t_star = np.quantile(sample, u[changes[0] + 1])
            psi = psi - 2 * own * s0 * np.clip(sample - t_star, 0, None)
        var += float(psi.var()) / len(sample)
    return math.sqrt(var)


# ---------------------------------------------------------------- the sparsity penalty
def sparsity_kl(rho: float, rho_hat: torch.Tensor, reversed_args: bool = False) -> torch.Tensor:
    """(9): KL(rho || rho^) per unit, the sparse autoencoder's penalty. `reversed_args`: the
    slip KL(rho^ || rho) (10)."""
    rho_hat = torch.as_tensor(rho_hat, dtype=F64)
    r = torch.as_tensor(rho, dtype=F64)
    if reversed_args:
        r, rho_hat = rho_hat, r
    return r * torch.log(r / rho_hat) + (1 - r) * torch.log((1 - r) / (1 - rho_hat))


def sparsity_kl_grad(rho: float, rho_hat: torch.Tensor, reversed_args: bool = False
                     ) -> torch.Tensor:  # fmt: skip
    """d/d rho^ of (9): (rho^ - rho) / (rho^ (1 - rho^)); reversed (10): logit rho^ - logit rho."""
    rho_hat = torch.as_tensor(rho_hat, dtype=F64)
    if reversed_args:
        return torch.logit(rho_hat) - math.log(rho / (1 - rho))
    return (rho_hat - rho) / (rho_hat * (1 - rho_hat))


def genzoo_sparsity(rho: float, rho_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """genzoo's kl_sparsity per unit, and its gradient in rho^: each unit's codes are the two
    values rho^ +- min(rho^, 1 - rho^)/2 (mean rho^), so d/d rho^ is the sum of the two codes'
    gradients."""
    values, grads = [], []
    for r in rho_hat:
        half = 0.5 * torch.minimum(r, 1 - r)
        h = torch.stack([r - half, r + half])[:, None].clone().requires_grad_(True)
        v = kl_sparsity(h, rho)
        (g,) = torch.autograd.grad(v, h)
        values.append(v.detach())
        grads.append(g.sum())
    return torch.stack(values), torch.stack(grads)


# ---------------------------------------------------------------- the experiment
def _random_pmfs(rng: np.random.Generator, k: int, n: int) -> np.ndarray:
    """n probability vectors over k outcomes, Dirichlet(1/2): many near-empty cells."""
    return rng.dirichlet(np.full(k, 0.5), size=n)


@experiment("divergences", "KL both ways, JS, TV and W1 against closed forms; the sparse-AE KL")
def divergences(seed: int = 0) -> Finding:
    """On a grid of step 0.002 over [-14, 16]: KL both ways between Gaussians against (2) and
    genzoo's normal_kl; JS against the entropy form (3) and its bounds [0, log 2]; TV of
    equal-variance Gaussians against (5); W1 from the CDFs against (7), equal and unequal
    variances. From 50,000 samples each: W1 by merging the CDFs against the sorted coupling
    (float precision) and against (7) (5 standard errors (8)). On 2,000 random discrete pairs:
    the bounds of JS and TV and Pinsker's inequality. The sparse autoencoder's penalty: genzoo's
    kl_sparsity against KL(rho || rho^) (9) and autograd against its gradient; the reversed
    KL(rho^ || rho) (10) and how far it is from (9), at rho = 0.05."""
    rng = np.random.default_rng(seed)
    dx = 0.002
    x = np.arange(-14.0, 16.0 + dx / 2, dx)
    checks: list[Check] = []
    numbers: dict = {}

    # (2): KL both ways against the closed form and genzoo's normal_kl. The grid integrand is
    # smooth and has vanished (below 1e-40) at both ends, where the trapezoid rule is exact to
    # float rounding; 1e-9 bounds the rounding of 15,000 terms with room.
    quad_tol = 1e-9
    pairs = [(0.0, 1.0, 1.0, 1.0), (0.0, 1.0, 0.5, 2.0), (0.0, 0.5, 2.0, 1.5)]
    kl_rows = []
    for m1, s1, m2, s2 in pairs:
        p, q = gaussian_density(x, m1, s1), gaussian_density(x, m2, s2)
        pq, qp = kl(p, q, dx), kl(q, p, dx)
        exact_pq, exact_qp = kl_gaussian(m1, s1, m2, s2), kl_gaussian(m2, s2, m1, s1)
        label = f"N({m1:g}, {s1:g}²) vs N({m2:g}, {s2:g}²)"
        checks.append(Check(f"KL(p || q) on the grid, {label}, against (2)", pq, exact_pq,
                            quad_tol))  # fmt: skip
        checks.append(Check(f"KL(q || p) on the grid, {label}, against (2)", qp, exact_qp,
                            quad_tol))  # fmt: skip
        kl_rows.append({"p": [m1, s1], "q": [m2, s2], "kl_pq": pq, "kl_qp": qp,
                        "closed_pq": exact_pq, "closed_qp": exact_qp})  # fmt: skip

    def t(v: float) -> torch.Tensor:
        return torch.tensor(v, dtype=F64)

    genzoo_kl = [float(normal_kl(t(m1), t(2 * math.log(s1)), t(m2), t(2 * math.log(s2))))
                 for m1, s1, m2, s2 in pairs]  # fmt: skip
    checks.append(Check("genzoo's normal_kl against (2), largest difference",
                        max(abs(g - r["closed_pq"]) for g, r in zip(genzoo_kl, kl_rows,
                                                                     strict=True)),
                        0.0, EXACT))  # fmt: skip
    numbers["kl_gaussians"] = kl_rows

    # (3), (5), (7) along a shift: p = N(0, 1), q = N(delta, 1)
    deltas = np.linspace(0.0, 8.0, 33)
    p0 = gaussian_density(x, 0.0, 1.0)
    along = {"JS": [], "TV": [], "W1": [], "KL": []}
    h_gauss = gaussian_entropy(1.0)
    worst_js_entropy = worst_tv = worst_w1 = 0.0
    for d in deltas:
        q = gaussian_density(x, d, 1.0)
        j = js(p0, q, dx)
        h_m = entropy(0.5 * (p0 + q), dx)
        worst_js_entropy = max(worst_js_entropy, abs(j - (h_m - h_gauss)))
        tv = total_variation(p0, q, dx)
        worst_tv = max(worst_tv, abs(tv - tv_gaussian_equal_variance(d, 1.0)))
        w1 = wasserstein1_cdf(special.ndtr(x), special.ndtr(x - d), dx)
        worst_w1 = max(worst_w1, abs(w1 - w1_gaussian(0.0, 1.0, d, 1.0)))
        along["JS"].append(j)
        along["TV"].append(tv)
        along["W1"].append(w1)
        along["KL"].append(kl(p0, q, dx))
    checks.append(Check("JS (3) against H(m) - (H(p) + H(q))/2, largest difference over the shift",
                        worst_js_entropy, 0.0, quad_tol))  # fmt: skip
    checks.append(Check("largest JS along the shift, at most log 2 (3)",
                        max(max(along["JS"]) - LOG2, 0.0), 0.0, EXACT))  # fmt: skip
    # |p - q| has a kink where p = q, at c = Delta/2: there the trapezoid rule errs by at most
    # J dx^2 / 8, J = the jump in slope = 2 |p'(c) - q'(c)| = 4 c phi(c) <= 4 phi(1) < 1
    tv_tol = 1.0 * dx**2 / 8 + quad_tol
    checks.append(Check("TV of N(0, 1), N(Δ, 1) on the grid against 2Φ(|Δ|/2) - 1 (5), largest "
                        "difference", worst_tv, 0.0, tv_tol))  # fmt: skip
    checks.append(Check("W1 of N(0, 1), N(Δ, 1) from the CDFs against |Δ| (7), largest difference",
                        worst_w1, 0.0, quad_tol))  # fmt: skip
    # unequal variances: F - G crosses zero once, a kink of slope jump |p - q| there <= 1
    w1_unequal = wasserstein1_cdf(special.ndtr(x), special.ndtr((x - 0.5) / 2.0), dx)
    w1_unequal_density = wasserstein1_density(p0, gaussian_density(x, 0.5, 2.0), dx)
    w1_exact_unequal = w1_gaussian(0.0, 1.0, 0.5, 2.0)
    checks.append(Check("W1 of N(0, 1), N(0.5, 2²) from the CDFs against (7)", w1_unequal,
                        w1_exact_unequal, 1.0 * dx**2 / 8 + quad_tol))  # fmt: skip
    # from densities: the cumulative trapezoid rule errs at t by about dx^2/12 |p'(t)| (Euler-
    # Maclaurin), so int |F~ - F| <= dx^2/12 int |p'| = dx^2/12 * 2 max p, for p and for q
    # (max 0.4 and 0.2); plus the kink
    dens_tol = dx**2 / 12 * 2 * (0.4 + 0.2) + dx**2 / 8 + quad_tol
    checks.append(Check("W1 of the same pair from the densities (cumulative trapezoid) against (7)",
                        w1_unequal_density, w1_exact_unequal, dens_tol))  # fmt: skip
    numbers["along_shift"] = {
        "delta": [float(d) for d in deltas[::8]],
        **{k: [float(v) for v in vals[::8]] for k, vals in along.items()},
    }
    numbers["w1_unequal_variance"] = {"cdf": w1_unequal, "closed_form": w1_exact_unequal}

    # (6), (7), (8) from samples
    n = 50_000
    sample_rows = {}
    for name, (m2, s2) in {"equal variance": (2.0, 1.0), "unequal variance": (0.5, 2.0)}.items():
        xs = rng.normal(0.0, 1.0, n)
        ys = rng.normal(m2, s2, n)
        merged, coupled = wasserstein1(xs, ys), wasserstein1_sorted(xs, ys)
        se = w1_standard_error(xs, ys)
        exact = w1_gaussian(0.0, 1.0, m2, s2)
        # two exact algorithms: sums of 10^5 terms of size <= 10 round to below 1e-11
        checks.append(Check(f"W1 from samples ({name}): merged CDFs against the sorted coupling",
                            merged, coupled, 1e-11))  # fmt: skip
        checks.append(Check(f"W1 from 50,000 samples of N(0, 1) and N({m2:g}, {s2:g}²) against "
                            f"(7)", merged, exact, Z * se))  # fmt: skip
        sample_rows[name] = {"samples": merged, "closed_form": exact, "standard_error": se}
    numbers["w1_from_samples"] = sample_rows
    xs_eq, ys_eq = rng.normal(0.0, 1.0, 2000), rng.normal(2.0, 1.0, 2000)  # for the figure

    # bounds on random discrete distributions; Pinsker
    ps, qs = _random_pmfs(rng, 6, 2000), _random_pmfs(rng, 6, 2000)
    js_all = np.array([js(a, b) for a, b in zip(ps, qs, strict=True)])
    tv_all = np.array([total_variation(a, b) for a, b in zip(ps, qs, strict=True)])
    kl_min = np.array([min(kl(a, b), kl(b, a)) for a, b in zip(ps, qs, strict=True)])
    checks.append(
        Check(
            "2,000 random pairs: largest JS above log 2 or below 0",
            float(max(js_all.max() - LOG2, -js_all.min(), 0.0)),
            0.0,
            EXACT,
        )
    )
    checks.append(Check("2,000 random pairs: largest TV - sqrt(min(KL both ways) / 2) above 0 "
                        "(Pinsker)", float(max((tv_all - np.sqrt(kl_min / 2)).max(), 0.0)), 0.0,
                        EXACT))  # fmt: skip
    disjoint_p, disjoint_q = np.array([0.5, 0.5, 0.0, 0.0]), np.array([0.0, 0.0, 0.3, 0.7])
    checks.append(Check("JS of disjoint supports against log 2", js(disjoint_p, disjoint_q), LOG2,
                        EXACT))  # fmt: skip
    numbers["random_pairs"] = {"largest_js": float(js_all.max()), "largest_tv": float(tv_all.max()),
                               "largest_tv_over_pinsker": float((tv_all / np.sqrt(kl_min / 2))
                                                                .max())}  # fmt: skip
    numbers["disjoint"] = {"js": js(disjoint_p, disjoint_q), "tv": total_variation(disjoint_p,
                           disjoint_q), "kl": kl(disjoint_p, disjoint_q)}  # fmt: skip

    # (9), (10): the sparse autoencoder's penalty at rho = 0.05
    rho = 0.05
    grid = torch.sigmoid(torch.linspace(-9.0, 9.0, 120, dtype=F64))  # rho^ from 1e-4 to 1 - 1e-4
    right = sparsity_kl(rho, grid)
    wrong = sparsity_kl(rho, grid, reversed_args=True)
    g_value, g_grad = genzoo_sparsity(rho, grid)
    # genzoo's penalty is (9) computed by another expression of the same float64 operations
    checks.append(Check("genzoo's kl_sparsity against KL(ρ || ρ^) (9), largest difference",
                        float((g_value - right).abs().max()), 0.0, EXACT))  # fmt: skip
    # the codes' mean is rho^, so the two codes' gradients add up to d/d rho^ exactly; both sides
    # are sums of terms of size rho/rho^ + (1 - rho)/(1 - rho^), rounded to ~1e-16 of that
    scale = rho / grid + (1 - rho) / (1 - grid)
    checks.append(
        Check(
            "autograd of genzoo's kl_sparsity against d/dρ^ (9), largest difference "
            "relative to its terms",
            float(((g_grad - sparsity_kl_grad(rho, grid)) / scale).abs().max()),
            0.0,
            EXACT,
        )
    )
    grads = {}
    for rev in (False, True):
        r = grid.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(sparsity_kl(rho, r, rev).sum(), r)
        grads[rev] = g
        err = float(
            (
                (g - sparsity_kl_grad(rho, grid, rev)).abs()
                / sparsity_kl_grad(rho, grid, rev).abs().clamp_min(1e-300)
            ).max()
        )
        name = "KL(ρ^ || ρ) (10)" if rev else "KL(ρ || ρ^) (9)"
        checks.append(Check(f"autograd of {name} against its closed-form gradient, largest "
                            "relative difference", err, 0.0, 1e-10))  # fmt: skip
    # both have the curvature 1/(rho (1 - rho)) at rho^ = rho
    curv = {}
    for rev in (False, True):
        r = torch.tensor(rho, dtype=F64, requires_grad=True)
        (g,) = torch.autograd.grad(sparsity_kl(rho, r, rev), r, create_graph=True)
        (h,) = torch.autograd.grad(g, r)
        curv[rev] = float(h)
        name = "KL(ρ^ || ρ)" if rev else "KL(ρ || ρ^)"
        # autograd's second derivative: a few float64 operations on terms of size 1/rho
        checks.append(Check(f"curvature of {name} at ρ^ = ρ against 1/(ρ(1 - ρ))", float(h),
                            1 / (rho * (1 - rho)), 1e-10))  # fmt: skip
    at = [0.0001, 0.001, 0.01, 0.2, 0.5, 0.9, 0.999]
    at_t = torch.tensor(at, dtype=F64)
    numbers["sparsity_rho_0.05"] = {
        "rho_hat": at,
        "kl_rho_rhohat": [float(v) for v in sparsity_kl(rho, at_t)],
        "kl_rhohat_rho_reversed": [float(v) for v in sparsity_kl(rho, at_t, True)],
        "grad_kl_rho_rhohat": [float(v) for v in sparsity_kl_grad(rho, at_t)],
        "grad_reversed": [float(v) for v in sparsity_kl_grad(rho, at_t, True)],
        "reversed_limit_dead_unit": -math.log(1 - rho),
        "reversed_limit_always_on": -math.log(rho),
        "curvature_at_rho": curv[False],
        "genzoo_kl_sparsity_minus_reversed_largest": float((g_value - wrong).abs().max()),
    }

    panels = _panels(deltas, along, xs_eq, ys_eq, grid, right, wrong, g_value, grads, rho)
    return Finding("divergences", "KL, JS, TV and W1 against their closed forms", numbers,
                   checks, panels)  # fmt: skip


def _panels(deltas, along, xs, ys, grid, right, wrong, g_value, grads, rho) -> list[Panel]:
    d = deltas[1:]  # Δ > 0: a log scale
    along = {k: v[1:] for k, v in along.items()}
    kl_exact = d**2 / 2
    tv_exact = np.array([tv_gaussian_equal_variance(v, 1.0) for v in d])
    xs, ys = np.sort(xs), np.sort(ys)
    t = np.linspace(-4, 6, 400)
    fx = np.searchsorted(xs, t, side="right") / len(xs)
    fy = np.searchsorted(ys, t, side="right") / len(ys)
    rh = grid.numpy()
    return [
        Panel("N(0, 1) against N(Δ, 1): markers on the grid, lines closed form",
              [Series("line", d, kl_exact, "KL = Δ²/2 (2)", color="C0"),
               Series("scatter", d, along["KL"], color="C0"),
               Series("line", d, d, "W1 = |Δ| (7)", color="C2"),
               Series("scatter", d, along["W1"], color="C2"),
               Series("line", d, tv_exact, "TV = 2Φ(Δ/2) - 1 (5)", color="C3"),
               Series("scatter", d, along["TV"], color="C3"),
               Series("line", d, along["JS"], "JS (3), grid", "o-", color="C1"),
               Series("hline", [0], [LOG2], "log 2", ":", color="C1"),
               Series("hline", [0], [1.0], "1", ":", color="C3")],
              "Δ", "divergence (nats) / distance", logy=True),
        Panel("W1 = ∫|F - G| dt from 2,000 samples each",
              [Series("band", t, np.minimum(fx, fy), "area = W1 (6)", upper=np.maximum(fx, fy),
                      color="C2"),
               Series("line", t, fx, "F_n, N(0, 1)", color="C0"),
               Series("line", t, fy, "G_n, N(2, 1)", color="C3")],
              "t", "empirical CDF"),
        Panel(f"sparsity penalty at ρ = {rho}: KL(ρ || ρ^) and the slip",
              [Series("line", rh, right.numpy(), "KL(ρ || ρ^) (9), correct", color="C0"),
               Series("scatter", rh[::4], g_value.numpy()[::4], "genzoo kl_sparsity",
                      color="k"),
               Series("line", rh, wrong.numpy(), "KL(ρ^ || ρ) (10), reversed", "--", color="C3"),
               Series("hline", [0], [-math.log(1 - rho)], "-log(1 - ρ)", ":", color="C3"),
               Series("hline", [0], [-math.log(rho)], "-log ρ", "-.", color="C3"),
               Series("vline", [rho], None, "ρ", ":")],
              "ρ^ (mean activation of a unit)", "penalty (nats)", logx=True, logy=True),
        Panel("the size of their gradients, |d/dρ^|",
              [Series("line", rh, grads[False].abs().numpy(), "|ρ^ - ρ|/(ρ^(1 - ρ^)), correct",
                      color="C0"),
               Series("line", rh, grads[True].abs().numpy(), "|logit ρ^ - logit ρ|, reversed",
                      "--", color="C3"),
               Series("vline", [rho], None, "ρ", ":")],
              "ρ^ (mean activation of a unit)", "|d penalty / dρ^|", logx=True, logy=True),
    ]  # fmt: skip
