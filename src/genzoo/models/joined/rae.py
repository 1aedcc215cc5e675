"""The regularized autoencoder, RAE (Ghosh et al. 2020, "From Variational to Deterministic
Autoencoders").

A VAE's noise on the codes does two things: it makes the decoder smooth around each code, and
(through the KL) keeps the codes near the origin. The RAE keeps both and drops the noise:

    L_RAE = L_REC + beta L_z + lambda L_REG,    L_z = mean_j z_j^2        (eq. 6)

with a deterministic encoder, and one of three regularizers of the decoder D:
- `l2`: weight decay, L_REG = sum_w w^2 (RAE-L2, their best on MNIST);
- `gradient`: the decoder's Jacobian, L_REG = ||J_D(E(x))||_F^2 (RAE-GP);
- `spectral`: each decoder layer spectrally normalized, Lipschitz by construction (RAE-SN).

It has no prior: it generates by decoding draws from a Gaussian mixture fitted to its codes
after training (`models.code_density`, their "ex-post density estimation", 10 components). The
defaults are their MNIST settings: 16-dimensional codes, squared error, beta = 1e-4, lambda =
1e-7 (RAE-GP: 0.5e-7).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from ...config import check
from ..autoencoders.ae import AEConfig, Autoencoder
from ..autoencoders.common import code_energy, decoder_jacobian_norm, weight_decay
from ..base import register_model


@dataclass
class RAEConfig(AEConfig):
    loss: Literal["auto", "mse", "bce"] = "mse"  # L_REC: the paper's squared error
    z_weight: float = 1e-4  # beta, on L_z = mean z^2
    decoder_reg: Literal["l2", "gradient", "spectral"] = "l2"  # L_REG
    reg_weight: float | None = None  # lambda (none: 1e-7 for l2, 0.5e-7 for gradient)

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.z_weight >= 0, "z_weight", self.z_weight, "a weight >= 0")
        check(
            self.reg_weight is None or self.reg_weight >= 0,
            "reg_weight",
            self.reg_weight,
            "a weight >= 0 (none: the paper's)",
        )
        check(
            not (self.decoder_reg == "spectral" and self.tied),
            "decoder_reg",
            "spectral",
            "untied weights: a tied decoder is the encoder's transpose (tied=false, or l2)",
        )
        check(
            not (self.decoder_reg == "spectral" and self.reg_weight),
            "reg_weight",
            self.reg_weight,
            "none with decoder_reg=spectral, which has no weight: the norm is a constraint",
        )

    @property
    def lam(self) -> float:
        if self.reg_weight is not None:
            return self.reg_weight
        return {"l2": 1e-7, "gradient": 0.5e-7, "spectral": 0.0}[self.decoder_reg]


@register_model("rae", "regularized deterministic autoencoder; samples from a code mixture")
class RAE(Autoencoder):
    Config = RAEConfig
    LATENT = 16  # the paper's MNIST code size

    def build(self) -> None:
        super().build()
        if self.config.decoder_reg == "spectral":
            for layer in self.dec:
                spectral_norm(layer)

    def decoder_weights(self) -> list[Tensor]:
        """The decoder's weight matrices (a tied decoder's are the encoder's)."""
        layers = self.enc if self.tied else self.dec
        return [m.weight for m in layers if isinstance(m, nn.Linear)]

    def penalty(self, x_in: Tensor, z: Tensor) -> dict[str, Tensor]:
        cfg = self.config
        terms = {"z_energy": cfg.z_weight * code_energy(z)}
        if cfg.decoder_reg == "l2":
            terms["decoder_l2"] = cfg.lam * weight_decay(self.decoder_weights())
        elif cfg.decoder_reg == "gradient":
            terms["decoder_grad"] = cfg.lam * decoder_jacobian_norm(self.decode_logits, z)
        return terms
