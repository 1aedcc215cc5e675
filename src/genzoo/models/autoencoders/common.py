"""Reconstruction losses shared by the autoencoder family, each beside its formula."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def mse(x_hat: Tensor, x: Tensor) -> Tensor:
    """Mean squared error, averaged over examples and dimensions: mean_i,d (x_id - x^_id)^2."""
    return F.mse_loss(x_hat, x)


def bce_with_logits(logits: Tensor, x: Tensor) -> Tensor:
    """Binary cross-entropy -mean_i,d [x log s(l) + (1 - x) log(1 - s(l))], s the sigmoid.

    Computed from logits for numerical stability; targets x in [0, 1] (grey levels allowed).
    """
    return F.binary_cross_entropy_with_logits(logits, x)
