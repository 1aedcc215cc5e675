"""Exponential moving average of weights: theta_ema <- d * theta_ema + (1 - d) * theta.

Given the number of updates n so far, the average is debiased as Adam debiases its moments:
the weights at initialization get no share, and after n updates the average is
sum_k d^(n-k) theta_k / sum_k d^(n-k). A short run's average is then an average of what it
trained, not of its random start (after 1,000 steps at d = 0.999 that start would still hold
37% of the plain average); a long run's is the plain one.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def debiased_decay(decay: float, n: int) -> float:
    """The decay of the n-th update (n >= 1) that keeps the average free of its start:
    d (1 - d^(n-1)) / (1 - d^n), 0 at the first update, tending to d."""
    return decay * (1 - decay ** (n - 1)) / (1 - decay**n)


class EMA:
    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, n: int | None = None) -> None:
        """Average in `model`'s weights; `n`, the count of updates including this one,
        debiases the average (None: the plain formula)."""
        d = self.decay if n is None else debiased_decay(self.decay, n)
        for e, p in zip(self.model.parameters(), model.parameters(), strict=True):
            e.lerp_(p.detach(), 1 - d)
        for e, b in zip(self.model.buffers(), model.buffers(), strict=True):
            e.copy_(b)  # running statistics are copied, not averaged
