"""The importance-weighted autoencoder (Burda et al. 2016): the VAE's networks trained on the
k-sample importance-weighted bound instead of the ELBO,

    L_k = E[log (1/k) sum_i p(x, z_i) / q(z_i|x)],  z_1..z_k ~ q(z|x),

which is tighter (L_1 = ELBO <= L_k <= L_{k+1} <= log p(x)) and lets q(z|x) be less exact where
the posterior is not Gaussian. Its gradient weights each sample by its normalized importance
weight; logsumexp gives exactly that under autograd.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...config import check
from ..base import Batch, LossOutput, register_model
from .common import iwae_bound
from .vae import VAE, VAEConfig


@dataclass
class IWAEConfig(VAEConfig):
    k: int = 5  # importance samples per example in the training bound

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.k >= 1, "k", self.k, "an integer >= 1")


@register_model("iwae", "importance-weighted autoencoder: the k-sample bound as objective")
class IWAE(VAE):
    Config = IWAEConfig

    def loss(self, batch: Batch) -> LossOutput:
        x, y = self.binarize(batch["x"]), batch.get("y")
        log_w = self.log_weights(x, y, self.config.k)  # (k, B)
        bound = iwae_bound(log_w).mean()  # L_k, nats per example
        return LossOutput(-bound, {"iwae": bound, "elbo": log_w.mean()})
