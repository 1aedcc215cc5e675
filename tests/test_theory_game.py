"""genzoo.theory.game: the optimal discriminator, the game's value at it and the generator's two
losses against closed forms and quadrature, and each experiment failing when a formula is broken
the way it is often written.

Tolerances: float64 precision for exact identities, quadrature precision for integrals, five
standard errors for Monte-Carlo means."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

import genzoo.theory.game as gm
from genzoo.models.gan.losses import d_loss_bce
from genzoo.theory import run_experiment

F64 = torch.float64
LOG4 = math.log(4)


def failed(finding) -> set[str]:
    return {c.claim for c in finding.failed}


def quad(fn, lo, hi, points=None) -> float:
    return integrate.quad(fn, lo, hi, points=points, epsabs=1e-13, epsrel=1e-12, limit=200)[0]


def t(x) -> torch.Tensor:
    return torch.as_tensor(x, dtype=F64)


@pytest.fixture(scope="module")
def discriminator():
    return run_experiment("optimal-discriminator", seed=0)


@pytest.fixture(scope="module")
def value():
    return run_experiment("game-value", seed=0)


@pytest.fixture(scope="module")
def saturation():
    return run_experiment("generator-saturation", seed=0)


# ---------------------------------------------------------------- (1)-(6)
def test_the_pointwise_objective_peaks_at_d_star():
    """(2): a log y + b log(1 - y) has zero slope and negative curvature at a/(a + b), and the
    numerical maximizer finds it."""
    rng = np.random.default_rng(0)
    a, b = rng.uniform(1e-4, 2, 500), rng.uniform(1e-4, 2, 500)
    y = gm.optimal_discriminator(t(a), t(b)).numpy()
    assert np.abs(a / y - b / (1 - y)).max() < 1e-9 * (a / y).max()
    assert (-a / y**2 - b / (1 - y) ** 2 < 0).all()
    assert np.abs(gm.pointwise_maximizer(a, b) - y).max() < 1e-7


def test_the_discriminator_loss_is_minus_v_and_genzoos_and_its_slips():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(64, generator=g, dtype=F64), torch.randn(64, generator=g, dtype=F64)
    minus_v = -(torch.sigmoid(real).log().mean() + (1 - torch.sigmoid(fake)).log().mean())
    loss = gm.discriminator_loss(real, fake)
    assert torch.allclose(loss, minus_v, rtol=1e-13) and torch.allclose(
        loss, d_loss_bce(real, fake)
    )
    assert torch.allclose(gm.discriminator_loss(real, fake, wrong_sign=True), -loss)
    swapped = -((1 - torch.sigmoid(real)).log().mean() + torch.sigmoid(fake).log().mean())
    assert torch.allclose(gm.discriminator_loss(real, fake, swap_labels=True), swapped, rtol=1e-13)


def test_swapped_labels_peak_at_one_minus_d_star_and_the_wrong_sign_has_no_peak():
    """Swapped labels: the pointwise objective is b log y + a log(1 - y). The wrong sign:
    -a log y - b log(1 - y) is convex, and larger at both ends than anywhere inside."""
    a, b = np.array([0.3, 1.2]), np.array([0.9, 0.1])
    assert np.allclose(gm.pointwise_maximizer(b, a), b / (a + b), atol=1e-7)
    y = np.linspace(1e-3, 1 - 1e-3, 999)[:, None]
    wrong = -a * np.log(y) - b * np.log(1 - y)
    assert (np.diff(wrong, 2, axis=0) > 0).all()  # convex: its maximum is at an end
    assert (wrong[[0, -1]].max(0) >= wrong.max(0)).all()


def test_the_value_gap_is_twice_the_mean_bernoulli_kl():
    """(4) by quadrature, for an arbitrary D = sigmoid(0.7 x - 0.2) against N(0, 1), N(1, 1)."""

    def a(x):
        return stats.norm.pdf(x)

    def b(x):
        return stats.norm.pdf(x, 1)

    def d(x):
        return 1 / (1 + math.exp(-(0.7 * x - 0.2)))

    def ds(x):
        return a(x) / (a(x) + b(x))

    def v(dfn):
        return quad(lambda x: a(x) * math.log(dfn(x)) + b(x) * math.log(1 - dfn(x)), -20, 20)

    def kl(x):
        p, q = t(ds(x)), t(d(x))
        return float(gm.bernoulli_kl(p, q))

    gap = v(ds) - v(d)
    assert gap > 0
    assert math.isclose(gap, quad(lambda x: (a(x) + b(x)) * kl(x), -20, 20), rel_tol=1e-9)


def test_the_wilks_bound_and_the_bin_wise_maximizer():
    assert math.isclose(gm.wilks_gap_bound(97, 20_000), (97 + 5 * math.sqrt(194)) / 20_000)
    k, m, d = gm.histogram_discriminator(np.array([0.1, 0.2, 1.5]), np.array([0.3, 1.7, 1.8]),
                                         np.array([0.0, 1.0, 2.0]))  # fmt: skip
    assert k.tolist() == [2, 1] and m.tolist() == [1, 2] and np.allclose(d, [2 / 3, 1 / 3])


def test_the_mixtures_are_densities_and_their_cdfs_match():
    for mix in (gm.DATA, gm.GEN):
        assert math.isclose(quad(lambda x, mix=mix: float(gm.mixture_density(t(x), mix)), -30, 30),
                            1.0, rel_tol=1e-10)  # fmt: skip
        assert math.isclose(
            quad(lambda x, mix=mix: float(gm.mixture_density(t(x), mix)), -30, 0.7),
            float(gm.mixture_cdf(np.array(0.7), mix)),
            rel_tol=1e-10,
        )


# ---------------------------------------------------------------- (7)
@pytest.mark.parametrize("m", [-3.0, 0.5, 2.0, 7.0])
def test_the_value_at_the_optimum_is_2js_minus_log4(m):
    """(7): the adaptive quadrature of (1) at D* against JS by scipy's quadrature of its own
    integrand (0.5 sum p log(2p/(p + q)))."""
    mu = gm.MU_DATA

    def half_kl(p, q):
        return p * math.log(2 * p / (p + q)) if p > 0 else 0.0

    def integrand(x):
        p, q = stats.norm.pdf(x, mu), stats.norm.pdf(x, m)
        return 0.5 * (half_kl(p, q) + half_kl(q, p))

    js_quad = quad(integrand, min(mu, m) - 14, max(mu, m) + 14, points=[(mu + m) / 2])
    assert math.isclose(gm.value_at_optimum(m), 2 * js_quad - LOG4, rel_tol=1e-9, abs_tol=1e-11)
    assert math.isclose(gm.js_gaussians(m), js_quad, rel_tol=1e-8, abs_tol=1e-11)
    assert gm.value_from_js(js_quad) == 2 * js_quad - LOG4


def test_the_value_is_minus_log4_at_the_data_and_nears_zero_far_from_it():
    assert math.isclose(gm.value_at_optimum(gm.MU_DATA), -LOG4, rel_tol=0, abs_tol=1e-13)
    # N(mu, 1) against N(mu + 30, 1): JS = log 2 up to the overlap, of order Phi(-15)
    assert abs(gm.value_at_optimum(gm.MU_DATA + 30)) < 1e-12


# ---------------------------------------------------------------- (8)-(10)
def test_the_generator_slopes_are_autograds_of_the_losses():
    d = torch.tensor([1e-6, 0.01, 0.3, 0.9, 1 - 1e-6], dtype=F64)
    for ns in (False, True):
        logit = torch.logit(d).requires_grad_(True)
        (grad,) = torch.autograd.grad(gm.generator_loss(logit, ns).sum(), logit)
        assert torch.allclose(grad, gm.generator_logit_gradient(d, ns), rtol=1e-10, atol=0)
    assert torch.allclose(gm.generator_loss(torch.logit(d)), torch.log1p(-d), rtol=1e-10)
    assert torch.allclose(gm.generator_loss(torch.logit(d), True), -torch.log(d), rtol=1e-10)


def test_the_gaussian_d_star_logit_is_the_log_density_ratio():
    x = torch.linspace(-5, 5, 11, dtype=F64)
    theta, mu = -1.3, 2.0
    normal = torch.distributions.Normal
    log_ratio = normal(t(mu), t(1.0)).log_prob(x) - normal(t(theta), t(1.0)).log_prob(x)
    assert torch.allclose(gm.gaussian_d_star_logit(x, theta, mu), log_ratio, rtol=0, atol=1e-13)


@pytest.mark.parametrize("theta", [-3.0, 1.0, 2.5])
def test_the_generator_gradients_at_d_star_by_quadrature(theta):
    """(9) and (10): E_pg[-w D*] and E_pg[-w (1 - D*)] (the logit's slope in x is w = mu -
    theta) against 2 JS' and (theta - mu) - 2 JS', JS' by central differences."""
    mu = 3.0
    w = mu - theta

    def d_star(x):
        return 1 / (1 + math.exp(-float(gm.gaussian_d_star_logit(t(x), theta, mu))))

    def pg(x):
        return stats.norm.pdf(x, theta)

    minimax = quad(lambda x: -w * pg(x) * d_star(x), theta - 14, theta + 14)
    ns = quad(lambda x: -w * pg(x) * (1 - d_star(x)), theta - 14, theta + 14)
    jsp = gm.js_slope(theta, mu)
    assert math.isclose(minimax, 2 * jsp, rel_tol=1e-5, abs_tol=1e-9)
    assert math.isclose(ns, (theta - mu) - 2 * jsp, rel_tol=1e-5, abs_tol=1e-9)


# ---------------------------------------------------------------- the experiments
def test_every_check_of_the_optimal_discriminator_holds(discriminator):
    assert discriminator.ok, [c.line() for c in discriminator.failed]
    assert 2 <= len(discriminator.panels) <= 4
    n = discriminator.numbers
    # (7): the value at D* is 2 JS - log 4, -V is genzoo's loss at the optimum
    assert math.isclose(n["value_at_d_star"], 2 * n["js_data_gen"] - LOG4, abs_tol=1e-10)
    assert 0 < n["js_data_gen"] < math.log(2)
    # (4): no discriminator beats D*, and the trained one is within the Wilks bound
    net = n["network"]
    assert 0 < net["value_gap"] < net["wilks_bound"]
    assert net["final_bce"] >= n["bce_at_d_star_log4_minus_2js"] - 5 * math.sqrt(2 / 20_000)
    # the slips: swapped labels learn 1 - D*, far from D*; the wrong sign saturates
    swapped = n["swapped_labels"]
    assert swapped["mean_abs_error_to_1_minus_d_star"] < net["pinsker_bound"]
    assert swapped["mean_abs_error_to_d_star"] > 0.3
    wrong = n["wrong_sign"]
    assert wrong["mass_with_d_below_0.01_or_above_0.99"] > 0.9
    assert wrong["genzoo_d_loss_bce_final"] > 10 * LOG4


def test_the_optimal_discriminator_fails_with_swapped_labels(monkeypatch):
    """The course slip: the discriminator's labels swapped. The network then learns 1 - D*, and
    the checks of the trained network against D* fail; the closed-form ones still pass."""
    loss = gm.discriminator_loss

    def swapped(real, fake, swap_labels=False, wrong_sign=False):
        return loss(real, fake, not swap_labels, wrong_sign)

    monkeypatch.setattr(gm, "discriminator_loss", swapped)
    bad = failed(run_experiment("optimal-discriminator"))
    assert "E_m |D_net - D*|, within sqrt(bound / 4) (Pinsker)" in bad
    assert any(c.startswith("value gap V(D*) - V(D_net) by quadrature") for c in bad)
    assert "genzoo's d_loss_bce against (3), -V on the samples" in bad
    assert not any(c.startswith("numerical maximizer") for c in bad)


def test_the_optimal_discriminator_fails_when_d_star_is_written_upside_down(monkeypatch):
    monkeypatch.setattr(gm, "optimal_discriminator", lambda a, b: b / (a + b))
    bad = failed(run_experiment("optimal-discriminator"))
    assert any(c.startswith("numerical maximizer of a log y") for c in bad)
    assert "V(D*) - V(D_net) against 2 E_m kl(D* || D_net) (4)" in bad


def test_every_check_of_the_game_value_holds(value):
    assert value.ok, [c.line() for c in value.failed]
    n = value.numbers
    assert n["value_at_data"] == pytest.approx(-LOG4, abs=1e-12)
    for m, v in n["value_at"].items():
        assert v == pytest.approx(2 * n["js_at"][m] - LOG4, abs=1e-9)
        assert -LOG4 - 1e-12 <= v <= 0
    assert n["slope_dv_dm_at"]["-6"] > -0.01  # far away the value is flat: JS ~ log 2


def test_the_game_value_fails_without_the_factor_two(monkeypatch):
    """A common slip: V(D*, G) = JS - log 4."""
    monkeypatch.setattr(gm, "value_from_js", lambda j: j - LOG4)
    bad = failed(run_experiment("game-value"))
    assert "V(D*, G) by quadrature against 2 JS - log 4 (7), largest difference on the path" in bad


def test_the_game_value_fails_with_the_wrong_optimal_discriminator(monkeypatch):
    monkeypatch.setattr(gm, "optimal_discriminator", lambda a, b: b / (a + b))
    bad = failed(run_experiment("game-value"))
    assert "genzoo's game_value on 100,000 samples each at m = -2" in bad


def test_every_check_of_the_generator_saturation_holds(saturation):
    assert saturation.ok, [c.line() for c in saturation.failed]
    n = saturation.numbers
    for d, r in n["slope_ratio_minimax_over_ns_at_d"].items():
        assert r == pytest.approx(float(d) / (1 - float(d)), rel=1e-12)
    early = n["generator_step_data_N(3,1)"]["-3"]
    assert early["mean_d_of_g_z"] < 0.01  # the discriminator rejects the samples
    assert abs(early["ratio_minimax_over_ns"]) < 0.01  # and the minimax gradient vanishes
    gan = n["small_gan_300_steps_from_theta_-3"]
    assert abs(gan["non_saturating_final_theta"] - 3.0) < 0.5
    assert gan["minimax_final_theta"] < -2.5


def test_the_generator_saturation_fails_when_the_slopes_are_exchanged(monkeypatch):
    """The slopes of (8) written the other way round, -(1 - D) for the minimax loss."""
    slope = gm.generator_logit_gradient
    monkeypatch.setattr(gm, "generator_logit_gradient", lambda d, ns=False: slope(d, not ns))
    monkeypatch.setattr(gm, "train_small_gan", lambda ns, g, *a, **k: (np.zeros(3), np.zeros(3)))
    bad = failed(run_experiment("generator-saturation"))
    assert any(c.startswith("autograd of genzoo's g_loss_minimax") for c in bad)


def test_the_generator_saturation_fails_with_a_wrong_d_star(monkeypatch):
    """D*'s logit without the 1/2 of its constant: the gradients no longer follow (9), (10)."""
    monkeypatch.setattr(
        gm, "gaussian_d_star_logit", lambda x, theta, mu: (mu - theta) * x - (mu**2 - theta**2)
    )
    monkeypatch.setattr(gm, "train_small_gan", lambda ns, g, *a, **k: (np.zeros(3), np.zeros(3)))
    bad = failed(run_experiment("generator-saturation"))
    assert "minimax generator's gradient at θ = 2 against 2 dJS/dθ (9)" in bad


def test_the_experiments_are_deterministic_given_the_seed():
    for name in ("game-value", "generator-saturation"):
        first, second = run_experiment(name, seed=3), run_experiment(name, seed=3)
        assert first.to_dict() == second.to_dict(), name
        assert first.to_dict() != run_experiment(name, seed=4).to_dict(), name
