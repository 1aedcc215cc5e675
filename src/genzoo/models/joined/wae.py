"""The Wasserstein autoencoder with the MMD penalty, WAE-MMD (Tolstikhin et al. 2018,
"Wasserstein Auto-Encoders").

The optimal-transport cost between the data and the model P_G = G # P_Z can be written over
encoders Q(Z|X) whose aggregate posterior Q_Z matches the prior P_Z (their Theorem 1). Relaxing
that constraint into a penalty gives the objective

    min_{Q, G}  E_x c(x, G(Q(x))) + lambda MMD_k(Q_Z, P_Z)               (eq. 4)

with c the squared error, P_Z = N(0, sigma_z^2 I) and MMD with the inverse multiquadratic
kernel k(a, b) = C / (C + ||a - b||^2), summed over C = s * 2 k sigma_z^2 for several scales s
(`common.mmd_imq`). Where the VAE's KL pulls every q(z|x) toward the prior, which blurs, the
WAE matches only the *aggregate* of the codes to the prior: the codes of different examples
stay apart, and the encoder is deterministic.

The defaults are the paper's MNIST settings: 8-dimensional codes, sigma_z = 1, lambda = 10,
batches of 100. lambda weighs the MMD against the squared error summed over the D data
dimensions; this model averages the reconstruction over them, as every autoencoder here does,
so it applies lambda / D. It samples from its prior N(0, sigma_z^2 I), or from a Gaussian
mixture fitted to its codes after training (`model.prior=mixture`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from ...config import check
from ..autoencoders.ae import AEConfig, Autoencoder
from ..autoencoders.common import IMQ_SCALES, mmd_imq
from ..base import register_model


@dataclass
class WAEConfig(AEConfig):
    loss: Literal["auto", "mse", "bce"] = "mse"  # c(x, y) = ||x - y||^2
    # what sample() decodes from: the prior N(0, sigma_z^2 I), a mixture fitted to the codes
    # after training, or one Gaussian with the codes' running moments
    prior: Literal["normal", "mixture", "gaussian"] = "normal"
    mmd_weight: float = 10.0  # lambda, against the squared error summed over the data
    sigma_z: float = 1.0  # the prior's standard deviation

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.mmd_weight >= 0, "mmd_weight", self.mmd_weight, "a weight >= 0")
        check(self.sigma_z > 0, "sigma_z", self.sigma_z, "a standard deviation > 0")


@register_model("wae", "Wasserstein autoencoder (MMD): codes matched to a Gaussian prior")
class WAE(Autoencoder):
    Config = WAEConfig
    LATENT = 8  # the paper's MNIST code size
    default_batch = 100  # the paper's: the MMD is estimated within a batch

    def penalty(self, x_in: Tensor, z: Tensor) -> dict[str, Tensor]:
        cfg = self.config
        z_prior = cfg.sigma_z * torch.randn_like(z)
        mmd = mmd_imq(z, z_prior, cfg.sigma_z**2, IMQ_SCALES)
        return {"mmd": cfg.mmd_weight / self.info.dim * mmd}

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """z ~ P_Z = N(0, sigma_z^2 I): (n, k)."""
        k = self.config.latent_dim
        return self.config.sigma_z * torch.randn(n, k, generator=generator, device=self.device)

    def sample_codes(
        self, n: int, generator: torch.Generator | None = None, prior: str | None = None
    ) -> Tensor:
        if (prior or self.config.prior) == "normal":
            return self.sample_latent(n, generator)
        return super().sample_codes(n, generator, prior)
