"""What the image-to-image translation models share (`pix2pix`, `cyclegan`): two image domains
of one size, an input domain A (`info.input`) and an output domain B (the data itself), both in
[-1, 1]; `translate(x_in)` maps A to B; previews and reports show inputs, outputs and targets;
each evaluation measures the outputs against their targets where there are any
(genzoo.metrics.health).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ...errors import ConfigError, GenzooError
from ..base import GenerativeModel, ImageRows, in_batches


class TranslationModel(GenerativeModel):
    translation = True
    data_kinds = ("image",)

    def __init__(self, config, info):
        super().__init__(config, info)
        a, b = info.input.shape, info.shape
        if a[1:] != b[1:]:
            raise ConfigError(
                "data.input",
                info.input.source,
                f"images of the output's size {b[1]}x{b[2]} (the input's are {a[1]}x{a[2]})",
            )

    @property
    def in_channels(self) -> int:
        return self.info.input.shape[0]

    @property
    def out_channels(self) -> int:
        return self.info.shape[0]

    def data_range(self):
        return "symmetric"  # tanh outputs

    def translate(self, x_in: Tensor) -> Tensor:
        """A -> B: (N, C_A, H, W) -> (N, C_B, H, W), in [-1, 1]."""
        raise NotImplementedError

    def sample(self, n: int, **kw) -> Tensor:
        raise GenzooError(
            f"{self.name} translates images rather than drawing new ones: use genzoo translate"
        )

    def report_figures(self, data) -> list[ImageRows]:
        """Test inputs, their translations and (paired data) the targets."""
        x_in = data.inputs_for("test")
        pick = np.linspace(0, len(x_in) - 1, 16).round().astype(int)
        a = self.to_model_input(x_in[pick])
        with torch.no_grad():
            rows = [(a, self.info.input, self.input_transform)]
            rows.append((in_batches(self.translate, a), self.info, self.transform))
        if data.paired:
            rows.append((self.to_model(data.x_test[pick]), self.info, self.transform))
        what = "inputs, translations and targets" if data.paired else "inputs and translations"
        return [ImageRows("Translations", f"test examples, rows: {what}", rows)]
