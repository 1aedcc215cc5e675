"""Losses, corruptions and penalties of the autoencoder family, each beside its formula.

References: Goodfellow, Bengio & Courville, Deep Learning, ch. 14; Vincent et al. 2008
(denoising); Ng, "Sparse autoencoder" lecture notes (KL sparsity); Rifai et al. 2011
(contractive); Ghosh et al. 2020 (regularized, RAE); Tolstikhin et al. 2018 (Wasserstein,
WAE-MMD).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

IMQ_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)  # WAE's kernel widths, times 2 k sigma_z^2


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


# ---------------------------------------------------------------- regularized autoencoders
def code_energy(z: Tensor) -> Tensor:
    """L_z = mean_i mean_j z_ij^2: the RAE's penalty on the codes' size, which bounds the
    latent space a density has to be fitted to (Ghosh et al. 2020, eq. 6, with their code's
    mean over the k dimensions in place of the sum / 2)."""
    return z.pow(2).mean()


def weight_decay(params) -> Tensor:
    """L_REG = sum_w w^2 over the decoder's weight matrices (RAE-L2)."""
    return sum(p.pow(2).sum() for p in params)


def decoder_jacobian_norm(decode, z: Tensor, generator=None) -> Tensor:
    """L_REG = ||J_D(z)||_F^2 of the decoder D at the codes (RAE-GP), estimated without forming
    the Jacobian: for v ~ N(0, I) in data space, E_v ||J^T v||^2 = tr(J J^T) = ||J||_F^2, and
    J^T v is one backward pass of <D(z), v>. Kept differentiable; batch mean."""
    with torch.enable_grad():  # also inside an evaluation's no_grad
        if not z.requires_grad:
            z = z.detach().requires_grad_(True)
        out = decode(z)
        v = torch.randn(out.shape, generator=generator, device=out.device, dtype=out.dtype)
        (jt_v,) = torch.autograd.grad((out * v).sum(), z, create_graph=True)
        return jt_v.pow(2).flatten(1).sum(1).mean()


def imq_kernel(a: Tensor, b: Tensor, c: float) -> Tensor:
    """The inverse multiquadratic kernel k(a, b) = C / (C + ||a - b||^2), (N, M) for a (N, k)
    and b (M, k). Its tails are heavy: codes far from the prior still get a gradient, where a
    Gaussian kernel's vanishes (Tolstikhin et al. 2018, sec. 4)."""
    return c / (c + torch.cdist(a, b).pow(2))


def mmd_imq(z: Tensor, z_prior: Tensor, sigma2: float = 1.0, scales=IMQ_SCALES) -> Tensor:
    """The unbiased estimate of MMD_k(Q_Z, P_Z)^2 from codes z ~ Q_Z and draws z_prior ~ P_Z
    = N(0, sigma2 I), both (n, k), with the IMQ kernel summed over C = s * 2 k sigma2 for each
    scale s (WAE-MMD, Tolstikhin et al. 2018, Algorithm 2):

        1/(n(n-1)) sum_{i!=j} [k(z~_i, z~_j) + k(z_i, z_j)] - 2/n^2 sum_{i,j} k(z~_i, z_j).
    """
    n, k = z.shape
    off = 1 - torch.eye(n, device=z.device, dtype=z.dtype)  # drops the i = j terms
    total = z.new_zeros(())
    for s in scales:
        c = s * 2 * k * sigma2
        same = (imq_kernel(z_prior, z_prior, c) + imq_kernel(z, z, c)) * off
        total = total + same.sum() / (n * (n - 1)) - 2 * imq_kernel(z, z_prior, c).mean()
    return total
