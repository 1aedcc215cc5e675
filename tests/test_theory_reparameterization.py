"""genzoo.theory.reparameterization: the samplers and gradients against closed forms and
quadrature, and each experiment failing when a formula is broken the way it is often written.

Tolerances: quadrature and float precision for the deterministic identities, five standard
errors for Monte-Carlo means."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, special, stats

import genzoo.theory.reparameterization as rp
from genzoo.theory import run_experiment

F64 = torch.float64
Z = 5.0


def failed(finding) -> set[str]:
    return {c.claim for c in finding.failed}


def quad(fn, lo, hi) -> float:
    return integrate.quad(fn, lo, hi, epsabs=1e-13, epsrel=1e-11, limit=200)[0]


# ---------------------------------------------------------------- the exponential
def test_the_inverse_cdf_inverts_the_exponential_and_its_slope_is_minus_z_over_lambda():
    lam = 1.7
    u = torch.linspace(1e-4, 1 - 1e-4, 2001, dtype=F64)
    z = rp.exponential_icdf(u, lam)
    assert torch.allclose(1 - torch.exp(-lam * z), u, rtol=0, atol=1e-14)
    path, score = rp.per_draw_gradients(
        lambda x: x, rp.exponential_icdf, rp.exponential_log_prob, lam, u
    )
    assert torch.allclose(path, -z / lam, rtol=1e-13, atol=0)  # (4): dz/dλ = -z/λ
    assert torch.allclose(score, z * (1 / lam - z), rtol=1e-13, atol=1e-13)  # f(z) (1/λ - z)


@pytest.mark.parametrize("lam", [0.6, 2.3])
def test_the_exponential_closed_forms_match_quadrature(lam):
    """E f = ∫ f q and d/dλ E f = ∫ f dq/dλ, with dq/dλ = (1 - λz) e^(-λz)."""
    fs = {"z^2": lambda z: z**2, "sin z": math.sin}
    for name, (mean, grad) in rp.exponential_objectives(lam).items():
        f = fs[name]
        assert math.isclose(
            quad(lambda z, f=f: f(z) * lam * math.exp(-lam * z), 0, np.inf), mean, rel_tol=1e-9
        )
        dq = quad(lambda z, f=f: f(z) * (1 - lam * z) * math.exp(-lam * z), 0, np.inf)
        assert math.isclose(dq, grad, rel_tol=1e-9), name


def test_the_estimator_variances_for_z_squared_are_80_and_488_over_lambda_to_the_6():
    lam = 1.3
    est = rp.square_estimators(lam)
    var = {k: rp.estimator_variance(p, lam) for k, p in est.items()}
    assert math.isclose(var["pathwise"], 80 / lam**6, rel_tol=1e-12)
    assert math.isclose(var["score function"], 488 / lam**6, rel_tol=1e-12)
    # the moment rule E z^m = m!/λ^m against quadrature, on the score estimator's square
    p2 = est["score function"] ** 2
    by_quad = quad(lambda z: p2(z) * lam * math.exp(-lam * z), 0, np.inf)
    assert math.isclose(rp.exponential_moment(p2, lam), by_quad, rel_tol=1e-9)
    # both estimators have the mean -4/λ^3
    for p in est.values():
        assert math.isclose(rp.exponential_moment(p, lam), -4 / lam**3, rel_tol=1e-12)


def test_the_exponential_experiment_fails_when_lambda_is_read_as_a_scale(monkeypatch):
    """The slip: z = -λ log(1 - u), the scale parametrization, where λ is a rate. E[sin z] =
    λ/(1 + λ²) is the same function of λ and of 1/λ, so only the z² checks can see it."""
    assert run_experiment("reparam-exponential").ok
    monkeypatch.setattr(rp, "exponential_icdf", lambda u, lam: -torch.log1p(-u) * lam)
    bad = failed(run_experiment("reparam-exponential"))
    assert "pathwise d/dλ E[z^2] at λ = 1.5" in bad
    assert "pathwise d/dλ E[sin z] at λ = 1.5" not in bad


# ---------------------------------------------------------------- the gamma
@pytest.mark.parametrize("alpha", [1.0, 2.5])
def test_the_accepted_noise_of_marsaglia_tsang_has_the_density_pi(alpha):
    """pi(eps; alpha) = q(h(eps, alpha)) dh/d eps integrates to 1, maps to the Gamma (E log h =
    psi(alpha)), and is the law of the sampler's accepted eps (mean within 5 se)."""
    lo = -math.sqrt(9 * (alpha - 1 / 3))

    def pi(e):
        return float(torch.exp(rp.marsaglia_tsang_log_pi(torch.tensor(e, dtype=F64), alpha)))

    def log_h(e):
        return math.log(float(rp.marsaglia_tsang_h(torch.tensor(e, dtype=F64), alpha)))

    assert math.isclose(quad(pi, lo, np.inf), 1.0, rel_tol=1e-9)
    assert math.isclose(
        quad(lambda e: pi(e) * log_h(e), lo, np.inf),
        special.digamma(alpha),
        rel_tol=1e-8,
        abs_tol=1e-10,
    )
    mean_eps = quad(lambda e: e * pi(e), lo, np.inf)
    eps = rp.marsaglia_tsang_accepted(alpha, 100_000, torch.Generator().manual_seed(0))
    assert abs(float(eps.mean()) - mean_eps) < Z * float(eps.std()) / math.sqrt(len(eps))
    h = rp.marsaglia_tsang_h(eps, alpha)
    assert abs(float(h.mean()) - alpha) < Z * math.sqrt(alpha / len(eps))  # Gamma(α, 1)


def test_the_correction_restores_the_exact_gradient_by_quadrature():
    """(9) at alpha = 1: E[g_rep] alone is biased (by 16%), E[g_rep] + E[g_cor] = psi'(1)."""
    alpha = 1.0
    lo = -math.sqrt(9 * (alpha - 1 / 3))

    def correction(e):
        a = torch.tensor(alpha, dtype=F64, requires_grad=True)
        log_pi = rp.marsaglia_tsang_log_pi(torch.tensor(e, dtype=F64), a)
        (score,) = torch.autograd.grad(log_pi, a)
        h = rp.marsaglia_tsang_h(torch.tensor(e, dtype=F64), alpha)
        return float(torch.exp(log_pi.detach()) * torch.log(h) * score)

    rep = rp.marsaglia_tsang_rep_exact(torch.log, alpha, 2.0)
    cor = quad(correction, lo, np.inf)
    trigamma = special.polygamma(1, alpha)
    assert math.isclose(rep + cor, trigamma, rel_tol=1e-7)
    assert rep > 1.1 * trigamma


def test_shape_augmentation_draws_the_gamma_below_one():
    """(10): z' u^(1/alpha), z' ~ Gamma(alpha + 1): E z = alpha/beta and E log z =
    psi(alpha) - log beta (each within 5 se)."""
    alpha, beta, n = 0.4, 2.0, 100_000
    eps, u = rp.marsaglia_tsang_draws(alpha, n, torch.Generator().manual_seed(1))
    z = rp.marsaglia_tsang_h(eps, alpha + 1) / beta * u ** (1 / alpha)
    assert abs(float(z.mean()) - alpha / beta) < Z * math.sqrt(alpha / beta**2 / n)
    sd_log = math.sqrt(special.polygamma(1, alpha))
    expected = special.digamma(alpha) - math.log(beta)
    assert abs(float(torch.log(z).mean()) - expected) < Z * sd_log / math.sqrt(n)


@pytest.mark.parametrize("alpha", [0.5, 3.0])
def test_the_implicit_gradient_has_the_exact_expectations(alpha):
    """(6): ∫ q dz/dα dz = d/dα E z = 1/β and ∫ q (dz/dα)/z dz = psi'(alpha), by quadrature."""
    beta = 2.0

    def q(z):
        return stats.gamma.pdf(z, alpha, scale=1 / beta)

    def dz(z):
        return float(rp.implicit_dz_dalpha(np.array([z]), alpha, beta)[0])

    # beyond the 1 - 1e-13 quantile the density underflows the finite difference; the mass
    # left out is far below the 1e-6 asked
    hi = stats.gamma.isf(1e-13, alpha, scale=1 / beta)
    assert math.isclose(quad(lambda z: q(z) * dz(z), 0, hi), 1 / beta, rel_tol=1e-6)
    assert math.isclose(
        quad(lambda z: q(z) * dz(z) / z, 0, hi), special.polygamma(1, alpha), rel_tol=1e-6
    )


def test_the_gamma_score_is_the_derivative_of_its_log_density():
    z = torch.tensor([0.1, 1.0, 3.5], dtype=F64)
    a = torch.tensor(1.7, dtype=F64, requires_grad=True)
    (grad,) = torch.autograd.grad(rp.gamma_log_prob(z, a, 2.0).sum(), a)
    assert math.isclose(float(grad), float(rp.gamma_score_alpha(z, 1.7, 2.0).sum()), rel_tol=1e-12)


def test_the_composition_of_three_exponentials_is_gamma_3():
    """(7): mean k/β and variance k/β², the variance's se from the fourth central moment
    3k(k + 2)/β⁴."""
    k, beta, n = 3, 2.0, 100_000
    z = rp.gamma_by_composition(
        torch.rand(n, k, generator=torch.Generator().manual_seed(2), dtype=F64), beta
    )
    var = k / beta**2
    assert abs(float(z.mean()) - k / beta) < Z * math.sqrt(var / n)
    assert abs(float(z.var()) - var) < Z * math.sqrt((3 * k * (k + 2) / beta**4 - var**2) / n)


def test_the_gamma_experiment_fails_without_the_jacobian_or_with_the_wrong_sign(monkeypatch):
    """Two slips: the accepted eps's density written as q(h(eps)) without dh/d eps, which
    breaks the correction (9); and dz/dα = +(dF/dα)/q, the implicit gradient's sign lost.
    torch's own rsample is untouched and still passes."""
    assert run_experiment("reparam-gamma").ok
    log_pi = rp.marsaglia_tsang_log_pi

    def no_jacobian(eps, alpha):
        alpha = torch.as_tensor(alpha, dtype=F64)
        d = alpha - 1 / 3
        return log_pi(eps, alpha) - 0.5 * torch.log(d) - 2 * torch.log1p(eps / torch.sqrt(9 * d))

    implicit = rp.implicit_dz_dalpha
    monkeypatch.setattr(rp, "marsaglia_tsang_log_pi", no_jacobian)
    monkeypatch.setattr(rp, "implicit_dz_dalpha", lambda z, a, b: -implicit(z, a, b))
    bad = failed(run_experiment("reparam-gamma"))
    assert "Marsaglia-Tsang + correction: d/dα E[log z] at α = 1.0" in bad
    assert {
        "implicit (6) via scipy: d/dα E[log z] at α = 0.5",
        "implicit (6) via scipy: d/dα E[log z] at α = 1.0",
    } <= bad
    assert not any(claim.startswith("implicit (torch") for claim in bad)


# ---------------------------------------------------------------- the Kumaraswamy
def test_the_kumaraswamy_inverse_cdf_density_and_moments():
    a, b = 0.7, 2.5
    u = torch.linspace(1e-6, 1 - 1e-6, 2001, dtype=F64)
    z = rp.kumaraswamy_icdf(u, a, b)
    assert torch.allclose(1 - (1 - z**a) ** b, u, rtol=0, atol=1e-12)  # F(F^-1(u)) = u

    def pdf(x):
        return float(torch.exp(rp.kumaraswamy_log_prob(torch.tensor(x, dtype=F64), a, b)))

    assert math.isclose(quad(pdf, 0, 1), 1.0, rel_tol=1e-9)
    for m in (1.0, 2.0):
        assert math.isclose(
            quad(lambda x, m=m: x**m * pdf(x), 0, 1),
            float(rp.kumaraswamy_moment(a, b, m)),
            rel_tol=1e-9,
        )


def test_the_kumaraswamy_mean_gradient_is_autograds():
    a = torch.tensor(2.0, dtype=F64, requires_grad=True)
    b = torch.tensor(3.0, dtype=F64, requires_grad=True)
    da, db = torch.autograd.grad(rp.kumaraswamy_moment(a, b), (a, b))
    exact = rp.kumaraswamy_mean_grad(2.0, 3.0)
    assert math.isclose(float(da), exact[0], rel_tol=1e-12)
    assert math.isclose(float(db), exact[1], rel_tol=1e-12)


def test_the_kumaraswamy_experiment_fails_with_a_and_b_swapped(monkeypatch):
    assert run_experiment("reparam-kumaraswamy").ok
    icdf = rp.kumaraswamy_icdf
    monkeypatch.setattr(rp, "kumaraswamy_icdf", lambda u, a, b: icdf(u, b, a))
    bad = failed(run_experiment("reparam-kumaraswamy"))
    assert "sample mean of z at (a, b) = (2, 3) against b B(1 + 1/a, b)" in bad
    assert "pathwise d/da E[z] at (a, b) = (2, 3)" in bad


# ---------------------------------------------------------------- Gumbel-max and -softmax
def test_the_relaxed_gradient_is_autograds_and_the_score_moment_is_exact():
    g = torch.Generator().manual_seed(3)
    theta = torch.tensor([0.5, -0.2, 1.1], dtype=F64, requires_grad=True)
    f = torch.tensor([1.0, -2.0, 0.3], dtype=F64)
    noise = rp.gumbel((5, 3), g)
    for i in range(5):
        y = rp.gumbel_softmax(theta, noise[i], 0.4)
        (grad,) = torch.autograd.grad((f * y).sum(), theta)
        ours = rp.relaxed_gradient(theta.detach(), noise[i], f, 0.4)
        assert torch.allclose(grad, ours, rtol=1e-12, atol=1e-15)
    (exact,) = torch.autograd.grad((f * torch.softmax(theta, 0)).sum(), theta)
    assert torch.allclose(rp.exact_gradient(theta.detach(), f), exact, rtol=1e-12)
    # (17) by enumerating the categories: E|g|^2 = sum_k p_k |f_k (e_k - p)|^2
    p = torch.softmax(theta.detach(), 0)
    g_all = rp.score_gradient(theta.detach(), torch.arange(3), f)
    assert math.isclose(
        float((p * (g_all**2).sum(-1)).sum()),
        rp.score_second_moment(theta.detach(), f),
        rel_tol=1e-12,
    )
    assert torch.allclose((p[:, None] * g_all).sum(0), exact, rtol=1e-12)  # unbiased


def two_category_means(delta: float, tau: float) -> tuple[float, float]:
    """For K = 2, theta = (delta, 0): E[y_1] through the relaxation (L = G_1 - G_2 logistic)
    and E_G'[softmax(theta + tau G')_1], both by quadrature over the logistic density."""
    theta = torch.tensor([delta, 0.0], dtype=F64)

    def relaxed(l):
        return float(rp.gumbel_softmax(theta, torch.tensor([l, 0.0], dtype=F64), tau)[0])

    def smoothed(l):
        return float(torch.softmax(theta + tau * torch.tensor([l, 0.0], dtype=F64), 0)[0])

    p_l = stats.logistic.pdf
    return (
        quad(lambda l: relaxed(l) * p_l(l), -60, 60),
        quad(lambda l: smoothed(l) * p_l(l), -60, 60),
    )


@pytest.mark.parametrize("tau", [0.1, 0.7, 3.0])
def test_the_relaxation_is_gumbel_smoothing_exactly_for_two_categories(tau):
    """(15): E[softmax((theta + G)/tau)] = E[softmax(theta + tau G')]."""
    relaxed, smoothed = two_category_means(0.8, tau)
    assert math.isclose(relaxed, smoothed, rel_tol=1e-9)


def test_the_small_temperature_bounds_hold_and_the_bias_is_second_order():
    """(16) for K = 2, where the smoothed gradient is a 1-D integral: d/d delta of
    f_1 sigma(delta + tau L) + f_2 (1 - ...) is (f_1 - f_2) E sigma'(delta + tau L)."""
    delta, f = 0.8, torch.tensor([1.5, -0.5], dtype=F64)
    p1 = 1 / (1 + math.exp(-delta))

    def sig_prime(x):
        s = 1 / (1 + math.exp(-x))
        return s * (1 - s)

    biases = []
    for tau in (0.02, 0.04, 0.1, 0.3):
        mean_y, _ = two_category_means(delta, tau)
        assert abs(mean_y - p1) <= rp.mean_bias_bound(tau, 2)
        smooth = quad(lambda l, t=tau: sig_prime(delta + t * l) * stats.logistic.pdf(l), -60, 60)
        bias = abs(float(f[0] - f[1])) * abs(smooth - sig_prime(delta))
        assert bias <= rp.gradient_bias_bound(tau, f)
        biases.append(bias)
    # halving tau quarters the bias: O(tau^2), the first-order term has mean zero
    assert math.isclose(biases[1] / biases[0], 4.0, rel_tol=0.02)


def test_the_chi_square_tolerance_has_the_false_alarm_rate_of_five_standard_errors():
    for dof in (1, 3, 7):
        tail = stats.chi2.sf(dof + rp.chi_square_tolerance(dof), dof)
        assert math.isclose(tail, 2 * stats.norm.sf(5), rel_tol=1e-6)


def test_the_gumbel_softmax_experiment_fails_with_exponential_noise(monkeypatch):
    """The slip G = -log U (exponential noise) where -log(-log U) is meant: argmax no longer
    draws softmax(theta)."""
    assert run_experiment("gumbel-softmax").ok
    monkeypatch.setattr(
        rp, "gumbel", lambda shape, g: -torch.log(torch.rand(shape, generator=g, dtype=F64))
    )
    bad = failed(run_experiment("gumbel-softmax"))
    assert any(claim.startswith("Gumbel-max: Pearson chi-square") for claim in bad)


def test_the_gumbel_softmax_experiment_fails_when_tau_divides_only_the_noise(monkeypatch):
    """The slip y = softmax(theta + G/tau): at small tau the noise swamps the logits, so the
    mean of y no longer approaches p."""
    monkeypatch.setattr(
        rp, "gumbel_softmax", lambda logits, noise, tau: torch.softmax(logits + noise / tau, -1)
    )
    bad = failed(run_experiment("gumbel-softmax"))
    assert "mean of y at τ = 0.05 against p (largest |difference|)" in bad


def test_the_experiments_are_deterministic_given_the_seed(monkeypatch):
    monkeypatch.setattr(rp, "DRAWS", 20_000)
    for name in ("reparam-exponential", "reparam-gamma", "reparam-kumaraswamy", "gumbel-softmax"):
        first, second = run_experiment(name, seed=4), run_experiment(name, seed=4)
        assert first.to_dict() == second.to_dict(), name
        assert first.to_dict() != run_experiment(name, seed=5).to_dict(), name
