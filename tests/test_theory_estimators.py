"""genzoo.theory.estimators: the score-function and reparameterization estimators against their
closed forms, Gauss-Hermite quadrature and autograd, and each experiment failing when a formula
is broken.

Tolerances: float precision for the deterministic identities, five standard errors for
Monte-Carlo quantities."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import genzoo.theory.estimators as est
from genzoo.theory import run_experiment

F64 = torch.float64
Z = 5.0


def failed(finding) -> set[str]:
    return {c.claim for c in finding.failed}


@pytest.fixture(scope="module")
def trained_vae():
    """The experiment's VAE, trained once for this module (it is deterministic given the seed)."""
    return est.train_vae(0)


@pytest.fixture(scope="module")
def gradient_variance():
    return run_experiment("gradient-variance", seed=0)


@pytest.fixture(scope="module")
def vae_encoder(trained_vae):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(est, "train_vae", lambda seed, steps=est.TRAIN_STEPS: trained_vae)
        return run_experiment("vae-encoder-gradients", seed=0)


# ---------------------------------------------------------------- the Gaussian objective
def test_the_scores_are_autograds_derivatives_of_the_log_density():
    """(3): d log N(z; mu, sigma^2)/d mu = eps/sigma, d/d sigma = (eps^2 - 1)/sigma."""
    eps = np.array([-1.7, -0.2, 0.4, 2.3])
    mu = torch.tensor(0.8, dtype=F64, requires_grad=True)
    sigma = torch.tensor(0.6, dtype=F64, requires_grad=True)
    for e, s_mu, s_sigma in zip(eps, *est.gaussian_score(eps, 0.6), strict=True):
        z = 0.8 + 0.6 * float(e)
        log_q = torch.distributions.Normal(mu, sigma).log_prob(torch.tensor(z, dtype=F64))
        d_mu, d_sigma = torch.autograd.grad(log_q, (mu, sigma))
        assert math.isclose(float(d_mu), s_mu, rel_tol=1e-12)
        assert math.isclose(float(d_sigma), s_sigma, rel_tol=1e-12, abs_tol=1e-14)


def test_the_pathwise_gradients_are_autograds_through_the_sample():
    """(2): d/d mu and d/d sigma of f(mu + sigma eps) with eps held fixed."""
    eps = np.array([-1.1, 0.3, 1.9])
    mu = torch.tensor(1.2, dtype=F64, requires_grad=True)
    sigma = torch.tensor(0.4, dtype=F64, requires_grad=True)
    g_mu, g_sigma = est.reparam_gradients(eps, 1.2, 0.4, -0.5)
    for i, e in enumerate(eps):
        f = est.square_objective(mu + sigma * float(e), -0.5)
        d_mu, d_sigma = torch.autograd.grad(f, (mu, sigma))
        assert math.isclose(float(d_mu), g_mu[i], rel_tol=1e-12)
        assert math.isclose(float(d_sigma), g_sigma[i], rel_tol=1e-12)


def test_the_polynomials_are_the_estimators_and_have_the_exact_means():
    """(9): the polynomials in eps evaluate to the sampled estimators, and their Gaussian means
    are the gradient (8) for every baseline (5)."""
    mu, sigma, a, b = 0.7, 1.3, 0.2, (2.5, -1.0)
    eps = np.linspace(-3, 3, 13)
    polys = est.estimator_polynomials(mu, sigma, a, b)
    direct = {
        "reparameterization": est.reparam_gradients(eps, mu, sigma, a),
        "score function": est.score_gradients(eps, mu, sigma, a),
        "score + baseline": est.score_gradients(eps, mu, sigma, a, b),
    }
    grad = est.exact_gradient(mu, sigma, a)
    for kind, pair in polys.items():
        for i, p in enumerate(pair):
            np.testing.assert_allclose(p(eps), direct[kind][i], rtol=1e-12, atol=1e-12)
            assert math.isclose(est.normal_moment(p), grad[i], rel_tol=1e-12)


def test_gaussian_moments_are_the_double_factorials():
    P = np.polynomial.Polynomial
    assert [est.normal_moment(P([0] * m + [1])) for m in range(9)] == [1, 0, 1, 0, 3, 0, 15, 0, 105]


@pytest.mark.parametrize("r", [0.0, 0.7, 2.0, 3.5])
def test_the_exact_variances_and_ratios(r):
    """(10)-(12): the polynomial variances against the written formulas, their ratios against
    variance_ratios, and the optimal baselines (6) as E[f s^2]/E[s^2] and as the minimum of
    the variance in b."""
    sigma, a = 0.8, 0.3
    mu, s2, r2 = a + r * sigma, sigma**2, r**2
    base = est.optimal_baseline(mu, sigma, a)
    polys = est.estimator_polynomials(mu, sigma, a, base)
    var = {k: [est.polynomial_variance(p) for p in pair] for k, pair in polys.items()}
    written = {
        "reparameterization": [4 * s2, 4 * s2 * (r2 + 2)],
        "score function": [s2 * (r2**2 + 14 * r2 + 15), 2 * s2 * (r2**2 + 30 * r2 + 37)],
        "score + baseline": [s2 * (8 * r2 + 6), 8 * s2 * (5 * r2 + 3)],
    }
    ratios = est.variance_ratios(r)
    for kind in polys:
        np.testing.assert_allclose(var[kind], written[kind], rtol=1e-11)
        if kind != "reparameterization":
            for i, p in enumerate(("mu", "sigma")):
                assert math.isclose(ratios[kind][p], var[kind][i] / var["reparameterization"][i])
    f = np.polynomial.Polynomial([(mu - a) ** 2, 2 * (mu - a) * sigma, s2])
    eps = np.polynomial.Polynomial([0, 1])
    for i, s in enumerate((eps / sigma, (eps**2 - 1) / sigma)):
        b_star = est.normal_moment(f * s**2) / est.normal_moment(s**2)
        assert math.isclose(b_star, base[i], rel_tol=1e-12)
        for shift in (-0.1, 0.1):
            off = list(base)
            off[i] += shift
            other = est.estimator_polynomials(mu, sigma, a, tuple(off))["score + baseline"][i]
            assert est.polynomial_variance(other) > var["score + baseline"][i]


def test_the_slope_fit_and_the_trace_variance():
    ls = np.array([1.0, 10.0, 100.0])
    slope, se = est.fit_slope(ls, 3.0 / ls, 0.01 * 3.0 / ls)
    assert math.isclose(slope, -1.0, rel_tol=1e-12) and se > 0
    x = np.random.default_rng(0).standard_normal((200_000, 2, 3)) * np.array([1.0, 2.0, 3.0])
    v, v_se = est.variance_and_se(x)
    assert abs(v - 2 * 14.0) < Z * v_se  # the trace: 2 x (1 + 4 + 9)


def test_the_gradient_variance_experiment_holds_and_its_headline_numbers(gradient_variance):
    f = gradient_variance
    assert f.ok, [c.line() for c in f.failed]
    n = f.numbers
    assert n["r"] == 2.0
    assert n["exact_gradient"] == {"mu": 2.0, "sigma": 1.0}
    assert n["optimal_baseline"] == {"mu": 1.75, "sigma": 2.25}
    exact = n["variance_ratio_score_over_reparam"]["exact"]
    assert math.isclose(exact["mu"], 87 / 4) and math.isclose(exact["sigma"], 173 / 12)
    exact_b = n["variance_ratio_score_baseline_over_reparam"]["exact"]
    assert math.isclose(exact_b["mu"], 9.5) and math.isclose(exact_b["sigma"], 46 / 6)
    # the measured ratio at L = 1 against the exact one: the relative standard error of a
    # sample variance of R draws is sqrt(E(g - m)^4 / v^2 - 1) / sqrt(R), from the
    # polynomials' exact fourth moments; the ratio's is at most the two in quadrature, the two
    # sample variances coming from the same draws and growing together with |eps|
    polys = est.estimator_polynomials(1.0, 0.5, 0.0, est.optimal_baseline(1.0, 0.5, 0.0))
    R = n["replicates_per_L"]

    def rel_se(p):
        c = p - est.normal_moment(p)
        v = est.normal_moment(c**2)
        return math.sqrt(est.normal_moment(c**4) / v**2 - 1) / math.sqrt(R)

    for kind, key, expected in (
        ("score function", "variance_ratio_score_over_reparam", exact["mu"]),
        ("score + baseline", "variance_ratio_score_baseline_over_reparam", exact_b["mu"]),
    ):
        tol = Z * math.hypot(rel_se(polys[kind][0]), rel_se(polys["reparameterization"][0]))
        assert abs(n[key]["L=1"]["mu"] / expected - 1) < tol, kind


def test_the_gradient_variance_experiment_fails_without_the_scores_normalizer(monkeypatch):
    """The slip: d log q/d sigma written (z - mu)^2/sigma^3 = eps^2/sigma, the -1/sigma of the
    normalizer 1/sigma dropped. The sigma-gradient is then biased by E f/sigma; mu's is not."""
    monkeypatch.setattr(est, "gaussian_score", lambda eps, sigma: (eps / sigma, eps**2 / sigma))
    bad = failed(run_experiment("gradient-variance"))
    assert "score function: mean d/dsigma E f against 1" in bad
    assert "score + baseline: mean d/dsigma E f against 1" in bad
    assert "score function: mean d/dmu E f against 2" not in bad
    assert not any(claim.startswith("reparameterization") for claim in bad)


# ---------------------------------------------------------------- the VAE's encoder
def test_gauss_hermite_integrates_gaussian_moments_exactly():
    nodes, w = est.gauss_hermite(6, 2)
    assert nodes.shape == (36, 2) and math.isclose(float(w.sum()), 1.0, rel_tol=1e-14)
    moment = float((w * nodes[:, 0] ** 2 * nodes[:, 1] ** 4).sum())
    assert math.isclose(moment, 3.0, rel_tol=1e-12)  # E z1^2 E z2^4 = 1 x 3
    nodes, w = est.gauss_hermite(30, 2)
    mgf = float((w * torch.exp(0.7 * nodes[:, 0] - 0.4 * nodes[:, 1])).sum())
    assert math.isclose(mgf, math.exp((0.49 + 0.16) / 2), rel_tol=1e-12)


def test_the_pilot_baseline_is_the_mean_of_f_when_f_ignores_eps():
    g = torch.Generator().manual_seed(0)
    eps = torch.randn(400_000, 1, 2, generator=g, dtype=F64)
    f = 3.0 + torch.randn(400_000, 1, generator=g, dtype=F64)
    b = est.pilot_baseline(f, eps)
    # b_j - 3 = sum (f - 3) eps_j^2 / sum eps_j^2, of sd about sqrt(E eps^4 / n) = sqrt(3 / n)
    assert torch.allclose(b, torch.full_like(b, 3.0), atol=Z * math.sqrt(3 / 400_000))


def test_the_quadrature_gradient_is_autograds_and_the_score_identity_holds(trained_vae):
    """(14): the rule's E[grad_z f] is the mu-derivative of its E f, and E[f eps]/sigma equals
    it (integration by parts) to float precision."""
    model, data = trained_vae
    model = model.double()
    x = torch.as_tensor(model.transform.forward(data.x_test[[5, 6]]), dtype=F64)
    mu = torch.tensor([[0.3, 2.0], [-1.0, 2.5]], dtype=F64, requires_grad=True)
    sigma = torch.tensor([[0.2, 0.1], [0.15, 0.3]], dtype=F64)
    nodes, w = est.gauss_hermite(24, 2)
    z = mu[None] + sigma[None] * nodes[:, None, :]
    e_f = (w[:, None] * est.decoder_log_lik(model, x, z)).sum(0)
    (grad,) = torch.autograd.grad(e_f.sum(), mu)
    e_f = e_f.detach()
    q = est.quadrature_moments(model, x, mu.detach(), sigma, e_f[:, None].expand(2, 2), 24)
    scale = float(e_f.abs().max() / sigma.min())
    assert torch.allclose(q["gradient"], grad, rtol=0, atol=1e-11 * scale)
    assert torch.allclose(q["gradient, score form"], grad, rtol=0, atol=1e-11 * scale)
    assert torch.allclose(q["E f"], e_f, rtol=1e-13)
    # (6): the variance falls by b E[s_j^2] (2 b*_j - b), positive for b = E f near b*_j
    assert (q["score + baseline"] < q["score function"]).all()


def test_the_vae_experiment_holds_and_its_headline_numbers(vae_encoder):
    f = vae_encoder
    assert f.ok, [c.line() for c in f.failed]
    n = f.numbers
    assert n["latent_dim"] == 2 and len(n["images"]) == 4
    exact = n["one_draw_variance_trace_exact"]
    # the headline ratio, measured at L = 1 and 100, against the quadrature's
    ratio = n["variance_ratio_score_over_reparam"]
    assert math.isclose(ratio["exact"], exact["score function"] / exact["reparameterization"])
    assert ratio["exact"] > 1000 and n["variance_ratio_score_baseline_over_reparam"]["exact"] > 1
    # (i)-(ii): the score function's one-draw variance is about sum_j (E f)^2 / sigma_j^2; the
    # relative difference is of order 2 sd(f)/|E f| over q, a few nats against ~170, so a
    # band of 20% is loose
    sigma = np.array(n["sigma"])
    f_level = np.array(n["reconstruction_term_nats"])[:, None]
    approx = float((f_level**2 / sigma**2).sum())
    assert 0.8 < exact["score function"] / approx < 1.25


def test_the_vae_experiment_fails_when_the_score_forgets_sigma_squared(monkeypatch, trained_vae):
    """The slip: d log q/d mu written z - mu (= sigma eps), the 1/sigma^2 lost. The score-function
    means then miss the reparameterization gradient, and the quadrature's score identity too."""

    def slip(f, eps, sigma, baseline=0.0):
        return (f[..., None] - baseline) * eps * sigma

    monkeypatch.setattr(est, "train_vae", lambda seed, steps=est.TRAIN_STEPS: trained_vae)
    monkeypatch.setattr(est, "vae_score_gradient", slip)
    bad = failed(run_experiment("vae-encoder-gradients"))
    assert "quadrature: largest |E[f ε]/σ - E[∇f]| (the score identity)" in bad
    assert (
        "score + baseline against reparameterization on the same draws: largest |difference| / se"
        in bad
    )
    assert (
        "reparameterization: largest |mean - quadrature gradient| / se over images and dims"
        not in bad
    )
