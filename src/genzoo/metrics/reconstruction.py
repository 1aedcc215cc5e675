"""Reconstruction and likelihood metrics.

Reconstruction error is measured on images in [0, 1] (the data's value range mapped
linearly), so numbers are comparable across models whatever range they train in: MSE, PSNR
(10 log10(1 / MSE), in dB), SSIM (Wang et al. 2004, torchmetrics), and for data in [0, 1] the
binary cross-entropy. Points and tables use MSE in the data's own units.

Likelihoods: models return log p(x) (or a lower bound) in nats per example, in the space they
model. `likelihood_summary` is the one place that turns that into nats and bits per dimension,
optionally in the data's own units (adding the log-Jacobian of the affine data transform).
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor


def psnr(x_hat: Tensor, x: Tensor) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1]: 10 log10(1 / MSE)."""
    from torchmetrics.functional.image import peak_signal_noise_ratio

    return float(peak_signal_noise_ratio(x_hat.clamp(0, 1), x, data_range=1.0))


def ssim(x_hat: Tensor, x: Tensor) -> float:
    """Mean structural similarity for images in [0, 1]. The Gaussian window is 11 pixels, or
    the largest odd size that fits smaller images (7 for 8x8 digits)."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    side = min(x.shape[-2:])
    kernel = min(11, side if side % 2 else side - 1)
    return float(
        structural_similarity_index_measure(
            x_hat.clamp(0, 1), x, data_range=1.0, kernel_size=kernel, sigma=1.5 * kernel / 11
        )
    )


def bce(x_hat: Tensor, x: Tensor) -> tuple[float, float]:
    """Binary cross-entropy of targets x in [0, 1]: (nats per dimension, nats per example)."""
    total = float(F.binary_cross_entropy(x_hat.clamp(1e-6, 1 - 1e-6), x, reduction="sum"))
    return total / x.numel(), total / len(x)


def likelihood_summary(log_px: Tensor, dims: int, log_det: float = 0.0) -> dict[str, float]:
    """Negative log-likelihood in nats per example and bits per dimension.

    `log_det` = sum_d log|dx_model/dx_data| converts a density on the model's range into one on
    the data's own units: log p_data(x) = log p_model(f(x)) + log_det.
    """
    nll = -float(log_px.double().mean()) - log_det
    return {"nll_nats": nll, "bits_per_dim": nll / (dims * math.log(2)), "dims": dims}
