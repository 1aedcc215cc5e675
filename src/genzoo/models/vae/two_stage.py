"""The second stage of the two-stage VAE (Dai & Wipf 2019, "Diagnosing and Enhancing VAE
Models").

A VAE's aggregate posterior q(z) = E_x q(z|x) need not match its prior N(0, I): where they
differ, z ~ N(0, I) lands where the decoder was never trained, and the samples blur. Dai & Wipf
show the first VAE still finds the data's manifold, and its codes then fill R^k with a
non-Gaussian density that a second VAE, in k dimensions with no manifold to find, can learn.
Sampling chains the two:

    u ~ N(0, I),  z = G_2(u),  x = G_1(z).

The second VAE's decoder is Gaussian, p(z|u) = N(G_2(u), gamma I), with gamma one learned
scalar: as the fit sharpens, gamma falls, which their analysis needs (sec. 4). It trains on
codes z ~ q(z|x) of the frozen first stage, as the last share of the run (`second_stage`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ...nn import mlp
from .common import LOG_2PI, kl_standard_normal, reparameterize


def gaussian_gamma_nll(z: Tensor, z_hat: Tensor, log_gamma: Tensor) -> Tensor:
    """-log N(z; z_hat, gamma I) per example, gamma = exp(log_gamma) a scalar:
    1/2 sum_d [log 2 pi + log gamma + (z_d - z^_d)^2 / gamma], (B,)."""
    k = z.shape[1]
    return 0.5 * (k * (LOG_2PI + log_gamma) + (z - z_hat).pow(2).sum(1) / log_gamma.exp())


class SecondStage(nn.Module):
    """A VAE on k-dimensional codes: MLP encoder to (mu, logvar) of q(u|z), MLP decoder to the
    mean of p(z|u), and log gamma; `updates` counts its training steps (0: not trained)."""

    def __init__(self, k: int, hidden: tuple[int, ...], act: str):
        super().__init__()
        self.encoder = mlp([k, *hidden, 2 * k], act)  # z -> (mu, logvar) of q(u|z)
        self.decoder = mlp([k, *reversed(hidden), k], act)  # u -> mean of p(z|u)
        self.log_gamma = nn.Parameter(torch.zeros(()))
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    @property
    def trained(self) -> bool:
        return bool(self.updates > 0)

    def terms(self, z: Tensor, beta: float = 1.0) -> dict[str, Tensor]:
        """The negative ELBO of codes z (B, k), in nats per code, and its terms; the loss
        weighs the KL by `beta` (a warm-up's, below 1 early on)."""
        mu, logvar = self.encoder(z).chunk(2, dim=1)  # 1. q(u|z)
        u = reparameterize(mu, logvar)  # 2. u = mu + sigma * eps
        recon = gaussian_gamma_nll(z, self.decoder(u), self.log_gamma).mean()  # 3. -log p(z|u)
        kl = kl_standard_normal(mu, logvar).sum(1).mean()  # 4. KL(q(u|z) || N(0, I))
        if self.training:
            self.updates += 1
        terms = {"recon": recon, "kl": kl, "gamma": self.log_gamma.exp()}
        return {"loss": recon + beta * kl, **terms, "beta": torch.tensor(float(beta))}

    def sample(self, n: int, k: int, generator: torch.Generator | None = None) -> Tensor:
        """z = G_2(u), u ~ N(0, I): (n, k)."""
        u = torch.randn(n, k, generator=generator, device=self.log_gamma.device)
        return self.decoder(u)


def warmup_weight(step: int, start: int, total_steps: int | None, share: float) -> float:
    """The KL weight at `step` of a second stage that runs from `start` to `total_steps`,
    rising linearly from 0 to 1 over its first `share` (Bowman et al. 2016's annealing, which
    keeps a VAE from settling where its decoder ignores the code: with the KL weighed fully
    from the first update, the second stage stays at q(u|z) = N(0, I), gamma at the codes'
    variance and p(z|u) at their mean)."""
    if share <= 0 or total_steps is None:
        return 1.0
    length = max(1.0, share * (total_steps - start))
    return min(1.0, max(0.0, (step - start) / length))


def stage_split(total_steps: int | None, share: float) -> int:
    """The step at which the second stage takes over: the last `share` of the run."""
    if total_steps is None:
        return 0
    return max(1, math.floor((1 - share) * total_steps))
