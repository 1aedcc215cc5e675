"""The convolutional autoencoder: the lecture table's encoder (Conv 32 s2 -> Conv 64 s2 ->
flatten -> dense -> latent) and a mirrored decoder with transposed convolutions or
nearest/bilinear upsampling followed by convolutions. Any image size and channel count."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from torch import Tensor

from ...config import check
from ...nn import ConvDecoder, ConvEncoder
from ...nn.sizing import stages_for, widths_for
from ..base import register_model
from ..code_density import CodePriorConfig
from .ae import Activation, CodeAutoencoder


@dataclass
class ConvAEConfig(CodePriorConfig):
    latent_dim: int | None = None  # size of the code z (none: 32, at most half the input's)
    # one stride-2 convolution per entry (none: sized to the image, nn.sizing: (32, 64) at
    # 28x28 and 32x32, (16, 32, 64) at 64x64)
    channels: tuple[int, ...] | None = None
    activation: Activation = "relu"
    upsample: Literal["transposed", "nearest", "bilinear"] = "transposed"  # decoder stages
    output_activation: Literal["auto", "sigmoid", "none"] = "auto"  # auto: sigmoid for images
    loss: Literal["auto", "mse", "bce"] = "auto"  # auto: bce with sigmoid outputs, else mse

    def __post_init__(self) -> None:
        check(
            self.latent_dim is None or self.latent_dim >= 1,
            "latent_dim",
            self.latent_dim,
            "an integer >= 1",
        )
        check(
            self.channels is None
            or (len(self.channels) >= 1 and all(c >= 1 for c in self.channels)),
            "channels",
            self.channels,
            "one or more widths >= 1",
        )
        self.check_prior()


@register_model("conv-ae", "convolutional autoencoder: strided convs, transposed or upsampling")
class ConvAutoencoder(CodeAutoencoder):
    Config = ConvAEConfig
    data_kinds = ("image",)
    CHANNELS = (32, 64)  # the widths of the lowest stages

    @classmethod
    def sized(cls, config, info):
        config = super().sized(config, info)  # the code size
        if config.channels is None and info.kind == "image":
            stages = stages_for(*info.shape[1:])
            config = replace(config, channels=widths_for(cls.CHANNELS, stages))
        return config

    def build(self) -> None:
        cfg, shape = self.config, self.info.shape
        self.encoder = ConvEncoder(shape, cfg.latent_dim, cfg.channels, cfg.activation)
        self.decoder = ConvDecoder(
            shape, cfg.latent_dim, cfg.channels, cfg.activation, cfg.upsample
        )

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def decode_logits(self, z: Tensor) -> Tensor:
        return self.decoder(z)
