"""Sample-quality metrics on feature vectors, each beside its definition.

Inputs are (N, d) feature matrices of real (reference) and generated images, from a feature
network (genzoo.metrics.features). FID and KID come from torchmetrics, fed with precomputed
features; the k-nearest-neighbour metrics are written here, as the papers define them.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor, nn


class _Precomputed(nn.Module):
    """Lets torchmetrics' FID/KID take feature vectors instead of images."""

    def __init__(self, dim: int):
        super().__init__()
        self.num_features = dim

    def forward(self, x: Tensor) -> Tensor:
        return x


def fid(real: Tensor, fake: Tensor) -> float:
    """Frechet distance between Gaussians fitted to the features (Heusel et al. 2017):
    ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2)). Computed in float64."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    metric = FrechetInceptionDistance(feature=_Precomputed(real.shape[1]))
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    return float(metric.compute())


def kid(
    real: Tensor, fake: Tensor, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Kernel Inception Distance (Binkowski et al. 2018): unbiased MMD^2 with the polynomial
    kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets; returns (mean, std)."""
    from torchmetrics.image.kid import KernelInceptionDistance

    # subsets of at most half the samples, so that they differ and the std means something
    size = max(2, min(subset_size, len(real) // 2, len(fake) // 2))
    with warnings.catch_warnings():  # it warns that it keeps all features: ours are small
        warnings.simplefilter("ignore", UserWarning)
        metric = KernelInceptionDistance(
            feature=_Precomputed(real.shape[1]), subsets=subsets, subset_size=size
        )
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    with torch.random.fork_rng(devices=[]):  # subsets are drawn with the global generator
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


def _pairwise(a: Tensor, b: Tensor, chunk: int = 2048) -> Tensor:
    return torch.cat(
        [torch.cdist(a[i : i + chunk].double(), b.double()) for i in range(0, len(a), chunk)]
    )


def knn_radii(x: Tensor, k: int) -> Tensor:
    """Distance from each row of x to its k-th nearest other row."""
    d = _pairwise(x, x)
    return d.kthvalue(k + 1, dim=1).values  # the 1st "neighbour" is the point itself


def precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019).

    precision: share of fakes inside the k-NN ball of at least one real point;
    recall: share of reals inside the k-NN ball of at least one fake point.
    """
    r_real, r_fake = knn_radii(real, k), knn_radii(fake, k)
    d = _pairwise(fake, real)  # (M, N)
    precision = (d <= r_real[None, :]).any(1).double().mean()
    recall = (d.T <= r_fake[None, :]).any(1).double().mean()
    return float(precision), float(recall)


def density_coverage(real: Tensor, fake: Tensor, k: int = 5) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020), with k-NN balls around real points only.

    density  = 1/(k M) sum_j sum_i 1[fake_j in B(real_i, r_i)]  (can exceed 1);
    coverage = 1/N sum_i 1[some fake_j in B(real_i, r_i)].
    """
    r = knn_radii(real, k)
    inside = _pairwise(real, fake) <= r[:, None]  # (N, M)
    density = inside.double().sum() / (k * len(fake))
    coverage = inside.any(1).double().mean()
    return float(density), float(coverage)


def class_scores(probs: Tensor, min_share: float = 0.1) -> dict[str, float]:
    """Scores from a classifier's predicted class probabilities p(y|x), shape (N, K).

    classes_covered: classes predicted for at least `min_share` of their fair share N/K
    (so a stray prediction does not count); kl_uniform: KL(predicted-class histogram ||
    uniform) in nats, 0 when every class is equally frequent; inception_score:
    exp(E_x KL(p(y|x) || p(y))) (Salimans et al. 2016), between 1 and K.
    """
    n, k = probs.shape
    counts = torch.bincount(probs.argmax(1), minlength=k).double()
    hist = counts / n
    nz = hist > 0
    kl_uniform = float((hist[nz] * (hist[nz] * k).log()).sum())
    p = probs.double().clamp_min(1e-12)
    marginal = p.mean(0, keepdim=True)
    inception = math.exp(float((p * (p.log() - marginal.log())).sum(1).mean()))
    return {
        "classes_covered": int((counts >= max(1.0, min_share * n / k)).sum()),
        "of_classes": k,
        "kl_uniform": kl_uniform,
        "inception_score": inception,
    }
