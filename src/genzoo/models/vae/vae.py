"""The variational autoencoder (Kingma & Welling 2014, "Auto-Encoding Variational Bayes").

The encoder outputs the mean and log-variance of q(z|x) = N(mu, diag sigma^2); a code is drawn
with the reparameterization trick z = mu + sigma * eps; the decoder gives p(x|z), Bernoulli
(binary cross-entropy) for images in [0, 1] or a diagonal Gaussian (fixed or learned variance)
otherwise. Training maximizes the ELBO

    log p(x) >= E_q[log p(x|z)] - KL(q(z|x) || N(0, I))

with the KL term in closed form. Losses are in nats per example: `recon` = -E_q[log p(x|z)]
(one draw), `kl`, and their sum, the negative ELBO.

The variants each change one thing: `beta-vae` the KL weight (`kl_weight`), `cvae` what the
networks see (`condition`), `iwae` the objective (`loss`). Every member has
`log_likelihood(x, k)`, the importance-sampled estimate of log p(x) (Burda et al. 2016).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import partial
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ...config import check
from ...errors import ConfigError
from ...nn import ConvDecoder, ConvEncoder, mlp
from ...nn.sizing import mlp_widths, stages_for, widths_for
from ..autoencoders.ae import Activation
from ..base import (
    Batch,
    Diagnosis,
    Fitted,
    GenerativeModel,
    LossOutput,
    Phase,
    register_model,
)
from .common import (
    active_units,
    bernoulli_log_prob,
    gaussian_log_prob,
    kl_standard_normal,
    log_normal,
    log_standard_normal,
    reparameterize,
)
from .two_stage import SecondStage, stage_split, warmup_weight


@dataclass
class VAEConfig:
    latent_dim: int = 16  # size of z
    architecture: Literal["mlp", "conv"] = "mlp"  # conv: the autoencoders' conv blocks
    # mlp: encoder widths; the decoder mirrors them (none: (512, 256), narrower for colour)
    hidden: tuple[int, ...] | None = None
    # conv: one stride-2 convolution per entry (none: sized to the image, see conv-ae)
    channels: tuple[int, ...] | None = None
    activation: Activation = "relu"
    upsample: Literal["transposed", "nearest", "bilinear"] = "transposed"  # conv decoder
    likelihood: Literal["auto", "bernoulli", "gaussian"] = "auto"  # auto: bernoulli for images
    binarize: bool = False  # dynamic binarization: each pixel ~ Bernoulli(grey level) per draw
    variance: Literal["fixed", "learned"] = "fixed"  # gaussian p(x|z): sigma fixed or predicted
    sigma: float = 0.1  # gaussian, fixed: decoder std in model units (data standardized)
    min_sigma: float = 1e-3  # gaussian, learned: floor of the predicted std
    # two-stage VAE (Dai & Wipf 2019): the last share of the run trains a second VAE on the
    # codes, which then replaces N(0, I) as the prior samples are drawn from (0: one stage)
    second_stage: float = 0.0
    second_hidden: tuple[int, ...] = (256, 256)  # its encoder widths; the decoder mirrors them
    # the share of the second stage over which its KL weight rises from 0 to 1 (0: none)
    second_warmup: float = 0.5

    def __post_init__(self) -> None:
        check(self.latent_dim >= 1, "latent_dim", self.latent_dim, "an integer >= 1")
        check(
            self.hidden is None or all(h >= 1 for h in self.hidden),
            "hidden",
            self.hidden,
            "widths >= 1",
        )
        check(
            self.channels is None
            or (len(self.channels) >= 1 and all(c >= 1 for c in self.channels)),
            "channels",
            self.channels,
            "one or more widths >= 1",
        )
        check(self.sigma > 0, "sigma", self.sigma, "a standard deviation > 0")
        check(self.min_sigma > 0, "min_sigma", self.min_sigma, "a standard deviation > 0")
        check(0 <= self.second_stage < 1, "second_stage", self.second_stage, "a share in [0, 1)")
        check(
            0 <= self.second_warmup <= 1, "second_warmup", self.second_warmup, "a share in [0, 1]"
        )
        check(
            len(self.second_hidden) >= 1 and all(h >= 1 for h in self.second_hidden),
            "second_hidden",
            self.second_hidden,
            "one or more widths >= 1",
        )
        check(
            not self.binarize or self.likelihood != "gaussian",
            "binarize",
            self.binarize,
            "false with likelihood 'gaussian' (binarized data needs a Bernoulli decoder)",
        )


@register_model("vae", "variational autoencoder: ELBO, Bernoulli or Gaussian decoder, MLP or conv")
class VAE(GenerativeModel):
    Config = VAEConfig
    weighs_kl = False  # whether kl_weight() is not always 1 (then it is logged as "beta")

    HIDDEN, CHANNELS = (512, 256), (32, 64)  # the layouts of 28x28 digits

    @classmethod
    def sized(cls, config, info):
        image = info.kind == "image"
        if config.hidden is None:
            config = replace(config, hidden=mlp_widths(cls.HIDDEN, info.shape[0] if image else 1))
        if config.channels is None:
            stages = stages_for(*info.shape[1:]) if image else len(cls.CHANNELS)
            config = replace(config, channels=widths_for(cls.CHANNELS, stages))
        return config

    def __init__(self, config, info):
        super().__init__(config, info)
        self.likelihood = self._resolve_likelihood()
        self.build()

    # ---------------------------------------------------------------- construction
    def _resolve_likelihood(self) -> str:
        cfg = self.config
        image = self.info.kind == "image"
        likelihood = (
            cfg.likelihood if cfg.likelihood != "auto" else ("bernoulli" if image else "gaussian")
        )
        if likelihood == "bernoulli" and not image:
            raise ConfigError(
                "model.likelihood",
                "bernoulli",
                f"'gaussian' for {self.info.kind} data (a Bernoulli decoder models values in "
                "[0, 1], i.e. images)",
            )
        if cfg.binarize and likelihood != "bernoulli":
            raise ConfigError("model.binarize", True, "false for data modelled as Gaussian")
        if cfg.architecture == "conv" and not image:
            raise ConfigError(
                "model.architecture", "conv", f"'mlp' for {self.info.kind} data (conv needs images)"
            )
        return likelihood

    @property
    def cond_dim(self) -> int:
        """Width of the conditioning vector both networks see (0: unconditional)."""
        return 0

    @property
    def learned_variance(self) -> bool:
        return self.likelihood == "gaussian" and self.config.variance == "learned"

    def build(self) -> None:
        cfg, k, c = self.config, self.config.latent_dim, self.cond_dim
        m = 2 if self.learned_variance else 1  # decoder outputs: mean (and log-variance)
        if cfg.architecture == "mlp":
            d = self.info.dim
            self.encoder = mlp([d + c, *cfg.hidden, 2 * k], cfg.activation)  # -> (mu, logvar)
            self.decoder = mlp([k + c, *reversed(cfg.hidden), m * d], cfg.activation)
        else:
            ch, h, w = self.info.shape
            self.encoder = ConvEncoder((ch + c, h, w), 2 * k, cfg.channels, cfg.activation)
            self.decoder = ConvDecoder(
                (m * ch, h, w), k + c, cfg.channels, cfg.activation, cfg.upsample
            )
        self.stage2 = SecondStage(k, cfg.second_hidden, cfg.activation) if self.two_stage else None

    @property
    def two_stage(self) -> bool:
        return self.config.second_stage > 0

    def data_range(self):
        return "unit" if self.likelihood == "bernoulli" else "standard"

    # ---------------------------------------------------------------- what variants change
    def condition(self, y: Tensor | None, n: int) -> Tensor | None:
        """The conditioning vector (n, cond_dim) from labels y, or None (unconditional)."""
        return None

    def kl_weight(self) -> float:
        """The weight of the KL term in the loss (1 for the VAE)."""
        return 1.0

    # ---------------------------------------------------------------- the networks
    def posterior(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """q(z|x[, y]): (mu, logvar), each (B, k)."""
        c = self.condition(y, len(x))
        if self.config.architecture == "mlp":
            h = x.flatten(1)  # (B, D)
            h = h if c is None else torch.cat([h, c], 1)  # (B, D + K)
        else:
            h = (
                x
                if c is None
                else torch.cat([x, c[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1)
            )
        mu, logvar = self.encoder(h).chunk(2, dim=1)
        return mu, logvar

    def decoder_params(self, z: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """p(x|z[, y]): Bernoulli logits, or Gaussian (mean, logvar); each (B, *shape)."""
        c = self.condition(y, len(z))
        out = self.decoder(z if c is None else torch.cat([z, c], 1))
        out = out.reshape(len(z), -1, *self.info.shape)  # (B, m, *shape)
        loc = out[:, 0]
        if self.likelihood == "bernoulli":
            return loc, None
        if self.learned_variance:
            floor = 2 * math.log(self.config.min_sigma)
            return loc, floor + F.softplus(out[:, 1] - floor)  # logvar >= log min_sigma^2
        return loc, torch.full_like(loc[:1], 2 * math.log(self.config.sigma))

    def log_px(self, x: Tensor, params: tuple[Tensor, Tensor | None]) -> Tensor:
        """log p(x|z) in nats per example, (B,)."""
        loc, logvar = params
        if logvar is None:
            return bernoulli_log_prob(loc, x)
        return gaussian_log_prob(x, loc, logvar)

    def mean(self, params: tuple[Tensor, Tensor | None]) -> Tensor:
        """E[x|z]: the pixel probabilities, or the Gaussian mean."""
        loc, logvar = params
        return torch.sigmoid(loc) if logvar is None else loc

    def binarize(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """With dynamic binarization, a fresh binary image with P(pixel = 1) = grey level."""
        return torch.bernoulli(x, generator=generator) if self.config.binarize else x

    # ---------------------------------------------------------------- capabilities
    def encode(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.posterior(x, y)[0]

    def decode(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.mean(self.decoder_params(z, y))

    def reconstruct(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.decode(self.encode(x, y), y)

    def after_training(self, data: Batch) -> Fitted | None:
        """A two-stage VAE says how long its second stage trained, or that it never did (a
        run stopped by its time before the stage's first step): then samples come from
        N(0, I)."""
        if self.stage2 is None:
            return None
        updates = int(self.stage2.updates)
        if updates == 0:
            return Fitted(
                "two-stage VAE: the run ended before its second stage's first step, so "
                "samples come from N(0, I); train longer, or give the second stage a larger "
                "share (model.second_stage)",
                {"stage2/updates": 0.0},
            )
        return Fitted(
            f"two-stage VAE: the second stage trained for {updates:,} steps; samples come "
            "through it",
            {"stage2/updates": float(updates)},
        )

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws from the prior p(z) = N(0, I), (n, k); a two-stage VAE whose second stage
        has trained draws z = G_2(u), u ~ N(0, I), from it instead."""
        k = self.config.latent_dim
        if self.stage2 is not None and self.stage2.trained:
            return self.stage2.sample(n, k, generator)
        return torch.randn(n, k, generator=generator, device=self.device)

    @torch.no_grad()
    def sample(self, n: int, *, generator=None, labels=None) -> Tensor:
        """Decode z ~ N(0, I): the means E[x|z] (the usual way to show VAE samples)."""
        return self.decode(self.sample_latent(n, generator), self.default_labels(n, labels))

    # ---------------------------------------------------------------- objectives
    def loss(self, batch: Batch) -> LossOutput:
        x, y = self.binarize(batch["x"]), batch.get("y")
        mu, logvar = self.posterior(x, y)  # 1. q(z|x) = N(mu, sigma^2)
        z = reparameterize(mu, logvar)  # 2. z = mu + sigma * eps
        recon = -self.log_px(x, self.decoder_params(z, y)).mean()  # 3. -log p(x|z), nats
        kl = kl_standard_normal(mu, logvar).sum(1).mean()  # 4. KL(q || N(0, I)), closed form
        beta = self.kl_weight()
        terms = {"recon": recon, "kl": kl, "elbo": -(recon + kl)}
        if self.weighs_kl:
            terms["beta"] = torch.tensor(float(beta))
        return LossOutput(recon + beta * kl, terms)

    def second_stage_loss(
        self, batch: Batch, start: int = 0, total_steps: int | None = None
    ) -> LossOutput:
        """The two-stage VAE's second stage: a VAE on codes z ~ q(z|x) of the frozen first,
        its KL weight warming up from step `start` of a run of `total_steps`."""
        with torch.no_grad():
            x, y = self.binarize(batch["x"]), batch.get("y")
            z = reparameterize(*self.posterior(x, y))
        beta = warmup_weight(self.step, start, total_steps, self.config.second_warmup)
        terms = self.stage2.terms(z, beta if self.training else 1.0)
        return LossOutput(terms.pop("loss"), terms)

    def phases(self) -> list[Phase]:
        if self.stage2 is None:
            return [Phase("vae", list(self.parameters()), self.loss)]
        second = list(self.stage2.parameters())
        first = [p for p in self.parameters() if all(p is not q for q in second)]
        split = stage_split(self.total_steps, self.config.second_stage)
        return [
            Phase("vae", first, self.loss, stop=split or None),
            Phase(
                "stage2",
                second,
                partial(self.second_stage_loss, start=split, total_steps=self.total_steps),
                start=split,
            ),
        ]

    def log_weights(
        self, x: Tensor, y: Tensor | None, k: int, generator: torch.Generator | None = None
    ) -> Tensor:
        """log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x), z_i ~ q(z|x): shape (k, B)."""
        mu, logvar = self.posterior(x, y)  # (B, k_z) each
        eps = torch.randn(k, *mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = reparameterize(mu, logvar, eps)  # (k, B, k_z)
        ys = None if y is None else y.repeat(k)
        loc, x_logvar = self.decoder_params(z.flatten(0, 1), ys)  # (k * B, *shape)
        samples = (k, *x.shape)  # the k decodings of each example broadcast against x
        loc = loc.view(samples)
        if x_logvar is not None and len(x_logvar) > 1:
            x_logvar = x_logvar.view(samples)
        log_px = self.log_px(x, (loc, x_logvar))  # (k, B)
        return log_px + log_standard_normal(z) - log_normal(z, mu, logvar)

    def likelihood_provenance(self, k: int) -> dict:
        """What the nll metric's estimate is, for its provenance."""
        return {
            "importance_samples": k,
            "decoder": self.likelihood,
            "binarized": self.config.binarize,
        }

    @torch.no_grad()
    def log_likelihood(
        self,
        x: Tensor,
        k: int = 100,
        *,
        y: Tensor | None = None,
        generator: torch.Generator | None = None,
        budget: int = 2**23,
    ) -> Tensor:
        """log p(x) ~ log (1/k) sum_i p(x, z_i) / q(z_i|x), z_i ~ q(z|x), in nats, (B,).

        The estimate is a lower bound in expectation that tightens as k grows (Burda et al.
        2016); k = 5,000 is the usual protocol. Samples go through the decoder in chunks of
        about `budget` output values. With dynamic binarization the model is a density over
        binary images, so x is binarized first (pass a seeded `generator` for a fixed
        binarization of a test set).
        """
        x = self.binarize(x, generator)
        chunk = max(
            1, budget // (len(x) * self.info.dim * (4 if self.config.architecture == "conv" else 1))
        )
        parts = [
            torch.logsumexp(self.log_weights(x, y, min(chunk, k - i), generator), 0)
            for i in range(0, k, chunk)
        ]  # log sum_i w_i over each chunk, (B,) each
        return torch.logsumexp(torch.stack(parts), 0) - math.log(k)

    @torch.no_grad()
    def diagnose(self, x: Tensor, y: Tensor | None = None, **fields: Tensor) -> Diagnosis:
        """KL per latent dimension (nats), active units, and a posterior-collapse warning."""
        mu, logvar = self.posterior(x, y)
        kl = kl_standard_normal(mu, logvar).mean(0)  # (k,)
        active = active_units(mu)
        values = {"kl": float(kl.sum()), "active_units": int(active.sum())}
        values.update({f"kl/z{d:02d}": float(v) for d, v in enumerate(kl)})
        warnings = {}
        if not bool(active.any()):
            warnings["posterior_collapse"] = (
                f"posterior collapse: no latent dimension is active (KL {float(kl.sum()):.3g} "
                "nats per example), the decoder ignores z"
            )
        return Diagnosis(values, warnings)
