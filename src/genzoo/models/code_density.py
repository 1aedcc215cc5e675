"""Ex-post densities on an autoencoder's codes: what turns a deterministic autoencoder into a
generator (Ghosh et al. 2020, "From Variational to Deterministic Autoencoders", sec. 4).

An autoencoder trained to reconstruct has no prior p(z). After training, the codes of the
training set z_i = f(x_i) are a sample of the aggregate posterior q(z) = E_x[q(z | x)], and a
density fitted to them is a prior the decoder has learned to map to data:

    p(z) = sum_c pi_c N(z; mu_c, Sigma_c),    x = g(z), z ~ p(z).

A single Gaussian (K = 1) misses the holes and clusters of q(z): its draws land between the
classes, where the decoder has never been trained, and decode to blends. A mixture with enough
components follows the clusters. K is chosen by the mean log-likelihood of held-out codes: the
codes are split, each K in 1..max is fitted by EM (scikit-learn's `GaussianMixture`, full
covariances) on one part and scored on the other, and the best K is fitted again on all codes.
More components always fit the training codes better; only held-out codes say when a mixture
starts to memorize them.

`CodeDensity` keeps the fitted mixture as buffers of a fixed size (max components, unused ones
at weight 0), so it is saved and loaded with the weights like any tensor.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from ..config import check

MAX_FIT_CODES = 10_000  # EM's cost grows with the codes; a random subset this large is plenty


@dataclass
class CodePriorConfig:
    """The code density of a deterministic autoencoder (mixed into its config)."""

    # what sample() decodes from: a Gaussian mixture fitted to the training codes after
    # training, K chosen on held-out codes; or one Gaussian with the running mean and covariance
    # of the codes seen in training
    prior: Literal["mixture", "gaussian"] = "mixture"
    prior_components: int = 10  # the largest K tried (Ghosh et al. use 10)
    prior_momentum: float = 0.01  # momentum of the running code mean/covariance

    def check_prior(self) -> None:
        check(
            isinstance(self.prior_components, int) and 1 <= self.prior_components <= 100,
            "prior_components",
            self.prior_components,
            "an integer from 1 to 100",
        )
        check(0 < self.prior_momentum <= 1, "prior_momentum", self.prior_momentum, "0 < m <= 1")


@dataclass
class MixtureFit:
    """A fitted mixture: weights pi (K,), means mu (K, k), Cholesky factors L (K, k, k) with
    Sigma_c = L_c L_c^T, and the held-out mean log-likelihood of each K tried."""

    weights: Tensor
    means: Tensor
    chol: Tensor
    heldout: dict[int, float] = field(default_factory=dict)
    converged: bool = True  # whether EM converged for the chosen K on all the codes

    @property
    def components(self) -> int:
        return len(self.weights)


def fit_mixture(z: Tensor, max_components: int, held_out: float = 0.2, seed: int = 0) -> MixtureFit:
    """The Gaussian mixture of codes z (N, k) whose K in 1..max_components has the highest mean
    log-likelihood on a held-out share of the codes, refitted on all of them.

    K is capped so that each component has at least 2k + 2 fitting codes: fewer cannot pin
    down a full k x k covariance."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    codes = z.detach().double().cpu().numpy()
    if len(codes) > MAX_FIT_CODES:
        codes = codes[rng.choice(len(codes), MAX_FIT_CODES, replace=False)]
    order = rng.permutation(len(codes))
    n_test = max(1, int(held_out * len(codes)))
    test, train = codes[order[:n_test]], codes[order[n_test:]]
    k = codes.shape[1]
    top = max(1, min(max_components, len(train) // (2 * k + 2)))

    def em(n: int, x: np.ndarray) -> GaussianMixture:
        return GaussianMixture(n, covariance_type="full", random_state=seed, reg_covar=1e-6).fit(x)

    # EM's matrices are small: one BLAS thread runs it 20x faster than threads that spin
    # against a training process or each other. A fit that stops at EM's iteration limit is
    # still a fit; the chosen one's convergence is reported with it, not warned about
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        heldout = {n: float(em(n, train).score(test)) for n in range(1, top + 1)}
        best = max(heldout, key=heldout.get)
        gm = em(best, codes)
    return MixtureFit(
        torch.from_numpy(gm.weights_).float(),
        torch.from_numpy(gm.means_).float(),
        torch.linalg.cholesky(torch.from_numpy(gm.covariances_)).float(),
        heldout,
        bool(gm.converged_),
    )


def mixture_log_prob(z: Tensor, weights: Tensor, means: Tensor, chol: Tensor) -> Tensor:
    """log p(z) = logsumexp_c [log pi_c + log N(z; mu_c, L_c L_c^T)] for z (N, k): (N,).

    log N(z; mu, L L^T) = -k/2 log 2pi - sum_i log L_ii - |L^-1 (z - mu)|^2 / 2."""
    k = z.shape[1]
    diff = (z[:, None, :] - means[None]).unsqueeze(-1)  # (N, K, k, 1)
    white = torch.linalg.solve_triangular(chol[None], diff, upper=False).squeeze(-1)  # (N, K, k)
    log_det = chol.diagonal(dim1=-2, dim2=-1).log().sum(-1)  # (K,)
    log_n = -0.5 * k * math.log(2 * math.pi) - log_det - 0.5 * white.pow(2).sum(-1)  # (N, K)
    return torch.logsumexp(weights.log() + log_n, dim=1)


def mixture_sample(
    n: int, weights: Tensor, means: Tensor, chol: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """n codes from the mixture: a component c ~ Categorical(pi), then z = mu_c + L_c eps with
    eps ~ N(0, I): (n, k)."""
    c = torch.multinomial(weights, n, replacement=True, generator=generator)  # (n,)
    eps = torch.randn(n, means.shape[1], 1, generator=generator, device=means.device)
    return means[c] + (chol[c] @ eps).squeeze(-1)


class CodeDensity(nn.Module):
    """A Gaussian mixture over codes of size k with room for `max_components`, kept as
    buffers; unfitted (all weights 0) until `fit` is called."""

    def __init__(self, k: int, max_components: int):
        super().__init__()
        self.register_buffer("weights", torch.zeros(max_components))
        self.register_buffer("means", torch.zeros(max_components, k))
        self.register_buffer("chol", torch.eye(k).repeat(max_components, 1, 1))

    @property
    def fitted(self) -> bool:
        return bool(self.weights.sum() > 0)

    @property
    def components(self) -> int:
        return int((self.weights > 0).sum())

    @torch.no_grad()
    def fit(self, z: Tensor, seed: int = 0) -> MixtureFit:
        """Fit the mixture to codes z (N, k), K chosen on held-out codes (`fit_mixture`)."""
        fit = fit_mixture(z, len(self.weights), seed=seed)
        self.weights.zero_()
        self.means.zero_()
        self.chol.copy_(torch.eye(self.means.shape[1]).expand_as(self.chol))
        kk = fit.components
        self.weights[:kk] = fit.weights.to(self.weights)
        self.means[:kk] = fit.means.to(self.means)
        self.chol[:kk] = fit.chol.to(self.chol)
        return fit

    def _used(self) -> tuple[Tensor, Tensor, Tensor]:
        kk = self.components
        return self.weights[:kk], self.means[:kk], self.chol[:kk]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return mixture_sample(n, *self._used(), generator=generator)

    def log_prob(self, z: Tensor) -> Tensor:
        return mixture_log_prob(z, *self._used())
