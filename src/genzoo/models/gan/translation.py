"""What the image-to-image translation models share (`pix2pix`, `cyclegan`): two image domains
of one size, an input domain A (`info.input`) and an output domain B (the data itself), both in
[-1, 1]; `translate(x_in)` maps A to B; previews and reports show inputs, outputs and targets;
health checks measure the outputs against their targets where there are any.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ...errors import ConfigError
from ..base import Diagnosis, GenerativeModel


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
        from ...errors import GenzooError

        raise GenzooError(
            f"{self.name} translates images rather than drawing new ones: use genzoo translate"
        )

    @torch.no_grad()
    def pair_metrics(self, x: Tensor, x_in: Tensor) -> dict[str, float]:
        """PSNR and SSIM (images in [0, 1]) of translate(x_in) against its target x."""
        from ...metrics.reconstruction import psnr, ssim

        out = (self.translate(x_in) + 1) / 2
        x = (x + 1) / 2
        return {"psnr": psnr(out, x), "ssim": ssim(out, x)}

    def diagnose(self, x: Tensor, y: Tensor | None = None, x_in: Tensor | None = None):
        if x_in is None or not self.info.paired:
            return None
        return Diagnosis(self.pair_metrics(x, x_in))

    def report_figures(self, run, data) -> list:
        from ...viz.grid import translation_pairs

        x_in = data.inputs_for("test")
        pick = np.linspace(0, len(x_in) - 1, 16).round().astype(int)
        target = self.to_model(data.x_test[pick]) if data.paired else None
        rows = "inputs, translations and targets" if data.paired else "inputs and translations"
        return [
            (
                "Translations",
                translation_pairs(self, self.to_model_input(x_in[pick]), target),
                f"test examples, rows: {rows}",
            )
        ]
