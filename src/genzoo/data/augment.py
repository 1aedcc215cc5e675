"""Random affine image transforms: the augmentation of the feature network and of few-label
fine-tuning, and the geometric corruption of denoising autoencoders."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def random_affine(
    x: Tensor,
    rotation: float = 12.0,
    shift: float = 0.12,
    scale: float = 0.12,
    generator: torch.Generator | None = None,
) -> Tensor:
    """A random rotation (up to `rotation` degrees), zoom (up to a relative `scale`) and
    translation (up to `shift` of the image size) of each image of a batch (B, C, H, W),
    uniform in each range; pixels from outside the image are 0. Draws on x's device."""
    b, dev = len(x), x.device
    u = lambda: torch.rand(b, generator=generator, device=dev) * 2 - 1  # noqa: E731  U[-1, 1]
    angle = u() * math.radians(rotation)
    s = 1 + u() * scale
    theta = torch.zeros(b, 2, 3, device=dev)
    theta[:, 0, 0], theta[:, 0, 1] = torch.cos(angle) / s, -torch.sin(angle) / s
    theta[:, 1, 0], theta[:, 1, 1] = torch.sin(angle) / s, torch.cos(angle) / s
    theta[:, :, 2] = torch.stack([u(), u()], 1) * 2 * shift  # grid units span [-1, 1]
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)
