"""genzoo.theory.dynamics: the Dirac-GAN's fields, Jacobians, invariant forms and remainder
bounds against closed forms and quadrature, and the experiment failing when a formula is broken.

Tolerances: float64 precision for the exact identities, quadrature precision for the
instance-noise expectations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate

import genzoo.theory.dynamics as dy
from genzoo.theory import run_experiment

F64 = torch.float64


def failed(finding) -> set[str]:
    return {c.claim for c in finding.failed}


def t(x) -> torch.Tensor:
    return torch.as_tensor(x, dtype=F64)


@pytest.fixture(scope="module")
def finding():
    return run_experiment("dirac-gan", seed=0)


# ---------------------------------------------------------------- the experiment
def test_every_check_of_the_dirac_gan_holds(finding):
    assert finding.ok, [c.line() for c in finding.failed]
    assert len(finding.checks) >= 15
    assert 2 <= len(finding.panels) <= 4


def test_the_headline_numbers_match_their_closed_forms(finding):
    n = finding.numbers
    a, h = 0.5, dy.H
    # (5): simultaneous steps grow; linearized by exactly sqrt(1 + h^2 a^2) per step
    assert math.isclose(n["growth_per_step_linearized"], math.sqrt(1 + h**2 * a**2), rel_tol=1e-12)
    d0 = math.sqrt(2)
    assert math.isclose(
        n["simultaneous_linearized_distance"], d0 * (1 + h**2 * a**2) ** 500, rel_tol=1e-12
    )
    dist = n["distance_after_steps"]
    # the nonlinear run grows at every step, but never faster than sqrt(1 + h^2) (f' < 1)
    assert d0 < dist["simultaneous"] < d0 * (1 + h**2) ** 500
    # (8): the alternating orbit neither grows nor shrinks much
    lo, hi = n["alternating_ellipse_range"]
    assert math.isclose(lo, math.sqrt((2 - h * a) / (1 + h * a / 2)), rel_tol=1e-12)
    assert math.isclose(hi, math.sqrt(2), rel_tol=1e-12)
    assert 1.3 < dist["alternating"] < 1.5
    # (9), (14): R1 and instance noise converge at sqrt(det(I + hJ))
    rho = n["spectral_radius"]
    assert math.isclose(rho["R1"], math.sqrt(1 - h * 0.3 + h**2 * a**2), rel_tol=1e-12)
    assert math.isclose(rho["instance noise"], math.sqrt(1 - h / 2 + h**2 * a**2), rel_tol=1e-12)
    assert dist["R1"] < n["bound_R1"] < 1e-5
    assert dist["instance noise"] < n["bound_instance_noise"] < 1e-9
    # alternating regularized runs converge too, within a factor 2 of rho_alt^N |x_0|
    for name in ("R1", "instance noise"):
        predicted = d0 * rho[name + " (alternating)"] ** dy.STEPS
        assert 0.5 < dist[name + " (alternating)"] / predicted < 2, name
    # (12): the gradient penalty stops at gamma g0 / f'(0) = 0.6, both ways
    assert math.isclose(dist["gradient penalty"], 0.6, abs_tol=1e-12)
    assert math.isclose(dist["gradient penalty (alternating)"], 0.6, abs_tol=1e-12)
    assert n["gp_final_point"][0] == pytest.approx(-0.6, abs=1e-12)


def test_the_eigenvalues_reported_are_the_closed_forms(finding):
    e = finding.numbers["eigenvalues"]
    assert e["plain"] == [[0.0, 0.5], [0.0, -0.5]]
    re, im = e["r1"][0]
    assert math.isclose(re, -0.15) and math.isclose(im, math.sqrt(0.25 - 0.0225))
    re, im = e["instance_noise"][0]
    assert math.isclose(re, -0.25) and math.isclose(im, math.sqrt(0.25 - 0.0625))
    assert all(im == 0 and re < 0 for re, im in e["gradient_penalty_at_stop"])


# ---------------------------------------------------------------- the pure functions
def test_f_and_its_derivatives_have_their_closed_forms():
    x = t(np.linspace(-30, 30, 601))
    assert torch.allclose(dy.f(x), -torch.log1p(torch.exp(-x)), rtol=1e-13, atol=1e-13)
    assert torch.allclose(dy.f_prime(x), 1 / (1 + torch.exp(x)), rtol=1e-13, atol=1e-300)
    assert float(dy.f_prime(t(0.0))) == dy.A and float(dy.f_second(t(0.0))) == dy.B
    # f''' vanishes at 0 and max |f''''| = 1/8, at t = 0: the constants of (15)
    s = t(np.linspace(-8, 8, 200_001)).requires_grad_(True)
    (third,) = torch.autograd.grad(dy.f_second(s).sum(), s, create_graph=True)
    (fourth,) = torch.autograd.grad(third.sum(), s)
    assert abs(float(third[100_000].detach())) < 1e-15
    assert math.isclose(float(fourth.abs().max()), dy.C4, rel_tol=1e-12)


def test_the_simultaneous_step_grows_the_distance_exactly_by_5():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1000, 2, generator=g, dtype=F64) * 3
    v1, v2 = dy.gan_field(x[:, 0], x[:, 1])
    h = 0.37
    after = (x[:, 0] + h * v1) ** 2 + (x[:, 1] + h * v2) ** 2
    factor = 1 + h**2 * dy.f_prime(x[:, 0] * x[:, 1]) ** 2
    assert torch.allclose(after, factor * (x**2).sum(1), rtol=1e-13)


def test_the_invariant_form_scales_by_the_determinant():
    rng = np.random.default_rng(2)
    tried = 0
    while tried < 50:
        m = rng.normal(size=(2, 2))
        if (m[0, 0] - m[1, 1]) ** 2 + 4 * m[0, 1] * m[1, 0] >= 0:
            with pytest.raises(ValueError, match="real"):
                dy.invariant_form(m)
            continue
        tried += 1
        p = dy.invariant_form(m)
        assert np.all(np.linalg.eigvalsh(p) > 0)
        np.testing.assert_allclose(m.T @ p @ m, np.linalg.det(m) * p, rtol=1e-12, atol=1e-12)


def test_the_step_matrices_are_the_half_steps_composed():
    jac = np.array([[0.1, -0.7], [0.4, -0.3]])
    h = 0.2
    alt = dy.step_matrix(jac, h, alternating=True)
    x = np.array([0.3, -1.1])
    theta = x[0] + h * (jac[0] @ x)
    psi = x[1] + h * (jac[1] @ np.array([theta, x[1]]))
    np.testing.assert_allclose(alt @ x, [theta, psi], rtol=1e-14)
    # (6): det M_alt = (1 + h J11)(1 + h J22)
    assert math.isclose(np.linalg.det(alt), (1 + h * 0.1) * (1 - h * 0.3), rel_tol=1e-13)
    np.testing.assert_allclose(dy.step_matrix(jac, h), np.eye(2) + h * jac)


@pytest.mark.parametrize(("gamma", "sigma"), [(0.3, 1.0), (1.5, 0.4), (0.05, 2.0)])
def test_the_eigenvalue_closed_forms_are_those_of_the_jacobians(gamma, sigma):
    a, b = dy.A, dy.B
    for jac, closed in (
        (np.array([[0, -a], [a, 0]]), dy.gan_eigenvalues()),
        (np.array([[0, -a], [a, -gamma]]), dy.r1_eigenvalues(gamma)),
        (np.array([[0, -a], [a, 2 * sigma**2 * b]]), dy.noise_eigenvalues(sigma)),
    ):
        np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(jac)), np.sort_complex(closed))
    np.testing.assert_allclose(
        dy.jacobian(lambda th, ps: dy.r1_field(th, ps, gamma), 0.0, 0.0), [[0, -a], [a, -gamma]]
    )


@pytest.mark.parametrize(("theta", "psi"), [(0.7, -1.2), (-2.0, 0.5), (1.0, 1.0), (0.0, 2.5)])
def test_the_instance_noise_field_is_the_gaussian_integral(theta, psi):
    """(13) by Gauss-Hermite against adaptive quadrature of the same expectations."""
    sigma = dy.SIGMA

    def expect(fn):
        def integrand(z):
            return fn(z) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

        return integrate.quad(integrand, -40, 40, epsabs=1e-14, epsrel=1e-12, limit=400)[0]

    def fp(x):
        return 1 / (1 + math.exp(x))

    v1 = -psi * expect(lambda z: fp(psi * (theta + sigma * z)))
    v2 = expect(lambda z: (theta + sigma * z) * fp(psi * (theta + sigma * z))) - expect(
        lambda z: sigma * z * fp(-psi * sigma * z)
    )
    got = dy.noise_field(t(theta), t(psi))
    assert math.isclose(float(got[0]), v1, rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(float(got[1]), v2, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("sigma", [None, 0.5, 1.0, 2.0])
def test_the_remainder_bounds_hold(sigma):
    """(10), (15): |v(x) - J x| never exceeds the bound, from far away to very close."""
    g = torch.Generator().manual_seed(3)
    scale = torch.logspace(-3, 0.5, 3000, dtype=F64)[:, None]
    x = torch.randn(3000, 2, generator=g, dtype=F64) * scale
    a, b = dy.A, dy.B
    if sigma is None:
        v1, v2 = dy.gan_field(x[:, 0], x[:, 1])
        lin = torch.stack([-a * x[:, 1], a * x[:, 0]], 1)
    else:
        v1, v2 = dy.noise_field(x[:, 0], x[:, 1], sigma)
        lin = torch.stack([-a * x[:, 1], a * x[:, 0] + 2 * sigma**2 * b * x[:, 1]], 1)
    r = (torch.stack([v1, v2], 1) - lin).norm(dim=1).numpy()
    bound = dy.remainder_bound(x.numpy(), sigma)
    assert np.all(r <= bound * (1 + 1e-9) + 1e-15)
    assert np.median(r / bound) > 0.05  # and it is not vacuous


def test_the_gradient_penalty_stops_where_its_one_sided_field_vanishes():
    theta_star = dy.gp_stop()
    assert theta_star == pytest.approx(-dy.GAMMA_GP * dy.G0 / dy.A)
    v1, v2 = dy.gp_field(t(theta_star), t(dy.PSI_0_PLUS))
    assert abs(float(v1)) < 1e-300 and abs(float(v2)) < 1e-15
    # by symmetry, v(-x) = -v(x): from (-1, -1) it stops at (+theta*, 0-)
    xs = dy.run(dy.gp_field, start=(-1.0, -1.0))
    assert xs[-1, 0] == pytest.approx(-theta_star, abs=1e-12) and xs[-1, 1] <= 0


def test_genzoo_r1_penalty_is_psi_squared_on_the_dirac_critic():
    for psi in (-2.0, 0.3, 1.7):
        r1 = dy.losses.r1_penalty(lambda x, psi=psi: psi * x, torch.zeros(3, 1))
        assert math.isclose(float(r1), psi**2, rel_tol=1e-6)


# ---------------------------------------------------------------- broken maths
def test_the_experiment_fails_when_r1_is_added_with_the_wrong_sign(monkeypatch):
    """The discriminator ascends L - R1; adding R1 (ascending L + R1) makes psi's own
    dynamics unstable: eigenvalues +gamma/2 +- ..., and the iterates leave."""
    field = dy.gan_field

    def wrong(theta, psi, gamma=dy.GAMMA_R1):
        v1, v2 = field(theta, psi)
        return v1, v2 + gamma * psi

    monkeypatch.setattr(dy, "r1_field", wrong)
    bad = failed(run_experiment("dirac-gan"))
    assert "R1: eigenvalues of the Jacobian against -γ/2 ± sqrt(γ²/4 - f'(0)²)" in bad
    assert any(c.startswith("R1: rate per step") for c in bad)  # it never gets close
    assert not any(c.startswith("instance noise") for c in bad)


def test_the_experiment_fails_when_instance_noise_is_only_on_the_samples(monkeypatch):
    """Noise on G(z) alone halves the damping: J_22 = sigma^2 f''(0), not 2 sigma^2 f''(0),
    and the field is no longer the gradient of L_sigma."""
    z, w = dy.hermite()

    def fake_only(theta, psi, sigma=dy.SIGMA):
        theta, psi = theta[..., None], psi[..., None]
        u = theta + sigma * z
        return -(w * psi * dy.f_prime(psi * u)).sum(-1), (w * u * dy.f_prime(psi * u)).sum(-1)

    monkeypatch.setattr(dy, "noise_field", fake_only)
    bad = failed(run_experiment("dirac-gan"))
    assert "largest |v_σ - (-∂L_σ/∂θ, ∂L_σ/∂ψ)| at 8 random points (autograd)" in bad
    assert any(c.startswith("instance noise: eigenvalues") for c in bad)
    assert any(c.startswith("instance noise: largest |sampled gradient mean") for c in bad)


def test_the_experiment_fails_with_f_prime_of_the_wrong_sign(monkeypatch):
    """f'(t) = sigmoid(t) instead of sigmoid(-t): still 1/2 at 0, so the Jacobian at the
    equilibrium is unchanged; the derivative checks see it."""
    monkeypatch.setattr(dy, "f_prime", torch.sigmoid)
    bad = failed(run_experiment("dirac-gan"))
    assert "largest |f'(t) - autograd df/dt| on t in [-8, 8]" in bad
    assert "largest |v - (-∂L/∂θ, ∂L/∂ψ)| at 8 random points (autograd)" in bad


def test_the_experiment_is_deterministic_given_the_seed(finding):
    assert run_experiment("dirac-gan", seed=0).to_dict() == finding.to_dict()
    assert run_experiment("dirac-gan", seed=1).to_dict() != finding.to_dict()
