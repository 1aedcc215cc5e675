"""The denoising autoencoder (Vincent et al. 2008): reconstruct the clean x from a corrupted
x~ ~ C(x~ | x), minimizing L(x, g(f(x~))). Gaussian noise, dropout or masking corruption."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import Tensor

from ...config import check
from ..base import register_model
from .ae import AEConfig, Autoencoder
from .common import dropout_noise, gaussian_noise, masking_noise


@dataclass
class DenoisingAEConfig(AEConfig):
    corruption: Literal["gaussian", "dropout", "masking"] = "gaussian"
    noise_std: float = 0.3  # gaussian: standard deviation, in the model's range ([0, 1] images)
    drop_prob: float = 0.3  # dropout and masking: probability of zeroing each input

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.noise_std >= 0, "noise_std", self.noise_std, "a number >= 0")
        check(0 <= self.drop_prob < 1, "drop_prob", self.drop_prob, "0 <= p < 1")


@register_model("denoising-ae", "denoising autoencoder: gaussian, dropout or masking corruption")
class DenoisingAutoencoder(Autoencoder):
    Config = DenoisingAEConfig

    def regularizes(self) -> bool:
        cfg = self.config
        return (cfg.noise_std if cfg.corruption == "gaussian" else cfg.drop_prob) > 0

    def corrupt(self, x: Tensor) -> Tensor:
        cfg = self.config
        if cfg.corruption == "gaussian":
            return gaussian_noise(x, cfg.noise_std)
        if cfg.corruption == "dropout":
            return dropout_noise(x, cfg.drop_prob)
        return masking_noise(x, cfg.drop_prob)

    def denoise(self, x: Tensor) -> Tensor:
        """The clean estimate g(f(x)) of a noisy x."""
        return self.reconstruct(x)
