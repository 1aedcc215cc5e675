"""DCGAN (Radford, Metz & Chintala 2016, "Unsupervised Representation Learning with Deep
Convolutional GANs"): the GAN with convolutional networks built to the paper's guidelines
(see `networks.py`), batch norm in both networks, and its optimizer, Adam with lr 2e-4 and
beta1 = 0.5. Everything else, the losses and the stabilisers included, is the GAN's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..base import register_model
from .gan import GAN, DNorm, GANConfig


@dataclass
class DCGANConfig(GANConfig):
    architecture: Literal["mlp", "conv"] = "conv"
    d_norm: DNorm = "batch"  # batch norm in D too, except on its input layer


@register_model("dcgan", "DCGAN: strided-conv D, transposed-conv G, batch norm (images)")
class DCGAN(GAN):
    Config = DCGANConfig
    data_kinds = ("image",)
