"""Layers that let a discriminator look at a whole minibatch, and other GAN building blocks.

- `MinibatchDiscrimination` (Salimans et al. 2016, "Improved Techniques for Training GANs",
  section 3.2): learned kernels measure how close each example is to the others, so a
  collapsed batch of near-identical samples is easy to reject.
- `MinibatchStdDev` (Karras et al. 2018, "Progressive Growing of GANs", section 3): the
  standard deviation of features across a small group, averaged into one extra feature.
- `pack` (Lin et al. 2018, "PacGAN"): m samples concatenated into one discriminator input.
- `Maxout` (Goodfellow et al. 2013): the max of k linear pieces, the discriminator unit of the
  GAN papers' 2-D experiments.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class MinibatchDiscrimination(nn.Module):
    """(N, A) -> (N, A + B). With M_i = f(x_i) T reshaped to (B, C) rows:

        c_b(x_i, x_j) = exp(-||M_{i,b} - M_{j,b}||_1),   o(x_i)_b = sum_{j != i} c_b(x_i, x_j)

    and o(x_i) is appended to the features f(x_i).
    """

    def __init__(self, in_features: int, num_kernels: int = 50, kernel_dim: int = 5):
        super().__init__()
        self.num_kernels, self.kernel_dim = num_kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, num_kernels * kernel_dim) * 0.1)

    def forward(self, f: Tensor) -> Tensor:
        m = (f @ self.T).view(len(f), self.num_kernels, self.kernel_dim)  # (N, B, C)
        m = m.transpose(0, 1)  # (B, N, C): one set of N rows per kernel
        # (B, N, N): ||M_i,b - M_j,b||_1, without the (N, N, B, C) difference tensor
        l1 = torch.cdist(m, m, p=1)
        o = torch.exp(-l1).sum(2).T - 1  # (N, B), the j = i term (exp 0 = 1) removed
        return torch.cat([f, o], 1)


def _group(n: int, size: int) -> int:
    """The largest group size <= size that divides the batch n."""
    return next(g for g in range(min(size, n), 0, -1) if n % g == 0)


class MinibatchStdDev(nn.Module):
    """(N, C, H, W) -> (N, C + 1, H, W), or (N, D) -> (N, D + 1).

    Split the batch into groups of `group_size`; in each group take every feature's standard
    deviation over the group, average them into one number, and append it to each member.
    """

    def __init__(self, group_size: int = 4, eps: float = 1e-8):
        super().__init__()
        self.group_size, self.eps = group_size, eps

    def forward(self, x: Tensor) -> Tensor:
        n = len(x)
        g = _group(n, self.group_size)
        y = x.view(g, n // g, *x.shape[1:])  # (G, M, ...): member i of every group
        std = (y.var(0, unbiased=False) + self.eps).sqrt()  # (M, ...)
        s = std.flatten(1).mean(1)  # (M,)
        s = s.repeat(g).view(n, 1, *([1] * (x.dim() - 2)))  # (N, 1[, 1, 1])
        return torch.cat([x, s.expand(n, 1, *x.shape[2:])], 1)


def pack(x: Tensor, m: int) -> Tensor:
    """PacGAN packing: (N, D) -> (N // m, m D), or (N, C, H, W) -> (N // m, m C, H, W).

    Consecutive examples form a pack; a remainder of fewer than m examples is dropped.
    """
    if m == 1:
        return x
    n = len(x) // m * m
    return x[:n].reshape(n // m, m * x.shape[1], *x.shape[2:])


class Maxout(nn.Module):
    """(N, A) -> (N, B): max over `pieces` affine maps."""

    def __init__(self, in_features: int, out_features: int, pieces: int = 5):
        super().__init__()
        self.pieces = pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x).view(len(x), -1, self.pieces).amax(-1)
