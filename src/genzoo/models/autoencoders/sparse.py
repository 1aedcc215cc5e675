"""The sparse autoencoder: reconstruction plus a sparsity penalty Omega(h) on the code,
either lambda * ||h||_1 or beta * sum_j KL(rho || rho^_j) with sigmoid codes (Ng's notes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import Tensor

from ...config import check
from ..base import register_model
from .ae import AEConfig, Autoencoder
from .common import kl_sparsity, l1_sparsity


@dataclass
class SparseAEConfig(AEConfig):
    code_activation: Literal["none", "relu", "sigmoid"] = "sigmoid"  # KL needs codes in (0, 1)
    sparsity: Literal["kl", "l1"] = "kl"  # which penalty
    kl_weight: float = 0.1  # beta
    rho: float = 0.05  # target mean activation of each code unit
    l1_weight: float = 1e-3  # lambda

    def __post_init__(self) -> None:
        super().__post_init__()
        check(
            self.sparsity != "kl" or self.code_activation == "sigmoid",
            "sparsity",
            "kl",
            "the KL penalty needs code_activation='sigmoid' (codes in (0, 1)); or use l1",
        )
        check(0 < self.rho < 1, "rho", self.rho, "0 < rho < 1")
        for name in ("kl_weight", "l1_weight"):
            check(getattr(self, name) >= 0, name, getattr(self, name), "a weight >= 0")


@register_model("sparse-ae", "sparse autoencoder: L1 or KL(rho || rho^) penalty on the code")
class SparseAutoencoder(Autoencoder):
    Config = SparseAEConfig

    def regularizes(self) -> bool:
        cfg = self.config
        return (cfg.kl_weight if cfg.sparsity == "kl" else cfg.l1_weight) > 0

    def penalty(self, x_in: Tensor, z: Tensor) -> dict[str, Tensor]:
        cfg = self.config
        if cfg.sparsity == "kl":
            return {"sparsity": cfg.kl_weight * kl_sparsity(z, cfg.rho)}
        return {"sparsity": cfg.l1_weight * l1_sparsity(z)}
