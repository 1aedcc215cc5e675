"""Generator and discriminator networks of the GAN family: MLPs, and DCGAN's convolutional pair.

The DCGAN guidelines (Radford et al. 2016, section 3): strided convolutions in D and transposed
convolutions in G instead of pooling; batch norm in both except at G's output and D's input; ReLU
in G with tanh at the output; LeakyReLU(0.2) in D; no hidden dense layers beyond G's projection
of z and D's final read-out. Sizes are tracked exactly, so any image size works: each stride-2
stage goes from h to ceil(h / 2) (kernel 4 for even h, 3 for odd) and back.

A discriminator is a trunk (input -> features (N, F)) followed by a `Critic` head, which holds
the optional minibatch layers and the label projection (Miyato & Koyama 2018).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from ...nn.conv import stride2_kernel, stride2_sizes
from ...nn.gan_layers import Maxout, MinibatchDiscrimination, MinibatchStdDev

LEAK = 0.2  # DCGAN's LeakyReLU slope


def _weighted(layer: nn.Module, norm: str) -> nn.Module:
    """The layer, its weight divided by its largest singular value under spectral norm
    (Miyato et al. 2018, eq. 8: W / sigma(W), sigma by one power iteration per step), which
    bounds D's Lipschitz constant layer by layer; else the layer as it is."""
    return spectral_norm(layer) if norm == "spectral" else layer


def _norm(kind: str, width: int, conv: bool) -> list[nn.Module]:
    if kind == "batch":
        return [nn.BatchNorm2d(width) if conv else nn.BatchNorm1d(width)]
    if kind == "layer":  # per example, so it keeps the gradient penalty well defined
        return [nn.GroupNorm(1, width) if conv else nn.LayerNorm(width)]
    return []


def normal_init(net: nn.Module, std: float) -> None:
    """DCGAN's initialization (Radford et al. 2016, section 4: "all weights were initialized
    from a zero-centered Normal distribution with standard deviation 0.02"): every linear and
    convolution weight w ~ N(0, std^2), every batch-norm scale ~ N(1, std^2), biases zero. A
    spectrally normalized weight is drawn unnormalized and normalized anew, so that its power
    iteration starts from the new weight."""
    for m in list(net.modules()):
        if isinstance(m, nn.Linear | nn.Conv2d | nn.ConvTranspose2d | nn.Embedding):
            normalized = parametrize.is_parametrized(m, "weight")
            if normalized:
                parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)
            nn.init.normal_(m.weight, 0.0, std)
            if normalized:
                spectral_norm(m)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


# ---------------------------------------------------------------- generators
class MLPGenerator(nn.Module):
    """(z (B, k), c (B, K) or None) -> (B, *shape): [Linear, norm, ReLU] per hidden width."""

    def __init__(self, in_dim: int, shape: Sequence[int], hidden: Sequence[int], norm: str, tanh):
        super().__init__()
        layers: list[nn.Module] = []
        for width in hidden:
            layers += [nn.Linear(in_dim, width), *_norm(norm, width, False), nn.ReLU()]
            in_dim = width
        layers.append(nn.Linear(in_dim, math.prod(shape)))
        if tanh:
            layers.append(nn.Tanh())
        self.net, self.shape = nn.Sequential(*layers), tuple(shape)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(len(z), *self.shape)


class DCGenerator(nn.Module):
    """z (B, k) -> dense projection to (C_top, h0, w0) -> [ConvT stride 2, BN, ReLU]... ->
    ConvT to (C, H, W) -> tanh.

    `upsample` other than "transposed" replaces each transposed convolution by a resize
    convolution, [Upsample (nearest or bilinear) to the next size, Conv 3x3] (Odena, Dumoulin &
    Olah 2016, "Deconvolution and Checkerboard Artifacts"): a stride-2 transposed convolution
    whose kernel does not divide by its stride paints uneven overlaps, a checkerboard that a
    discriminator spots at once on flat colour fields."""

    def __init__(
        self,
        in_dim: int,
        shape: Sequence[int],
        channels: Sequence[int],
        norm: str,
        upsample: str = "transposed",
    ):
        super().__init__()
        c, h, w = shape
        sizes = stride2_sizes(h, w, len(channels))
        self.top = (channels[-1], *sizes[-1])
        self.project = nn.Sequential(
            nn.Linear(in_dim, channels[-1] * sizes[-1][0] * sizes[-1][1]),
            nn.Unflatten(1, self.top),
            *_norm(norm, channels[-1], True),
            nn.ReLU(),
        )
        outs = [*reversed(channels[:-1]), c]
        layers: list[nn.Module] = []
        c_in = channels[-1]
        for i, c_out in enumerate(outs):
            target = sizes[len(channels) - 1 - i]  # back to the mirror's size
            if upsample == "transposed":
                k = stride2_kernel(target)
                layers.append(nn.ConvTranspose2d(c_in, c_out, k, stride=2, padding=1))
            else:
                layers += [nn.Upsample(size=target, mode=upsample), nn.Conv2d(c_in, c_out, 3, 1, 1)]
            if i < len(outs) - 1:
                layers += [*_norm(norm, c_out, True), nn.ReLU()]
            c_in = c_out
        self.deconv = nn.Sequential(*layers, nn.Tanh())

    def forward(self, z: Tensor) -> Tensor:
        return self.deconv(self.project(z))


# ---------------------------------------------------------------- discriminator trunks
class MLPTrunk(nn.Module):
    """(N, *in_shape) -> (N, F): [Linear or Maxout, norm, LeakyReLU] per hidden width."""

    def __init__(self, in_dim: int, hidden: Sequence[int], unit: str, pieces: int, norm: str):
        super().__init__()
        layers: list[nn.Module] = []
        for width in hidden:
            if unit == "maxout":  # maxout is its own nonlinearity
                maxout = Maxout(in_dim, width, pieces)
                maxout.linear = _weighted(maxout.linear, norm)
                layers += [maxout, *_norm(norm, width, False)]
            else:
                layers += [_weighted(nn.Linear(in_dim, width), norm), *_norm(norm, width, False)]
                layers.append(nn.LeakyReLU(LEAK))
            in_dim = width
        self.net, self.out_dim = nn.Sequential(*layers), in_dim

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1))


class DCTrunk(nn.Module):
    """(N, C, H, W) -> (N, C_top h0 w0): [Conv stride 2, BN (not on the first), LeakyReLU]."""

    def __init__(self, shape: Sequence[int], channels: Sequence[int], norm: str):
        super().__init__()
        c, h, w = shape
        sizes = stride2_sizes(h, w, len(channels))
        layers: list[nn.Module] = []
        for i, width in enumerate(channels):
            k = stride2_kernel(sizes[i])
            layers.append(_weighted(nn.Conv2d(c, width, k, stride=2, padding=1), norm))
            if i > 0:
                layers += _norm(norm, width, True)
            layers.append(nn.LeakyReLU(LEAK))
            c = width
        self.net = nn.Sequential(*layers, nn.Flatten())
        self.out_dim = c * sizes[-1][0] * sizes[-1][1]

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Critic(nn.Module):
    """features (N, F) [, labels] -> one logit or critic value per input, (N,).

    Optional layers see the whole batch before the read-out: the minibatch standard deviation
    and minibatch discrimination. With `num_classes` the label enters by projection:
    D(x, y) = psi(h) + embed(y) . h (Miyato & Koyama 2018, eq. 3).
    """

    def __init__(
        self,
        in_dim: int,
        std_group: int = 0,
        mbd_kernels: int = 0,
        mbd_dim: int = 5,
        num_classes: int = 0,
        norm: str = "none",
    ):
        super().__init__()
        layers: list[nn.Module] = []
        if std_group:
            layers.append(MinibatchStdDev(std_group))
            in_dim += 1
        if mbd_kernels:
            layers.append(MinibatchDiscrimination(in_dim, mbd_kernels, mbd_dim))
            in_dim += mbd_kernels
        self.batch_layers = nn.Sequential(*layers)
        self.out = _weighted(nn.Linear(in_dim, 1), norm)
        self.embed = _weighted(nn.Embedding(num_classes, in_dim), norm) if num_classes else None

    def forward(self, h: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.batch_layers(h)
        out = self.out(h).squeeze(1)
        if self.embed is not None:
            out = out + (self.embed(y) * h).sum(1)
        return out


class Discriminator(nn.Module):
    """A trunk and a `Critic` head: (N, *in_shape)[, labels] -> (N,)."""

    def __init__(self, trunk: nn.Module, head: Critic):
        super().__init__()
        self.trunk, self.head = trunk, head

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.head(self.trunk(x), y)
