"""GAN losses and penalties as pure functions of the discriminator's outputs.

Notation: `real` and `fake` are the discriminator's raw outputs (logits, or critic values for
the Wasserstein losses) on data x ~ p_data and on samples G(z), z ~ p(z). With D = sigmoid(logit):

- minimax (Goodfellow et al. 2014): min_G max_D V(D, G) = E[log D(x)] + E[log(1 - D(G(z)))];
  the discriminator minimizes -V, the generator minimizes E[log(1 - D(G(z)))].
- non-saturating (same paper, section 3): the generator minimizes -E[log D(G(z))] instead,
  whose gradient does not vanish when D confidently rejects the samples early in training.
- Wasserstein (Arjovsky et al. 2017): the critic maximizes E[f(x)] - E[f(G(z))] over
  1-Lipschitz f; the generator minimizes -E[f(G(z))].
- hinge (Lim & Ye 2017; Miyato et al. 2018): E[relu(1 - f(x))] + E[relu(1 + f(G(z)))] for the
  discriminator, -E[f(G(z))] for the generator.
- least squares (LSGAN, Mao et al. 2017, eq. 2 with a = 0, b = c = 1; CycleGAN's choice):
  E[(D(x) - 1)^2] + E[D(G(z))^2] for the discriminator, E[(D(G(z)) - 1)^2] for the generator,
  on raw outputs.

Identities used throughout, with l a logit: log sigmoid(l) = -softplus(-l) and
log(1 - sigmoid(l)) = -softplus(l), computed stably.

Penalties: the WGAN-GP gradient penalty (Gulrajani et al. 2017), R1 (Mescheder et al. 2018)
and ProGAN's drift term (Karras et al. 2018, appendix A.1).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

LOG4 = 2 * math.log(2)  # -V(D*, G) at p_g = p_data: the game's value there is -log 4


# ---------------------------------------------------------------- discriminator losses
def d_loss_bce(real: Tensor, fake: Tensor, smooth: float = 0.0) -> Tensor:
    """-V(D, G) = -E[log D(x)] - E[log(1 - D(G(z)))].

    One-sided label smoothing (Salimans et al. 2016) replaces the real target 1 by 1 - smooth;
    fake targets stay 0, so D is not rewarded for assigning mass where there is no data.
    """
    target = torch.full_like(real, 1.0 - smooth)
    return F.binary_cross_entropy_with_logits(real, target) + F.softplus(fake).mean()


def d_loss_wasserstein(real: Tensor, fake: Tensor) -> Tensor:
    """-(E[f(x)] - E[f(G(z))]): the negated estimate of the Wasserstein-1 distance."""
    return fake.mean() - real.mean()


def d_loss_hinge(real: Tensor, fake: Tensor) -> Tensor:
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def d_loss_least_squares(real: Tensor, fake: Tensor) -> Tensor:
    return (real - 1).pow(2).mean() + fake.pow(2).mean()


# ---------------------------------------------------------------- generator losses
def g_loss_minimax(fake: Tensor) -> Tensor:
    """E[log(1 - D(G(z)))] = -E[softplus(l)]: saturates (tiny gradient) when D(G(z)) ~ 0."""
    return -F.softplus(fake).mean()


def g_loss_non_saturating(fake: Tensor) -> Tensor:
    """-E[log D(G(z))] = E[softplus(-l)]."""
    return F.softplus(-fake).mean()


def g_loss_critic(fake: Tensor) -> Tensor:
    """-E[f(G(z))]: the generator's loss for the Wasserstein and hinge games."""
    return -fake.mean()


def g_loss_least_squares(fake: Tensor) -> Tensor:
    return (fake - 1).pow(2).mean()


D_LOSSES: dict[str, Callable[..., Tensor]] = {
    "minimax": d_loss_bce,
    "non-saturating": d_loss_bce,
    "wasserstein": d_loss_wasserstein,
    "hinge": d_loss_hinge,
    "least-squares": d_loss_least_squares,
}
G_LOSSES: dict[str, Callable[[Tensor], Tensor]] = {
    "minimax": g_loss_minimax,
    "non-saturating": g_loss_non_saturating,
    "wasserstein": g_loss_critic,
    "hinge": g_loss_critic,
    "least-squares": g_loss_least_squares,
}


# ---------------------------------------------------------------- theory
def optimal_discriminator(p_data: Tensor, p_g: Tensor) -> Tensor:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)) for a fixed G (Goodfellow et al., Prop. 1)."""
    return p_data / (p_data + p_g)


def game_value(d_real: Tensor, d_fake: Tensor) -> Tensor:
    """V(D, G) = E[log D(x)] + E[log(1 - D(G(z)))] from probabilities D(x) and D(G(z));
    -log 4 at the equilibrium p_g = p_data, D = 1/2 (Theorem 1)."""
    return d_real.log().mean() + (1 - d_fake).log().mean()


# ---------------------------------------------------------------- penalties
def interpolates(real: Tensor, fake: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """x^ = e x + (1 - e) x~, one e ~ U[0, 1] per example: WGAN-GP's sampling of x^."""
    shape = (len(real),) + (1,) * (real.dim() - 1)
    e = torch.rand(shape, generator=generator, device=real.device, dtype=real.dtype)
    return e * real + (1 - e) * fake


def input_gradient(critic: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """grad_x sum f(x), differentiable in f's parameters (create_graph). Always in fp32: under
    fp16 autocast the input gradient of a sharp critic overflows, and the penalties built on
    it are what keep the critic smooth."""
    x = x.detach().float().requires_grad_(True)
    with torch.autocast(x.device.type, enabled=False):
        (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return grad


def gradient_penalty(critic: Callable[[Tensor], Tensor], x_hat: Tensor) -> Tensor:
    """E[(||grad_x f(x^)||_2 - 1)^2] (Gulrajani et al. 2017, eq. 3), differentiable in f's
    parameters (create_graph) so the penalty trains the critic."""
    grad = input_gradient(critic, x_hat)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def r1_penalty(critic: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """E[||grad_x D(x)||^2] on real data (Mescheder et al. 2018), to be weighted by gamma/2."""
    return input_gradient(critic, real).flatten(1).pow(2).sum(1).mean()


def drift_penalty(real: Tensor) -> Tensor:
    """E[D(x)^2] on real data (Karras et al. 2018, appendix A.1), weighted by eps_drift = 1e-3:
    keeps a Wasserstein critic's values from drifting far from 0."""
    return real.pow(2).mean()
