"""Building blocks of progressive growing and style-based generators.

- Equalized learning rate (Karras et al. 2018, "Progressive Growing of GANs", section 4.1):
  weights are stored as w ~ N(0, 1) and scaled at run time, w_hat = w * c with the He
  constant c = gain / sqrt(fan_in). The optimizer then sees parameters of one scale in every
  layer, so Adam's per-parameter normalization gives every layer the same effective speed.
  `lr_mul` (StyleGAN's mapping network uses 0.01) stores w ~ N(0, 1 / lr_mul^2) and scales by
  c * lr_mul: the same initial function, updates lr_mul times smaller in effect.
- Pixelwise feature normalization (same paper, section 4.2): each position's feature vector
  divided by its root mean square, b = a / sqrt(mean_j a_j^2 + eps).
- The mapping network z -> w (Karras et al. 2019, "A Style-Based Generator", section 2):
  the normalized z through an MLP of equalized layers with LeakyReLU(0.2).
- Adaptive instance normalization (Huang & Belongie 2017; StyleGAN eq. 1):
  AdaIN(x_i, y) = y_s,i (x_i - mu(x_i)) / sigma(x_i) + y_b,i, with the style y = (y_s, y_b) an
  affine map of w, initialized so that y_s = 1 and y_b = 0.
- Noise inputs (StyleGAN section 2): one single-channel Gaussian image per example, added to
  every channel with a learned per-channel scale that starts at 0.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LEAK = 0.2
HE_GAIN = math.sqrt(2.0)  # the He gain for (leaky) ReLU layers


class EqualizedLinear(nn.Module):
    """y = x (w c lr_mul)^T + b lr_mul, c = gain / sqrt(in_features); w ~ N(0, 1 / lr_mul^2)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        gain: float = HE_GAIN,
        lr_mul: float = 1.0,
        bias_init: float = 0.0,
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), bias_init / lr_mul)) if bias else None
        self.scale = gain / math.sqrt(in_features) * lr_mul
        self.lr_mul = lr_mul

    def effective_weight(self) -> Tensor:
        return self.weight * self.scale

    def forward(self, x: Tensor) -> Tensor:
        bias = None if self.bias is None else self.bias * self.lr_mul
        return F.linear(x, self.effective_weight(), bias)

    def extra_repr(self) -> str:
        out, inp = self.weight.shape
        return f"{inp}, {out}, scale={self.scale:.4g}, lr_mul={self.lr_mul}"


class EqualizedConv2d(nn.Module):
    """A 2-D convolution with weights w ~ N(0, 1) scaled by gain / sqrt(C_in k_h k_w)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
        gain: float = HE_GAIN,
    ):
        super().__init__()
        k = kernel_size
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, k, k))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = gain / math.sqrt(in_channels * k * k)
        self.stride, self.padding = stride, padding

    def effective_weight(self) -> Tensor:
        return self.weight * self.scale

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.effective_weight(), self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        out, inp, k, _ = self.weight.shape
        return f"{inp}, {out}, kernel_size={k}, stride={self.stride}, padding={self.padding}"


class PixelNorm(nn.Module):
    """Divide each position's feature vector (dim 1) by its root mean square."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + self.eps)


class MappingNetwork(nn.Module):
    """z (N, z_dim) -> w (N, w_dim): PixelNorm, then `layers` x [EqualizedLinear, LeakyReLU]."""

    def __init__(
        self,
        z_dim: int,
        w_dim: int,
        layers: int = 8,
        hidden: int | None = None,
        lr_mul: float = 0.01,
    ):
        super().__init__()
        hidden = hidden or w_dim
        dims = [z_dim] + [hidden] * (layers - 1) + [w_dim]
        blocks: list[nn.Module] = [PixelNorm()]
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            blocks += [EqualizedLinear(a, b, lr_mul=lr_mul), nn.LeakyReLU(LEAK)]
        self.net = nn.Sequential(*blocks)
        self.z_dim, self.w_dim = z_dim, w_dim

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class AdaIN(nn.Module):
    """(x (N, C, H, W), w (N, w_dim)) -> y_s (x - mu) / sigma + y_b, per example and channel."""

    def __init__(self, channels: int, w_dim: int, eps: float = 1e-8):
        super().__init__()
        self.style = EqualizedLinear(w_dim, 2 * channels, gain=1.0)
        with torch.no_grad():  # y_s starts at 1, y_b at 0
            self.style.bias[:channels] = 1.0
        self.channels, self.eps = channels, eps

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        y = self.style(w)[:, :, None, None]  # (N, 2C, 1, 1)
        scale, shift = y[:, : self.channels], y[:, self.channels :]
        mu = x.mean((2, 3), keepdim=True)
        var = x.var((2, 3), keepdim=True, unbiased=False)
        return scale * (x - mu) * torch.rsqrt(var + self.eps) + shift


class NoiseInjection(nn.Module):
    """x + s * noise: one (N, 1, H, W) Gaussian image per example, a learned scale s per channel
    (0 at first). Pass `noise` to fix it (for reproducible samples or a noise ablation)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(
        self, x: Tensor, noise: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        if noise is None:
            n, _, h, w = x.shape
            noise = torch.randn(n, 1, h, w, generator=generator, device=x.device, dtype=x.dtype)
        return x + self.weight * noise


# ---------------------------------------------------------------- per-layer styles
def broadcast_styles(w: Tensor, num_layers: int) -> Tensor:
    """(N, w_dim) -> (N, L, w_dim): the same style for every synthesis layer."""
    return w[:, None].expand(-1, num_layers, -1)


def mix_styles(
    w1: Tensor, w2: Tensor, num_layers: int, prob: float, generator: torch.Generator | None = None
) -> Tensor:
    """Style-mixing regularization (StyleGAN section 3.1): with probability `prob` per example,
    layers before a crossover k ~ U{1, ..., L - 1} take w1 and the rest w2; otherwise every
    layer takes w1. (N, w_dim) twice -> (N, L, w_dim)."""
    n = len(w1)
    u = torch.rand(n, generator=generator, device=w1.device)
    k = torch.randint(1, max(num_layers, 2), (n,), generator=generator, device=w1.device)
    k = torch.where(u < prob, k, torch.full_like(k, num_layers))  # k = L: no mixing
    layer = torch.arange(num_layers, device=w1.device)
    second = (layer[None] >= k[:, None])[..., None]  # (N, L, 1)
    return torch.where(second, w2[:, None], w1[:, None])


def truncate_styles(ws: Tensor, w_avg: Tensor, psi: float, cutoff: int | None = None) -> Tensor:
    """The truncation trick in W (StyleGAN appendix B): w' = w_avg + psi (w - w_avg), on the
    first `cutoff` layers only when given (the coarse styles). ws: (N, L, w_dim)."""
    if psi == 1.0:  # exactly the untruncated styles, not w_avg + (ws - w_avg) rounded
        return ws
    out = w_avg + psi * (ws - w_avg)
    if cutoff is None or cutoff >= ws.shape[1]:
        return out
    return torch.cat([out[:, :cutoff], ws[:, cutoff:]], 1)


def track_w_avg(w_avg: Tensor, w: Tensor, beta: float = 0.995) -> Tensor:
    """The running mean of w that truncation pulls toward: beta w_avg + (1 - beta) mean(w),
    kept in w_avg's dtype (w may be half precision under autocast)."""
    return torch.lerp(w.detach().mean(0).to(w_avg.dtype), w_avg, beta)
