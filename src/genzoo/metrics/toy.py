"""Metrics for 2-D and tabular data, where samples can be compared with the data directly.

- Mode metrics for Gaussian mixtures with known means and std (`ring8`, `grid25`), following
  the protocol of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018): 2,500 samples;
  a sample is high quality when it lies within 3 std of its nearest mode mean; a mode is
  captured when it is the nearest mode of at least one high-quality sample; and the reverse
  KL of the generated mode histogram against the uniform one. Those three reward a generator
  that puts each mode's mass on a point, so we add the spread of the high-quality samples
  around their modes, relative to the data's.
- A k-nearest-neighbour estimate of KL divergence (Wang, Kulkarni & Verdu 2009).
- Maximum mean discrepancy with a Gaussian kernel (Gretton et al. 2012).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def mode_metrics(samples: Tensor, means: Tensor, std: float, n_std: float = 3.0) -> dict:
    """Modes captured, share of high-quality samples, reverse KL (nats) to uniform modes, and
    `spread`: the per-axis RMS distance of the high-quality samples to their mode, over `std`.

    Data drawn from the mixture itself has a spread just under 1 (0.974 in 2-D at 3 std: the
    3-std cut trims the tails); a generator that shrinks its modes scores less, one that
    blurs them more (up to 3 / sqrt(2) ~ 2.1 with the cut).
    """
    d = torch.cdist(samples.double(), means.double())  # (N, K)
    dist, nearest = d.min(1)
    good = dist <= n_std * std
    k = len(means)
    counts = torch.bincount(nearest[good], minlength=k).double()
    modes = int((counts > 0).sum())
    q = counts / counts.sum() if counts.sum() > 0 else counts
    nz = q > 0
    reverse_kl = float((q[nz] * (q[nz] * k).log()).sum()) if modes else math.inf
    dim = samples.shape[1]
    spread = float(dist[good].pow(2).mean().div(dim).sqrt() / std) if modes else math.nan
    return {
        "modes": modes,
        "of_modes": k,
        "high_quality": float(good.double().mean()),
        "reverse_kl": reverse_kl,
        "spread": spread,
    }


def _kth_nn(a: Tensor, b: Tensor, k: int, exclude_self: bool) -> Tensor:
    d = torch.cdist(a.double(), b.double())
    return d.kthvalue(k + 1 if exclude_self else k, dim=1).values


def knn_kl(p: Tensor, q: Tensor, k: int = 5) -> float:
    """KL(P || Q) in nats from samples p ~ P (n, d) and q ~ Q (m, d):
    d/n sum_i log(nu_k(i) / rho_k(i)) + log(m / (n - 1)), where rho_k(i) is the distance from
    p_i to its k-th nearest neighbour in p (itself excluded) and nu_k(i) that in q."""
    n, d = p.shape
    rho = _kth_nn(p, p, k, exclude_self=True).clamp_min(1e-12)
    nu = _kth_nn(p, q, k, exclude_self=False).clamp_min(1e-12)
    return float(d * (nu.log() - rho.log()).mean() + math.log(len(q) / (n - 1)))


def mmd(x: Tensor, y: Tensor, bandwidth: float | None = None) -> float:
    """Unbiased MMD^2 with k(a, b) = exp(-|a - b|^2 / (2 s^2)); s defaults to the median
    pairwise distance of the pooled samples (the median heuristic)."""
    x, y = x.double(), y.double()
    if bandwidth is None:
        pooled = torch.cat([x, y])
        dist = torch.pdist(
            pooled[torch.randperm(len(pooled), generator=torch.Generator().manual_seed(0))[:2000]]
        )
        bandwidth = float(dist.median())

    def k(a: Tensor, b: Tensor) -> Tensor:
        return torch.exp(-(torch.cdist(a, b) ** 2) / (2 * bandwidth**2))

    n, m = len(x), len(y)
    kxx = (k(x, x).sum() - n) / (n * (n - 1))  # the diagonal is 1
    kyy = (k(y, y).sum() - m) / (m * (m - 1))
    return float(kxx + kyy - 2 * k(x, y).mean())
