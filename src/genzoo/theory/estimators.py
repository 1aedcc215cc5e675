"""Gradient estimators: the score function (REINFORCE) against the reparameterization gradient.

A VAE, a policy, a discrete latent: each needs the gradient of an expectation over a
distribution that depends on the parameters, grad_theta E_{q(z; theta)}[f(z)]. Two unbiased
Monte-Carlo estimators exist. Since grad q = q grad log q,

    grad_theta E_q[f(z)] = int f(z) grad q(z; theta) dz = E_q[ f(z) grad log q(z; theta) ],  (1)

the score-function (REINFORCE, likelihood-ratio) estimator: it needs f only at the draws, not
its derivative, and works for discrete z. If a draw is a differentiable function of theta and
of noise that does not depend on theta, z = g(eps, theta), the gradient moves inside:

    grad_theta E_q[f(z)] = E_eps[ f'(g(eps, theta)) dg(eps, theta)/d theta ],              (2)

the reparameterization (pathwise) estimator. For the Gaussian, z = mu + sigma eps with
eps ~ N(0, 1), so dz/d mu = 1 and dz/d sigma = eps, and the scores are

    d log q/d mu = (z - mu)/sigma^2 = eps/sigma,
    d log q/d sigma = -1/sigma + (z - mu)^2/sigma^3 = (eps^2 - 1)/sigma.                    (3)

Either estimator averages L independent one-draw estimates g_i; the mean is unbiased and, the
draws being independent, its variance is the one-draw variance divided by L:

    g_hat_L = (1/L) sum_i g_i,   E g_hat_L = grad,   Var g_hat_L = Var g_1 / L,            (4)

so on log-log axes the variance is a line of slope -1 and the estimators differ only by its
height, Var g_1. The ratio of two estimators' variances is the factor of extra draws one needs
to match the other, the same at every L.

A baseline. The score has mean zero, E_q[grad log q] = int grad q dz = grad int q dz
= grad 1 = 0, so subtracting any b that does not depend on the draw leaves the mean alone:

    E_q[(f(z) - b) grad log q] = grad_theta E_q[f(z)] - b * 0.                             (5)

The variance does change: per coordinate j, with s_j = d log q/d theta_j, Var[(f - b) s_j] =
E[(f - b)^2 s_j^2] - grad_j^2, a parabola in b with its minimum at the optimal constant
baseline

    b*_j = E[f s_j^2] / E[s_j^2].                                                          (6)

When f and s_j^2 are uncorrelated this is just E f: the baseline centres f. A b computed from
the same draw (or a batch mean that includes it) is not a constant: with the batch mean of L
draws, b = (1/L) sum_k f_k, the estimate (1/L) sum_i (f_i - b) s_i has mean (1 - 1/L) grad,
biased; leaving draw i out of its own baseline (the mean over k != i) keeps it unbiased.  (7)

A Gaussian objective with everything in closed form. Take f(z) = (z - a)^2 and write
d = mu - a, r = d/sigma. Then E f = d^2 + sigma^2, and the exact gradient is

    d/d mu E f = 2 d,    d/d sigma E f = 2 sigma.                                          (8)

Every one-draw estimator is a polynomial in eps, f(z) = d^2 + 2 d sigma eps + sigma^2 eps^2:

    reparameterization:  g_mu = 2 (d + sigma eps),      g_sigma = 2 (d + sigma eps) eps,
    score function:      g_mu = f eps/sigma,            g_sigma = f (eps^2 - 1)/sigma,      (9)

so their variances follow from the Gaussian moments E eps^(2k) = (2k - 1)!! (odd ones vanish):

    Var reparam:  mu: 4 sigma^2                    sigma: 4 sigma^2 (r^2 + 2)
    Var score:    mu: sigma^2 (r^4 + 14 r^2 + 15)  sigma: 2 sigma^2 (r^4 + 30 r^2 + 37)     (10)

and the optimal baselines (6) are b*_mu = d^2 + 3 sigma^2 and b*_sigma = d^2 + 5 sigma^2
(not E f = d^2 + sigma^2: f and eps^2 are correlated), with

    Var score + b*:  mu: sigma^2 (8 r^2 + 6)       sigma: 8 sigma^2 (5 r^2 + 3).           (11)

The variance ratios score/reparameterization depend on r only:

    mu:     (r^4 + 14 r^2 + 15)/4,                 with b*: (8 r^2 + 6)/4,
    sigma:  (r^4 + 30 r^2 + 37)/(2 (r^2 + 2)),     with b*: 2 (5 r^2 + 3)/(r^2 + 2).        (12)

Why the score function is noisy. It multiplies the value f(z), not its slope, by a random
score of mean zero. (i) A constant added to f does not change the gradient but adds
c^2 E[s^2] = c^2/sigma^2 to the variance: the estimator pays for the level of f, which is why
its variance grows as r^4 while the pathwise one, which sees only f', stays at 4 sigma^2 in mu.
The baseline removes the level and leaves r^2. (ii) The score is of size 1/sigma: as q
narrows the variance grows as 1/sigma^2 times f^2, while the pathwise estimate tends to f'(mu).
(iii) One scalar f per draw must inform every coordinate of theta: in D dimensions each
coordinate gets the full f^2 eps_j^2/sigma_j^2, the others' contribution to f being noise for
it. The baseline cures (i), not (ii) or (iii): with b* the score function is still 9.5 times
noisier in mu at r = 2.

The VAE's encoder. The ELBO's reconstruction term E_{q(z|x)}[log p(x|z)], q = N(mu, diag
sigma^2) from the encoder, is the case above with f(z) = log p(x|z) (the decoder's Bernoulli
log-likelihood, some -150 nats) and a k-dimensional z. Per draw z = mu + sigma eps:

    reparameterization:  grad_mu = grad_z log p(x|z),
    score function:      grad_mu = (log p(x|z) - b) eps / sigma       (per coordinate),    (13)

the first what a VAE backpropagates, the second what it would do without the trick. With
f ~ -150 nats and sigma ~ 0.15, (i) and (ii) predict a one-draw variance near
f^2/sigma^2 ~ 10^6 per coordinate for the score function. The baseline b_j (6) is estimated
from pilot draws independent of those it is used with, so (5) keeps it unbiased.

There the exact gradient has no closed form, but with k = 2 latent dimensions Gauss-Hermite
quadrature computes it: E_q[h(z)] ~ sum_ij w_i w_j h(mu + sigma (x_i, x_j)), with nodes x_i and
weights w_i of the rule for the weight exp(-x^2/2) (normalized to sum to 1), exact for
polynomials of degree up to 2n - 1 in each coordinate. Applied to grad_z f, to f eps/sigma
(the two must agree: that is (1) and (2) for the Gaussian, an integration by parts), and to the
squares of the estimators (13), it gives the exact mean gradient and the exact one-draw
variances. A decoder with ReLU units is piecewise linear in z and the rule converges slowly
across its kinks; the experiment's VAE uses SiLU units, smooth, for which the rule converges
to float precision in a few dozen nodes (the experiment checks this, n against 2n).       (14)
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import Check, Finding, Panel, Series, experiment, one_thread

Tensor = torch.Tensor
F64 = torch.float64
Z = 5.0  # tolerances: five Monte-Carlo standard errors
TRAIN_STEPS = 600  # the VAE of vae-encoder-gradients: Adam steps of 128 digits
KINDS = ("reparameterization", "score function", "score + baseline")
COLORS = {"reparameterization": "C0", "score function": "C3", "score + baseline": "C2"}


# ---------------------------------------------------------------- Monte-Carlo summaries
def mean_and_se(x: np.ndarray) -> tuple[float, float]:
    """The sample mean of one-draw estimates x (n,) and its standard error sd / sqrt(n)."""
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x)))


def variance_and_se(x: np.ndarray) -> tuple[float, float]:
    """(4): the variance of estimates x (n, ...) summed over the trailing coordinates (the trace
    of their covariance), and its standard error: the sample standard deviation of the squared
    deviations |x_i - x_bar|^2 over sqrt(n)."""
    dev = x - x.mean(0)
    sq = (dev**2).reshape(len(x), -1).sum(1)
    n = len(x)
    return float(sq.sum() / (n - 1)), float(sq.std(ddof=1) / math.sqrt(n))


def fit_slope(ls: np.ndarray, var: np.ndarray, se: np.ndarray) -> tuple[float, float]:
    """(4): the slope of log Var against log L by weighted least squares, each point weighted by
    1 / sd(log Var)^2 with sd(log Var) = se/Var (the delta method), and the slope's standard
    error 1 / sqrt(sum w (x - x_bar_w)^2), valid for independent points."""
    x, y = np.log(ls), np.log(var)
    w = (var / se) ** 2
    xm = (w * x).sum() / w.sum()
    ym = (w * y).sum() / w.sum()
    sxx = (w * (x - xm) ** 2).sum()
    return float((w * (x - xm) * (y - ym)).sum() / sxx), float(1 / math.sqrt(sxx))


# ---------------------------------------------------------------- the Gaussian objective
def gaussian_score(eps: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """(3): d log q/d mu = eps/sigma and d log q/d sigma = (eps^2 - 1)/sigma at z = mu + sigma
    eps."""
    return eps / sigma, (eps**2 - 1) / sigma


def square_objective(z: np.ndarray, a: float) -> np.ndarray:
    """f(z) = (z - a)^2."""
    return (z - a) ** 2


def exact_gradient(mu: float, sigma: float, a: float) -> tuple[float, float]:
    """(8): d/d mu and d/d sigma of E f = (mu - a)^2 + sigma^2."""
    return 2 * (mu - a), 2 * sigma


def optimal_baseline(mu: float, sigma: float, a: float) -> tuple[float, float]:
    """(6), (11): b*_j = E[f s_j^2]/E[s_j^2]: d^2 + 3 sigma^2 for mu, d^2 + 5 sigma^2 for
    sigma."""
    d = mu - a
    return d**2 + 3 * sigma**2, d**2 + 5 * sigma**2


def reparam_gradients(
    eps: np.ndarray, mu: float, sigma: float, a: float
) -> tuple[np.ndarray, np.ndarray]:
    """(2), (9): f'(z) dz/d mu = 2 (z - a) and f'(z) dz/d sigma = 2 (z - a) eps, per draw."""
    z = mu + sigma * eps
    slope = 2 * (z - a)
    return slope, slope * eps


def score_gradients(
    eps: np.ndarray,
    mu: float,
    sigma: float,
    a: float,
    baseline: tuple[float, float] = (0.0, 0.0),
) -> tuple[np.ndarray, np.ndarray]:
    """(1), (5), (9): (f(z) - b_j) d log q/d theta_j per draw, for theta = (mu, sigma)."""
    f = square_objective(mu + sigma * eps, a)
    s_mu, s_sigma = gaussian_score(eps, sigma)
    return (f - baseline[0]) * s_mu, (f - baseline[1]) * s_sigma


def batch_baseline_gradient(
    eps: np.ndarray, mu: float, sigma: float, a: float, leave_one_out: bool
) -> np.ndarray:
    """(7): the L-draw score-function estimate of d/d mu with the batch's own mean of f as the
    baseline, for each row of eps (R, L): with the draw itself in its baseline (biased, mean
    (1 - 1/L) grad), or with it left out (unbiased)."""
    f = square_objective(mu + sigma * eps, a)
    s_mu, _ = gaussian_score(eps, sigma)
    L = eps.shape[1]
    total = f.sum(1, keepdims=True)
    b = (total - f) / (L - 1) if leave_one_out else total / L
    return ((f - b) * s_mu).mean(1)


def estimator_polynomials(
    mu: float, sigma: float, a: float, baseline: tuple[float, float] = (0.0, 0.0)
) -> dict[str, tuple[np.polynomial.Polynomial, np.polynomial.Polynomial]]:
    """(9): each one-draw estimator of (d/d mu, d/d sigma) as a polynomial in eps; the score
    function's with the constant baseline `baseline` (b_mu, b_sigma) as "score + baseline"."""
    P = np.polynomial.Polynomial
    d = mu - a
    f = P([d**2, 2 * d * sigma, sigma**2])
    eps = P([0.0, 1.0])
    slope = 2 * P([d, sigma])
    return {
        "reparameterization": (slope, slope * eps),
        "score function": (f * eps / sigma, f * (eps**2 - 1) / sigma),
        "score + baseline": (
            (f - baseline[0]) * eps / sigma,
            (f - baseline[1]) * (eps**2 - 1) / sigma,
        ),
    }


def normal_moment(poly: np.polynomial.Polynomial) -> float:
    """E P(eps) for eps ~ N(0, 1), from E eps^(2k) = (2k - 1)!! and the odd moments 0."""
    return float(sum(c * math.prod(range(1, m, 2)) for m, c in enumerate(poly.coef) if m % 2 == 0))


def polynomial_variance(poly: np.polynomial.Polynomial) -> float:
    """(10), (11): Var P(eps) = E P^2 - (E P)^2, exactly."""
    return normal_moment(poly**2) - normal_moment(poly) ** 2


def variance_ratios(r: float | np.ndarray) -> dict[str, dict[str, float | np.ndarray]]:
    """(12): Var score / Var reparameterization for d/d mu and d/d sigma, without and with the
    optimal baseline, as functions of r = (mu - a)/sigma."""
    r2 = np.asarray(r, dtype=float) ** 2
    return {
        "score function": {
            "mu": (r2**2 + 14 * r2 + 15) / 4,
            "sigma": (r2**2 + 30 * r2 + 37) / (2 * (r2 + 2)),
        },
        "score + baseline": {"mu": (8 * r2 + 6) / 4, "sigma": 2 * (5 * r2 + 3) / (r2 + 2)},
    }


def one_draw_estimates(
    eps: np.ndarray, mu: float, sigma: float, a: float
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The three estimators of (d/d mu, d/d sigma) on the same draws eps, the baseline the
    optimal constant (6)."""
    return {
        "reparameterization": reparam_gradients(eps, mu, sigma, a),
        "score function": score_gradients(eps, mu, sigma, a),
        "score + baseline": score_gradients(eps, mu, sigma, a, optimal_baseline(mu, sigma, a)),
    }


@experiment("gradient-variance", "score function with and without a baseline vs reparameterization")
def gradient_variance(seed: int = 0) -> Finding:
    """For f(z) = (z - a)^2, z ~ N(mu, sigma^2) with mu = 1, sigma = 0.5, a = 0 (r = 2), draw
    1,000,000 one-draw estimates of the gradient (8) in mu and sigma by reparameterization (2),
    the score function (1), and the score function with the optimal baseline (6). Checks:
    each estimator's mean against (8) and its one-draw variance against (10)-(11) (5 se); then,
    for L = 1 .. 1000 on a log grid, 4,000 independent L-draw estimates per L, whose variance
    must be Var g_1 / L (4) at every L (5 se) and fall along a line of slope -1 (5 se of the
    fitted slope); and the batch-mean baseline (7), biased by the factor 1 - 1/L unless each
    draw is left out of its own baseline."""
    mu, sigma, a = 1.0, 0.5, 0.0
    r = (mu - a) / sigma
    rng = np.random.default_rng(seed)
    n, reps = 1_000_000, 4000
    ls = np.array([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000])
    grad = exact_gradient(mu, sigma, a)
    base = optimal_baseline(mu, sigma, a)
    polys = estimator_polynomials(mu, sigma, a, base)
    exact_var = {k: tuple(polynomial_variance(p) for p in polys[k]) for k in KINDS}
    params = ("mu", "sigma")
    pool = one_draw_estimates(rng.standard_normal(n), mu, sigma, a)
    checks: list[Check] = []
    for kind in KINDS:
        for i, p in enumerate(params):
            m, se = mean_and_se(pool[kind][i])
            checks.append(Check(f"{kind}: mean d/d{p} E f against {grad[i]:g}", m, grad[i], Z * se))
    for kind in KINDS:
        for i, p in enumerate(params):
            v, se = variance_and_se(pool[kind][i])
            checks.append(
                Check(
                    f"{kind}: one-draw Var d/d{p} against (10)-(11)", v, exact_var[kind][i], Z * se
                )
            )
    # the L-draw estimates: fresh draws for every L, so the points of the fit are independent
    var_l = {k: np.zeros((len(ls), 2)) for k in KINDS}
    se_l = {k: np.zeros((len(ls), 2)) for k in KINDS}
    for j, L in enumerate(ls):
        est = one_draw_estimates(rng.standard_normal((reps, int(L))), mu, sigma, a)
        for kind in KINDS:
            for i in range(2):
                var_l[kind][j, i], se_l[kind][j, i] = variance_and_se(est[kind][i].mean(1))
    slopes = {}
    for kind in KINDS:
        expected = np.array(exact_var[kind])[None, :] / ls[:, None]
        worst = float((np.abs(var_l[kind] - expected) / se_l[kind]).max())
        checks.append(
            Check(
                f"{kind}: largest |Var of the L-draw mean - Var g_1 / L| / se, all L, mu and sigma",
                worst,
                0.0,
                Z,
            )
        )
        slopes[kind] = fit_slope(ls, var_l[kind][:, 0], se_l[kind][:, 0])
        checks.append(
            Check(
                f"{kind}: slope of log Var d/dmu against log L",
                slopes[kind][0],
                -1.0,
                Z * slopes[kind][1],
            )
        )
    # (7): the batch mean as a baseline, with and without the draw itself, at L = 4
    L_b = 4
    eps_b = rng.standard_normal((250_000, L_b))
    batch = {
        "self-including": batch_baseline_gradient(eps_b, mu, sigma, a, leave_one_out=False),
        "leave-one-out": batch_baseline_gradient(eps_b, mu, sigma, a, leave_one_out=True),
    }
    m, se = mean_and_se(batch["self-including"])
    checks.append(
        Check(
            f"batch-mean baseline with the draw itself, L = {L_b}: mean d/dmu against "
            f"(1 - 1/L) {grad[0]:g}",
            m,
            (1 - 1 / L_b) * grad[0],
            Z * se,
        )
    )
    m, se = mean_and_se(batch["leave-one-out"])
    checks.append(
        Check(
            f"leave-one-out batch baseline, L = {L_b}: mean d/dmu against {grad[0]:g}",
            m,
            grad[0],
            Z * se,
        )
    )
    # the ratio against r = d/sigma: measured on 200,000 draws at a few r, beside (12)
    r_grid = [0.0, 0.5, 1.0, 2.0, 3.0, 4.0]
    measured_ratio: dict[str, dict[str, list[float]]] = {
        k: {"mu": [], "sigma": []} for k in KINDS[1:]
    }
    for rr in r_grid:
        est = one_draw_estimates(rng.standard_normal(200_000), a + rr * sigma, sigma, a)
        for i, p in enumerate(params):
            rep = float(est[KINDS[0]][i].var())
            for kind in KINDS[1:]:
                measured_ratio[kind][p].append(float(est[kind][i].var()) / rep)
    j1, j100 = int(np.flatnonzero(ls == 1)[0]), int(np.flatnonzero(ls == 100)[0])

    def ratio(kind: str, j: int) -> dict[str, float]:
        return {p: float(var_l[kind][j, i] / var_l[KINDS[0]][j, i]) for i, p in enumerate(params)}

    exact_ratio = variance_ratios(r)
    numbers = {
        "mu": mu,
        "sigma": sigma,
        "a": a,
        "r": r,
        "draws": n,
        "replicates_per_L": reps,
        "L": ls.tolist(),
        "exact_gradient": dict(zip(params, grad, strict=True)),
        "optimal_baseline": dict(zip(params, base, strict=True)),
        "mean": {k: {p: float(pool[k][i].mean()) for i, p in enumerate(params)} for k in KINDS},
        "one_draw_variance": {
            k: {p: float(pool[k][i].var()) for i, p in enumerate(params)} for k in KINDS
        },
        "one_draw_variance_exact": {k: dict(zip(params, exact_var[k], strict=True)) for k in KINDS},
        "variance_ratio_score_over_reparam": {
            "L=1": ratio(KINDS[1], j1),
            "L=100": ratio(KINDS[1], j100),
            "exact": {p: float(exact_ratio[KINDS[1]][p]) for p in params},
        },
        "variance_ratio_score_baseline_over_reparam": {
            "L=1": ratio(KINDS[2], j1),
            "L=100": ratio(KINDS[2], j100),
            "exact": {p: float(exact_ratio[KINDS[2]][p]) for p in params},
        },
        "slope_log_variance_vs_log_L": {k: slopes[k][0] for k in KINDS},
        "batch_baseline_L4_mean": {k: float(v.mean()) for k, v in batch.items()},
        "ratio_vs_r": {"r": r_grid, "measured": measured_ratio},
    }
    # the figure
    var_series: list[Series] = []
    fine_l = np.geomspace(1, 1000, 50)
    for kind in KINDS:
        c = COLORS[kind]
        var_series += [
            Series("line", ls, var_l[kind][:, 0], f"{kind} (measured)", "o", color=c),
            Series("line", fine_l, exact_var[kind][0] / fine_l, None, "-", color=c),
        ]
    var_series.append(
        Series("line", [1.0], [exact_var[KINDS[0]][0]], "lines: exact Var g_1 / L", "-", color="k")
    )
    # the histograms show the window exact ± 12, where all but the score function's tails lie
    lo, hi = grad[0] - 12, grad[0] + 12
    hist_series: list[Series] = []
    for kind in KINDS:
        draws = pool[kind][0][:200_000]
        inside = draws[(draws > lo) & (draws < hi)]
        share = 1 - len(inside) / len(draws)
        hist_series.append(
            Series(
                "hist", inside, label=f"{kind} ({share:.1%} outside)", color=COLORS[kind], bins=96
            )
        )
    hist_series.append(Series("vline", [grad[0]], label=f"exact {grad[0]:g}", style="--"))
    rs = np.linspace(0, 4.5, 100)
    curves = variance_ratios(rs)
    ratio_series: list[Series] = []
    for kind in KINDS[1:]:
        c = COLORS[kind]
        for p, style, mark in (("mu", "-", "o"), ("sigma", "--", "s")):
            ratio_series += [
                Series("line", rs, curves[kind][p], f"{kind}, d/d{p} (12)", style, color=c),
                Series("line", r_grid, measured_ratio[kind][p], None, mark, color=c),
            ]
    ratio_series.append(Series("hline", [0], [1.0], "equal variance", ":", color="0.4"))
    panels = [
        Panel(
            f"variance of the L-draw estimate of d/dμ (r = {r:g})",
            var_series,
            "L (draws per estimate)",
            "variance",
            logx=True,
            logy=True,
        ),
        Panel(
            "one-draw estimates of d/dμ E(z - a)²",
            hist_series,
            "one-draw estimate",
            "density",
        ),
        Panel(
            "Var score / Var reparam. against r = (μ - a)/σ",
            ratio_series,
            "r (points: 200,000 draws)",
            "variance ratio",
            logy=True,
        ),
    ]
    return Finding(
        "gradient-variance",
        "Score function vs reparameterization: the variance of the gradient",
        numbers,
        checks,
        panels,
    )


# ---------------------------------------------------------------- the VAE's encoder
def train_vae(seed: int, steps: int = TRAIN_STEPS):
    """A VAE with a 2-D latent on the bundled mnist5k digits: one hidden layer of 128 SiLU
    units each way (14), `steps` Adam steps of 128 images. Returns the model (in eval mode)
    and the dataset."""
    from ..data import load_dataset
    from ..models import build_model
    from ..train import TrainConfig, Trainer

    data = load_dataset("mnist5k")
    config = {"hidden": [128], "latent_dim": 2, "activation": "silu"}
    model = build_model("vae", data.info(), config, seed=seed)
    quiet = {"log_every": 0, "eval_every": 0, "sample_every": 0, "checkpoint_every": 0}
    cfg = TrainConfig(
        steps=steps,
        batch_size=128,
        seed=seed,
        device="cpu",
        tensorboard=False,
        final_eval=False,
        **quiet,
    )
    Trainer(model, data, cfg, console=False).fit()
    return model.eval(), data


def decoder_log_lik(model, x: Tensor, z: Tensor) -> Tensor:
    """f(z) = log p(x|z) for each draw and image: z (N, B, k), x (B, *shape) -> (N, B)."""
    N, B, k = z.shape
    logits, _ = model.decoder_params(z.reshape(N * B, k))
    return model.log_px(x, (logits.reshape(N, *x.shape), None))


def vae_reparam_gradient(model, x: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
    """(13): f(z) and grad_z f(z) = d f(mu + sigma eps)/d mu for each draw, (N, B), (N, B, k)."""
    z = z.detach().requires_grad_(True)
    with torch.enable_grad():
        f = decoder_log_lik(model, x, z)
        (g,) = torch.autograd.grad(f.sum(), z)
    return f.detach(), g


def vae_score_gradient(
    f: Tensor, eps: Tensor, sigma: Tensor, baseline: Tensor | float = 0.0
) -> Tensor:
    """(3), (13): (f(z) - b) d log q/d mu = (f - b) eps/sigma per draw and coordinate:
    f (N, B), eps (N, B, k), sigma (B, k), b (B, k) or a number -> (N, B, k)."""
    return (f[..., None] - baseline) * eps / sigma


def pilot_baseline(f: Tensor, eps: Tensor) -> Tensor:
    """(6): b_j = E[f eps_j^2]/E[eps_j^2] (s_j = eps_j/sigma_j; sigma_j cancels), estimated
    from pilot draws f (M, B), eps (M, B, k) -> (B, k)."""
    w = eps**2
    return (f[..., None] * w).sum(0) / w.sum(0)


def gauss_hermite(n: int, k: int) -> tuple[Tensor, Tensor]:
    """(14): the product Gauss-Hermite rule for N(0, I_k): nodes (n^k, k) and weights (n^k,)
    summing to 1, exact for polynomials of degree up to 2n - 1 in each coordinate."""
    x, w = np.polynomial.hermite_e.hermegauss(n)  # the weight exp(-x^2/2)
    w = w / w.sum()
    grids = np.meshgrid(*([x] * k), indexing="ij")
    nodes = np.stack([g.reshape(-1) for g in grids], -1)
    weights = np.prod(np.stack(np.meshgrid(*([w] * k), indexing="ij"), -1).reshape(-1, k), -1)
    return torch.tensor(nodes, dtype=F64), torch.tensor(weights, dtype=F64)


def quadrature_moments(
    model, x: Tensor, mu: Tensor, sigma: Tensor, baseline: Tensor, n: int
) -> dict[str, Tensor]:
    """(14): by the n-point product rule, per image (B) and coordinate (B, k): E f, the exact
    gradient E[grad_z f] and its score form E[f eps]/sigma, and the one-draw variances of the
    three estimators (13), E[g_j^2] - grad_j^2 (the baseline `baseline`, (B, k))."""
    nodes, w = gauss_hermite(n, mu.shape[1])
    eps = nodes[:, None, :].expand(-1, len(x), -1)  # (n^k, B, k)
    f, g = vae_reparam_gradient(model, x, mu + sigma * eps)
    wq = w[:, None, None]
    grad = (wq * g).sum(0)
    score = vae_score_gradient(f, eps, sigma)
    with_b = vae_score_gradient(f, eps, sigma, baseline)
    return {
        "E f": (w[:, None] * f).sum(0),
        "gradient": grad,
        "gradient, score form": (wq * score).sum(0),
        "reparameterization": (wq * g**2).sum(0) - grad**2,
        "score function": (wq * score**2).sum(0) - grad**2,
        "score + baseline": (wq * with_b**2).sum(0) - grad**2,
    }


@experiment("vae-encoder-gradients", "the three estimators on a trained VAE's encoder output")
def vae_encoder_gradients(seed: int = 0) -> Finding:
    """Train a VAE with a 2-D latent on mnist5k (600 steps, a few seconds), take four test
    digits and their encoder outputs (mu, sigma), and estimate the gradient of the ELBO's
    reconstruction term E_q[log p(x|z)] with respect to mu by reparameterization and by the
    score function without and with a baseline (13) (the baseline from 1,000 independent pilot
    draws), on the same 10,000 draws per image. The L-draw estimates are the means of
    consecutive blocks of L draws. Checks: Gauss-Hermite quadrature (14) converged (n = 20
    against 40) and the score identity E[f eps]/sigma = E[grad f] in quadrature; each
    estimator's mean against the quadrature gradient and each score estimator against the
    reparameterization gradient on the same draws (5 se of the paired difference); the one-draw
    variances against quadrature; and the variance of the L-draw mean against Var g_1 / L at
    every L (5 se)."""
    with one_thread():
        return encoder_gradients(seed)


def encoder_gradients(seed: int) -> Finding:
    """The body of `vae-encoder-gradients` (see there)."""
    torch_seed = torch.Generator().manual_seed(seed)
    model, data = train_vae(seed)
    model.double()
    images = [0, 1, 2, 3]
    x = torch.as_tensor(model.transform.forward(data.x_test[images]), dtype=F64)
    with torch.no_grad():
        mu, logvar = model.posterior(x)
        sigma = torch.exp(0.5 * logvar)
        B, k = mu.shape
        # pilot draws for the baseline, independent of the draws it is used with
        pilot_eps = torch.randn(1000, B, k, generator=torch_seed, dtype=F64)
        baseline = pilot_baseline(decoder_log_lik(model, x, mu + sigma * pilot_eps), pilot_eps)
    quad = quadrature_moments(model, x, mu, sigma, baseline, 20)
    quad2 = quadrature_moments(model, x, mu, sigma, baseline, 40)
    # the Monte-Carlo draws, in chunks (each draw decodes B images of 784 pixels)
    n, chunk = 10_000, 2000
    parts: dict[str, list[Tensor]] = {kind: [] for kind in KINDS}
    for _ in range(n // chunk):
        eps = torch.randn(chunk, B, k, generator=torch_seed, dtype=F64)
        f, g = vae_reparam_gradient(model, x, mu + sigma * eps)
        parts[KINDS[0]].append(g)
        parts[KINDS[1]].append(vae_score_gradient(f, eps, sigma))
        parts[KINDS[2]].append(vae_score_gradient(f, eps, sigma, baseline))
    est = {kind: torch.cat(v).numpy() for kind, v in parts.items()}  # (n, B, k)
    exact = quad2["gradient"].numpy()
    exact_var = {kind: float(quad2[kind].sum()) for kind in KINDS}
    checks: list[Check] = []
    # the reference: the rule at n = 20 and n = 40 must agree far below the smallest standard
    # error it is compared with (a thousandth of it), so that it counts as exact
    smallest_se = float(min(est[kind].std(0).min() for kind in KINDS)) / math.sqrt(n)
    quad_diff = max(
        float((quad[key] - quad2[key]).abs().max()) for key in ("gradient", "gradient, score form")
    )
    checks.append(
        Check(
            "Gauss-Hermite n = 20 against n = 40: largest |difference| of the gradient",
            quad_diff,
            0.0,
            1e-3 * smallest_se,
        )
    )
    # (1) = (2) for the Gaussian, an integration by parts, computed by the same rule: equal to
    # float precision relative to the size of f eps/sigma summed over the nodes
    scale = float((quad2["E f"].abs()[:, None] / sigma).max())
    checks.append(
        Check(
            "quadrature: largest |E[f ε]/σ - E[∇f]| (the score identity)",
            float((quad2["gradient, score form"] - quad2["gradient"]).abs().max()),
            0.0,
            1e-9 * scale,
        )
    )
    z_exact, z_pair = {}, {}
    for kind in KINDS:
        m = est[kind].mean(0)
        se = est[kind].std(0, ddof=1) / math.sqrt(n)
        z_exact[kind] = np.abs(m - exact) / se
        checks.append(
            Check(
                f"{kind}: largest |mean - quadrature gradient| / se over images and dims",
                float(z_exact[kind].max()),
                0.0,
                Z,
            )
        )
    for kind in KINDS[1:]:
        diff = est[kind] - est[KINDS[0]]  # paired: the same draws
        se = diff.std(0, ddof=1) / math.sqrt(n)
        z_pair[kind] = np.abs(diff.mean(0)) / se
        checks.append(
            Check(
                f"{kind} against reparameterization on the same draws: largest |difference| / se",
                float(z_pair[kind].max()),
                0.0,
                Z,
            )
        )
    ls = np.array([1, 2, 5, 10, 20, 50, 100])
    var_l = {kind: np.zeros(len(ls)) for kind in KINDS}
    se_l = {kind: np.zeros(len(ls)) for kind in KINDS}
    for kind in KINDS:
        for j, L in enumerate(ls):
            blocks = est[kind].reshape(n // int(L), int(L), B, k).mean(1)
            var_l[kind][j], se_l[kind][j] = variance_and_se(blocks)
        checks.append(
            Check(
                f"{kind}: one-draw Var (trace) against quadrature",
                var_l[kind][0],
                exact_var[kind],
                Z * se_l[kind][0],
            )
        )
        worst = float((np.abs(var_l[kind] - exact_var[kind] / ls) / se_l[kind]).max())
        checks.append(
            Check(
                f"{kind}: largest |Var of the L-draw mean - Var g_1 / L| / se over L", worst, 0.0, Z
            )
        )
    j1, j100 = int(np.flatnonzero(ls == 1)[0]), int(np.flatnonzero(ls == 100)[0])
    kl = 0.5 * (mu**2 + sigma**2 - 1 - 2 * torch.log(sigma)).sum(1)
    slopes = {kind: fit_slope(ls, var_l[kind], se_l[kind])[0] for kind in KINDS}
    numbers = {
        "images": images,
        "latent_dim": k,
        "train_steps": TRAIN_STEPS,
        "draws_per_image": n,
        "mu": mu.tolist(),
        "sigma": sigma.tolist(),
        "reconstruction_term_nats": quad2["E f"].tolist(),
        "elbo_nats": (quad2["E f"] - kl).tolist(),
        "baseline": baseline.tolist(),
        "exact_gradient": exact.tolist(),
        "mean": {kind: est[kind].mean(0).tolist() for kind in KINDS},
        "one_draw_variance_trace": {kind: float(var_l[kind][j1]) for kind in KINDS},
        "one_draw_variance_trace_exact": exact_var,
        "variance_ratio_score_over_reparam": {
            "L=1": float(var_l[KINDS[1]][j1] / var_l[KINDS[0]][j1]),
            "L=100": float(var_l[KINDS[1]][j100] / var_l[KINDS[0]][j100]),
            "exact": exact_var[KINDS[1]] / exact_var[KINDS[0]],
        },
        "variance_ratio_score_baseline_over_reparam": {
            "L=1": float(var_l[KINDS[2]][j1] / var_l[KINDS[0]][j1]),
            "L=100": float(var_l[KINDS[2]][j100] / var_l[KINDS[0]][j100]),
            "exact": exact_var[KINDS[2]] / exact_var[KINDS[0]],
        },
        "slope_log_variance_vs_log_L": slopes,
        "largest_mean_error_in_se": {kind: float(z_exact[kind].max()) for kind in KINDS},
    }
    # the figure
    fine_l = np.geomspace(1, float(ls[-1]), 50)
    var_series: list[Series] = []
    for kind in KINDS:
        c = COLORS[kind]
        var_series += [
            Series("line", ls, var_l[kind], f"{kind} (measured)", "o", color=c),
            Series("line", fine_l, exact_var[kind] / fine_l, None, "-", color=c),
        ]
    var_series.append(
        Series(
            "line", [1.0], [exact_var[KINDS[0]]], "lines: quadrature Var g_1 / L", "-", color="k"
        )
    )
    coords = np.arange(B * k)
    z_series: list[Series] = []
    offsets = {KINDS[0]: -0.2, KINDS[1]: 0.0, KINDS[2]: 0.2}
    for kind in KINDS:
        signed = (est[kind].mean(0) - exact).reshape(-1) / (
            est[kind].std(0, ddof=1).reshape(-1) / math.sqrt(n)
        )
        z_series.append(
            Series("line", coords + offsets[kind], signed, kind, "o", color=COLORS[kind])
        )
    z_series += [
        Series("hline", [0], [Z], "±5 se", "--", color="0.4"),
        Series("hline", [0], [-Z], None, "--", color="0.4"),
    ]
    err_series: list[Series] = []
    for kind in KINDS:
        err = np.abs(est[kind] - exact[None]).reshape(-1)
        err_series.append(
            Series(
                "hist",
                np.log10(np.maximum(err, 1e-12))[:40_000],
                label=kind,
                color=COLORS[kind],
                bins=80,
            )
        )
    panels = [
        Panel(
            "variance of the L-draw estimate of ∇_μ",
            var_series,
            "L (draws per estimate)",
            "variance (trace, 4 digits × 2 dims)",
            logx=True,
            logy=True,
        ),
        Panel(
            f"mean of {n:,} draws - exact, in se",
            z_series,
            "coordinate (digit × latent dim)",
            "(mean - exact) / se",
        ),
        Panel(
            "one-draw error, log10 |ĝ - ∇|",
            err_series,
            "log10 |one-draw estimate - exact| (per coordinate)",
            "density",
        ),
    ]
    return Finding(
        "vae-encoder-gradients",
        "Score function vs reparameterization on a trained VAE's encoder",
        numbers,
        checks,
        panels,
    )
