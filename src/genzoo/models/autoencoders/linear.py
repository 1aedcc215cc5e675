"""The linear autoencoder: z = W_e x + b_e, x^ = W_d z + b_d, trained with MSE.

Its optimum spans the same subspace as PCA's first k components (Baldi & Hornik 1989), though
its weights need not be orthonormal or ordered. `principal_directions` recovers the ordered
principal directions from the trained decoder: an orthonormal basis Q of its column space, then
the eigenvectors of the data's covariance inside that subspace.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ...config import check
from ..base import register_model
from ..code_density import CodePriorConfig
from .ae import CodeAutoencoder


@dataclass
class LinearAEConfig(CodePriorConfig):
    latent_dim: int | None = None  # number of components k (none: 32, at most half the input's)

    def __post_init__(self) -> None:
        check(
            self.latent_dim is None or self.latent_dim >= 1,
            "latent_dim",
            self.latent_dim,
            "an integer >= 1",
        )
        self.check_prior()


@register_model("linear-ae", "linear encoder and decoder with MSE: finds PCA's subspace")
class LinearAutoencoder(CodeAutoencoder):
    Config = LinearAEConfig

    def _resolve_output(self) -> tuple[str, str]:
        return "none", "mse"

    def build(self) -> None:
        d, k = self.info.dim, self.config.latent_dim
        self.enc = nn.ModuleList([nn.Linear(d, k)])  # (B, D) -> (B, k)
        self.dec = nn.ModuleList([nn.Linear(k, d)])  # (B, k) -> (B, D)

    def encode(self, x: Tensor) -> Tensor:
        return self.enc[0](x.flatten(1))

    def decode_logits(self, z: Tensor) -> Tensor:
        return self.dec[0](z).view(-1, *self.info.shape)

    @torch.no_grad()
    def principal_directions(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(k, D) unit directions ordered by the variance of `x` (model range) along them,
        and those variances."""
        q, _ = torch.linalg.qr(self.dec[0].weight.double())  # (D, k), orthonormal columns
        xc = x.flatten(1).double() - x.flatten(1).double().mean(0)
        proj = xc @ q  # (N, k)
        evals, evecs = torch.linalg.eigh(proj.T @ proj / (len(x) - 1))
        order = evals.argsort(descending=True)
        return (q @ evecs[:, order]).T.float(), evals[order].float()
