"""Denoising: noise to test with, classical baselines, and the score (PSNR).

Images are handled in [0, 1]. The baselines are the two filters a practitioner would try first:
a 3x3 median filter and a Gaussian blur (scipy.ndimage), each applied per image and channel.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import GenzooError
from ..models.base import Reconstructor, in_batches


def add_gaussian_noise(x: Tensor, std: float, seed: int = 0) -> Tensor:
    """x + N(0, std^2), clipped back to [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    return (x + std * torch.randn(x.shape, generator=g)).clamp(0, 1)


def median_filter(x: Tensor, size: int = 3) -> Tensor:
    from scipy import ndimage

    a = x.numpy()
    return torch.from_numpy(ndimage.median_filter(a, size=(1, 1, size, size))).float()


def gaussian_blur(x: Tensor, sigma: float = 0.8) -> Tensor:
    from scipy import ndimage

    a = x.numpy()
    return torch.from_numpy(ndimage.gaussian_filter(a, sigma=(0, 0, sigma, sigma))).float()


def psnr(x_hat: Tensor, x: Tensor) -> float:
    """Mean over images of 10 log10(1 / MSE) in dB, for images in [0, 1]."""
    mse = ((x_hat.clamp(0, 1) - x) ** 2).flatten(1).mean(1).clamp_min(1e-10)
    return float((10 * torch.log10(1 / mse)).mean())


@torch.no_grad()
def denoise(model, x_model: Tensor, y: Tensor | None = None, batch: int = 500) -> Tensor:
    """The model's clean estimate of each example: its reconstruction (a denoising
    autoencoder learned to map corrupted inputs to clean ones); labels y for a conditional
    model."""
    if not isinstance(model, Reconstructor):
        raise GenzooError(
            f"model {model.name} cannot reconstruct, so it cannot denoise; use an autoencoder "
            "(denoising-ae, conv-denoising-ae) or a VAE"
        )
    model.eval()
    return in_batches(model.reconstruct, x_model, model.labels_for(y, "reconstruct"), batch)
