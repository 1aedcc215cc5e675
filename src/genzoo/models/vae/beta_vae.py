"""beta-VAE (Higgins et al. 2017): the ELBO with the KL term weighted by beta,

    L = E_q[log p(x|z)] - beta KL(q(z|x) || N(0, I)),

beta > 1 pressing for a more factorized, disentangled code at the cost of reconstruction.
Optionally the weight is annealed linearly from 0 over the first steps ("KL warm-up",
Bowman et al. 2016; Sonderby et al. 2016), which keeps the decoder from learning to ignore z
before the encoder has learned anything. Everything else is the VAE's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...config import check
from ..base import register_model
from .vae import VAE, VAEConfig


@dataclass
class BetaVAEConfig(VAEConfig):
    beta: float = 4.0  # weight of the KL term (1: the VAE)
    warmup_steps: int = 0  # anneal the weight linearly from 0 to beta over this many steps

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.beta >= 0, "beta", self.beta, "a weight >= 0")
        check(self.warmup_steps >= 0, "warmup_steps", self.warmup_steps, "an integer >= 0")


@register_model("beta-vae", "beta-VAE: KL weight beta, with optional KL warm-up")
class BetaVAE(VAE):
    Config = BetaVAEConfig
    weighs_kl = True

    def kl_weight(self) -> float:
        cfg = self.config
        if cfg.warmup_steps and self.step < cfg.warmup_steps:
            return cfg.beta * self.step / cfg.warmup_steps
        return cfg.beta
