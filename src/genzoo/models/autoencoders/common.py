"""Losses, corruptions and penalties of the autoencoder family, each beside its formula.

References: Goodfellow, Bengio & Courville, Deep Learning, ch. 14; Vincent et al. 2008
(denoising); Ng, "Sparse autoencoder" lecture notes (KL sparsity); Rifai et al. 2011
(contractive).
"""

from __future__ import annotations

import torch
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


# ---------------------------------------------------------------- corruptions C(x~ | x)
def gaussian_noise(x: Tensor, std: float) -> Tensor:
    """x~ = x + eps, eps ~ N(0, std^2 I)."""
    return x + std * torch.randn_like(x)


def dropout_noise(x: Tensor, p: float) -> Tensor:
    """Each input zeroed with probability p, survivors scaled by 1 / (1 - p) (mean kept)."""
    return F.dropout(x, p, training=True)


def masking_noise(x: Tensor, p: float) -> Tensor:
    """A fraction p of the inputs, chosen at random, forced to 0 (Vincent et al. 2008)."""
    return x * (torch.rand_like(x) >= p)


# ---------------------------------------------------------------- penalties Omega(h)
def l1_sparsity(h: Tensor) -> Tensor:
    """Omega(h) = mean_i sum_j |h_ij|: the L1 norm of each code, averaged over the batch."""
    return h.abs().sum(1).mean()


def kl_sparsity(h: Tensor, rho: float, eps: float = 1e-6) -> Tensor:
    """Omega(h) = sum_j KL(rho || rho^_j), rho^_j = mean_i h_ij, for codes in (0, 1):
    KL(rho || q) = rho log(rho / q) + (1 - rho) log((1 - rho) / (1 - q))."""
    q = h.mean(0).clamp(eps, 1 - eps)
    return (rho * (rho / q).log() + (1 - rho) * ((1 - rho) / (1 - q)).log()).sum()


def contractive_sigmoid(h: Tensor, weight: Tensor) -> Tensor:
    """||J_f(x)||_F^2 for one sigmoid layer h = s(W x + b), in closed form, batch mean:
    dh_j/dx_i = h_j (1 - h_j) W_ji, so ||J||_F^2 = sum_j (h_j (1 - h_j))^2 sum_i W_ji^2."""
    return ((h * (1 - h)) ** 2 @ (weight**2).sum(1)).mean()


def contractive_autograd(encode, x: Tensor) -> Tensor:
    """||J_f(x)||_F^2 of any encoder f, exactly: the per-example Jacobian (k x D) by
    reverse-mode autodiff, vectorized over the batch, kept differentiable; batch mean."""
    from torch.func import jacrev, vmap

    jac = vmap(jacrev(lambda v: encode(v[None])[0]))(x)  # (B, k, *x.shape[1:])
    return jac.pow(2).flatten(1).sum(1).mean()
