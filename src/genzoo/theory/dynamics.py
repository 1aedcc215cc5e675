"""The GAN game's dynamics: the Dirac-GAN (Mescheder, Geiger & Nowozin 2018), where gradient
steps circle the equilibrium instead of reaching it, and the regularizers that fix it.

The data is a Dirac at 0, the generator a Dirac at theta, the discriminator D(x) = psi x.
With the GAN loss

    f(t) = -log(1 + e^(-t)),   f'(t) = 1/(1 + e^t),   f''(t) = -f'(t) f'(-t),         (1)

so that f'(0) = 1/2, f''(0) = -1/4 and |f''| <= 1/4, the game's value is

    L(theta, psi) = f(D(theta)) + f(-D(0)) = f(psi theta) + f(0),                      (2)

which the generator minimizes in theta and the discriminator maximizes in psi. Gradient
descent for the one and ascent for the other follow the gradient vector field

    v(theta, psi) = (-dL/d theta, dL/d psi) = (-psi f'(theta psi), theta f'(theta psi)).  (3)

Since f' > 0, v = 0 only at the equilibrium (0, 0). There its Jacobian is

    J = [[0, -f'(0)], [f'(0), 0]],   eigenvalues +- i f'(0),                            (4)

purely imaginary: the flow d(theta, psi)/dt = v keeps theta^2 + psi^2 constant (the two
cross terms cancel), so it circles the equilibrium forever. Write a = f'(0) and x = (theta, psi).

Simultaneous steps x_{k+1} = x_k + h v(x_k) do worse. The cross terms cancel again, and

    |x_{k+1}|^2 = (1 + h^2 f'(theta_k psi_k)^2) |x_k|^2,                               (5)

exactly, so the distance to the equilibrium grows at every step, for every h > 0. Linearized,
x_{k+1} = (I + hJ) x_k, with I + hJ = sqrt(1 + h^2 a^2) times a rotation: the distance grows
by exactly sqrt(1 + h^2 a^2) = |1 + h (+- i a)| per step.

Alternating steps update the generator first, theta' = theta + h v_theta(theta, psi), then the
discriminator at the new theta, psi' = psi + h v_psi(theta', psi). Linearized, the step is the
product of the two half steps, [[1, 0], [h J21, 1 + h J22]] [[1 + h J11, h J12], [0, 1]], so
det M_alt = (1 + h J11)(1 + h J22) whatever J12 and J21 are. Here, with c = h a,

    M_alt = [[1, -c], [c, 1 - c^2]],   det M_alt = 1,   trace 2 - c^2,                    (6)

whose eigenvalues lie on the unit circle for c < 2: neither growth nor decay. Which norm does
it keep? For any real 2x2 matrix M with complex eigenvalues, K = M - (tr M / 2) I commutes
with M, and every 2x2 A has A^T E A = det(A) E with E = [[0, 1], [-1, 0]]. So P = -E K,
which is symmetric, [[-m21, (m11 - m22)/2], [(m11 - m22)/2, m12]], satisfies

    M^T P M = det(M) P,   so   |M x|_P = sqrt(det M) |x|_P,   |x|_P^2 = x^T P x,         (7)

and P is definite exactly when the eigenvalues are complex (take the sign that makes it
positive). For I + hJ, P = I, which is (5) linearized. For M_alt, P = [[1, -c/2], [-c/2, 1]]:

    Q(theta, psi) = theta^2 + psi^2 - c theta psi   is conserved,                        (8)

so the alternating orbit is an ellipse, with distances between sqrt(Q0/(1 + c/2)) and
sqrt(Q0/(1 - c/2)): bounded, and never closer than the first.

R1 (Mescheder et al.) penalizes the discriminator's gradient on the data: with grad_x D = psi,
R1 = gamma/2 psi^2, and the discriminator ascends L - R1:

    v_R1 = (-psi f'(theta psi), theta f'(theta psi) - gamma psi),
    J_R1 = [[0, -a], [a, -gamma]],   eigenvalues -gamma/2 +- sqrt(gamma^2/4 - a^2).        (9)

Now d|x|^2/dt = -2 gamma psi^2 <= 0. For gamma < 2a, (7) gives the simultaneous step's rate
rho = sqrt(det(I + h J_R1)) = sqrt(1 - h gamma + h^2 a^2) < 1 for h < gamma/a^2, in the norm of
its P; alternating steps have det M_alt = 1 - h gamma by (6). Beyond the linearization, v is
J x plus a remainder: for (3) and (9) it is r = (f'(theta psi) - a) (-psi, theta), and
|f'(t) - a| <= |t|/4 since |f''| <= 1/4. So with kappa the condition number of P,

    |x_{k+1}|_P <= (rho + eta_k) |x_k|_P,   eta_k = h sqrt(kappa) |r(x_k)| / |x_k|,        (10)

with |r(x)| <= |theta psi| |x| / 4; likewise |x_{k+1}|_P >= (rho - eta_k) |x_k|_P. Multiplying
(10) over the steps bounds the distance after N steps; over a late window of steps, where x is
small, the measured rate must equal rho within the largest eta_k.

The WGAN-GP-style penalty pulls the gradient's norm to g0: R_GP = gamma/2 (|psi| - g0)^2,

    v_GP = (-psi f'(theta psi), theta f'(theta psi) - gamma (|psi| - g0) sign(psi)).       (11)

It is discontinuous at psi = 0 (v_psi jumps by 2 gamma g0), and v_GP vanishes nowhere off
psi = 0. The field on the side psi > 0, extended to psi = 0, vanishes at

    (theta*, 0),   theta* = -gamma g0 / f'(0),                                           (12)

(and at (+gamma g0/a, 0) from psi < 0), with Jacobian [[0, -a], [a, theta*^2 f''(0) - gamma]]:
trace theta*^2 f''(0) - gamma < 0 and determinant a^2, a stable point. Iterates that approach it
from psi > 0 stop there, at the distance gamma g0 / f'(0) from the equilibrium: the penalty that is
not centred at zero moves the point the generator converges to. (The paper studies the
penalty with the Wasserstein loss f(t) = t, where the same argument gives theta* = -gamma g0.)

Instance noise adds eps ~ N(0, sigma^2) to the data and to the samples; the expected value is

    L_sigma = E f(psi (theta + eps)) + E f(-psi eps'),
    v_sigma = (-psi E f'(psi u), E[u f'(psi u)] - E[eps' f'(-psi eps')]),   u = theta + eps,  (13)

expectations computed by Gauss-Hermite quadrature (exact for polynomials of degree below twice
the number of nodes; for these analytic integrands the error falls geometrically, below 1e-11
for |psi| sigma <= 2.5 with 128 nodes). At (0, 0),

    J_sigma = [[0, -a], [a, 2 sigma^2 f''(0)]],
    eigenvalues sigma^2 f''(0) +- sqrt(sigma^4 f''(0)^2 - a^2),                          (14)

so det(I + h J_sigma) = 1 + 2 h sigma^2 f''(0) + h^2 a^2 and det M_alt = 1 + 2 h sigma^2 f''(0).
For the remainder r = v_sigma - J_sigma x, expand f'(t) = a + f''(0) t + r3(t): f'(t) - a is
odd, so f'''(0) = 0 and |r3(t)| <= c4 |t|^3/6, c4 = max |f''''| = 1/8. Then

    |r_theta| <= |psi| (|theta psi|/4 + |psi|^3 (E u^4)^(3/4)/48),
    |r_psi| <= |psi| theta^2/4 + |psi|^3 (E u^4 + 3 sigma^4)/48,                           (15)

using E|u|^3 <= (E u^4)^(3/4), E u^4 = theta^4 + 6 theta^2 sigma^2 + 3 sigma^4 and
E eps'^4 = 3 sigma^4; (10) turns (15) into a rate and a bound.
"""

from __future__ import annotations

import cmath
import functools
import math
from collections.abc import Callable

import numpy as np
import torch

from ..models.gan import losses
from . import Check, Finding, Panel, Series, experiment

Tensor = torch.Tensor
Field = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]
F64 = torch.float64
Z = 5.0  # Monte-Carlo tolerances: five standard errors

H = 0.1  # step size, as the paper's code
STEPS = 1000
START = (1.0, 1.0)
GAMMA_R1 = 0.3  # the authors' code's defaults for the Dirac-GAN
GAMMA_GP, G0 = 1.0, 0.3
SIGMA = 1.0
NODES = 128  # Gauss-Hermite nodes for the instance-noise expectations
C4 = 1 / 8  # max |f''''| of (1)
PSI_0_PLUS = 5e-324  # the smallest positive float: psi = 0+, the side of (12)
# float64 rounding: unit roundoff 1.1e-16; a few operations per step over 1,000 steps stays
# below 1e-12 relative, so identities that hold exactly are checked to 1e-12 (1e-11 where the
# error accumulates over the whole run)
EXACT = 1e-12
RUN = 1e-11


# ---------------------------------------------------------------- the game, (1)-(3)
def f(t: Tensor) -> Tensor:
    """(1): f(t) = -log(1 + e^(-t)) = -(max(-t, 0) + log(1 + e^(-|t|))), the GAN loss (torch's
    softplus turns linear above 20, an error of e^(-20) that float64 would see)."""
    return -(torch.relu(-t) + torch.log1p(torch.exp(-t.abs())))


def f_prime(t: Tensor) -> Tensor:
    """(1): f'(t) = 1/(1 + e^t) = sigmoid(-t)."""
    return torch.sigmoid(-t)


def f_second(t: Tensor) -> Tensor:
    """(1): f''(t) = -sigmoid(t) sigmoid(-t)."""
    return -torch.sigmoid(t) * torch.sigmoid(-t)


A = 0.5  # f'(0)
B = -0.25  # f''(0)


def loss(theta: Tensor, psi: Tensor) -> Tensor:
    """(2): L(theta, psi) = f(psi theta) + f(0)."""
    return f(psi * theta) + f(torch.zeros_like(psi))


def gan_field(theta: Tensor, psi: Tensor) -> tuple[Tensor, Tensor]:
    """(3): v = (-psi f'(theta psi), theta f'(theta psi))."""
    g = f_prime(theta * psi)
    return -psi * g, theta * g


def r1_field(theta: Tensor, psi: Tensor, gamma: float = GAMMA_R1) -> tuple[Tensor, Tensor]:
    """(9): the discriminator ascends L - gamma/2 psi^2."""
    v1, v2 = gan_field(theta, psi)
    return v1, v2 - gamma * psi


def gp_field(
    theta: Tensor, psi: Tensor, gamma: float = GAMMA_GP, g0: float = G0
) -> tuple[Tensor, Tensor]:
    """(11): the discriminator ascends L - gamma/2 (|psi| - g0)^2."""
    v1, v2 = gan_field(theta, psi)
    return v1, v2 - gamma * (psi.abs() - g0) * torch.sign(psi)


@functools.cache
def hermite(n: int = NODES) -> tuple[Tensor, Tensor]:
    """Nodes z_i and weights w_i with E phi(Z) = sum_i w_i phi(z_i) for Z ~ N(0, 1)."""
    z, w = np.polynomial.hermite_e.hermegauss(n)
    return torch.tensor(z, dtype=F64), torch.tensor(w / math.sqrt(2 * math.pi), dtype=F64)


def noise_loss(theta: Tensor, psi: Tensor, eps: Tensor, eps_real: Tensor) -> Tensor:
    """(13) for one draw of the noise: f(psi (theta + eps)) + f(-psi eps')."""
    return f(psi * (theta + eps)) + f(-psi * eps_real)


def noise_field(theta: Tensor, psi: Tensor, sigma: float = SIGMA) -> tuple[Tensor, Tensor]:
    """(13): the expected field under instance noise, by Gauss-Hermite quadrature."""
    z, w = hermite()
    theta, psi = theta[..., None], psi[..., None]
    u, e = theta + sigma * z, sigma * z
    v1 = -(w * psi * f_prime(psi * u)).sum(-1)
    v2 = (w * (u * f_prime(psi * u) - e * f_prime(-psi * e))).sum(-1)
    return v1, v2


def expected_noise_loss(theta: Tensor, psi: Tensor, sigma: float = SIGMA) -> Tensor:
    """(13): L_sigma by the same quadrature (its gradient is v_sigma)."""
    z, w = hermite()
    return (w * noise_loss(theta[..., None], psi[..., None], sigma * z, sigma * z)).sum(-1)


# ---------------------------------------------------------------- linearization, (4)-(9), (14)
def jacobian(field: Field, theta: float, psi: float) -> np.ndarray:
    """The Jacobian d v / d (theta, psi) of `field` at a point, by autograd."""

    def v(x: Tensor) -> Tensor:
        return torch.stack(field(x[0], x[1]))

    x = torch.tensor([theta, psi], dtype=F64)
    return torch.autograd.functional.jacobian(v, x).numpy()


def eigenvalues(trace: float, det: float) -> np.ndarray:
    """The roots of l^2 - trace l + det, the eigenvalues of a 2x2 matrix, (4), (9), (14)."""
    root = cmath.sqrt(trace**2 / 4 - det)
    return np.array([trace / 2 + root, trace / 2 - root])


def gan_eigenvalues() -> np.ndarray:
    """(4): +- i f'(0)."""
    return eigenvalues(0.0, A**2)


def r1_eigenvalues(gamma: float = GAMMA_R1) -> np.ndarray:
    """(9): -gamma/2 +- sqrt(gamma^2/4 - f'(0)^2)."""
    return eigenvalues(-gamma, A**2)


def noise_eigenvalues(sigma: float = SIGMA) -> np.ndarray:
    """(14): sigma^2 f''(0) +- sqrt(sigma^4 f''(0)^2 - f'(0)^2)."""
    return eigenvalues(2 * sigma**2 * B, A**2)


def gp_stop(gamma: float = GAMMA_GP, g0: float = G0) -> float:
    """(12): theta* = -gamma g0 / f'(0), where the psi > 0 side of v_GP vanishes."""
    return -gamma * g0 / A


def gp_eigenvalues(gamma: float = GAMMA_GP, g0: float = G0) -> np.ndarray:
    """(12): the eigenvalues of [[0, -a], [a, theta*^2 f''(0) - gamma]]."""
    return eigenvalues(gp_stop(gamma, g0) ** 2 * B - gamma, A**2)


def step_matrix(jac: np.ndarray, h: float, alternating: bool = False) -> np.ndarray:
    """The linearized step: I + hJ (simultaneous), or (6): theta first, then psi at the new
    theta."""
    if not alternating:
        return np.eye(2) + h * jac
    gen = np.array([[1 + h * jac[0, 0], h * jac[0, 1]], [0.0, 1.0]])
    disc = np.array([[1.0, 0.0], [h * jac[1, 0], 1 + h * jac[1, 1]]])
    return disc @ gen


def invariant_form(m: np.ndarray) -> np.ndarray:
    """(7): the positive definite P with M^T P M = det(M) P, for M with complex eigenvalues."""
    p = np.array([[-m[1, 0], (m[0, 0] - m[1, 1]) / 2], [(m[0, 0] - m[1, 1]) / 2, m[0, 1]]])
    if np.linalg.det(p) <= 0:
        raise ValueError("the step's eigenvalues are real: no invariant quadratic form")
    return p if p[0, 0] > 0 else -p


def p_norm(p: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """|x|_P = sqrt(x^T P x) for each row of xs."""
    return np.sqrt(np.einsum("ki,ij,kj->k", xs, p, xs))


def remainder_bound(xs: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """(10), (15): a bound on |v(x) - J x| for each row x of xs, for (3) and (9) (sigma None)
    or for instance noise of scale sigma."""
    theta, psi = xs[:, 0], xs[:, 1]
    d = np.hypot(theta, psi)
    if sigma is None:
        return np.abs(theta * psi) * d / 4
    u4 = theta**4 + 6 * theta**2 * sigma**2 + 3 * sigma**4
    r1 = np.abs(psi) * (np.abs(theta * psi) / 4 + C4 * np.abs(psi) ** 3 * u4**0.75 / 6)
    r2 = np.abs(psi) * theta**2 / 4 + C4 * np.abs(psi) ** 3 * (u4 + 3 * sigma**4) / 6
    return np.hypot(r1, r2)


def rounding_bound(xs: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """The float64 error of one computed step's field, for each row x of xs: a few operations of
    relative error u = 2^-53 on terms of size |theta| + |psi|, and for instance noise a sum of
    NODES terms, each at most |u_i| + |eps_i| (f' < 1), whose error is at most NODES u times
    the sum of their sizes, sum_i w_i (|theta| + 2 sigma |z_i|) <= |theta| + 2 sigma sqrt(2/pi).
    Far from the equilibrium it is negligible; within 1e-10 of it, it is not."""
    unit = 2.0**-53
    size = np.abs(xs[:, 0]) + np.abs(xs[:, 1])
    if sigma is None:
        return 8 * unit * size
    return (NODES + 8) * unit * (size + 2 * sigma * math.sqrt(2 / math.pi))


def step_factors(xs: np.ndarray, p: np.ndarray, h: float, sigma: float | None = None) -> np.ndarray:
    """(10): eta_k = h sqrt(kappa(P)) (|r(x_k)| + rounding) / |x_k| for each step of a run."""
    lam = np.linalg.eigvalsh(p)
    d = np.hypot(xs[:, 0], xs[:, 1])
    error = remainder_bound(xs, sigma) + rounding_bound(xs, sigma)
    return h * math.sqrt(lam[-1] / lam[0]) * error / d


def distance_bound(
    xs: np.ndarray, rho: float, p: np.ndarray, h: float, sigma: float | None = None
) -> float:
    """(10) multiplied over a run: d_N <= |x_0|_P prod_k (rho + eta_k) / sqrt(lambda_min(P))."""
    eta = step_factors(xs[:-1], p, h, sigma)
    lam_min = np.linalg.eigvalsh(p)[0]
    log_bound = math.log(p_norm(p, xs[:1])[0]) + float(np.log(rho + eta).sum())
    return math.exp(min(log_bound, 700.0)) / math.sqrt(lam_min)  # e^700: no bound at all


WINDOW = (1e-6, 1e-4)  # distances where the remainder (relative O(d^2)) and rounding are small


def window(xs: np.ndarray, lo: float = WINDOW[0], hi: float = WINDOW[1]) -> tuple[int, int]:
    """The first and last step whose distance to the equilibrium lies in [lo, hi]; (0, 0) if
    none does."""
    inside = np.flatnonzero((distance(xs) >= lo) & (distance(xs) <= hi))
    return (int(inside[0]), int(inside[-1])) if len(inside) else (0, 0)


def window_rate(xs: np.ndarray, p: np.ndarray, first: int, last: int) -> float:
    """The measured rate per step in |.|_P from step `first` to step `last` (nan if empty)."""
    if last <= first:
        return math.nan
    n = p_norm(p, xs[[first, last]])
    return float((n[1] / n[0]) ** (1 / (last - first)))


# ---------------------------------------------------------------- running the steps, (5)-(6)
def run(
    field: Field,
    start: tuple[float, float] = START,
    h: float = H,
    steps: int = STEPS,
    alternating: bool = False,
) -> np.ndarray:
    """Gradient steps along `field` from `start`: (steps + 1, 2) points (theta, psi)."""
    theta, psi = (torch.tensor(s, dtype=F64) for s in start)
    out = [(float(theta), float(psi))]
    for _ in range(steps):
        if alternating:
            theta = theta + h * field(theta, psi)[0]
            psi = psi + h * field(theta, psi)[1]
        else:
            v1, v2 = field(theta, psi)
            theta, psi = theta + h * v1, psi + h * v2
        out.append((float(theta), float(psi)))
    return np.array(out)


def run_linear(m: np.ndarray, start: tuple[float, float] = START, steps: int = STEPS) -> np.ndarray:
    """The linearized steps x_{k+1} = M x_k: (steps + 1, 2)."""
    xs = [np.array(start, dtype=float)]
    for _ in range(steps):
        xs.append(m @ xs[-1])
    return np.array(xs)


def pairs(values: np.ndarray) -> list[list[float]]:
    """Complex numbers as [real, imaginary] pairs (for JSON)."""
    return [[float(v.real), float(v.imag)] for v in values]


def distance(xs: np.ndarray) -> np.ndarray:
    """sqrt(theta^2 + psi^2), the distance to the equilibrium (0, 0)."""
    return np.hypot(xs[:, 0], xs[:, 1])


# ---------------------------------------------------------------- the experiment
def _field_checks(g: torch.Generator) -> tuple[list[Check], dict]:
    """(1)-(3), (13) against autograd: f' and f'' are f's derivatives, v is (-dL/d theta,
    dL/d psi), and v_sigma is the gradient of L_sigma and the mean of the sampled gradients."""
    t = torch.linspace(-8, 8, 161, dtype=F64, requires_grad=True)
    (d1,) = torch.autograd.grad(f(t).sum(), t, create_graph=True)
    (d2,) = torch.autograd.grad(d1.sum(), t)
    d1, t = d1.detach(), t.detach()
    pts = (torch.rand(8, 2, generator=g, dtype=F64) * 4 - 2).requires_grad_(True)
    worst = {"L": 0.0, "L_sigma": 0.0}
    for name, value, field in (
        ("L", loss, gan_field),
        ("L_sigma", expected_noise_loss, noise_field),
    ):
        dth, dps = torch.autograd.grad(value(pts[:, 0], pts[:, 1]).sum(), pts)[0].T
        v1, v2 = field(pts[:, 0].detach(), pts[:, 1].detach())
        worst[name] = float(torch.maximum((v1 + dth).abs(), (v2 - dps).abs()).max())
    # the sampled gradients of (13) at 4 points, 200,000 noise draws each
    n, z_worst = 200_000, 0.0
    for theta, psi in pts[:4].detach().tolist():
        th = torch.full((n,), theta, dtype=F64, requires_grad=True)
        ps = torch.full((n,), psi, dtype=F64, requires_grad=True)
        eps = SIGMA * torch.randn(n, generator=g, dtype=F64)
        eps_real = SIGMA * torch.randn(n, generator=g, dtype=F64)
        gth, gps = torch.autograd.grad(noise_loss(th, ps, eps, eps_real).sum(), (th, ps))
        exact = noise_field(torch.tensor(theta, dtype=F64), torch.tensor(psi, dtype=F64))
        for sample, v in ((-gth, exact[0]), (gps, exact[1])):
            se = float(sample.std()) / math.sqrt(n)
            z_worst = max(z_worst, abs(float(sample.mean()) - float(v)) / se)
    checks = [
        Check(
            "largest |f'(t) - autograd df/dt| on t in [-8, 8]",
            float((d1 - f_prime(t)).abs().max()),
            0.0,
            EXACT,
        ),
        Check(
            "largest |f''(t) - autograd d²f/dt²| on t in [-8, 8]",
            float((d2 - f_second(t)).abs().max()),
            0.0,
            EXACT,
        ),
        Check(
            "largest |v - (-∂L/∂θ, ∂L/∂ψ)| at 8 random points (autograd)", worst["L"], 0.0, EXACT
        ),
        Check(
            "largest |v_σ - (-∂L_σ/∂θ, ∂L_σ/∂ψ)| at 8 random points (autograd)",
            worst["L_sigma"],
            0.0,
            EXACT,
        ),
        Check(
            "instance noise: largest |sampled gradient mean - v_σ| / its standard error "
            "(4 points, 200,000 draws)",
            z_worst,
            0.0,
            Z,
        ),
    ]
    return checks, {"sampled_field_worst_z": z_worst}


def _eig_check(
    claim: str, field: Field, at: tuple[float, float], expected: np.ndarray
) -> tuple[Check, np.ndarray]:
    """The autograd Jacobian's eigenvalues against their closed form (largest difference)."""
    jac = jacobian(field, *at)
    got = np.linalg.eigvals(jac)
    got = got[np.argsort(-got.imag - 1e-9 * got.real)]
    want = expected[np.argsort(-expected.imag - 1e-9 * expected.real)]
    return Check(claim, float(np.abs(got - want).max()), 0.0, EXACT), jac


@experiment("dirac-gan", "Dirac-GAN: gradient steps circle the equilibrium; R1, GP, instance noise")
def dirac_gan(seed: int = 0) -> Finding:
    """Run 1,000 gradient steps (h = 0.1) of the Dirac-GAN from (1, 1): simultaneous and
    alternating on the plain game (3), and on each regularized field: R1 (9), the gradient
    penalty (11) and instance noise (13). Checks: the fields against autograd of their losses
    and, for instance noise, against sampled gradients (5 standard errors); the Jacobians'
    eigenvalues (4), (9), (12), (14); the simultaneous step's growth (5), exactly on the
    nonlinear run and sqrt(1 + h^2 f'(0)^2) on the linearized one; the alternating map's
    conserved Q (8) and the orbit's extreme distances; R1 and instance noise converging at
    the rate sqrt(det(I + hJ)) within the bounds (10); the gradient penalty stopping at the
    distance gamma g0 / f'(0) (12); genzoo's R1 and gradient penalties giving (9) and (11)."""
    g = torch.Generator().manual_seed(seed)
    checks, numbers = _field_checks(g)

    # (4): the plain game's Jacobian at the equilibrium
    c, jac = _eig_check(
        "plain game: eigenvalues of the Jacobian at (0, 0) against ±i f'(0)",
        gan_field,
        (0.0, 0.0),
        gan_eigenvalues(),
    )
    checks.append(c)
    runs = {"simultaneous": run(gan_field), "alternating": run(gan_field, alternating=True)}
    sim, alt = runs["simultaneous"], runs["alternating"]

    # (5): exactly, on the nonlinear run
    d = distance(sim)
    growth = d[1:] ** 2 / d[:-1] ** 2
    gk = f_prime(torch.tensor(sim[:-1, 0] * sim[:-1, 1])).numpy()
    checks.append(
        Check(
            "simultaneous: largest |d²_{k+1}/d²_k - (1 + h² f'(θ_k ψ_k)²)| over 1,000 steps",
            float(np.abs(growth - (1 + H**2 * gk**2)).max()),
            0.0,
            EXACT,
        )
    )
    # (5) linearized: sqrt(1 + h^2 a^2) per step
    m_sim = step_matrix(jac, H)
    lin_sim = run_linear(m_sim)
    d_lin = distance(lin_sim)
    rate_sim = float((d_lin[-1] / d_lin[0]) ** (1 / STEPS))
    checks.append(
        Check(
            "simultaneous, linearized: growth per step against sqrt(1 + h² f'(0)²)",
            rate_sim,
            math.sqrt(1 + H**2 * A**2),
            EXACT,
        )
    )

    # (6)-(8): the alternating map keeps Q; its orbit is an ellipse
    m_alt = step_matrix(jac, H, alternating=True)
    p_alt = invariant_form(m_alt)
    cc = H * A
    lin_alt = run_linear(m_alt)
    q_closed = lin_alt[:, 0] ** 2 + lin_alt[:, 1] ** 2 - cc * lin_alt[:, 0] * lin_alt[:, 1]
    q0 = q_closed[0]
    checks.append(
        Check(
            "alternating, linearized: largest |Q_k/Q_0 - 1|, Q = θ² + ψ² - h f'(0) θψ",
            float(np.abs(q_closed / q0 - 1).max()),
            0.0,
            RUN,
        )
    )
    p_closed = np.array([[1, -cc / 2], [-cc / 2, 1]])
    checks.append(
        Check(
            "alternating: P of (7) for the linearized step against Q's "
            "[[1, -c/2], [-c/2, 1]] (largest entry difference)",
            float(np.abs(p_alt / p_alt[0, 0] - p_closed).max()),
            0.0,
            EXACT,
        )
    )
    d_alt_lin = distance(lin_alt)
    d_min, d_max = math.sqrt(q0 / (1 + cc / 2)), math.sqrt(q0 / (1 - cc / 2))
    # the orbit samples the ellipse at phases omega apart (cos omega = 1 - c^2/2): d^2 along it
    # is A + B cos(2 phi), so the sampled extremes miss the true ones by at most B omega^2/2
    omega = math.acos(1 - cc**2 / 2)
    half_range = (d_max**2 - d_min**2) / 2
    tol_min = half_range * omega**2 / 2 / (2 * d_min) + RUN
    tol_max = half_range * omega**2 / 2 / (2 * d_max) + RUN
    checks.append(
        Check(
            "alternating, linearized: smallest distance against sqrt(Q0/(1 + c/2))",
            float(d_alt_lin.min()),
            d_min,
            tol_min,
        )
    )
    checks.append(
        Check(
            "alternating, linearized: largest distance against sqrt(Q0/(1 - c/2))",
            float(d_alt_lin.max()),
            d_max,
            tol_max,
        )
    )

    # (9)-(10): R1
    c, _ = _eig_check(
        "R1: eigenvalues of the Jacobian against -γ/2 ± sqrt(γ²/4 - f'(0)²)",
        r1_field,
        (0.0, 0.0),
        r1_eigenvalues(),
    )
    checks.append(c)
    rhos: dict[str, float] = {}
    for name, field, sigma, expected_j in (
        ("R1", r1_field, None, np.array([[0, -A], [A, -GAMMA_R1]])),
        ("instance noise", noise_field, SIGMA, np.array([[0, -A], [A, 2 * SIGMA**2 * B]])),
    ):
        m = step_matrix(expected_j, H)
        p = invariant_form(m)
        rho = math.sqrt(np.linalg.det(m))
        xs = run(field)
        runs[name] = xs
        runs[name + " (alternating)"] = run(field, alternating=True)
        bound = distance_bound(xs, rho, p, H, sigma)
        first, last = window(xs)
        eta = step_factors(xs[first : last + 1], p, H, sigma)
        checks.append(
            Check(
                f"{name}: distance after 1,000 steps, below the bound (10) from ρ = {rho:.5f}",
                float(distance(xs)[-1]),
                0.0,
                bound,
            )
        )
        checks.append(
            Check(
                f"{name}: rate per step while 1e-6 <= distance <= 1e-4 (steps {first}-{last}) "
                "against sqrt(det(I + hJ))",
                window_rate(xs, p, first, last),
                rho,
                float(eta.max()),
            )
        )
        rhos[name] = rho
        numbers[f"bound_{name.replace(' ', '_')}"] = bound

    # (14): instance noise
    c, _ = _eig_check(
        "instance noise: eigenvalues of the Jacobian against σ² f''(0) ± sqrt(σ⁴ f''(0)² - f'(0)²)",
        noise_field,
        (0.0, 0.0),
        noise_eigenvalues(),
    )
    checks.append(c)

    # (11)-(12): the gradient penalty
    theta_star = gp_stop()
    c, _ = _eig_check(
        "gradient penalty: eigenvalues at (θ*, 0+) against (12)",
        gp_field,
        (theta_star, PSI_0_PLUS),
        gp_eigenvalues(),
    )
    checks.append(c)
    gp_runs = {
        "gradient penalty": run(gp_field),
        "gradient penalty (alternating)": run(gp_field, alternating=True),
    }
    runs.update(gp_runs)
    xs = gp_runs["gradient penalty"]
    # near (theta*, 0) the steps contract at rate rho_gp in the eigenbasis of I + hJ, so what is
    # left is at most cond(V) rho/(1 - rho) times the last step; plus float rounding
    m_gp = step_matrix(jacobian(gp_field, theta_star, PSI_0_PLUS), H)
    rho_gp = float(np.abs(np.linalg.eigvals(m_gp)).max())
    cond = float(np.linalg.cond(np.linalg.eig(m_gp)[1]))
    last = float(np.hypot(*(xs[-1] - xs[-2])))
    checks.append(
        Check(
            "gradient penalty: distance after 1,000 steps against γ g0 / f'(0)",
            float(distance(xs)[-1]),
            abs(theta_star),
            cond * rho_gp / (1 - rho_gp) * last + RUN,
        )
    )

    # genzoo's penalties on D(x) = psi x: R1 at the data x = 0 is psi^2, and the gradient
    # penalty (g0 = 1) is (|psi| - 1)^2; their psi-derivatives are the terms of (9) and (11).
    # genzoo computes input gradients in float32: tolerance 1e-6, a few float32 roundoffs.
    worst_pen = 0.0
    for value in (-1.3, 0.4, 2.0):
        psi = torch.tensor(value, dtype=torch.float32, requires_grad=True)
        r1 = losses.r1_penalty(lambda x, psi=psi: psi * x, torch.zeros(1, 1))
        (dr1,) = torch.autograd.grad(GAMMA_R1 / 2 * r1, psi)
        gp = losses.gradient_penalty(lambda x, psi=psi: psi * x, torch.full((1, 1), 0.7))
        (dgp,) = torch.autograd.grad(GAMMA_GP / 2 * gp, psi)
        t0 = torch.tensor(0.0, dtype=F64)
        p64 = torch.tensor(value, dtype=F64)
        r1_term = float(gan_field(t0, p64)[1] - r1_field(t0, p64)[1])
        gp_term = float(gan_field(t0, p64)[1] - gp_field(t0, p64, GAMMA_GP, 1.0)[1])
        worst_pen = max(worst_pen, abs(float(dr1) - r1_term), abs(float(dgp) - gp_term))
    checks.append(
        Check(
            "genzoo's r1_penalty and gradient_penalty on D(x) = ψx: their ψ-"
            "gradients against the terms of (9) and (11)",
            worst_pen,
            0.0,
            1e-6,
        )
    )

    # numbers a student quotes
    dist = {k: float(distance(v)[-1]) for k, v in runs.items()}
    numbers.update(
        {
            "h": H,
            "steps": STEPS,
            "start": list(START),
            "gamma_r1": GAMMA_R1,
            "gamma_gp": GAMMA_GP,
            "g0": G0,
            "sigma": SIGMA,
            "distance_after_steps": dist,
            "simultaneous_linearized_distance": float(d_lin[-1]),
            "growth_per_step_linearized": rate_sim,
            "growth_per_step_closed_form": math.sqrt(1 + H**2 * A**2),
            "alternating_distance_range": [float(distance(alt).min()), float(distance(alt).max())],
            "alternating_linearized_range": [float(d_alt_lin.min()), float(d_alt_lin.max())],
            "alternating_ellipse_range": [d_min, d_max],
            "eigenvalues": {
                "plain": pairs(gan_eigenvalues()),
                "r1": pairs(r1_eigenvalues()),
                "instance_noise": pairs(noise_eigenvalues()),
                "gradient_penalty_at_stop": pairs(gp_eigenvalues()),
            },
            "spectral_radius": {
                "simultaneous": math.sqrt(1 + H**2 * A**2),
                "alternating": 1.0,
                **rhos,
                "R1 (alternating)": math.sqrt(1 - H * GAMMA_R1),
                "instance noise (alternating)": math.sqrt(1 + 2 * H * SIGMA**2 * B),
            },
            "gp_stop_theta": theta_star,
            "gp_final_point": [float(v) for v in runs["gradient penalty"][-1]],
        }
    )
    return Finding(
        "dirac-gan",
        "The Dirac-GAN: where gradient steps go",
        numbers,
        checks,
        _panels(runs, d_lin, rhos),
    )


COLORS = {
    "simultaneous": "C3",
    "alternating": "C0",
    "R1": "C2",
    "gradient penalty": "C4",
    "instance noise": "C1",
}


def _panels(runs: dict[str, np.ndarray], d_lin: np.ndarray, rho: dict[str, float]) -> list[Panel]:
    steps = np.arange(STEPS + 1)

    def quiver(field: Field, lim: float, n: int = 15) -> Series:
        grid = torch.linspace(-lim, lim, n, dtype=F64)
        th, ps = torch.meshgrid(grid, grid, indexing="xy")
        v1, v2 = field(th, ps)
        return Series(
            "quiver",
            th.flatten().numpy(),
            ps.flatten().numpy(),
            u=v1.flatten().numpy(),
            v=v2.flatten().numpy(),
            color="0.5",
        )

    def path(name: str, label: str | None = None) -> Series:
        xs = runs[name]
        return Series("line", xs[:, 0], xs[:, 1], label or name, color=COLORS[name.split(" (")[0]])

    start = Series("scatter", [START[0]], [START[1]], "start (1, 1)", color="k")
    eq = Series("scatter", [0.0], [0.0], "equilibrium", color="k")
    plain = Panel(
        "plain game: v = (-ψ f'(θψ), θ f'(θψ))",
        [quiver(gan_field, 3.0), path("simultaneous"), path("alternating"), start],
        "θ (generator)",
        "ψ (discriminator)",
        equal=True,
    )
    regs = Panel(
        "regularized, simultaneous steps (arrows: R1's field)",
        [
            quiver(r1_field, 1.6, 13),
            path("R1"),
            path("gradient penalty"),
            path("instance noise"),
            start,
            eq,
            Series("scatter", [gp_stop()], [0.0], "θ* = -γ g0 / f'(0)", color="C4"),
        ],
        "θ (generator)",
        "ψ (discriminator)",
        equal=True,
    )
    d0 = math.hypot(*START)
    curves = [
        Series("line", steps, distance(runs["simultaneous"]), "simultaneous", color="C3"),
        Series("line", steps, d_lin, "linearized: sqrt(1 + h²f'(0)²)^k", "--", color="k"),
        Series("line", steps, distance(runs["alternating"]), "alternating", color="C0"),
    ]
    for name in ("R1", "instance noise", "gradient penalty"):
        curves.append(Series("line", steps, distance(runs[name]), name, color=COLORS[name]))
    for name, r in rho.items():
        curves.append(Series("line", steps, d0 * r**steps, None, "--", color=COLORS[name]))
    curves.append(Series("hline", [0], [abs(gp_stop())], "γ g0 / f'(0)", color="C4"))
    dist = Panel(
        "distance to the equilibrium (dashed: ρ^k)", curves, "step k", "sqrt(θ² + ψ²)", logy=True
    )
    return [plain, regs, dist]
