"""Differentiable augmentation (Zhao, Liu, Lin, Zhu & Han 2020, "Differentiable Augmentation for
Data-Efficient GAN Training"), as pure functions of an image batch in [-1, 1].

On a few thousand images the discriminator soon tells the training images themselves from
anything else and stops teaching the generator. DiffAugment shows D only augmented images, real
and fake alike, T(x) and T(G(z)), in both players' losses. Augmenting only the reals would teach
G to draw the augmentations; augmenting both with a T that gradients pass through keeps the
game's optimum at p_g = p_data while D can no longer memorise the data. Each example draws its
own transform:

- color: brightness x + (u - 1/2); saturation (x - mean_c x) * 2u + mean_c x (mean over
  channels); contrast (x - mean x) * (u + 1/2) + mean x (mean over the image); u ~ U(0, 1) each;
- translation: a shift of up to 1/8 of the side in each axis, the uncovered border filled with 0;
- cutout: a square of half the side, anywhere its centre falls in the image, set to 0.

Adaptive augmentation (Karras, Aittala, Hellsten, Laine, Lehtinen & Aila 2020, "Training
Generative Adversarial Networks with Limited Data", section 3) applies each transform to each
example with a probability p, tuned while training by an overfitting heuristic: r_t =
E[sign(D(x_real))], the share of reals D is sure of (1: D has memorised them, 0: it cannot
tell). Every few minibatches p moves by sign(r_t - target) * N / (ada_kimg * 1000), N the
images seen since, so that p can cross from 0 to 1 in ada_kimg thousand images (500 in the
paper, target 0.6): `augment_with_probability`, `adjust_probability`; the GAN keeps r_t's
sums (`GAN.observe_overfitting`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _uniform(x: Tensor) -> Tensor:
    """u ~ U(0, 1), one per example, shaped to broadcast over (N, C, H, W)."""
    return torch.rand(len(x), 1, 1, 1, dtype=x.dtype, device=x.device)


def color(x: Tensor) -> Tensor:
    """Random brightness, then saturation (colour images only), then contrast, per example."""
    x = x + (_uniform(x) - 0.5)
    if x.shape[1] > 1:
        mean = x.mean(1, keepdim=True)
        x = (x - mean) * (_uniform(x) * 2) + mean
    mean = x.mean((1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x) + 0.5) + mean


def translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Each example shifted by whole pixels, up to `ratio` of its side, zeros filling in."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    # output (i, j) reads input (i + dy, j + dx); out-of-image reads land on a zero border
    rows = (torch.arange(h, device=x.device)[None, :, None] + dy + 1).clamp(0, h + 1)
    cols = (torch.arange(w, device=x.device)[None, None, :] + dx + 1).clamp(0, w + 1)
    padded = F.pad(x, (1, 1, 1, 1)).permute(0, 2, 3, 1)  # (N, H + 2, W + 2, C)
    batch = torch.arange(n, device=x.device)[:, None, None]
    return padded[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Each example with a square of `ratio` of its side set to 0, centred anywhere in it."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device)
    i = torch.arange(h, device=x.device)[None, :, None]
    j = torch.arange(w, device=x.device)[None, None, :]
    inside = (i >= cy - ch // 2) & (i < cy - ch // 2 + ch) & (j >= cx - cw // 2)
    inside = inside & (j < cx - cw // 2 + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


TRANSFORMS = {"color": color, "translation": translation, "cutout": cutout}


def diff_augment(x: Tensor, policy: tuple[str, ...]) -> Tensor:
    """T(x): the policy's transforms in its order, each differentiable in x."""
    for name in policy:
        x = TRANSFORMS[name](x)
    return x


def augment_with_probability(x: Tensor, policy: tuple[str, ...], p: float) -> Tensor:
    """The policy's transforms in order, each applied to each example with probability p
    (ADA); p = 1 is `diff_augment`, p = 0 the identity."""
    if p <= 0:
        return x
    for name in policy:
        if p >= 1:
            x = TRANSFORMS[name](x)
            continue
        chosen = torch.rand(len(x), 1, 1, 1, device=x.device) < p
        x = torch.where(chosen, TRANSFORMS[name](x), x)
    return x


def adjust_probability(p: float, r_t: float, target: float, images: int, ada_kimg: float) -> float:
    """p + sign(r_t - target) * images / (ada_kimg * 1000), kept in [0, 1]."""
    step = images / (ada_kimg * 1000)
    moved = p + (step if r_t > target else -step if r_t < target else 0.0)
    return min(1.0, max(0.0, moved))
