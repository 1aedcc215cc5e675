"""The conditional GAN (Mirza & Osindero 2014): G(z, y) and D(x, y) both see the label y, so
sampling chooses the class: `sample(n, labels=...)`, `--labels` on the CLI.

G gets the one-hot label appended to z. D gets it either as input (`embedding`: appended to
the flattened input, or as constant extra channels of an image) or by projection
(`projection`, Miyato & Koyama 2018: D(x, y) = psi(h(x)) + embed(y) . h(x)). Fakes in a step
carry the real batch's labels. The networks are the GAN's (`architecture: mlp | conv`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ...errors import ConfigError, GenzooError
from ..base import register_model
from .gan import GAN, GANConfig


@register_model("cgan", "conditional GAN: G and D see the label (embedding or projection)")
class CGAN(GAN):
    Config = GANConfig
    conditional = True

    def __init__(self, config, info):
        if not info.num_classes:
            raise ConfigError(
                "data", info.source, "labelled data (a cgan is conditioned on labels)"
            )
        super().__init__(config, info)

    @property
    def cond_dim(self) -> int:
        return self.info.num_classes

    def condition(self, y: Tensor | None, n: int) -> Tensor:
        if y is None:
            raise GenzooError("cgan: this needs the examples' labels (the model is conditional)")
        return F.one_hot(y.long().to(self.device), self.info.num_classes).float()

    def default_labels(self, n: int, labels: Tensor | None) -> Tensor:
        """Without labels, samples cycle through the classes: 0, 1, ..., K-1, 0, ..."""
        if labels is None:
            return torch.arange(n, device=self.device) % self.info.num_classes
        return labels.to(self.device)
