"""The maths of the variational autoencoder family, each function beside its formula.

Notation (Kingma & Welling 2014, "Auto-Encoding Variational Bayes"; Burda et al. 2016,
"Importance Weighted Autoencoders"): the encoder gives q(z|x) = N(mu, diag(exp(logvar))), the
prior is p(z) = N(0, I), the decoder gives p(x|z). Every log-density is summed over the
dimensions of one example, so it is in nats per example, shape (B,) or (k, B).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

LOG_2PI = math.log(2 * math.pi)


def reparameterize(mu: Tensor, logvar: Tensor, eps: Tensor | None = None) -> Tensor:
    """z = mu + sigma * eps, eps ~ N(0, I), sigma = exp(logvar / 2): a draw from q(z|x) that
    is a differentiable function of (mu, logvar) (Kingma & Welling 2014, eq. 10)."""
    if eps is None:
        eps = torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * eps


def kl_standard_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag sigma^2) || N(0, I)) per latent dimension, in closed form
    (Kingma & Welling 2014, appendix B): 1/2 (mu^2 + sigma^2 - 1 - log sigma^2). Shape of mu."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def log_normal(x: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log N(x; mu, diag exp(logvar)), summed over the last dimension:
    -1/2 sum_d [log 2 pi + logvar_d + (x_d - mu_d)^2 / exp(logvar_d)]."""
    return -0.5 * (LOG_2PI + logvar + (x - mu).pow(2) * torch.exp(-logvar)).sum(-1)


def log_standard_normal(z: Tensor) -> Tensor:
    """log N(z; 0, I), summed over the last dimension: -1/2 sum_d [log 2 pi + z_d^2]."""
    return -0.5 * (LOG_2PI + z.pow(2)).sum(-1)


def bernoulli_log_prob(logits: Tensor, x: Tensor) -> Tensor:
    """log p(x|z) for independent Bernoulli pixels with p = sigmoid(logits), summed over every
    dimension of x but the first: sum_d [x_d log p_d + (1 - x_d) log(1 - p_d)]
    = sum_d [x_d l_d - softplus(l_d)] (= -BCE). `logits` may carry extra leading dimensions
    (k samples for each example) that broadcast against x: the result is then (k, B)."""
    lead = logits.dim() - x.dim() + 1
    return (logits * x - F.softplus(logits)).flatten(lead).sum(-1)


def gaussian_log_prob(x: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
    """log p(x|z) for a diagonal Gaussian decoder, summed over every dimension of x but the
    first; like `bernoulli_log_prob`, mean and logvar may carry extra leading dimensions."""
    lead = mean.dim() - x.dim() + 1
    return log_normal(x.flatten(1), mean.flatten(lead), logvar.expand_as(mean).flatten(lead))


def iwae_bound(log_w: Tensor) -> Tensor:
    """The importance-weighted bound from k weights per example, log_w of shape (k, B):
    L_k = log (1/k) sum_i w_i = logsumexp_i log w_i - log k  (Burda et al. 2016, eq. 8).
    L_1 is the ELBO; L_k <= L_{k+1} <= log p(x) in expectation, -> log p(x) as k grows."""
    return torch.logsumexp(log_w, 0) - math.log(log_w.shape[0])


def active_units(mu: Tensor, threshold: float = 0.01) -> Tensor:
    """Which latent dimensions are active: A_d = Cov_x(E_q(z|x)[z_d]) > threshold, from the
    posterior means of many examples, mu of shape (N, k) (Burda et al. 2016, section 5.2)."""
    return mu.var(0) > threshold


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between rows a and b (shape (k,) or (B, k)) at fractions t (T,):
    sin((1 - t) w) / sin w * a + sin(t w) / sin w * b, w the angle between them; linear where
    they are (nearly) parallel. Returns (T, k) or (T, B, k)."""
    t = t.view(-1, *([1] * a.dim()))
    cos = F.cosine_similarity(a, b, dim=-1, eps=1e-8).clamp(-1, 1)[..., None]
    omega = torch.acos(cos)
    sin = torch.sin(omega)
    lerp = (1 - t) * a + t * b
    curve = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / sin.clamp_min(1e-6)
    return torch.where(sin > 1e-4, curve, lerp)


def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Linear interpolation (1 - t) a + t b at fractions t (T,); returns (T, *a.shape)."""
    t = t.view(-1, *([1] * a.dim()))
    return (1 - t) * a + t * b
