"""VAE-GAN (Larsen et al. 2016, "Autoencoding beyond pixels using a learned similarity
metric"): a VAE whose reconstruction error is measured in a discriminator's features, trained
together with the discriminator's game.

A VAE's pixel-wise error calls a digit moved by one pixel a bad reconstruction and a blurred
one a good one. The discriminator of a GAN learns features in which realism shows, so the
VAE-GAN measures reconstruction there: with Dis_l(x) the discriminator's l-th layer,

    L_llike = -E_q(z|x)[log N(Dis_l(x); Dis_l(Dec(z)), I)] = 1/2 ||Dis_l(x) - Dis_l(x~)||^2
    L_prior = KL(q(z|x) || N(0, I))
    L_GAN   = log Dis(x) + log(1 - Dis(x~)) + log(1 - Dis(Dec(z_p))),   z_p ~ N(0, I)

and each network is updated by its own part (their Algorithm 1):

    encoder:        L_prior + L_llike
    decoder:        gamma L_llike + (1 - gamma) L_G,   L_G = mean of log(1 - Dis(.)) over
                    x~ and Dec(z_p): the generated terms of L_GAN, which it lowers
    discriminator:  -L_GAN, real and generated examples weighted 1/2 each

(Algorithm 1 prints the decoder's update as descending gamma L_llike - L_GAN; their code,
followed here, descends gamma L_llike + (1 - gamma) L_G, the sign that makes the decoder fool
the discriminator.)

The GAN's error never reaches the encoder: its codes serve reconstruction, and the decoder
alone is pushed toward realism, by both the reconstructions x~ and decodings of prior draws.
The decoder's game is the non-saturating one here (`loss`; their code plays minimax, which
stalls in a short run), and the networks are DCGAN's, as theirs are. Dis_l is the last
convolution of the discriminator's trunk.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ...config import check
from ...nn import ConvEncoder
from ...nn.sizing import stages_for, widths_for
from ..base import Batch, GenerativeModel, LossOutput, Phase, register_model, set_trainable
from ..gan.networks import Critic, DCGenerator, DCTrunk, normal_init
from ..vae.common import kl_standard_normal, reparameterize


@dataclass
class VAEGANConfig:
    latent_dim: int = 16  # size of z
    # one stride-2 convolution per entry, in all three networks (none: sized to the image as
    # DCGAN's, (64, 128) at 28x28)
    channels: tuple[int, ...] | None = None
    gamma: float = 1e-2  # the decoder's weight on L_llike; (1 - gamma) on the GAN loss
    loss: Literal["non-saturating", "minimax"] = "non-saturating"  # the decoder's game
    real_weight: float = 0.5  # the discriminator's weight on real examples (1 - it: generated)
    init_std: float | None = 0.02  # weights ~ N(0, init_std^2), as DCGAN (none: PyTorch's)

    def __post_init__(self) -> None:
        check(self.latent_dim >= 1, "latent_dim", self.latent_dim, "an integer >= 1")
        check(
            self.channels is None
            or (len(self.channels) >= 1 and all(c >= 1 for c in self.channels)),
            "channels",
            self.channels,
            "one or more widths >= 1",
        )
        check(0 <= self.gamma <= 1, "gamma", self.gamma, "a weight in [0, 1]")
        check(0 < self.real_weight < 1, "real_weight", self.real_weight, "a weight in (0, 1)")
        check(
            self.init_std is None or self.init_std > 0,
            "init_std",
            self.init_std,
            "a standard deviation > 0 (none: PyTorch's initialization)",
        )


def feature_nll(h_x: Tensor, h_tilde: Tensor) -> Tensor:
    """L_llike = -log N(Dis_l(x); Dis_l(x~), I) up to its constant, 1/2 sum_f (h_x - h~)^2
    per example; batch mean."""
    return 0.5 * (h_x - h_tilde).pow(2).flatten(1).sum(1).mean()


@register_model("vae-gan", "VAE-GAN: a VAE's reconstruction measured in a discriminator's features")
class VAEGAN(GenerativeModel):
    Config = VAEGANConfig
    data_kinds: ClassVar[tuple[str, ...]] = ("image",)
    watch_coverage: ClassVar[bool] = True
    # their optimizer: RMSProp with lr 3e-4, for all three networks
    train_defaults: ClassVar[dict] = {"optimizer": "rmsprop", "lr": 3e-4}
    CHANNELS = (64, 128)  # DCGAN's widths for 28x28

    @classmethod
    def sized(cls, config, info):
        if config.channels is None:
            config = replace(config, channels=widths_for(cls.CHANNELS, stages_for(*info.shape[1:])))
        return config

    def __init__(self, config, info):
        super().__init__(config, info)
        cfg, shape = self.config, info.shape
        self.encoder = ConvEncoder(shape, 2 * cfg.latent_dim, cfg.channels, "relu")
        self.decoder = DCGenerator(cfg.latent_dim, shape, cfg.channels, "batch")
        self.trunk = DCTrunk(shape, cfg.channels, "batch")  # Dis_l: its output
        self.head = Critic(self.trunk.out_dim)
        if cfg.init_std is not None:
            for net in (self.encoder, self.decoder, self.trunk, self.head):
                normal_init(net, cfg.init_std)

    def data_range(self):
        return "symmetric"  # the decoder ends in tanh

    # ---------------------------------------------------------------- capabilities
    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """q(z|x): (mu, logvar), each (B, k)."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def encode(self, x: Tensor) -> Tensor:
        return self.posterior(x)[0]

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def reconstruct(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(n, self.config.latent_dim, generator=generator, device=self.device)

    @torch.no_grad()
    def sample(self, n: int, *, generator=None, labels=None) -> Tensor:
        """Dec(z), z ~ N(0, I)."""
        return self.decode(self.sample_latent(n, generator))

    # ---------------------------------------------------------------- the three updates
    def _train_only(self, *nets) -> None:
        """Freeze every network but `nets`, so each phase's gradients reach its own."""
        if torch.is_grad_enabled():
            for net in (self.encoder, self.decoder, self.trunk, self.head):
                set_trainable(net, any(net is m for m in nets))

    def _pass(self, x: Tensor) -> dict[str, Tensor]:
        """One forward pass of Algorithm 1: q(z|x), x~ = Dec(z), x_p = Dec(z_p), and the
        discriminator's features and logits of [x, x~, x_p]."""
        mu, logvar = self.posterior(x)  # 1. q(z|x)
        x_tilde = self.decoder(reparameterize(mu, logvar))  # 2. x~ = Dec(z), z ~ q(z|x)
        x_p = self.decoder(self.sample_latent(len(x)))  # 3. x_p = Dec(z_p), z_p ~ N(0, I)
        h = self.trunk(torch.cat([x, x_tilde, x_p]))  # 4. Dis_l of all three, one pass
        logits = self.head(h)
        h_x, h_tilde, _ = h.chunk(3)
        real, fake = logits[: len(x)], logits[len(x) :]
        return {"mu": mu, "logvar": logvar, "llike": feature_nll(h_x, h_tilde),
                "real": real, "fake": fake}  # fmt: skip

    def encoder_loss(self, batch: Batch) -> LossOutput:
        self._train_only(self.encoder)
        out = self._pass(batch["x"])
        kl = kl_standard_normal(out["mu"], out["logvar"]).sum(1).mean()
        return LossOutput(kl + out["llike"], {"kl": kl, "llike": out["llike"]})

    def decoder_loss(self, batch: Batch) -> LossOutput:
        self._train_only(self.decoder)
        out = self._pass(batch["x"])
        fake = out["fake"]
        if self.config.loss == "minimax":  # - log(1 - D), as -L_GAN's generated terms
            gan = -F.softplus(fake).mean()
        else:  # - log D: the same fixed point, a gradient that does not vanish
            gan = F.softplus(-fake).mean()
        g = self.config.gamma
        return LossOutput(g * out["llike"] + (1 - g) * gan, {"llike": out["llike"], "gan": gan})

    def discriminator_loss(self, batch: Batch) -> LossOutput:
        self._train_only(self.trunk, self.head)
        out = self._pass(batch["x"])
        w = self.config.real_weight
        d_real = F.softplus(-out["real"]).mean()  # -log D(x)
        d_fake = F.softplus(out["fake"]).mean()  # -log(1 - D(x~ or x_p))
        return LossOutput(w * d_real + (1 - w) * d_fake, {"d_real": d_real, "d_fake": d_fake})

    def phases(self) -> list[Phase]:
        d_params = [*self.trunk.parameters(), *self.head.parameters()]
        return [
            Phase("encoder", list(self.encoder.parameters()), self.encoder_loss),
            Phase("decoder", list(self.decoder.parameters()), self.decoder_loss),
            Phase("discriminator", d_params, self.discriminator_loss),
        ]
