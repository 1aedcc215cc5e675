"""Convolutional encoder and decoder for images of any size and channel count.

The encoder follows the lecture table: Conv 32 stride 2 -> Conv 64 stride 2 -> flatten ->
dense -> latent. The decoder mirrors it: dense -> reshape -> two upsampling stages, either
transposed convolutions or nearest/bilinear upsampling followed by a convolution. Sizes are
tracked exactly so odd image sizes come back at their own size.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from .mlp import activation


def _halve(n: int) -> int:
    return (n + 1) // 2  # a 3x3 convolution, stride 2, padding 1


def stride2_sizes(h: int, w: int, stages: int) -> list[tuple[int, int]]:
    """[(h, w), (ceil(h/2), ceil(w/2)), ...]: the map size after each stride-2 stage."""
    sizes = [(h, w)]
    for _ in range(stages):
        sizes.append((_halve(sizes[-1][0]), _halve(sizes[-1][1])))
    return sizes


def stride2_kernel(size: tuple[int, int]) -> tuple[int, int]:
    """The kernel, per axis, of a stride-2 padding-1 convolution from `size` to its ceil half:
    4 for an even side, 3 for an odd one. The transposed convolution back to `size` takes the
    same kernel, so both directions land exactly on the tracked sizes."""
    return (4 if size[0] % 2 == 0 else 3, 4 if size[1] % 2 == 0 else 3)


class ConvEncoder(nn.Module):
    """(B, C, H, W) -> (B, out_dim)."""

    def __init__(
        self,
        shape: Sequence[int],
        out_dim: int,
        channels: Sequence[int] = (32, 64),
        act: str = "relu",
    ):
        super().__init__()
        c, h, w = shape
        layers: list[nn.Module] = []
        for width in channels:
            layers += [nn.Conv2d(c, width, 3, stride=2, padding=1), activation(act)]
            c, h, w = width, _halve(h), _halve(w)
        self.conv = nn.Sequential(*layers)
        self.fc = nn.Linear(c * h * w, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.conv(x).flatten(1))


class ConvDecoder(nn.Module):
    """(B, in_dim) -> (B, C, H, W), mirroring ConvEncoder; no activation on the output."""

    def __init__(
        self,
        shape: Sequence[int],
        in_dim: int,
        channels: Sequence[int] = (32, 64),
        act: str = "relu",
        upsample: str = "transposed",
    ):
        super().__init__()
        c, h, w = shape
        sizes = [(h, w)]
        for _ in channels:
            sizes.append((_halve(sizes[-1][0]), _halve(sizes[-1][1])))
        self.top = (channels[-1], *sizes[-1])  # (C', h', w') after the dense layer
        self.fc = nn.Linear(in_dim, channels[-1] * sizes[-1][0] * sizes[-1][1])
        outs = [*reversed(channels[:-1]), c]  # channel count after each stage
        layers: list[nn.Module] = [activation(act)]
        c_in = channels[-1]
        for i, c_out in enumerate(outs):
            target = sizes[len(channels) - 1 - i]
            src = sizes[len(channels) - i]
            if upsample == "transposed":
                pad = (target[0] - (2 * src[0] - 1), target[1] - (2 * src[1] - 1))
                layers.append(
                    nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=pad)
                )
            else:
                layers += [
                    nn.Upsample(size=target, mode=upsample),
                    nn.Conv2d(c_in, c_out, 3, padding=1),
                ]
            if i < len(outs) - 1:
                layers.append(activation(act))
            c_in = c_out
        self.deconv = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.deconv(self.fc(z).view(-1, *self.top))
