"""Networks of image-to-image translation (Isola et al. 2017, "pix2pix", section 3.2 and
appendix 6.1.1; reused by CycleGAN's discriminators).

- `UNetGenerator`: an encoder of stride-2 convolutions (4x4, BatchNorm except the first, and
  LeakyReLU 0.2) down to 1x1 or a set depth, and a decoder of stride-2 transposed convolutions
  (BatchNorm, ReLU, dropout 0.5 in the innermost decoder layers, pix2pix's only noise), each
  decoder layer seeing the mirror encoder layer's output concatenated to its input (the skip
  connections that carry the low-level detail input and output share). Tanh at the output.
  Sizes are tracked exactly, so odd sizes such as 28 -> 14 -> 7 -> 4 -> 2 -> 1 work: a stage
  maps h to ceil(h / 2) (kernel 4 for even h, 3 for odd) and its mirror maps it back.
- `PatchDiscriminator`: PatchGAN, a fully convolutional D whose every output judges one
  receptive-field patch of the input (70x70 for pix2pix's 3 layers at 256x256); `n_layers`
  sets the patch size, `receptive_field` computes it. Batch norm (pix2pix) or instance norm
  (CycleGAN).
- `ResnetGenerator` (Johnson et al. 2016, as CycleGAN uses it, appendix 7.2): c7s1-k, two
  stride-2 convolutions, residual blocks at the bottom, two stride-2 transposed convolutions,
  c7s1-C, tanh; instance norm and reflection padding throughout. No skip connections from
  input to output, so what it passes through must go through the bottleneck.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .conv import stride2_kernel, stride2_sizes

LEAK = 0.2


class UNetGenerator(nn.Module):
    """(N, C_in, H, W) -> (N, C_out, H, W) in [-1, 1]."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        size: tuple[int, int],
        channels: Sequence[int] = (64, 128, 256, 512, 512),
        dropout_layers: int = 3,
        dropout: float = 0.5,
    ):
        super().__init__()
        self.sizes = stride2_sizes(*size, len(channels))
        self.down = nn.ModuleList()
        c_in = in_channels
        for i, c in enumerate(channels):
            k = stride2_kernel(self.sizes[i])
            layers: list[nn.Module] = [nn.Conv2d(c_in, c, k, 2, 1, bias=i == 0)]
            if 0 < i < len(channels) - 1:  # no norm on the input layer, nor at the 1x1 bottom
                layers.append(nn.BatchNorm2d(c))
            layers.append(nn.LeakyReLU(LEAK))
            self.down.append(nn.Sequential(*layers))
            c_in = c
        self.up = nn.ModuleList()
        outs = [*reversed(channels[:-1]), out_channels]
        for i, c in enumerate(outs):
            k = stride2_kernel(self.sizes[len(channels) - 1 - i])  # back to the mirror's size
            c_skip = 0 if i == 0 else channels[len(channels) - 1 - i]
            last = i == len(outs) - 1
            layers = [nn.ConvTranspose2d(c_in + c_skip, c, k, 2, 1, bias=last)]
            if last:
                layers.append(nn.Tanh())
            else:
                layers.append(nn.BatchNorm2d(c))
                if i < dropout_layers and dropout > 0:
                    layers.append(nn.Dropout(dropout))
                layers.append(nn.ReLU())
            self.up.append(nn.Sequential(*layers))
            c_in = c

    def forward(self, x: Tensor) -> Tensor:
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        skips.pop()  # the bottom is the decoder's input, not a skip
        for i, layer in enumerate(self.up):
            if i > 0:
                x = torch.cat([x, skips.pop()], 1)
            x = layer(x)
        return x


class PatchDiscriminator(nn.Module):
    """(N, C, H, W) -> (N, 1, H', W'): one logit per patch. `n_layers` stride-2 4x4 convolutions
    (64, 128, 256, ... channels, BatchNorm except the first, LeakyReLU 0.2), one stride-1 4x4
    convolution, then a stride-1 4x4 convolution to one channel."""

    def __init__(self, in_channels: int, n_layers: int = 3, width: int = 64, norm: str = "batch"):
        super().__init__()
        layers: list[nn.Module] = []
        c_in, c = in_channels, width
        for i in range(n_layers + 1):
            stride = 2 if i < n_layers else 1
            layers.append(nn.Conv2d(c_in, c, 4, stride, 1, bias=i == 0 or norm == "none"))
            if i > 0 and norm != "none":
                layers.append(_norm2d(norm, c))
            layers.append(nn.LeakyReLU(LEAK))
            c_in, c = c, min(c * 2, 8 * width)
        layers.append(nn.Conv2d(c_in, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)
        self.n_layers = n_layers

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    @property
    def receptive_field(self) -> int:
        """The side of the input patch one output sees: r = 1 + sum_l (k - 1) prod_{m<l} s_m."""
        r, jump = 1, 1
        for stride in [2] * self.n_layers + [1, 1]:
            r += 3 * jump
            jump *= stride
        return r


def _norm2d(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":  # per example and channel, no learned affine (CycleGAN's)
        return nn.InstanceNorm2d(channels)
    raise ValueError(f"norm {kind!r}: choose batch, instance or none")


class ResidualBlock(nn.Module):
    """x + [reflect pad, conv 3x3, IN, ReLU, reflect pad, conv 3x3, IN](x)."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=False),
            nn.InstanceNorm2d(channels),
            nn.ReLU(),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=False),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """(N, C_in, H, W) -> (N, C_out, H, W) in [-1, 1]: widths k, 2k, 4k, `n_blocks` residual
    blocks at 4k, and back. Sizes are exact for odd sides too (kernel 3 for odd, 4 for even)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        size: tuple[int, int],
        width: int = 64,
        n_blocks: int = 9,
        n_down: int = 2,
    ):
        super().__init__()
        sizes = stride2_sizes(*size, n_down)
        pad = min(3, min(size) - 1)  # reflection padding needs a side > pad
        k0 = 2 * pad + 1
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(pad),
            nn.Conv2d(in_channels, width, k0, bias=False),
            nn.InstanceNorm2d(width),
            nn.ReLU(),
        ]
        c = width
        for i in range(n_down):  # (N, c, h_i, w_i) -> (N, 2c, h_i+1, w_i+1)
            k = stride2_kernel(sizes[i])
            layers += [
                nn.Conv2d(c, 2 * c, k, 2, 1, bias=False),
                nn.InstanceNorm2d(2 * c),
                nn.ReLU(),
            ]
            c *= 2
        layers += [ResidualBlock(c) for _ in range(n_blocks)]
        for i in reversed(range(n_down)):  # back to (h_i, w_i)
            k = stride2_kernel(sizes[i])
            layers += [
                nn.ConvTranspose2d(c, c // 2, k, 2, 1, bias=False),
                nn.InstanceNorm2d(c // 2),
                nn.ReLU(),
            ]
            c //= 2
        layers += [nn.ReflectionPad2d(pad), nn.Conv2d(c, out_channels, k0), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
