"""DCGAN (Radford, Metz & Chintala 2016, "Unsupervised Representation Learning with Deep
Convolutional GANs"): the GAN with convolutional networks built to the paper's guidelines
(see `networks.py`), batch norm in both networks, the paper's initialization (every weight from
N(0, 0.02^2)) and its optimizer, Adam with lr 2e-4 and beta1 = 0.5. Everything else, the
losses and the stabilisers included, is the GAN's.

The initialization matters in a short run: on mnist5k it takes FID from 52 to 35 after 300 s
of training on two cores (bench/RESULTS.md, "Time to quality").
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
    init_std: float | None = 0.02  # Radford et al., section 4


@register_model("dcgan", "DCGAN: strided-conv D, transposed-conv G, batch norm (images)")
class DCGAN(GAN):
    Config = DCGANConfig
    data_kinds = ("image",)
