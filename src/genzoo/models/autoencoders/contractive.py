"""The contractive autoencoder (Rifai et al. 2011): reconstruction plus
lambda * ||J_f(x)||_F^2, the squared Frobenius norm of the encoder's Jacobian, computed
exactly: in closed form for a single sigmoid layer, with autograd for deeper encoders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import Tensor

from ...config import check
from ..base import register_model
from .ae import AEConfig, Autoencoder
from .common import contractive_autograd, contractive_sigmoid


@dataclass
class ContractiveAEConfig(AEConfig):
    hidden: tuple[int, ...] = ()  # the classic contractive encoder: one sigmoid layer
    code_activation: Literal["none", "relu", "sigmoid"] = "sigmoid"
    contraction_weight: float = 0.05  # lambda

    def __post_init__(self) -> None:
        super().__post_init__()
        check(
            self.contraction_weight >= 0,
            "contraction_weight",
            self.contraction_weight,
            "a number >= 0",
        )


@register_model("contractive-ae", "contractive autoencoder: penalty on the encoder's Jacobian")
class ContractiveAutoencoder(Autoencoder):
    Config = ContractiveAEConfig

    def regularizes(self) -> bool:
        return self.config.contraction_weight > 0

    def closed_form(self) -> bool:
        return len(self.enc) == 1 and self.config.code_activation == "sigmoid"

    def penalty(self, x_in: Tensor, z: Tensor) -> dict[str, Tensor]:
        if self.closed_form():
            jac = contractive_sigmoid(z, self.enc[0].weight)
        else:
            jac = contractive_autograd(self.encode, x_in)
        return {"contraction": self.config.contraction_weight * jac}
