"""The plain undercomplete autoencoder (Goodfellow et al., Deep Learning, ch. 14.1).

An encoder f maps x to a code z = f(x) smaller than x, a decoder g maps it back, and training
minimizes a reconstruction loss L(x, g(f(x))): mean squared error, or binary cross-entropy for
data in [0, 1] (e.g. grey-level digits), with a sigmoid output.

A plain autoencoder has no prior over z. So that `sample` is still meaningful, the model keeps a
running estimate of the mean and covariance of the training codes (buffers updated like batch-norm
statistics) and decodes draws from that Gaussian.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from ...config import check
from ...nn import mlp
from ..base import Batch, GenerativeModel, LossOutput, Phase, register_model
from .common import bce_with_logits, mse

Activation = Literal["relu", "leaky_relu", "elu", "gelu", "silu", "tanh", "sigmoid"]


@dataclass
class AEConfig:
    latent_dim: int = 32  # size of the code z (undercomplete: smaller than the input)
    hidden: tuple[int, ...] = (512, 256)  # encoder widths; the decoder mirrors them
    activation: Activation = "relu"  # between hidden layers
    output_activation: Literal["sigmoid", "none"] = "sigmoid"  # sigmoid for data in [0, 1]
    loss: Literal["mse", "bce"] = "mse"  # reconstruction loss
    prior_momentum: float = 0.01  # momentum of the running code mean/covariance used by sample()

    def __post_init__(self) -> None:
        check(self.latent_dim >= 1, "latent_dim", self.latent_dim, "an integer >= 1")
        check(all(h >= 1 for h in self.hidden), "hidden", self.hidden, "widths >= 1")
        check(
            self.loss != "bce" or self.output_activation == "sigmoid",
            "loss",
            self.loss,
            "'bce' needs output_activation='sigmoid' (outputs in [0, 1]); use 'mse'",
        )
        check(0 < self.prior_momentum <= 1, "prior_momentum", self.prior_momentum, "0 < m <= 1")


@register_model("ae", "plain undercomplete autoencoder: MLP encoder/decoder, MSE or BCE")
class Autoencoder(GenerativeModel):
    Config = AEConfig

    def __init__(self, config: AEConfig, info):
        super().__init__(config, info)
        d, h, k = info.dim, list(config.hidden), config.latent_dim
        self.encoder = mlp([d, *h, k], config.activation)  # (B, D) -> (B, k)
        self.decoder = mlp([k, *reversed(h), d], config.activation)  # (B, k) -> (B, D) logits
        # Running moments of the codes: mean and E[z z^T], for sample().
        self.register_buffer("z_mean", torch.zeros(k))
        self.register_buffer("z_moment2", torch.eye(k))

    def data_range(self):
        return "unit" if self.config.output_activation == "sigmoid" else "standard"

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x.flatten(1))

    def decode_logits(self, z: Tensor) -> Tensor:
        return self.decoder(z).view(-1, *self.info.shape)

    def decode(self, z: Tensor) -> Tensor:
        out = self.decode_logits(z)
        return torch.sigmoid(out) if self.config.output_activation == "sigmoid" else out

    def reconstruct(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def loss(self, batch: Batch) -> LossOutput:
        x = batch["x"]
        z = self.encode(x)
        out = self.decode_logits(z)
        sigmoid = self.config.output_activation == "sigmoid"
        x_hat = torch.sigmoid(out) if sigmoid else out
        terms = {"mse": mse(x_hat, x)}
        if sigmoid:
            terms["bce"] = bce_with_logits(out, x)
        if self.training:
            self._track_codes(z.detach())
        return LossOutput(terms[self.config.loss], terms)

    @torch.no_grad()
    def _track_codes(self, z: Tensor) -> None:
        m = self.config.prior_momentum
        self.z_mean.lerp_(z.mean(0), m)
        self.z_moment2.lerp_(z.T @ z / len(z), m)

    def phases(self) -> list[Phase]:
        return [Phase("ae", list(self.parameters()), self.loss)]

    @torch.no_grad()
    def sample(self, n: int, *, generator=None, labels=None) -> Tensor:
        """Decode z ~ N(mean, cov) of the codes seen in training (a plain AE has no prior)."""
        k = self.config.latent_dim
        cov = self.z_moment2 - torch.outer(self.z_mean, self.z_mean)
        cov = 0.5 * (cov + cov.T) + 1e-5 * torch.eye(k, device=cov.device)
        evals, evecs = torch.linalg.eigh(cov)  # robust where Cholesky may fail
        root = evecs * evals.clamp_min(0).sqrt()
        eps = torch.randn(n, k, generator=generator, device=self.z_mean.device)
        return self.decode(self.z_mean + eps @ root.T)
