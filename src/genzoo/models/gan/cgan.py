"""The conditional GAN (Mirza & Osindero 2014): G(z, y) and D(x, y) both see the label y, so
sampling chooses the class: `sample(n, labels=...)`, `--labels` on the CLI.

G gets the one-hot label appended to z. D gets it either as input (`embedding`: appended to
the flattened input, or as constant extra channels of an image) or by projection
(`projection`, Miyato & Koyama 2018: D(x, y) = psi(h(x)) + embed(y) . h(x)). Fakes in a step
carry the real batch's labels. The networks are the GAN's (`architecture: mlp | conv`).
"""

from __future__ import annotations

from ..base import register_model
from ..conditional import LabelConditioned
from .gan import GAN, GANConfig


@register_model("cgan", "conditional GAN: G and D see the label (embedding or projection)")
class CGAN(LabelConditioned, GAN):
    Config = GANConfig
