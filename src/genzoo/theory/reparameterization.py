"""Reparameterization beyond the Gaussian: which distributions give a pathwise gradient, and how.

We want the gradient of an expectation, grad_theta E_{q(z; theta)}[f(z)]. If a draw can be
written as a differentiable function of theta and of noise that does not depend on theta,
z = g(eps, theta) with eps ~ s(eps), the gradient moves inside the expectation:

    grad_theta E_q[f(z)] = E_s[ f'(g(eps, theta)) d g(eps, theta)/d theta ]       (1)

(the pathwise, or reparameterization, gradient). Without such a g there is always the
score-function (REINFORCE) estimator, which needs only log q and f, not f':

    grad_theta E_q[f(z)] = E_q[ f(z) d log q(z; theta)/d theta ]                   (2)

Both are unbiased; (2) is the reference where no closed form exists, and usually the noisier.
The Gaussian's g is location-scale, z = mu + sigma eps. Three other ways to build g:

Inverse CDF. If F(z; theta) is the CDF, z = F^-1(u; theta) with u ~ U(0, 1) has law q.
Differentiating F(z(theta); theta) = u (u fixed) gives the slope without inverting F:

    q(z; theta) dz/d theta + dF(z; theta)/d theta = 0,
    dz/d theta = -(dF(z; theta)/d theta) / q(z; theta).                              (3)

The exponential, F(z) = 1 - exp(-lambda z), inverts in closed form:

    z = -log(1 - u) / lambda,   dz/d lambda = -z / lambda,
    d log q / d lambda = 1/lambda - z.                                               (4)

With E z^m = m! / lambda^m, f(z) = z^2 has E f = 2/lambda^2 and gradient -4/lambda^3, and
f(z) = sin z has E f = lambda/(1 + lambda^2) (a Laplace transform) and gradient
(1 - lambda^2)/(1 + lambda^2)^2. For f = z^2 the per-draw estimators are polynomials in z,
pathwise -2 z^2/lambda and score z^2/lambda - z^3, so their variances are exact:
(96 - 16)/lambda^6 = 80/lambda^6 and (24 - 240 + 720 - 16)/lambda^6 = 488/lambda^6, a ratio
of 6.1 at every lambda.                                                               (5)

Implicit reparameterization (Figurnov et al. 2018): (3) needs F and q at the sample, not
F^-1, so z may come from any exact sampler; only dF/d theta must be computed. For the Gamma
with shape alpha and rate beta, F(z) = P(alpha, beta z), the regularized incomplete gamma
function, and

    dz/d alpha = -(dP(alpha, beta z)/d alpha) / q(z; alpha, beta).                   (6)

torch.distributions.Gamma.rsample draws z and backpropagates exactly (6), with dP/d alpha
from series and rational approximations (relative error of order 1e-4 to 1e-3).

Composition. A sum of k independent Exp(beta) draws is Gamma(k, beta):

    z = sum_{i<=k} -log(1 - u_i) / beta,   dz/d beta = -z / beta.                    (7)

The shape k is an integer, so (7) gives a gradient in beta only, never in the shape.

Transformation with rejection (Marsaglia & Tsang 2000). For alpha >= 1 draw eps ~ N(0, 1) and
u ~ U(0, 1), set d = alpha - 1/3, c = 1/sqrt(9 d) and

    z = h(eps, alpha) / beta,   h(eps, alpha) = d (1 + c eps)^3,                     (8)

accepting when 1 + c eps > 0 and log u < eps^2/2 + d - d v + d log v, v = (1 + c eps)^3.
The accepted z is exactly Gamma(alpha, beta), but the accepted eps is no longer N(0, 1): its
law depends on alpha. Since h(., alpha) maps it onto Gamma(alpha, 1), change of variables gives
its density, pi(eps; alpha) = q(h(eps, alpha); alpha, 1) dh/d eps, with dh/d eps =
sqrt(d) (1 + c eps)^2. Differentiating E_pi[f(h(eps, alpha)/beta)] (Naesseth et al. 2017):

    grad = E_pi[ f'(z) dz/d alpha ]  +  E_pi[ f(z) d log pi(eps; alpha)/d alpha ],   (9)
           (g_rep: (1) through h)       (g_cor: (2) on the accepted noise)

Dropping g_cor, i.e. treating the accepted eps as if it were N(0, 1), biases the gradient;
the bias is largest where the acceptance rate is lowest (alpha near 1). For alpha < 1 the
shape-augmentation trick draws z' ~ Gamma(alpha + 1, beta) by (8) and u' ~ U(0, 1):

    z = z' u'^(1/alpha)   is Gamma(alpha, beta),                                     (10)

and (9) applies with pi(eps; alpha + 1) (u' does not depend on alpha).
The two objectives with closed forms: E z = alpha/beta (d/d alpha: 1/beta) and
E log z = psi(alpha) - log beta (d/d alpha: the trigamma psi'(alpha)); the score is
d log q/d alpha = log beta + log z - psi(alpha).                                      (11)

The Kumaraswamy distribution (a Beta look-alike on (0, 1), Nalisnick & Smyth 2017), with
density a b z^(a-1) (1 - z^a)^(b-1) and CDF 1 - (1 - z^a)^b, inverts in closed form:

    z = (1 - (1 - u)^(1/b))^(1/a),   E z^m = b B(1 + m/a, b),                        (12)

so its mean b B(1 + 1/a, b) has exact derivatives in a and b, while the Beta has no closed-form
inverse CDF. Its score: d log q/d a = 1/a + log z - (b - 1) z^a log z/(1 - z^a) and
d log q/d b = 1/b + log(1 - z^a).

Discrete variables have no pathwise gradient: z = onehot(k) is piecewise constant in theta.
The Gumbel-max trick still writes a categorical draw as a function of noise: with
p = softmax(theta) and G_k = -log(-log U_k) iid Gumbel,

    argmax_k (theta_k + G_k) ~ Categorical(p).                                       (13)

Gumbel-softmax (Jang et al. 2017), or Concrete (Maddison et al. 2017), replaces argmax by a
softmax at temperature tau, y = softmax((theta + G)/tau), a point of the simplex that is
differentiable in theta. For f on the categories, E f = sum_k p_k f_k =: F(theta), with
gradient grad F = p (f - p.f); the relaxed objective f.y has the per-draw gradient

    g_tau = (1/tau) y (f - f.y),                                                     (14)

unbiased for grad_theta E[f.y_tau], not for grad F. How far apart? softmax(x/tau)_k is the
probability that argmax(x + tau G') = k for a second Gumbel vector G'. So E[y_tau] is the
law of argmax(theta + G + tau G'), which, given G', is Gumbel-max at theta + tau G':

    E[y_tau] = E_G'[ softmax(theta + tau G') ],   E[g_tau] = E_G'[ grad F(theta + tau G') ]. (15)

The relaxed gradient is the exact gradient smoothed by Gumbel noise of scale tau. Its bias
E_G'[grad F(theta + tau G')] - grad F(theta) tends to -grad F as tau -> infinity (the
smoothed softmax flattens: E[g_tau] ~ (f - mean f)/(K tau)). As tau -> 0, expand to second
order around theta: softmax ignores the shift E G' = gamma (1, ..., 1), so the first-order
term has mean zero, and the second derivatives of an exponential family's mean are its
cumulants: the second derivative of p_k along eta = G' - gamma is the third cumulant of
(1{k}, eta, eta) under p, at most Var_p(eta) <= sum_j (eta_j - mean eta)^2, whose mean is
(K - 1) pi^2/6. The gradient's is a fourth cumulant, at most 4 range(f) Var_p(eta). So

    |E[y_tau] - p|_k <= tau^2 (K - 1) pi^2/12,
    |E[g_tau] - grad F|_k <= tau^2 range(f) (K - 1) pi^2/3,                           (16)

O(tau^2), while the variance of g_tau grows like 1/tau. The score-function estimator for the
categorical, f_k (e_k - p) with k ~ p, is unbiased at every tau, with
E|g|^2 = sum_k p_k f_k^2 |e_k - p|^2.                                                  (17)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from scipy import integrate, special, stats

from . import Check, Finding, Panel, Series, experiment

Tensor = torch.Tensor
F64 = torch.float64
Z = 5.0  # tolerances: five Monte-Carlo standard errors
DRAWS = 200_000  # Monte-Carlo draws per estimate (the tolerances follow from it)


def mean_and_se(x: Tensor) -> tuple[float, float]:
    """The sample mean of per-draw estimates x (n, ...) and its standard error sd / sqrt(n)."""
    return float(x.mean()), float(x.std() / math.sqrt(x.shape[0]))


def per_draw_gradients(
    f: Callable[[Tensor], Tensor],
    sample: Callable[[Tensor, Tensor], Tensor],
    log_prob: Callable[[Tensor, Tensor], Tensor],
    theta: float,
    noise: Tensor,
) -> tuple[Tensor, Tensor]:
    """(1) and (2) for every draw, both (n,): the pathwise gradient d f(sample(noise, theta))/d
    theta, and the score-function gradient f(z) d log_prob(z, theta)/d theta at z held fixed.
    theta is copied once per draw so that autograd returns each draw's own derivative."""
    t = torch.full(noise.shape[:1], float(theta), dtype=F64, requires_grad=True)
    z = sample(noise, t)
    (pathwise,) = torch.autograd.grad(f(z).sum(), t)
    z = z.detach()
    (score,) = torch.autograd.grad(log_prob(z, t).sum(), t)
    return pathwise, f(z) * score


# ---------------------------------------------------------------- the exponential: inverse CDF
def exponential_icdf(u: Tensor, lam: Tensor | float) -> Tensor:
    """(4): z = F^-1(u) = -log(1 - u) / lambda."""
    return -torch.log1p(-u) / lam


def exponential_log_prob(z: Tensor, lam: Tensor | float) -> Tensor:
    """log q(z; lambda) = log lambda - lambda z; its lambda-derivative is the score 1/lambda - z."""
    lam = torch.as_tensor(lam, dtype=F64)
    return torch.log(lam) - lam * z


def exponential_objectives(lam: float) -> dict[str, tuple[float, float]]:
    """(4)-(5): E f and d E f / d lambda for f = z^2 and f = sin z, z ~ Exp(lambda)."""
    return {
        "z^2": (2 / lam**2, -4 / lam**3),
        "sin z": (lam / (1 + lam**2), (1 - lam**2) / (1 + lam**2) ** 2),
    }


def exponential_moment(poly: np.polynomial.Polynomial, lam: float) -> float:
    """E P(z) for a polynomial P and z ~ Exp(lambda), from E z^m = m! / lambda^m."""
    return float(sum(c * math.factorial(m) / lam**m for m, c in enumerate(poly.coef)))


def square_estimators(lam: float) -> dict[str, np.polynomial.Polynomial]:
    """(5): the per-draw estimators of d E[z^2] / d lambda as polynomials in z: pathwise
    f'(z) dz/d lambda = 2z (-z/lambda), score z^2 (1/lambda - z)."""
    P = np.polynomial.Polynomial
    return {"pathwise": P([0, 0, -2 / lam]), "score function": P([0, 0, 1 / lam, -1])}


def estimator_variance(poly: np.polynomial.Polynomial, lam: float) -> float:
    """(5): Var of the per-draw estimator, E P^2 - (E P)^2, exactly."""
    return exponential_moment(poly**2, lam) - exponential_moment(poly, lam) ** 2


@experiment("reparam-exponential", "the exponential by inverse CDF: pathwise vs score-function")
def reparam_exponential(seed: int = 0) -> Finding:
    """Draw z = -log(1 - u)/lambda (4) for 200,000 u per lambda on a grid, and estimate
    d/d lambda of E[z^2] and E[sin z] by the pathwise gradient (1), backpropagated through the
    inverse CDF, and by the score-function gradient (2). Checks at lambda = 1.5: each estimate
    against the closed-form derivative (5 standard errors), and for f = z^2 each estimator's
    mean square against its exact value E P^2 (5), within 5 standard errors computed exactly
    from E P^4: the variances 80/lambda^6 and 488/lambda^6 are not a Monte-Carlo accident."""
    n, lam0 = DRAWS, 1.5
    lams = np.round(np.geomspace(0.5, 4.0, 10), 4).tolist()
    if lam0 not in lams:
        lams = sorted([*lams, lam0])
    g = torch.Generator().manual_seed(seed)
    fs = {"z^2": lambda z: z**2, "sin z": torch.sin}
    est: dict[tuple[str, str], list] = {}
    at_lam0: dict[tuple[str, str], Tensor] = {}
    for lam in lams:
        u = torch.rand(n, generator=g, dtype=F64)
        for name, f in fs.items():
            path, score = per_draw_gradients(f, exponential_icdf, exponential_log_prob, lam, u)
            for kind, x in (("pathwise", path), ("score function", score)):
                est.setdefault((name, kind), []).append((*mean_and_se(x), float(x.var())))
                if lam == lam0:
                    at_lam0[(name, kind)] = x
    exact = exponential_objectives(lam0)
    checks = []
    for (name, kind), x in at_lam0.items():
        m, se = mean_and_se(x)
        checks.append(Check(f"{kind} d/dλ E[{name}] at λ = {lam0}", m, exact[name][1], Z * se))
    for kind, poly in square_estimators(lam0).items():
        second = exponential_moment(poly**2, lam0)
        se = math.sqrt((exponential_moment(poly**4, lam0) - second**2) / n)
        measured = float((at_lam0[("z^2", kind)] ** 2).mean())
        checks.append(
            Check(
                f"{kind} E[g²] for z² at λ = {lam0} (exact, from E z^m = m!/λ^m)",
                measured,
                second,
                Z * se,
            )
        )
    var_exact = {k: estimator_variance(p, lam0) for k, p in square_estimators(lam0).items()}
    i0 = lams.index(lam0)
    numbers = {
        "draws_per_lambda": n,
        "lambda": lam0,
        "exact_grad": {name: v[1] for name, v in exact.items()},
        "pathwise_grad": {name: est[(name, "pathwise")][i0][0] for name in fs},
        "score_grad": {name: est[(name, "score function")][i0][0] for name in fs},
        "variance_z2": {k: est[("z^2", k)][i0][2] for k in ("pathwise", "score function")},
        "variance_z2_exact": var_exact,
        "variance_sin": {k: est[("sin z", k)][i0][2] for k in ("pathwise", "score function")},
        "variance_ratio_score_over_pathwise": {
            name: est[(name, "score function")][i0][2] / est[(name, "pathwise")][i0][2]
            for name in fs
        },
    }
    grid = np.geomspace(0.5, 4.0, 200)
    u = torch.rand(n, generator=torch.Generator().manual_seed(seed + 1), dtype=F64)
    drawn = exponential_icdf(u, lam0).numpy()
    zs = np.linspace(0, float(drawn.max()), 300)
    lam_arr = np.array(lams)

    def band(name: str, kind: str, color: str) -> list[Series]:
        m = np.array([e[0] for e in est[(name, kind)]])
        se = np.array([e[1] for e in est[(name, kind)]])
        mark = "o" if kind == "pathwise" else "x"
        return [
            Series("line", lam_arr, m, f"{kind} (mean)", mark, color=color),
            Series("band", lam_arr, m - 2 * se, upper=m + 2 * se, color=color),
        ]

    def var_line(name: str, kind: str, style: str, color: str) -> Series:
        v = [e[2] for e in est[(name, kind)]]
        return Series("line", lam_arr, v, f"{kind}, f = {name}", style, color=color)

    panels = [
        Panel(
            f"z = -log(1-u)/λ, λ = {lam0}: samples against λe^(-λz)",
            [
                Series("hist", drawn, label="inverse-CDF draws"),
                Series("line", zs, lam0 * np.exp(-lam0 * zs), "λ e^(-λz)", color="k"),
            ],
            "z",
            "density",
        ),
        Panel(
            "d/dλ E[sin z]: exact and the two estimators (±2 se)",
            [
                Series("line", grid, (1 - grid**2) / (1 + grid**2) ** 2, "exact", color="k"),
                *band("sin z", "pathwise", "C0"),
                *band("sin z", "score function", "C3"),
            ],
            "λ",
            "gradient",
        ),
        Panel(
            "variance of one draw's gradient estimate",
            [
                Series("line", grid, 80 / grid**6, "80/λ⁶ (exact)", "-", color="C0"),
                Series("line", grid, 488 / grid**6, "488/λ⁶ (exact)", "-", color="C3"),
                var_line("z^2", "pathwise", "o", "C0"),
                var_line("z^2", "score function", "o", "C3"),
                var_line("sin z", "pathwise", "s--", "C0"),
                var_line("sin z", "score function", "s--", "C3"),
            ],
            "λ",
            "variance",
            logy=True,
        ),
    ]
    return Finding(
        "reparam-exponential", "The exponential by its inverse CDF", numbers, checks, panels
    )


# ---------------------------------------------------------------- the gamma
def gamma_by_composition(u: Tensor, beta: Tensor | float) -> Tensor:
    """(7): Gamma(k, beta) as the sum of k exponentials, u (n, k) uniform -> z (n,); beta a
    number or one per draw, (n,)."""
    beta = torch.as_tensor(beta, dtype=F64)
    return exponential_icdf(u, beta.unsqueeze(-1) if beta.dim() else beta).sum(-1)


def marsaglia_tsang_h(eps: Tensor, alpha: Tensor | float) -> Tensor:
    """(8): h(eps, alpha) = (alpha - 1/3) (1 + eps / sqrt(9 alpha - 3))^3."""
    d = alpha - 1 / 3
    return d * (1 + eps / torch.sqrt(torch.as_tensor(9 * d, dtype=F64))) ** 3


def marsaglia_tsang_accepted(alpha: float, n: int, generator: torch.Generator) -> Tensor:
    """(8): n accepted Gaussian draws eps of Marsaglia-Tsang's sampler for shape alpha >= 1
    (vectorized rejection: propose in batches until n are accepted)."""
    d = alpha - 1 / 3
    c = 1 / math.sqrt(9 * d)
    kept, have = [], 0
    while have < n:
        m = int(1.15 * (n - have)) + 64
        eps = torch.randn(m, generator=generator, dtype=F64)
        u = torch.rand(m, generator=generator, dtype=F64)
        v = (1 + c * eps) ** 3
        log_ratio = 0.5 * eps**2 + d - d * v + d * torch.log(v.clamp_min(1e-300))
        ok = (v > 0) & (torch.log(u) < log_ratio)
        kept.append(eps[ok])
        have += int(ok.sum())
    return torch.cat(kept)[:n]


def marsaglia_tsang_log_pi(eps: Tensor, alpha: Tensor | float) -> Tensor:
    """(9): log pi(eps; alpha), the density of an accepted eps: log q(h(eps, alpha); alpha, 1)
    + log dh/d eps, with dh/d eps = sqrt(d) (1 + c eps)^2."""
    alpha = torch.as_tensor(alpha, dtype=F64)
    d = alpha - 1 / 3
    h = marsaglia_tsang_h(eps, alpha)
    log_q = (alpha - 1) * torch.log(h) - h - torch.lgamma(alpha)
    return log_q + 0.5 * torch.log(d) + 2 * torch.log1p(eps / torch.sqrt(9 * d))


def gamma_log_prob(z: Tensor, alpha: Tensor | float, beta: Tensor | float) -> Tensor:
    """log q(z; alpha, beta) = alpha log beta + (alpha - 1) log z - beta z - log Gamma(alpha)."""
    alpha, beta = torch.as_tensor(alpha, dtype=F64), torch.as_tensor(beta, dtype=F64)
    return alpha * torch.log(beta) + (alpha - 1) * torch.log(z) - beta * z - torch.lgamma(alpha)


def gamma_score_alpha(z: Tensor, alpha: float, beta: float) -> Tensor:
    """(11): d log q(z; alpha, beta) / d alpha = log beta + log z - psi(alpha)."""
    return math.log(beta) + torch.log(z) - float(special.digamma(alpha))


def gamma_objectives(alpha: float, beta: float) -> dict[str, tuple[float, float]]:
    """(11): E f and d E f / d alpha for f = z (alpha/beta, 1/beta) and f = log z
    (psi(alpha) - log beta, psi'(alpha))."""
    return {
        "z": (alpha / beta, 1 / beta),
        "log z": (
            float(special.digamma(alpha)) - math.log(beta),
            float(special.polygamma(1, alpha)),
        ),
    }


def marsaglia_tsang_gradients(
    f: Callable[[Tensor], Tensor], alpha: float, beta: float, eps: Tensor, u: Tensor
) -> tuple[Tensor, Tensor]:
    """(9)-(10): per draw, g_rep (the pathwise term through h with eps held fixed) and g_cor
    (f times the alpha-score of the accepted eps). eps are accepted draws for shape alpha
    (alpha >= 1) or alpha + 1 (alpha < 1, with the augmentation (10) by u)."""
    a = torch.full(eps.shape, float(alpha), dtype=F64, requires_grad=True)
    shape = a + 1 if alpha < 1 else a
    z = marsaglia_tsang_h(eps, shape) / beta
    if alpha < 1:
        z = z * u ** (1 / a)
    fz = f(z)
    (rep,) = torch.autograd.grad(fz.sum(), a, retain_graph=True)
    (score,) = torch.autograd.grad(marsaglia_tsang_log_pi(eps, shape).sum(), a)
    return rep, fz.detach() * score


def marsaglia_tsang_rep_exact(f: Callable[[Tensor], Tensor], alpha: float, beta: float) -> float:
    """(9): the exact mean of g_rep alone, E_pi[d f(h(eps, alpha)/beta)/d alpha], by quadrature
    over the accepted eps in (-1/c, inf) (alpha >= 1). It differs from d E f/d alpha by the
    mean of g_cor: what dropping the correction costs."""
    d = alpha - 1 / 3

    def integrand(e: float) -> float:
        a = torch.tensor(alpha, dtype=F64, requires_grad=True)
        eps = torch.tensor(e, dtype=F64)
        (df,) = torch.autograd.grad(f(marsaglia_tsang_h(eps, a) / beta), a)
        return float(torch.exp(marsaglia_tsang_log_pi(eps, alpha)) * df)

    return float(integrate.quad(integrand, -math.sqrt(9 * d), np.inf, epsabs=1e-12)[0])


def marsaglia_tsang_draws(
    alpha: float, n: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """(8), (10): the accepted eps (for shape alpha, or alpha + 1 when alpha < 1) and u'."""
    eps = marsaglia_tsang_accepted(alpha + 1 if alpha < 1 else alpha, n, generator)
    return eps, torch.rand(n, generator=generator, dtype=F64)


def torch_gamma_rsample(alpha: float, beta: float, n: int, seed: int) -> tuple[Tensor, Tensor]:
    """torch.distributions.Gamma(alpha, beta).rsample() for n draws: z and each draw's
    dz/d alpha, by the implicit gradient (6) that torch backpropagates. rsample takes no
    generator, so the global one is forked and seeded (the caller's state is untouched)."""
    a = torch.full((n,), float(alpha), dtype=F64, requires_grad=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        z = torch.distributions.Gamma(a, torch.tensor(beta, dtype=F64)).rsample()
    (dz,) = torch.autograd.grad(z.sum(), a)
    return z.detach(), dz


def gamma_cdf_dalpha(x: np.ndarray, alpha: float, h: float | None = None) -> np.ndarray:
    """dP(alpha, x)/d alpha by a central difference in alpha (step 1e-5 alpha, so truncation
    ~1e-10 and rounding ~1e-11), on P below the median and on -Q = -(1 - P) above it, so that
    neither tail loses its digits to 1 - P."""
    h = 1e-5 * alpha if h is None else h
    lower = (special.gammainc(alpha + h, x) - special.gammainc(alpha - h, x)) / (2 * h)
    upper = -(special.gammaincc(alpha + h, x) - special.gammaincc(alpha - h, x)) / (2 * h)
    return np.where(special.gammainc(alpha, x) < 0.5, lower, upper)


def implicit_dz_dalpha(z: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """(6): dz/d alpha = -(dP(alpha, beta z)/d alpha) / q(z; alpha, beta)."""
    log_q = alpha * math.log(beta) + (alpha - 1) * np.log(z) - beta * z - special.gammaln(alpha)
    return -gamma_cdf_dalpha(beta * z, alpha) / np.exp(log_q)


@experiment(
    "reparam-gamma", "the gamma by composition, Marsaglia-Tsang rejection and implicit grads"
)
def reparam_gamma(seed: int = 0) -> Finding:
    """Estimate d/d alpha of E[z] and E[log z] for z ~ Gamma(alpha, beta = 2), 200,000 draws
    per alpha on a grid from 0.3 to 5, by: Marsaglia-Tsang's transform (8) with its correction
    (9) (shape augmentation (10) below alpha = 1), the same without the correction, torch's
    Gamma.rsample (implicit, (6)), (6) computed here from scipy's incomplete gamma, and the
    score function (11). Checks at alpha = 0.5 (augmented) and 1 (Marsaglia-Tsang's lowest
    acceptance rate, where dropping the correction costs most) against psi'(alpha) and 1/beta,
    within 5 standard errors, and the uncorrected estimate at alpha = 1 against its own exact,
    biased mean (quadrature over the accepted eps); the composition (7) for Gamma(3, 2)
    against d/d beta E z = -3/beta^2 (5 se) and d/d beta log z = -1/beta (exact for every
    draw: float precision)."""
    beta, n, k = 2.0, DRAWS, 3
    alphas = [0.3, 0.5, 0.7, 1.0, 1.5, 2.5, 4.0, 5.0]
    at = (0.5, 1.0)
    fs = {"z": lambda z: z, "log z": torch.log}
    g = torch.Generator().manual_seed(seed)
    methods = (
        "Marsaglia-Tsang + correction",
        "Marsaglia-Tsang, no correction",
        "implicit (torch rsample)",
        "implicit (6) via scipy",
        "score function",
    )
    est: dict[tuple[str, str], list] = {}
    draws: dict[float, Tensor] = {}
    per: dict[tuple[float, str, str], Tensor] = {}
    for i, alpha in enumerate(alphas):
        eps, u = marsaglia_tsang_draws(alpha, n, g)
        z_t, dz_t = torch_gamma_rsample(alpha, beta, n, seed * 1000 + i)
        dz_ours = torch.from_numpy(implicit_dz_dalpha(z_t.numpy(), alpha, beta))
        if alpha in at:
            draws[alpha] = z_t[:4000]
            per[(alpha, "torch", "dz")] = dz_t[:4000]
            per[(alpha, "ours", "dz")] = dz_ours[:4000]
        zz = z_t.clone().requires_grad_(True)
        for name, f in fs.items():
            rep, cor = marsaglia_tsang_gradients(f, alpha, beta, eps, u)
            (df,) = torch.autograd.grad(f(zz).sum(), zz)
            score = f(z_t) * gamma_score_alpha(z_t, alpha, beta)
            for method, x in zip(
                methods, (rep + cor, rep, df * dz_t, df * dz_ours, score), strict=True
            ):
                est.setdefault((name, method), []).append((*mean_and_se(x), float(x.var())))
                if alpha in at:
                    per[(alpha, name, method)] = x
    checks = []
    for alpha in at:
        exact = gamma_objectives(alpha, beta)
        for name in fs:
            for method in methods[0], methods[2], methods[3]:
                if method == methods[3] and name == "z":
                    continue
                m, se = mean_and_se(per[(alpha, name, method)])
                checks.append(
                    Check(f"{method}: d/dα E[{name}] at α = {alpha}", m, exact[name][1], Z * se)
                )
    rep_exact = marsaglia_tsang_rep_exact(torch.log, 1.0, beta)
    m, se = mean_and_se(per[(1.0, "log z", methods[1])])
    checks.append(
        Check(
            "Marsaglia-Tsang, no correction: d/dα E[log z] at α = 1 against its exact (biased) "
            "value ∫ π ∂α log h dε",
            m,
            rep_exact,
            Z * se,
        )
    )
    m, se = mean_and_se(per[(0.5, "log z", methods[4])])
    checks.append(
        Check(
            "score function: d/dα E[log z] at α = 0.5",
            m,
            gamma_objectives(0.5, beta)["log z"][1],
            Z * se,
        )
    )
    # composition: Gamma(k, beta) by (7); the gradient in beta (the integer shape has none)
    u = torch.rand(n, k, generator=g, dtype=F64)
    path_z, _ = per_draw_gradients(lambda z: z, gamma_by_composition, exponential_log_prob, beta, u)
    path_log, _ = per_draw_gradients(torch.log, gamma_by_composition, exponential_log_prob, beta, u)
    m, se = mean_and_se(path_z)
    checks.append(
        Check(f"composition Gamma({k}, β): d/dβ E[z] at β = {beta}", m, -k / beta**2, Z * se)
    )
    worst = float((path_log + 1 / beta).abs().max())
    checks.append(
        Check(
            "composition: every draw's d/dβ log z is -1/β (largest error)",
            worst,
            0.0,
            64 * torch.finfo(F64).eps,
        )
    )
    a1 = alphas.index(1.0)
    rel_diff = {
        a: float(
            (
                (per[(a, "torch", "dz")] - per[(a, "ours", "dz")]).abs()
                / per[(a, "ours", "dz")].abs()
            ).max()
        )
        for a in at
    }
    numbers = {
        "beta": beta,
        "draws_per_alpha": n,
        "grad_log_z": {
            str(a): {
                "exact": gamma_objectives(a, beta)["log z"][1],
                **{m: est[("log z", m)][alphas.index(a)][0] for m in methods},
            }
            for a in (*at, 2.5)
        },
        "no_correction_exact_bias_log_z_at_alpha_1": rep_exact
        - gamma_objectives(1.0, beta)["log z"][1],
        "no_correction_measured_bias_log_z_at_alpha_1": est[("log z", methods[1])][a1][0]
        - gamma_objectives(1.0, beta)["log z"][1],
        "no_correction_bias_in_se_at_alpha_1": (
            est[("log z", methods[1])][a1][0] - gamma_objectives(1.0, beta)["log z"][1]
        )
        / est[("log z", methods[1])][a1][1],
        "variance_log_z": {
            str(a): {m: est[("log z", m)][alphas.index(a)][2] for m in methods} for a in at
        },
        "torch_vs_formula_max_relative_difference": rel_diff,
        "composition_grad_beta_z": float(path_z.mean()),
    }
    a_arr = np.array(alphas)
    trigamma = special.polygamma(1, a_arr)
    colors = dict(zip(methods, ("C0", "C1", "C2", "C4", "C3"), strict=True))

    def band(method: str) -> list[Series]:
        m = np.array([e[0] for e in est[("log z", method)]]) / trigamma - 1
        se = np.array([e[1] for e in est[("log z", method)]]) / trigamma
        style = "x" if method == methods[3] else "o-"
        return [
            Series("line", a_arr, m, method, style, color=colors[method]),
            Series("band", a_arr, m - 2 * se, upper=m + 2 * se, color=colors[method]),
        ]

    dz_panel = []
    for alpha, c in zip(at, ("C0", "C2"), strict=True):
        zs = draws[alpha].numpy()
        order = np.argsort(zs)
        dz_panel += [
            Series(
                "scatter",
                zs,
                per[(alpha, "torch", "dz")].numpy(),
                f"α = {alpha}: torch rsample",
                color=c,
            ),
            Series(
                "line",
                zs[order],
                per[(alpha, "ours", "dz")].numpy()[order],
                f"α = {alpha}: -(∂F/∂α)/q",
                "--",
                color="k",
            ),
        ]
    panels = [
        Panel("each draw's dz/dα (β = 2): torch against (6)", dz_panel, "z", "dz/dα"),
        Panel(
            "d/dα E[log z]: relative error against ψ'(α) (±2 se)",
            [Series("hline", [0], [0.0], color="k"), *[s for m in methods for s in band(m)]],
            "α",
            "estimate / ψ'(α) - 1",
        ),
        Panel(
            "variance of one draw's estimate of d/dα E[log z]",
            [
                Series("line", a_arr, [e[2] for e in est[("log z", m)]], m, "o-", color=colors[m])
                for m in methods
                if m != methods[3]
            ],
            "α",
            "variance",
            logy=True,
        ),
    ]
    return Finding(
        "reparam-gamma",
        "The gamma: composition, rejection and implicit gradients",
        numbers,
        checks,
        panels,
    )


# ---------------------------------------------------------------- the Kumaraswamy
def kumaraswamy_icdf(u: Tensor, a: Tensor | float, b: Tensor | float) -> Tensor:
    """(12): z = (1 - (1 - u)^(1/b))^(1/a), computed as exp(log(-expm1(log1p(-u)/b)) / a) so
    that neither end of (0, 1) loses digits."""
    return torch.exp(torch.log(-torch.expm1(torch.log1p(-u) / b)) / a)


def kumaraswamy_log_prob(z: Tensor, a: Tensor | float, b: Tensor | float) -> Tensor:
    """log a + log b + (a - 1) log z + (b - 1) log(1 - z^a)."""
    a, b = torch.as_tensor(a, dtype=F64), torch.as_tensor(b, dtype=F64)
    return torch.log(a) + torch.log(b) + (a - 1) * torch.log(z) + (b - 1) * torch.log1p(-(z**a))


def kumaraswamy_moment(a: Tensor | float, b: Tensor | float, m: float = 1.0) -> Tensor:
    """(12): E z^m = b B(1 + m/a, b), through log-gammas (differentiable in a and b)."""
    a, b = torch.as_tensor(a, dtype=F64), torch.as_tensor(b, dtype=F64)
    log_beta = torch.lgamma(1 + m / a) + torch.lgamma(b) - torch.lgamma(1 + m / a + b)
    return b * torch.exp(log_beta)


def kumaraswamy_mean_grad(a: float, b: float) -> tuple[float, float]:
    """(12): the exact d/da and d/db of the mean, from log mean = log b + log B(1 + 1/a, b):
    d/da = -mean (psi(1 + 1/a) - psi(1 + 1/a + b)) / a^2,
    d/db = mean (1/b + psi(b) - psi(1 + 1/a + b))."""
    mean = float(kumaraswamy_moment(a, b))
    c = 1 + 1 / a
    da = -mean * (special.digamma(c) - special.digamma(c + b)) / a**2
    db = mean * (1 / b + special.digamma(b) - special.digamma(c + b))
    return float(da), float(db)


def kumaraswamy_pdf(z: np.ndarray, a: float, b: float) -> np.ndarray:
    return a * b * z ** (a - 1) * (1 - z**a) ** (b - 1)


@experiment("reparam-kumaraswamy", "the Kumaraswamy by inverse CDF: gradients of its exact mean")
def reparam_kumaraswamy(seed: int = 0) -> Finding:
    """Draw z = (1 - (1 - u)^(1/b))^(1/a) (12), 200,000 u per point, and estimate d/da and d/db
    of E z by the pathwise gradient (1) through the inverse CDF and by the score function (2),
    over a grid of a (b = 3) and of b (a = 2). Checks at (a, b) = (2, 3): the sample mean
    against b B(1 + 1/a, b), and all four gradient estimates against the exact derivatives of
    that closed form, within 5 standard errors."""
    n, a0, b0 = DRAWS, 2.0, 3.0
    grid_a = [0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0]
    grid_b = [0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0]
    g = torch.Generator().manual_seed(seed)
    kinds = ("pathwise", "score function")
    est: dict[tuple[str, str], list] = {}
    per: dict[tuple[str, str], Tensor] = {}

    def run(param: str, a: float, b: float) -> None:
        u = torch.rand(n, generator=g, dtype=F64)
        if param == "a":
            s, lp, t = (
                lambda u_, t_: kumaraswamy_icdf(u_, t_, b),
                lambda z_, t_: kumaraswamy_log_prob(z_, t_, b),
                a,
            )
        else:
            s, lp, t = (
                lambda u_, t_: kumaraswamy_icdf(u_, a, t_),
                lambda z_, t_: kumaraswamy_log_prob(z_, a, t_),
                b,
            )
        path, score = per_draw_gradients(lambda z: z, s, lp, t, u)
        for kind, x in zip(kinds, (path, score), strict=True):
            est.setdefault((param, kind), []).append((*mean_and_se(x), float(x.var())))
            if (a, b) == (a0, b0):
                per[(param, kind)] = x
        if (a, b) == (a0, b0) and param == "a":
            per[("z", "")] = kumaraswamy_icdf(u, a, b)

    for a in grid_a:
        run("a", a, b0)
    for b in grid_b:
        run("b", a0, b)
    exact = dict(zip("ab", kumaraswamy_mean_grad(a0, b0), strict=True))
    mean0 = float(kumaraswamy_moment(a0, b0))
    m, se = mean_and_se(per[("z", "")])
    checks = [
        Check(
            f"sample mean of z at (a, b) = ({a0:g}, {b0:g}) against b B(1 + 1/a, b)",
            m,
            mean0,
            Z * se,
        )
    ]
    for param in "ab":
        for kind in kinds:
            m, se = mean_and_se(per[(param, kind)])
            checks.append(
                Check(
                    f"{kind} d/d{param} E[z] at (a, b) = ({a0:g}, {b0:g})", m, exact[param], Z * se
                )
            )
    numbers = {
        "a": a0,
        "b": b0,
        "draws": n,
        "mean_exact": mean0,
        "exact_grad": exact,
        **{
            f"{kind}_grad".replace(" ", "_"): {p: float(per[(p, kind)].mean()) for p in "ab"}
            for kind in kinds
        },
        "variance": {p: {k: float(per[(p, k)].var()) for k in kinds} for p in "ab"},
        "variance_ratio_score_over_pathwise": {
            p: float(per[(p, kinds[1])].var() / per[(p, kinds[0])].var()) for p in "ab"
        },
    }
    zs = np.linspace(0.002, 0.998, 300)
    hist_g = torch.Generator().manual_seed(seed + 1)
    hists = []
    for (a, b), c in zip(((a0, b0), (0.6, 0.8)), ("C0", "C1"), strict=True):
        u = torch.rand(50_000, generator=hist_g, dtype=F64)
        hists += [
            Series(
                "hist", kumaraswamy_icdf(u, a, b).numpy(), label=f"draws, a={a}, b={b}", color=c
            ),
            Series("line", zs, kumaraswamy_pdf(zs, a, b), f"density, a={a}, b={b}", color=c),
        ]

    def grad_panel(param: str, grid: list[float]) -> Panel:
        fine = np.linspace(min(grid), max(grid), 200)
        if param == "a":
            exact_line = [kumaraswamy_mean_grad(x, b0)[0] for x in fine]
            title = f"d/da E[z], b = {b0:g}: exact and estimates (±2 se)"
        else:
            exact_line = [kumaraswamy_mean_grad(a0, x)[1] for x in fine]
            title = f"d/db E[z], a = {a0:g}: exact and estimates (±2 se)"
        series = [Series("line", fine, exact_line, "exact (closed-form mean)", color="k")]
        for kind, c, mark in zip(kinds, ("C0", "C3"), ("o", "x"), strict=True):
            m = np.array([e[0] for e in est[(param, kind)]])
            se = np.array([e[1] for e in est[(param, kind)]])
            series += [
                Series("line", grid, m, kind, mark, color=c),
                Series("band", grid, m - 2 * se, upper=m + 2 * se, color=c),
            ]
        return Panel(title, series, param, "gradient")

    panels = [
        Panel("inverse-CDF draws against the density", hists, "z", "density"),
        grad_panel("a", grid_a),
        grad_panel("b", grid_b),
    ]
    return Finding(
        "reparam-kumaraswamy", "The Kumaraswamy by its inverse CDF", numbers, checks, panels
    )


# ---------------------------------------------------------------- Gumbel-max and Gumbel-softmax
def gumbel(shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
    """(13): iid Gumbel(0, 1) noise, G = -log(-log U)."""
    u = torch.rand(shape, generator=generator, dtype=F64).clamp_min(torch.finfo(F64).tiny)
    return -torch.log(-torch.log(u))


def gumbel_max(logits: Tensor, noise: Tensor) -> Tensor:
    """(13): argmax_k (theta_k + G_k), a categorical draw with probabilities softmax(theta)."""
    return (logits + noise).argmax(-1)


def gumbel_softmax(logits: Tensor, noise: Tensor, tau: float) -> Tensor:
    """(14): y = softmax((theta + G) / tau), the relaxed one-hot draw."""
    return torch.softmax((logits + noise) / tau, -1)


def exact_gradient(logits: Tensor, f: Tensor) -> Tensor:
    """grad_theta sum_k softmax(theta)_k f_k = p (f - p.f); batched over leading dimensions."""
    p = torch.softmax(logits, -1)
    return p * (f - (p * f).sum(-1, keepdim=True))


def relaxed_gradient(logits: Tensor, noise: Tensor, f: Tensor, tau: float) -> Tensor:
    """(14): each draw's pathwise gradient of f.y, (1/tau) y (f - f.y) (autograd's value)."""
    y = gumbel_softmax(logits, noise, tau)
    return y * (f - (y * f).sum(-1, keepdim=True)) / tau


def smoothed_gradient(logits: Tensor, noise: Tensor, f: Tensor, tau: float) -> Tensor:
    """(15): grad F(theta + tau G') for each Gumbel draw G'; its mean is E[g_tau] exactly."""
    return exact_gradient(logits + tau * noise, f)


def score_gradient(logits: Tensor, k: Tensor, f: Tensor) -> Tensor:
    """(17): each draw's score-function gradient f_k (e_k - p), k ~ Categorical(p)."""
    p = torch.softmax(logits, -1)
    return f[k].unsqueeze(-1) * (torch.nn.functional.one_hot(k, p.shape[-1]).to(F64) - p)


def score_second_moment(logits: Tensor, f: Tensor) -> float:
    """(17): E |f_k (e_k - p)|^2 = sum_k p_k f_k^2 |e_k - p|^2."""
    p = torch.softmax(logits, -1)
    dist = ((torch.eye(len(p), dtype=F64) - p) ** 2).sum(-1)
    return float((p * f**2 * dist).sum())


def chi_square_tolerance(dof: int) -> float:
    """How far Pearson's statistic may exceed its mean dof: its quantile at the false-alarm
    rate of five standard errors, P(|N(0, 1)| > 5) = 5.7e-7 (the chi-square is skewed, so
    five of its standard deviations would be a stricter test than the other checks')."""
    return float(stats.chi2.isf(2 * stats.norm.sf(Z), dof)) - dof


def mean_bias_bound(tau: float, K: int) -> float:
    """(16): |E[y_tau] - p|_k <= tau^2 (K - 1) pi^2 / 12."""
    return tau**2 * (K - 1) * math.pi**2 / 12


def gradient_bias_bound(tau: float, f: Tensor) -> float:
    """(16): |E[g_tau] - grad F|_k <= tau^2 range(f) (K - 1) pi^2 / 3."""
    return tau**2 * float(f.max() - f.min()) * (len(f) - 1) * math.pi**2 / 3


@experiment("gumbel-softmax", "Gumbel-max is exact; Gumbel-softmax's bias and variance against tau")
def gumbel_softmax_experiment(seed: int = 0) -> Finding:
    """For a categorical with K = 4 (logits theta, values f), draw 200,000 Gumbel vectors per
    temperature tau on a log grid 0.05 .. 5 and measure the relaxed gradient (14) against the
    exact gradient p (f - p.f): its bias and the variance of one draw, beside the score
    function's (17). Checks: the Gumbel-max frequencies (13) against softmax(theta) (Pearson's
    chi-square against its mean K - 1, within 5 of its standard deviations sqrt(2 (K - 1)));
    the mean of y at tau = 0.05 against p within the bound (16) plus 5 se; the relaxed gradient
    at every tau against the Gumbel-smoothed exact gradient (15), an independent estimate (all
    within 5 se); at tau = 0.05 its bias within the bound (16) plus 5 se, at tau = 5 its bias
    against the smoothed one (far from zero, see the numbers); and the score-function
    gradient's mean and mean square against grad F and (17)."""
    n, K = DRAWS, 4
    theta = torch.tensor([1.0, 0.3, -0.4, -1.0], dtype=F64)
    f = torch.tensor([-1.0, 2.0, 0.5, 1.0], dtype=F64)
    taus = np.round(np.geomspace(0.05, 5.0, 11), 4).tolist()
    g = torch.Generator().manual_seed(seed)
    p, grad = torch.softmax(theta, 0), exact_gradient(theta, f)
    # Gumbel-max: category frequencies, and the score-function estimator on those draws
    k = gumbel_max(theta, gumbel((n, K), g))
    counts = torch.bincount(k, minlength=K).to(F64)
    chi2 = float(((counts - n * p) ** 2 / (n * p)).sum())
    score = score_gradient(theta, k, f)
    rows = {
        "bias": [],
        "bias_se": [],
        "smoothed_bias": [],
        "smoothed_se": [],
        "variance": [],
        "z": [],
        "mean_y": [],
    }
    for tau in taus:
        gs = relaxed_gradient(theta, gumbel((n, K), g), f, tau)
        y = gumbel_softmax(theta, gumbel((n, K), g), tau)
        sm = smoothed_gradient(theta, gumbel((n, K), g), f, tau)
        se = gs.std(0) / math.sqrt(n)
        rows["bias"].append(gs.mean(0) - grad)
        rows["bias_se"].append(se)
        rows["smoothed_bias"].append(sm.mean(0) - grad)
        rows["smoothed_se"].append(sm.std(0) / math.sqrt(n))
        rows["variance"].append(float(gs.var(0).sum()))
        rows["z"].append(
            float(((gs.mean(0) - sm.mean(0)).abs() / (se**2 + sm.var(0) / n).sqrt()).max())
        )
        rows["mean_y"].append((y.mean(0), y.std(0) / math.sqrt(n)))
    lo, hi = 0, len(taus) - 1
    my, my_se = rows["mean_y"][lo]
    worst_y = int((my - p).abs().argmax())
    worst_lo = int(rows["bias"][lo].abs().argmax())
    bias_hi = float(rows["bias"][hi].norm())
    se_hi = float((rows["bias_se"][hi] ** 2 + rows["smoothed_se"][hi] ** 2).sum().sqrt())
    sm_hi = float(rows["smoothed_bias"][hi].norm())
    score_m, score_se = score.mean(0), score.std(0) / math.sqrt(n)
    worst_score = int((score_m - grad).abs().argmax())
    sq = (score**2).sum(-1)
    checks = [
        Check(
            f"Gumbel-max: Pearson chi-square of {n} draws against softmax(θ) (mean K-1)",
            chi2,
            K - 1,
            chi_square_tolerance(K - 1),
        ),
        Check(
            f"mean of y at τ = {taus[lo]} against p (largest |difference|)",
            float((my - p)[worst_y].abs()),
            0.0,
            mean_bias_bound(taus[lo], K) + Z * float(my_se[worst_y]),
        ),
        Check(
            "relaxed gradient against E[∇F(θ + τG')] at every τ: largest |diff| / se",
            max(rows["z"]),
            0.0,
            Z,
        ),
        Check(
            f"bias of the relaxed gradient at τ = {taus[lo]} (largest component)",
            float(rows["bias"][lo][worst_lo].abs()),
            0.0,
            gradient_bias_bound(taus[lo], f) + Z * float(rows["bias_se"][lo][worst_lo]),
        ),
        Check(
            f"|bias| at τ = {taus[hi]} against the Gumbel-smoothed |bias|",
            bias_hi,
            sm_hi,
            Z * se_hi,
        ),
        Check(
            "score function: mean gradient against p (f - p.f) (largest |difference|)",
            float((score_m - grad)[worst_score].abs()),
            0.0,
            Z * float(score_se[worst_score]),
        ),
        Check(
            "score function: E|g|² against Σ p_k f_k² |e_k - p|²",
            float(sq.mean()),
            score_second_moment(theta, f),
            Z * float(sq.std()) / math.sqrt(n),
        ),
    ]
    score_var = score_second_moment(theta, f) - float(grad.norm() ** 2)
    numbers = {
        "K": K,
        "logits": theta.tolist(),
        "f": f.tolist(),
        "p": p.tolist(),
        "exact_gradient": grad.tolist(),
        "exact_gradient_norm": float(grad.norm()),
        "draws_per_tau": n,
        "gumbel_max_frequencies": (counts / n).tolist(),
        "chi_square": chi2,
        "tau": taus,
        "bias_norm": [float(b.norm()) for b in rows["bias"]],
        "bias_norm_in_se": [
            float(b.norm() / s.norm()) for b, s in zip(rows["bias"], rows["bias_se"], strict=True)
        ],
        "smoothed_bias_norm": [float(b.norm()) for b in rows["smoothed_bias"]],
        "bias_bound_component": [gradient_bias_bound(t, f) for t in taus],
        "relaxed_variance": rows["variance"],
        "score_variance": float(score.var(0).sum()),
        "score_variance_exact": score_var,
        "mean_y_small_tau": my.tolist(),
    }
    t_arr = np.array(taus)
    b_norm = np.array(numbers["bias_norm"])
    b_se = np.array([float(s.norm()) for s in rows["bias_se"]])
    small = np.geomspace(taus[0], 0.3, 50)
    cats = np.arange(K)
    panels = [
        Panel(
            "categories: softmax(θ), Gumbel-max, mean of y_τ",
            [
                Series("line", cats, p.numpy(), "softmax(θ)", "o", color="k"),
                Series("line", cats, (counts / n).numpy(), "Gumbel-max frequency", "x", color="C0"),
                *[
                    Series(
                        "line",
                        cats,
                        rows["mean_y"][i][0].numpy(),
                        f"mean y, τ = {taus[i]:g}",
                        s,
                        color=c,
                    )
                    for i, s, c in (
                        (lo, "+--", "C2"),
                        (len(taus) // 2, "+--", "C1"),
                        (hi, "+--", "C3"),
                    )
                ],
            ],
            "category k",
            "probability",
        ),
        Panel(
            "bias of the relaxed gradient, |E g_τ - ∇F|",
            [
                Series("line", t_arr, b_norm, "Gumbel-softmax (measured)", "o-", color="C0"),
                Series("line", t_arr, 2 * b_se, "2 se: what the draws resolve", ":", color="C0"),
                Series(
                    "line",
                    t_arr,
                    numbers["smoothed_bias_norm"],
                    "E∇F(θ+τG') - ∇F (15)",
                    "x--",
                    color="k",
                ),
                Series(
                    "line",
                    small,
                    [math.sqrt(K) * gradient_bias_bound(t, f) for t in small],
                    "bound (16), √K × per component",
                    "-",
                    color="C3",
                ),
                Series(
                    "hline", [0], [float(grad.norm())], "|∇F| (the τ → ∞ limit)", "-.", color="0.4"
                ),
            ],
            "τ",
            "|bias|",
            logx=True,
            logy=True,
        ),
        Panel(
            "variance of one draw's gradient (trace)",
            [
                Series("line", t_arr, rows["variance"], "Gumbel-softmax", "o-", color="C0"),
                Series("hline", [0], [score_var], "score function (exact, (17))", "--", color="C3"),
            ],
            "τ",
            "variance",
            logx=True,
            logy=True,
        ),
    ]
    return Finding(
        "gumbel-softmax", "Gumbel-max and the Gumbel-softmax relaxation", numbers, checks, panels
    )
