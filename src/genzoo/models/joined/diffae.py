"""Diffusion autoencoders (Preechakul, Chatthee, Wizadwongsa & Suwajanakorn 2022, "Diffusion
Autoencoders: Toward a Meaningful and Decodable Representation").

A semantic encoder maps x_0 to a small code z_sem, and a diffusion model conditioned on z_sem
is the decoder. Both train on the denoising loss alone,

    z_sem = Enc(x_0),   min E_{sigma, n} lambda(sigma) ||D(x_0 + sigma n; sigma, z_sem) - x_0||^2,

(EDM's weighting and preconditioning, `karras.py`), so z_sem must carry what helps to denoise
at every noise level: what the image is, rather than the exact pixels the noise hides. The
decoder's probability-flow ODE is deterministic, and solved from data toward noise (DDIM
inversion) it gives the second, stochastic code x_T:

    x_T = ODE_{sigma_min -> sigma_max}(x_0; z_sem) / sigma_max,
    x_0 ~= ODE_{sigma_max -> 0}(sigma_max x_T; z_sem),

so (z_sem, x_T) decodes back to x_0 almost exactly, closer as the steps grow, while z_sem
with a fresh x_T decodes to another image with the same semantics. DDIM with eta = 0 is
Euler's method on this ODE (Karras et al. 2022, table 1); `solver=heun` takes Heun's
2nd-order steps instead (two network evaluations a step, a smaller error per step).

z_sem is what one works with: its linear interpolation (with x_T along a great circle, as it
is Gaussian noise) morphs one image into another; moving it along a linear classifier's
direction changes one attribute (`genzoo manipulate`). Unconditional samples need z_sem
from its density: a second, small diffusion model (the paper's "latent DDIM", an MLP) learns
the standardized codes, z_sem ~ latent ODE, x_T ~ N(0, I), x = decoder(z_sem, x_T).

Preechakul et al. train the latent model once the autoencoder is done. Here it trains in the
same run, as its own phase on each step's codes with their gradient stopped and standardized
by running statistics: a run stopped by its time limit has trained both, and the latent
network (about 0.3M parameters on 16-number codes) costs a few per cent of a step.
The code enters the denoiser as class labels do, an affine map of it added to the time
embedding that scales and shifts every block (the paper multiplies the normalized features by
it as well).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import ClassVar, Literal

import torch
from torch import Tensor

from ...config import check
from ...errors import GenzooError
from ...nn import mlp
from ...nn.conv import ConvEncoder
from ...nn.sizing import stages_for, widths_for
from ...nn.unet import MLPDenoiser
from ..base import (
    Batch,
    Figure,
    GenerativeModel,
    LossOutput,
    Phase,
    SampleSets,
    register_model,
)
from ..diffusion import karras as K
from ..diffusion.denoiser import build_network, run_network, sized_network
from ..diffusion.edm import EDM, NOISE_EMBED_SCALE, EDMConfig
from ..vae.common import slerp

ENCODER_CHANNELS = (32, 64)  # the semantic encoder of 28x28 digits (stride-2 convolutions)
ENCODER_HIDDEN = (512, 256)  # its MLP, for points and tables


@dataclass
class DiffAEConfig(EDMConfig):
    latent_dim: int = 16  # size of z_sem (the paper's 512 is for 256x256 faces)
    # the semantic encoder: images, one stride-2 convolution per entry (none: sized to the
    # image, as conv-ae's); points and tables, MLP widths (none: (512, 256))
    encoder_channels: tuple[int, ...] | None = None
    encoder_hidden: tuple[int, ...] | None = None
    # the decoder's ODE solver: ddim (Euler, one evaluation a step) or heun (two)
    solver: Literal["ddim", "heun"] = "ddim"
    sample_steps: int = 20  # decoding steps of a sample (fresh x_T)
    # steps of the inversion and of decoding a given x_T or z_sem (reconstruct, interpolate,
    # manipulate): the round trip's error falls as 1 / steps (34.7 dB PSNR at 100 on
    # mnist5k after 5 minutes: bench/RESULTS.md, "Joined families")
    invert_steps: int = 100
    # the latent diffusion model on z_sem: a residual MLP, sampled by Heun in latent_steps
    latent_width: int = 256
    latent_blocks: int = 4
    latent_steps: int = 18
    code_momentum: float = 0.01  # of the running mean and std that standardize z_sem

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.latent_dim >= 1, "latent_dim", self.latent_dim, "an integer >= 1")
        for name in ("encoder_channels", "encoder_hidden"):
            value = getattr(self, name)
            check(
                value is None or (len(value) >= 1 and all(c >= 1 for c in value)),
                name,
                value,
                "one or more widths >= 1",
            )
        check(self.latent_width >= 1, "latent_width", self.latent_width, "an integer >= 1")
        check(self.latent_blocks >= 1, "latent_blocks", self.latent_blocks, "an integer >= 1")
        check(self.latent_steps >= 1, "latent_steps", self.latent_steps, "an integer >= 1")
        check(self.invert_steps >= 1, "invert_steps", self.invert_steps, "an integer >= 1")
        check(0 < self.code_momentum <= 1, "code_momentum", self.code_momentum, "0 < m <= 1")


@register_model("diffae", "diffusion autoencoder: a semantic code conditions a DDIM decoder")
class DiffAE(GenerativeModel):
    Config = DiffAEConfig
    train_defaults: ClassVar[dict] = EDM.train_defaults
    default_batch: ClassVar[int | None] = EDM.default_batch

    @classmethod
    def sized(cls, config, info):
        """The U-Net sized as `edm`'s; the encoder's widths as conv-ae's (or the MLP's)."""
        config = sized_network(config, info)
        if info.kind == "image" and config.encoder_channels is None:
            stages = stages_for(*info.shape[1:])
            config = replace(config, encoder_channels=widths_for(ENCODER_CHANNELS, stages))
        if info.kind != "image" and config.encoder_hidden is None:
            config = replace(config, encoder_hidden=ENCODER_HIDDEN)
        return config

    def __init__(self, config, info):
        super().__init__(config, info)
        cfg, k = self.config, self.config.latent_dim
        self.image = info.kind == "image"
        if self.image:
            self.encoder = ConvEncoder(info.shape, k, cfg.encoder_channels, "silu")
        else:
            self.encoder = mlp([info.dim, *cfg.encoder_hidden, k], "silu")
        self.net = build_network(cfg, info, 1, None, code_dim=k)  # D(x; sigma, z_sem)
        self.latent = MLPDenoiser(k, k, cfg.latent_width, cfg.latent_blocks)  # on z_sem
        self.register_buffer("code_mean", torch.zeros(k))
        self.register_buffer("code_std", torch.ones(k))
        self.register_buffer("code_updates", torch.zeros((), dtype=torch.long))

    def data_range(self):
        return "symmetric" if self.image else "standard"

    @property
    def sigma_data(self) -> float:
        if self.config.sigma_data is not None:
            return self.config.sigma_data
        return 0.5 if self.image else 1.0

    # ---------------------------------------------------------------- the two codes
    def encode(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """z_sem = Enc(x): (B, latent_dim)."""
        return self.encoder(x if self.image else x.flatten(1))

    def _decoder_net(self, z: Tensor):
        """F(input, c_noise) with the codes z_sem bound."""

        def net(v: Tensor, noise: Tensor) -> Tensor:
            out = run_network(self.net, self.info, v, noise * NOISE_EMBED_SCALE, None, z)
            return out.reshape(v.shape)

        return net

    def denoise(self, x: Tensor, sigma: Tensor, z: Tensor) -> Tensor:
        """D(x; sigma, z_sem), the estimate of the clean data."""
        return K.precondition(self._decoder_net(z), x, sigma, self.sigma_data)

    def _steps(self, steps: int | None) -> int:
        """The given steps, or invert_steps."""
        if steps is not None and steps < 1:
            raise GenzooError(f"--steps {steps}: choose 1 or more")
        return steps or self.config.invert_steps

    def _solve(self, sigmas: Tensor, x: Tensor, z: Tensor, on_step=None) -> Tensor:
        heun = self.config.solver == "heun"
        return K.probability_flow(lambda v, s: self.denoise(v, s, z), sigmas, x, heun, on_step)

    @torch.no_grad()
    def invert(self, x: Tensor, z: Tensor | None = None, steps: int | None = None) -> Tensor:
        """x_T: the probability-flow ODE solved from x (taken at sigma_min) up to sigma_max
        in `steps` steps (default: invert_steps), given z_sem (default: encode(x)), in units
        of sigma_max, N(0, I)'s scale. DDIM inversion when the solver is ddim."""
        cfg = self.config
        z = self.encode(x) if z is None else z
        sigmas = K.inversion_sigmas(self._steps(steps), cfg.sigma_min, cfg.sigma_max, cfg.sigma_rho)
        return self._solve(sigmas, x, z) / cfg.sigma_max

    def noise(self, n: int) -> Tensor:
        """The x_T that `decode` takes when given none: one fixed draw from N(0, I), the same
        for every row, so that decoded codes differ in z_sem alone."""
        g = torch.Generator(device=self.device).manual_seed(0)
        x_T = torch.randn((1, *self.info.shape), generator=g, device=self.device)
        return x_T.expand(n, *self.info.shape)

    def sigmas(self, steps: int | None = None) -> Tensor:
        """The decoder's noise levels: Karras steps from sigma_max to sigma_min, then 0
        (default: invert_steps of them)."""
        cfg = self.config
        return K.karras_sigmas(self._steps(steps), cfg.sigma_min, cfg.sigma_max, cfg.sigma_rho)

    @torch.no_grad()
    def decode(
        self, z: Tensor, x_T: Tensor | None = None, steps: int | None = None, on_step=None
    ) -> Tensor:
        """x from (z_sem, x_T) by the ODE from sigma_max down to 0 (DDIM, or Heun) in `steps`
        steps (default: invert_steps, those of `invert`); without x_T, from z_sem alone with
        the fixed `noise`. Images are clamped to [-1, 1]."""
        x_T = self.noise(len(z)) if x_T is None else x_T.to(z)
        sigmas = self.sigmas(steps)
        x = self._solve(sigmas, x_T * float(sigmas[0]), z, on_step)
        return x.clamp(-1, 1) if self.image else x

    @torch.no_grad()
    def reconstruct(self, x: Tensor, y: Tensor | None = None, steps: int | None = None) -> Tensor:
        """decode(z_sem, invert(x)): the round trip through both codes."""
        z = self.encode(x)
        return self.decode(z, self.invert(x, z, steps), steps)

    # ---------------------------------------------------------------- the codes' density
    def standardize(self, z: Tensor) -> Tensor:
        return (z - self.code_mean) / self.code_std

    @torch.no_grad()
    def _track_codes(self, z: Tensor) -> None:
        """The running mean and std of z_sem (the first batch's own at the first update)."""
        m = torch.where(self.code_updates > 0, self.config.code_momentum, 1.0)
        self.code_mean.lerp_(z.mean(0), m)
        self.code_std.lerp_(z.std(0).clamp_min(1e-6), m)
        self.code_updates += 1

    def latent_denoise(self, u: Tensor, sigma: Tensor) -> Tensor:
        """The latent model's D(u; sigma) on standardized codes u (sigma_data 1)."""
        return K.precondition(self._latent_net, u, sigma, 1.0)

    @torch.no_grad()
    def sample_codes(
        self, n: int, generator: torch.Generator | None = None, steps: int | None = None
    ) -> Tensor:
        """z_sem from the latent model: Heun on its ODE in `steps` (default latent_steps)
        steps, unstandardized."""
        cfg = self.config
        sigmas = K.karras_sigmas(steps or cfg.latent_steps, cfg.sigma_min, cfg.sigma_max)
        u = torch.randn(n, cfg.latent_dim, generator=generator, device=self.device)
        u = K.heun_sample(self.latent_denoise, sigmas, u)
        return u * self.code_std + self.code_mean

    # ---------------------------------------------------------------- training
    def loss(self, batch: Batch) -> LossOutput:
        """The denoising loss of the decoder given z_sem = Enc(x_0), through both."""
        x0, cfg = batch["x"], self.config
        net = self._decoder_net(self.encode(x0))
        loss = K.denoising_loss(net, x0, self.sigma_data, cfg.p_mean, cfg.p_std)
        return LossOutput(loss, {"denoise": loss})

    def latent_loss(self, batch: Batch) -> LossOutput:
        """The latent model's denoising loss on the batch's standardized codes (no gradient
        reaches the encoder)."""
        cfg = self.config
        with torch.no_grad():
            z = self.encode(batch["x"]).float()
            if self.training:
                self._track_codes(z)
        loss = K.denoising_loss(self._latent_net, self.standardize(z), 1.0, cfg.p_mean, cfg.p_std)
        return LossOutput(loss, {"denoise": loss})

    def _latent_net(self, v: Tensor, noise: Tensor) -> Tensor:
        return self.latent(v, noise * NOISE_EMBED_SCALE)

    def phases(self) -> list[Phase]:
        autoencoder = [*self.encoder.parameters(), *self.net.parameters()]
        return [
            Phase("autoencoder", autoencoder, self.loss),
            Phase("latent", list(self.latent.parameters()), self.latent_loss),
        ]

    # ---------------------------------------------------------------- sampling
    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        labels: Tensor | None = None,
        steps: int | None = None,
    ) -> Tensor:
        """z_sem from the latent model, x_T ~ N(0, I), decoded in `steps` steps (default:
        sample_steps)."""
        z = self.sample_codes(n, generator)
        x_T = torch.randn((n, *self.info.shape), generator=generator, device=self.device)
        return self.decode(z, x_T, steps or self.config.sample_steps)

    def fast_options(self, method: str) -> dict:
        """Pictures decode (and invert) in 10 steps."""
        if method == "sample":
            return {"steps": min(10, self.config.sample_steps)}
        if method == "reconstruct":
            return {"steps": min(10, self.config.invert_steps)}
        return {}

    def report_figures(self, data) -> Iterator[Figure]:
        """Reconstructions from (z_sem, x_T) and from z_sem alone with three other x_T; the
        path between two test examples; samples."""
        n = 10 if self.image else 500
        g = torch.Generator(device=self.device).manual_seed(0)
        x = self.to_model(data.x_test[:n])
        z = self.encode(x)
        x_T = self.invert(x, z)
        rows = [("data", x), ("from (z_sem, x_T)", self.decode(z, x_T))]
        for i in range(3):
            noise = torch.randn(x_T.shape, generator=g, device=self.device)
            rows.append((f"z_sem, x_T draw {i + 1}", self.decode(z, noise)))
        yield SampleSets(
            "Reconstruction from both codes and from z_sem alone",
            f"{self.config.solver} in {self.config.invert_steps} steps each way; x_T from "
            "N(0, I) keeps what z_sem holds and redraws the rest",
            rows,
        )
        if self.image and len(x) > 1:
            t = torch.linspace(0, 1, 10, device=self.device)
            path_z = torch.lerp(z[0], z[1], t[:, None])
            path_n = slerp(x_T[0].flatten(), x_T[1].flatten(), t).view(10, *x.shape[1:])
            yield SampleSets(
                "Interpolation",
                "z_sem along a line and x_T along a great circle, between two test examples",
                [("path", self.decode(path_z, path_n))],
            )
        yield SampleSets(
            "Samples",
            f"z_sem from the latent model ({self.config.latent_steps} Heun steps), x_T from "
            "N(0, I)",
            [("samples", self.sample(n, generator=g))],
        )
