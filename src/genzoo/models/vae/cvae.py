"""The conditional VAE (Sohn et al. 2015; Kingma et al. 2014's M2 with labels observed): the
encoder q(z|x, y) and the decoder p(x|z, y) both see the label y, one-hot. The code then need
not carry the class, and sampling chooses it: `sample(n, labels=...)`, `--labels` on the CLI.
Everything else, the ELBO included, is the VAE's; `log_likelihood` estimates log p(x|y).

MLP networks get the one-hot vector appended to their input; the convolutional encoder gets it
as constant extra channels, the decoder appended to z.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ...errors import ConfigError, GenzooError
from ..base import register_model
from .vae import VAE, VAEConfig


@register_model("cvae", "conditional VAE: encoder and decoder see the label")
class CVAE(VAE):
    Config = VAEConfig
    conditional = True

    def __init__(self, config, info):
        if not info.num_classes:
            raise ConfigError("data", info.name, "labelled data (a cvae is conditioned on labels)")
        super().__init__(config, info)

    @property
    def cond_dim(self) -> int:
        return self.info.num_classes

    def condition(self, y: Tensor | None, n: int) -> Tensor:
        if y is None:
            raise GenzooError("cvae: this needs the examples' labels (the model is conditional)")
        return F.one_hot(y.long().to(self.device), self.info.num_classes).float()

    def default_labels(self, n: int, labels: Tensor | None) -> Tensor:
        """Without labels, samples cycle through the classes: 0, 1, ..., K-1, 0, ..."""
        if labels is None:
            return torch.arange(n, device=self.device) % self.info.num_classes
        return labels
