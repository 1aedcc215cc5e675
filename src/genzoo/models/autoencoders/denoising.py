"""Denoising autoencoders (Vincent et al. 2008): reconstruct the clean x from a corrupted
x~ ~ C(x~ | x), minimizing L(x, g(f(x~))). Gaussian noise, dropout or masking corruption, or
(images) a random affine map: a small rotation, zoom and shift. Asked to undo the last, the
code learns what stays the same when a digit moves, which is what a classifier needs (see the
few-label table in bench/RESULTS.md).

`denoising-ae` is the MLP model; `conv-denoising-ae` the convolutional one, whose
reconstructions keep more detail (see bench/RESULTS.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import Tensor

from ...config import check
from ...data.augment import random_affine
from ...errors import ConfigError
from ..base import register_model
from .ae import AEConfig, Autoencoder
from .common import dropout_noise, gaussian_noise, masking_noise
from .conv import ConvAEConfig, ConvAutoencoder


@dataclass
class CorruptionConfig:
    corruption: Literal["gaussian", "dropout", "masking", "affine"] = "gaussian"
    noise_std: float = 0.3  # gaussian: standard deviation, in the model's range ([0, 1] images)
    drop_prob: float = 0.3  # dropout and masking: probability of zeroing each input
    rotation: float = 12.0  # affine (images): max rotation, degrees
    shift: float = 0.12  # affine: max translation, as a fraction of the image size
    scale: float = 0.12  # affine: max relative zoom

    def check_corruption(self) -> None:
        check(self.noise_std >= 0, "noise_std", self.noise_std, "a number >= 0")
        check(0 <= self.drop_prob < 1, "drop_prob", self.drop_prob, "0 <= p < 1")
        for name in ("rotation", "shift", "scale"):
            check(getattr(self, name) >= 0, name, getattr(self, name), "a number >= 0")
        check(self.scale < 1, "scale", self.scale, "a relative zoom < 1")


@dataclass
class DenoisingAEConfig(AEConfig, CorruptionConfig):
    def __post_init__(self) -> None:
        AEConfig.__post_init__(self)
        self.check_corruption()


@dataclass
class ConvDenoisingAEConfig(ConvAEConfig, CorruptionConfig):
    def __post_init__(self) -> None:
        ConvAEConfig.__post_init__(self)
        self.check_corruption()


class Denoising:
    """What makes an autoencoder a denoising one: it corrupts its training input."""

    def __init__(self, config, info):
        if config.corruption == "affine" and info.kind != "image":
            raise ConfigError(
                "model.corruption",
                "affine",
                f"gaussian, dropout or masking for {info.kind} data (affine moves images)",
            )
        super().__init__(config, info)

    def regularizes(self) -> bool:
        cfg = self.config
        if cfg.corruption == "affine":
            return max(cfg.rotation, cfg.shift, cfg.scale) > 0
        return (cfg.noise_std if cfg.corruption == "gaussian" else cfg.drop_prob) > 0

    def corrupt(self, x: Tensor) -> Tensor:
        cfg = self.config
        if cfg.corruption == "gaussian":
            return gaussian_noise(x, cfg.noise_std)
        if cfg.corruption == "dropout":
            return dropout_noise(x, cfg.drop_prob)
        if cfg.corruption == "affine":
            return random_affine(x, cfg.rotation, cfg.shift, cfg.scale)
        return masking_noise(x, cfg.drop_prob)

    def denoise(self, x: Tensor) -> Tensor:
        """The clean estimate g(f(x)) of a noisy x."""
        return self.reconstruct(x)


@register_model(
    "denoising-ae", "denoising autoencoder: gaussian, dropout, masking or affine corruption"
)
class DenoisingAutoencoder(Denoising, Autoencoder):
    Config = DenoisingAEConfig


@register_model("conv-denoising-ae", "convolutional denoising autoencoder, for images")
class ConvDenoisingAutoencoder(Denoising, ConvAutoencoder):
    Config = ConvDenoisingAEConfig
