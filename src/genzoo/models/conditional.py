"""What makes a model label-conditional, shared by `cvae` and `cgan`: both networks see the
label y as a one-hot vector, training needs labelled data, and samples without labels cycle
through the classes."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError, GenzooError


class LabelConditioned:
    """Mixin placed before the model class: ``class CVAE(LabelConditioned, VAE)``."""

    conditional: ClassVar[bool] = True

    def __init__(self, config, info):
        if not info.num_classes:
            raise ConfigError(
                "data",
                info.source,
                f"labelled data (a {self.name} is conditioned on labels)",
            )
        super().__init__(config, info)

    @property
    def cond_dim(self) -> int:
        """Width of the one-hot label the networks see."""
        return self.info.num_classes

    def condition(self, y: Tensor | None, n: int) -> Tensor:
        """The one-hot labels (n, K)."""
        if y is None:
            raise GenzooError(
                f"{self.name}: this needs the examples' labels (the model is conditional)"
            )
        return F.one_hot(y.long().to(self.device), self.info.num_classes).float()

    def default_labels(self, n: int, labels: Tensor | None) -> Tensor:
        """Without labels, samples cycle through the classes: 0, 1, ..., K-1, 0, ..."""
        if labels is None:
            return torch.arange(n, device=self.device) % self.info.num_classes
        return labels.to(self.device)
