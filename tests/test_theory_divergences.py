"""genzoo.theory.divergences: KL, JS, TV and W1 against closed forms, quadrature and scipy, the
sparse autoencoder's KL penalty against its formula, and the experiment failing when a formula
is broken the way it is often written.

Tolerances: float64 precision for exact identities, quadrature precision for integrals, five
standard errors for Monte-Carlo estimates."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

import genzoo.theory.divergences as dv
from genzoo.models.autoencoders.common import kl_sparsity
from genzoo.theory import run_experiment

F64 = torch.float64
LOG2 = math.log(2)


def failed(finding) -> set[str]:
    return {c.claim for c in finding.failed}


def quad(fn, lo, hi, points=None) -> float:
    return integrate.quad(fn, lo, hi, points=points, epsabs=1e-13, epsrel=1e-12, limit=200)[0]


@pytest.fixture(scope="module")
def finding():
    return run_experiment("divergences", seed=0)


# ---------------------------------------------------------------- KL
def test_kl_of_discrete_distributions_both_ways():
    p, q = np.array([0.5, 0.5]), np.array([0.25, 0.75])
    assert math.isclose(dv.kl(p, q), 0.5 * math.log(2) + 0.5 * math.log(2 / 3), rel_tol=1e-14)
    assert math.isclose(dv.kl(q, p), 0.25 * math.log(0.5) + 0.75 * math.log(1.5), rel_tol=1e-14)
    assert dv.kl(p, p) == 0.0
    # 0 log 0 = 0; mass where q has none: infinite
    assert math.isclose(dv.kl(np.array([0.0, 1.0]), np.array([0.5, 0.5])), LOG2, rel_tol=1e-15)
    assert dv.kl(np.array([0.5, 0.5]), np.array([0.0, 1.0])) == math.inf
    with pytest.raises(ValueError):
        dv.kl(np.array([0.5, 0.5]), np.array([1.0]))
    with pytest.raises(ValueError):
        dv.kl(np.array([1.5, -0.5]), np.array([0.5, 0.5]))


def test_kl_is_nonnegative_on_random_pairs():
    rng = np.random.default_rng(0)
    for _ in range(200):
        p, q = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5))
        assert dv.kl(p, q) >= 0 and dv.kl(q, p) >= 0


@pytest.mark.parametrize("m1,s1,m2,s2", [(0.0, 1.0, 1.0, 1.0), (0.3, 0.8, -1.0, 2.0)])
def test_kl_of_gaussians_against_quadrature_and_the_grid(m1, s1, m2, s2):
    def integrand(x, a, b):
        la, lb = stats.norm.logpdf(x, *a), stats.norm.logpdf(x, *b)
        return math.exp(la) * (la - lb)

    for a, b in (((m1, s1), (m2, s2)), ((m2, s2), (m1, s1))):
        exact = dv.kl_gaussian(a[0], a[1], b[0], b[1])
        assert math.isclose(quad(lambda x, a=a, b=b: integrand(x, a, b), -30, 30), exact,
                            rel_tol=1e-10)  # fmt: skip
        # a grid where neither density underflows and both tails have vanished
        x = np.arange(-25, 25, 0.005)
        grid = dv.kl(dv.gaussian_density(x, *a), dv.gaussian_density(x, *b), 0.005)
        assert math.isclose(grid, exact, rel_tol=1e-10)


# ---------------------------------------------------------------- JS and TV
def test_js_is_symmetric_bounded_and_log2_on_disjoint_supports():
    rng = np.random.default_rng(1)
    for _ in range(200):
        p, q = rng.dirichlet(np.full(4, 0.3)), rng.dirichlet(np.full(4, 0.3))
        j = dv.js(p, q)
        assert 0 <= j <= LOG2 and math.isclose(j, dv.js(q, p), rel_tol=1e-12, abs_tol=1e-15)
        m = (p + q) / 2

        def h(v):
            return -sum(x * math.log(x) for x in v if x > 0)

        assert math.isclose(j, h(m) - (h(p) + h(q)) / 2, rel_tol=1e-10, abs_tol=1e-14)
    assert dv.js(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(LOG2, abs=1e-15)
    assert dv.js(np.array([0.2, 0.8]), np.array([0.2, 0.8])) == 0.0


def test_tv_is_the_largest_difference_over_events():
    """(4): TV = max_A |P(A) - Q(A)| by enumerating all 2^5 events."""
    rng = np.random.default_rng(2)
    p, q = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5))
    best = max(abs(p[list(a)].sum() - q[list(a)].sum())
               for r in range(6) for a in itertools.combinations(range(5), r))  # fmt: skip
    assert math.isclose(dv.total_variation(p, q), best, rel_tol=1e-14)
    assert dv.total_variation(p, q) <= math.sqrt(dv.kl(p, q) / 2)  # Pinsker


@pytest.mark.parametrize("delta,s", [(0.5, 1.0), (3.0, 2.0)])
def test_tv_of_equal_variance_gaussians(delta, s):
    half = quad(lambda x: abs(stats.norm.pdf(x, 0, s) - stats.norm.pdf(x, delta, s)), -40, 40,
                points=[delta / 2])  # fmt: skip
    assert math.isclose(dv.tv_gaussian_equal_variance(delta, s), half / 2, rel_tol=1e-10)
    assert math.isclose(dv.tv_gaussian_equal_variance(-delta, s), half / 2, rel_tol=1e-10)


# ---------------------------------------------------------------- W1
def test_w1_from_samples_against_scipy_and_the_sorted_coupling():
    rng = np.random.default_rng(3)
    x, y = rng.normal(0, 1, 700), rng.exponential(1.0, 450)
    assert math.isclose(dv.wasserstein1(x, y), stats.wasserstein_distance(x, y), rel_tol=1e-12)
    y2 = rng.normal(0.4, 2.0, 700)
    assert math.isclose(dv.wasserstein1(x, y2), dv.wasserstein1_sorted(x, y2), rel_tol=1e-12)
    assert dv.wasserstein1(x, x) == 0.0
    with pytest.raises(ValueError):
        dv.wasserstein1_sorted(x, y)


@pytest.mark.parametrize("m2,s2", [(1.5, 1.0), (0.5, 2.0), (-1.0, 0.3)])
def test_w1_of_gaussians_against_quadrature_of_the_cdfs(m2, s2):
    by_cdf = quad(lambda x: abs(stats.norm.cdf(x) - stats.norm.cdf(x, m2, s2)), -40, 40)
    assert math.isclose(dv.w1_gaussian(0.0, 1.0, m2, s2), by_cdf, rel_tol=1e-9)
    by_quantiles = quad(lambda u: abs(stats.norm.ppf(u) - stats.norm.ppf(u, m2, s2)), 0, 1)
    assert math.isclose(dv.w1_gaussian(0.0, 1.0, m2, s2), by_quantiles, rel_tol=1e-7)


def test_w1_from_densities_and_from_cdfs_agree():
    dx = 0.002
    x = np.arange(-15, 15, dx)
    p, q = dv.gaussian_density(x, 0, 1), dv.gaussian_density(x, 0.5, 2)
    from_cdf = dv.wasserstein1_cdf(stats.norm.cdf(x), stats.norm.cdf(x, 0.5, 2), dx)
    assert abs(dv.wasserstein1_density(p, q, dx) - from_cdf) < dx**2
    assert abs(from_cdf - dv.w1_gaussian(0, 1, 0.5, 2)) < dx**2


@pytest.mark.parametrize("m2,s2", [(2.0, 1.0), (0.5, 2.0)])
def test_the_standard_error_of_w1_matches_its_spread_over_repeats(m2, s2):
    """(8): the standard error from one sample against the standard deviation of W1 over 300
    repeats. That sd estimate has relative error 1/sqrt(2 * 299) = 4%: 5 of them is 20%."""
    rng = np.random.default_rng(4)
    n = 2000
    runs = [dv.wasserstein1(rng.normal(0, 1, n), rng.normal(m2, s2, n)) for _ in range(300)]
    se = dv.w1_standard_error(rng.normal(0, 1, n), rng.normal(m2, s2, n))
    assert abs(se / np.std(runs, ddof=1) - 1) < 0.2
    assert abs(np.mean(runs) - dv.w1_gaussian(0, 1, m2, s2)) < 5 * se / math.sqrt(300)


# ---------------------------------------------------------------- the sparsity penalty
def test_the_sparsity_kl_is_the_bernoulli_kl_both_ways():
    rho, r = 0.05, torch.tensor([0.001, 0.2, 0.7], dtype=F64)
    right = rho * torch.log(rho / r) + (1 - rho) * torch.log((1 - rho) / (1 - r))
    wrong = r * torch.log(r / rho) + (1 - r) * torch.log((1 - r) / (1 - rho))
    assert torch.allclose(dv.sparsity_kl(rho, r), right, rtol=1e-14)
    assert torch.allclose(dv.sparsity_kl(rho, r, reversed_args=True), wrong, rtol=1e-14)
    for rev in (False, True):
        rr = r.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(dv.sparsity_kl(rho, rr, rev).sum(), rr)
        assert torch.allclose(g, dv.sparsity_kl_grad(rho, r, rev), rtol=1e-12)


def test_genzoos_kl_sparsity_is_kl_rho_rhohat_not_reversed():
    """genzoo's penalty on a batch of codes whose unit means are rho^_j."""
    rho = 0.05
    h = torch.tensor([[0.001, 0.3, 0.9], [0.003, 0.1, 0.7]], dtype=F64)
    rho_hat = h.mean(0)
    assert math.isclose(float(kl_sparsity(h, rho)), float(dv.sparsity_kl(rho, rho_hat).sum()),
                        rel_tol=1e-13)  # fmt: skip
    assert not math.isclose(
        float(kl_sparsity(h, rho)), float(dv.sparsity_kl(rho, rho_hat, True).sum()), rel_tol=0.01
    )


def test_the_reversed_penalty_is_bounded_and_the_correct_one_is_not():
    """(10): KL(rho^ || rho) -> -log(1 - rho) at rho^ -> 0 and -log rho at rho^ -> 1."""
    rho = 0.05
    ends = torch.tensor([1e-12, 1 - 1e-12], dtype=F64)
    wrong = dv.sparsity_kl(rho, ends, reversed_args=True)
    assert math.isclose(float(wrong[0]), -math.log(1 - rho), rel_tol=1e-9)
    assert math.isclose(float(wrong[1]), -math.log(rho), rel_tol=1e-9)
    right = dv.sparsity_kl(rho, ends)
    assert (right > 1.0).all() and float(right[1]) > 20


# ---------------------------------------------------------------- the experiment
def test_every_check_of_the_divergences_holds(finding):
    assert finding.ok, [c.line() for c in finding.failed]
    assert 2 <= len(finding.panels) <= 4
    n = finding.numbers
    for row in n["kl_gaussians"]:
        (m1, s1), (m2, s2) = row["p"], row["q"]
        assert row["kl_pq"] == pytest.approx(dv.kl_gaussian(m1, s1, m2, s2), abs=1e-9)
        assert row["kl_qp"] == pytest.approx(dv.kl_gaussian(m2, s2, m1, s1), abs=1e-9)
    shift = n["along_shift"]
    for d, j, tv, w1, kl in zip(shift["delta"], shift["JS"], shift["TV"], shift["W1"],
                                shift["KL"], strict=True):  # fmt: skip
        assert 0 <= j <= LOG2 and w1 == pytest.approx(d, abs=1e-9)
        assert kl == pytest.approx(d**2 / 2, abs=1e-9)
        assert tv == pytest.approx(2 * stats.norm.cdf(d / 2) - 1, abs=1e-6)
    assert n["disjoint"] == {"js": pytest.approx(LOG2, abs=1e-15), "tv": 1.0, "kl": math.inf}
    sp = n["sparsity_rho_0.05"]
    i = sp["rho_hat"].index(0.001)
    assert sp["grad_kl_rho_rhohat"][i] == pytest.approx((0.001 - 0.05) / (0.001 * 0.999))
    assert sp["grad_reversed"][i] == pytest.approx(math.log(0.001 / 0.999) - math.log(0.05 / 0.95))
    assert sp["curvature_at_rho"] == pytest.approx(1 / (0.05 * 0.95), rel=1e-12)


def test_the_divergences_fail_with_the_sparsity_kl_reversed(monkeypatch):
    """The course slip: the sparse autoencoder's KL with its arguments reversed."""
    kl = dv.sparsity_kl
    monkeypatch.setattr(
        dv, "sparsity_kl", lambda rho, r, reversed_args=False: kl(rho, r, not reversed_args)
    )
    bad = failed(run_experiment("divergences"))
    assert "genzoo's kl_sparsity against KL(ρ || ρ^) (9), largest difference" in bad


def test_the_divergences_fail_with_the_gaussian_kl_variances_swapped(monkeypatch):
    """log(s1/s2) for log(s2/s1) in (2): only the pairs of unequal variances can see it."""
    monkeypatch.setattr(
        dv, "kl_gaussian",
        lambda m1, s1, m2, s2: math.log(s1 / s2) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5,
    )  # fmt: skip
    bad = failed(run_experiment("divergences"))
    assert "KL(p || q) on the grid, N(0, 1²) vs N(0.5, 2²), against (2)" in bad
    assert "KL(p || q) on the grid, N(0, 1²) vs N(1, 1²), against (2)" not in bad


def test_the_divergences_fail_when_w1_forgets_the_absolute_value(monkeypatch):
    """int (F - G) dt in place of int |F - G| dt: the difference of the means, blind to a change
    of scale."""
    monkeypatch.setattr(dv, "wasserstein1_cdf", lambda f, g, dx: abs(float((f - g).sum()) * dx))
    bad = failed(run_experiment("divergences"))
    assert "W1 of N(0, 1), N(0.5, 2²) from the CDFs against (7)" in bad
    assert "W1 of N(0, 1), N(Δ, 1) from the CDFs against |Δ| (7), largest difference" not in bad


def test_the_experiment_is_deterministic_given_the_seed():
    first, second = run_experiment("divergences", seed=3), run_experiment("divergences", seed=3)
    assert first.to_dict() == second.to_dict()
    assert first.to_dict() != run_experiment("divergences", seed=4).to_dict()
