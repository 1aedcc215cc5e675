"""Latent diffusion (Rombach et al. 2022, "High-Resolution Image Synthesis with Latent
Diffusion Models"): a diffusion model trained on the codes of a trained, frozen autoencoder.

    z = E(x) (frozen),  z' = (z - m) / s,   a diffusion model p(z') trained on z',
    sampling: z' ~ p(z'),  x = D(s z' + m).

An autoencoder removes what is imperceptible and keeps what matters in far fewer numbers than
pixels, so the diffusion model, whose cost is in its many network evaluations, works on a
small code instead of the image: each step is cheaper, and the code's density is simpler. The
autoencoder is trained once, as its own run, and any genzoo model with `encode` and `decode`
serves (`vae`, `conv-ae`, `rae`, `wae`, ...); its codes may be vectors (the denoiser is then an
MLP) or images (a U-Net).

Rombach et al. scale their codes by one number, to unit variance; the codes of a plain
autoencoder are not centred either, so each code dimension (each channel of image-shaped codes)
is centred and scaled here, by statistics of the training codes taken before the first step.
The diffusion model is EDM (Karras et al. 2022), the formulation that reached good samples
soonest on this project's benchmark (bench/RESULTS.md, "Time to quality"), with its settings.

The autoencoder's weights are not copied into this model's folder: its config records the
autoencoder's folder and the SHA-256 of its weights, and loading fails, naming both, when that
folder is gone or its weights have changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import torch
from torch import Tensor

from ...config import check
from ...data.dataset import DataInfo
from ...errors import CheckpointError, ConfigError
from ..base import (
    Batch,
    Decoder,
    Encoder,
    Figure,
    Fitted,
    GenerativeModel,
    LossOutput,
    Phase,
    SampleSets,
    in_batches,
    register_model,
)
from ..diffusion.edm import EDM, ConditionalEDM, EDMConfig
from ..folder import file_sha256, load_model_folder


@dataclass
class LDMConfig(EDMConfig):
    # the trained autoencoder: its run folder (or model folder); recorded as an absolute path
    autoencoder: str = ""
    # SHA-256 of its weights, recorded when this model is built; a change is refused on load
    autoencoder_sha256: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check(
            bool(self.autoencoder.strip()),
            "autoencoder",
            self.autoencoder,
            "the run folder of a trained autoencoder (e.g. model.autoencoder=runs/vae)",
        )


def autoencoder_folder(path: str) -> Path:
    """The model folder of a finished run (RUN/model) or the folder itself."""
    p = Path(path).expanduser()
    for folder in (p / "model", p):
        if (folder / "config.json").is_file() and (folder / "model.safetensors").is_file():
            return folder.resolve()
    raise ConfigError(
        "model.autoencoder",
        path,
        "the folder of a finished autoencoder run (holding model/) or of its model "
        "(config.json + model.safetensors)" + ("" if p.exists() else f"; {p} does not exist"),
    )


def weights_sha256(folder: Path) -> str:
    return file_sha256(folder / "model.safetensors")


def load_autoencoder(config: LDMConfig) -> GenerativeModel:
    """The frozen autoencoder `config` names, checked against its recorded checksum."""
    folder = autoencoder_folder(config.autoencoder)
    digest = weights_sha256(folder)
    if config.autoencoder_sha256 is not None and digest != config.autoencoder_sha256:
        raise CheckpointError(
            f"{folder / 'model.safetensors'}: this is not the autoencoder the latent diffusion "
            "model was trained on: its weights changed since (SHA-256 "
            f"{digest[:12]}..., recorded {config.autoencoder_sha256[:12]}...)"
        )
    ae = load_model_folder(folder)
    if not (isinstance(ae, Encoder) and isinstance(ae, Decoder)) or ae.conditional:
        raise ConfigError(
            "model.autoencoder",
            config.autoencoder,
            f"an unconditional model with encode and decode (this is {ae.name})",
        )
    for p in ae.parameters():
        p.requires_grad_(False)
    return ae


def code_info(ae: GenerativeModel, info: DataInfo) -> DataInfo:
    """What the diffusion model models: the autoencoder's codes, vectors or images."""
    if tuple(ae.info.shape) != tuple(info.shape) or ae.info.kind != info.kind:
        shape = "x".join(map(str, ae.info.shape))
        raise ConfigError(
            "model.autoencoder",
            ae.info.source or "the autoencoder",
            f"an autoencoder of this data's kind and shape ({info.kind}, "
            f"{'x'.join(map(str, info.shape))}); it was trained on {ae.info.kind} of {shape}",
        )
    with torch.no_grad():
        x = torch.full((2, *info.shape), 0.5)
        shape = tuple(ae.encode(x).shape[1:])
    kind = "image" if len(shape) == 3 else "points"
    return replace(info, kind=kind, shape=shape, value_range=(-5.0, 5.0), meta={})


@register_model("ldm", "latent diffusion: EDM on the codes of a trained autoencoder run")
class LDM(GenerativeModel):
    Config = LDMConfig
    Prior: ClassVar[type] = EDM
    train_defaults: ClassVar[dict] = EDM.train_defaults
    default_batch: ClassVar[int | None] = EDM.default_batch

    @classmethod
    def sized(cls, config, info):
        """The autoencoder's path made absolute and its checksum recorded; the denoiser sized
        to the codes (whose standard deviation is 1 once standardized)."""
        folder = autoencoder_folder(config.autoencoder)
        config = replace(
            config,
            autoencoder=str(folder),
            autoencoder_sha256=config.autoencoder_sha256 or weights_sha256(folder),
            sigma_data=1.0 if config.sigma_data is None else config.sigma_data,
        )
        codes = code_info(load_autoencoder(config), info)
        return cls.Prior.sized(config, codes)

    def __init__(self, config, info):
        super().__init__(config, info)
        ae = load_autoencoder(self.config)
        # not a submodule: its weights stay in its own folder (see `_apply` for devices)
        object.__setattr__(self, "autoencoder", ae)
        self.codes = code_info(ae, info)
        self.prior = self.Prior(self.config, self.codes)
        stats = (self.codes.shape[0],) + (1,) * (len(self.codes.shape) - 1)  # per channel
        self.register_buffer("code_mean", torch.zeros(stats))
        self.register_buffer("code_std", torch.ones(stats))

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        self.autoencoder._apply(fn, recurse)  # devices and dtypes follow this model's
        return self

    def data_range(self):
        return self.autoencoder.data_range()

    # ---------------------------------------------------------------- codes
    def encode(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """z' = (E(x) - m) / s: the standardized code the diffusion model sees (a label, for
        `cldm`, changes nothing: the autoencoder is unconditional)."""
        with torch.no_grad():
            z = self.autoencoder.encode(x)
        return (z - self.code_mean) / self.code_std

    def decode(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """x = D(s z' + m)."""
        return self.autoencoder.decode(z * self.code_std + self.code_mean)

    @torch.no_grad()
    def before_training(self, data: Batch) -> Fitted:
        """m and s: the mean and standard deviation of each code dimension (or channel)."""
        z = in_batches(lambda x: self.autoencoder.encode(x.to(self.device)).float(), data["x"])
        dims = [0, *range(2, z.dim())]  # all but the channel (or vector) dimension
        self.code_mean.copy_(z.mean(dims).view_as(self.code_mean))
        self.code_std.copy_(z.std(dims).clamp_min(1e-6).view_as(self.code_std))
        shape = "x".join(map(str, self.codes.shape))
        return Fitted(
            f"codes of {Path(self.config.autoencoder).parent.name}: {shape}, standardized "
            f"(their std ranged {float(self.code_std.min()):.3g} to "
            f"{float(self.code_std.max()):.3g})",
            {"codes/std_mean": float(self.code_std.mean())},
        )

    # ---------------------------------------------------------------- training
    def loss(self, batch: Batch) -> LossOutput:
        return self.prior.loss({**batch, "x": self.encode(batch["x"])})

    def phases(self) -> list[Phase]:
        return [Phase("denoiser", list(self.prior.parameters()), self.loss)]

    # ---------------------------------------------------------------- sampling
    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        labels: Tensor | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        churn: float | None = None,
    ) -> Tensor:
        """Codes from the diffusion model (Heun, `steps` steps), decoded."""
        kw = {"labels": labels, "steps": steps, "guidance": guidance, "churn": churn}
        return self.decode(self.prior.sample(n, generator=generator, **kw))

    def default_labels(self, n: int, labels: Tensor | None) -> Tensor | None:
        return self.prior.default_labels(n, labels)

    def fast_options(self, method: str) -> dict:
        return self.prior.fast_options(method)

    def report_figures(self, data) -> Iterator[Figure]:
        """Samples in 5, 10 and 18 Heun steps from the same noise, and what the autoencoder
        makes of test images (the best the latent model can do)."""
        for steps in (5, 10, 18):
            g = torch.Generator(device=self.device).manual_seed(0)
            yield SampleSets(
                f"Samples: {steps} Heun steps",
                "the same noise in every figure; each code decoded by the autoencoder",
                [("samples", self.sample(10, generator=g, steps=steps))],
            )


@register_model("cldm", "class-conditional latent diffusion with classifier-free guidance")
class ConditionalLDM(LDM):
    Prior: ClassVar[type] = ConditionalEDM
    conditional: ClassVar[bool] = True
