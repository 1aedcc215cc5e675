"""Wasserstein GANs: the critic f estimates the Wasserstein-1 distance
W(p_data, p_g) = max_{||f||_L <= 1} E[f(x)] - E[f(G(z))], and G minimizes -E[f(G(z))].

- `wgan` (Arjovsky, Chintala & Bottou 2017, Algorithm 1): the Lipschitz constraint by clipping
  the critic's weights to [-c, c], c = 0.01; RMSProp with lr 5e-5; n_critic = 5 critic updates
  per generator update.
- `wgan-gp` (Gulrajani et al. 2017, Algorithm 1): the constraint by the gradient penalty
  lambda E[(||grad f(x^)|| - 1)^2] on random interpolates x^, lambda = 10; Adam with lr 1e-4,
  betas (0, 0.9); n_critic = 5; no batch norm in the critic.

The networks are the GAN's: MLPs, or DCGAN's with `architecture: conv`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ...config import check
from ..base import register_model
from .gan import GAN, DNorm, GANConfig, Loss


@dataclass
class WGANConfig(GANConfig):
    loss: Loss = "wasserstein"
    clip: float = 0.01
    d_steps: int = 5

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.clip > 0, "clip", self.clip, "a clipping bound c > 0")


@dataclass
class WGANGPConfig(GANConfig):
    loss: Loss = "wasserstein"
    gp_weight: float = 10.0
    d_steps: int = 5
    d_norm: DNorm = "none"

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.gp_weight > 0, "gp_weight", self.gp_weight, "a penalty weight > 0")


@register_model("wgan", "WGAN: Wasserstein critic with weight clipping, RMSProp, n_critic 5")
class WGAN(GAN):
    Config = WGANConfig
    train_defaults: ClassVar[dict] = {"optimizer": "rmsprop", "lr": 5e-5}


@register_model("wgan-gp", "WGAN-GP: Wasserstein critic with gradient penalty, Adam(0, 0.9)")
class WGANGP(GAN):
    Config = WGANGPConfig
    train_defaults: ClassVar[dict] = {"lr": 1e-4, "betas": (0.0, 0.9)}
