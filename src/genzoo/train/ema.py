"""Exponential moving average of weights: theta_ema <- d * theta_ema + (1 - d) * theta.

Given the number of updates n so far, the average is debiased as Adam debiases its moments:
the weights at initialization get no share, and after n updates the average is
sum_k d^(n-k) theta_k / sum_k d^(n-k). A short run's average is then an average of what it
trained, not of its random start (after 1,000 steps at d = 0.999 that start would still hold
37% of the plain average); a long run's is the plain one.

A fixed decay still averages over 1 / (1 - d) steps however short the run, and a short run's
weights move far in that many steps. StyleGAN's alternative (Karras et al. 2019, 2020: ema_kimg
and ema_rampup) sets the average's half-life in training images instead, at most a share of
the images seen so far: `halflife_decay`.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def debiased_decay(decay: float, n: int) -> float:
    """The decay of the n-th update (n >= 1) that keeps the average free of its start:
    d (1 - d^(n-1)) / (1 - d^n), 0 at the first update, tending to d."""
    return decay * (1 - decay ** (n - 1)) / (1 - decay**n)


def halflife_decay(
    images_per_step: int,
    halflife_images: float,
    images_seen: int | None = None,
    rampup: float | None = None,
) -> float:
    """The decay that halves an image's weight after `halflife_images` images:
    0.5^(images_per_step / h), with h = min(halflife_images, rampup * images_seen) when
    `rampup` is given (an average over the last few percent of the run, however short)."""
    h = halflife_images
    if rampup is not None and images_seen is not None:
        h = min(h, rampup * images_seen)
    return 0.5 ** (images_per_step / max(h, 1e-8))


class EMA:
    def __init__(
        self,
        model: nn.Module,
        decay: float,
        halflife_images: float | None = None,
        rampup: float | None = None,
        images_per_step: int = 1,
    ):
        self.decay = decay
        self.halflife_images, self.rampup = halflife_images, rampup
        self.images_per_step = images_per_step
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @classmethod
    def of(cls, model: nn.Module, cfg, processes: int = 1) -> EMA:
        """The average a TrainConfig asks for: ema_decay, or a half-life in images
        (ema_halflife_images, ema_rampup) over global batches of batch_size x processes."""
        per_step = cfg.batch_size * processes
        return cls(model, cfg.ema_decay, cfg.ema_halflife_images, cfg.ema_rampup, per_step)

    def decay_at(self, n: int | None) -> float:
        """The decay of update n (counting from 1): from the half-life when there is one,
        else ema_decay, debiased when n is given."""
        if self.halflife_images is not None:
            seen = None if n is None else n * self.images_per_step
            return halflife_decay(self.images_per_step, self.halflife_images, seen, self.rampup)
        return self.decay if n is None else debiased_decay(self.decay, n)

    @torch.no_grad()
    def update(self, model: nn.Module, n: int | None = None) -> None:
        """Average in `model`'s weights; `n` is the count of updates including this one
        (None: the plain formula at ema_decay)."""
        d = self.decay_at(n)
        for e, p in zip(self.model.parameters(), model.parameters(), strict=True):
            e.lerp_(p.detach(), 1 - d)
        for e, b in zip(self.model.buffers(), model.buffers(), strict=True):
            e.copy_(b)  # running statistics are copied, not averaged
