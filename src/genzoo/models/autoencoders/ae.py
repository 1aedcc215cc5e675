"""The autoencoder: an encoder f and a decoder g trained to reconstruct, x^ = g(f(x))
(Goodfellow et al., Deep Learning, ch. 14).

`CodeAutoencoder` is what every autoencoder shares: the reconstruction loss, the hooks its
variants change one at a time (`corrupt` for denoising, `penalty` for sparse and contractive),
and the code moments that `sample` draws from; a subclass supplies the networks (`build`,
`encode`, `decode_logits`). `Autoencoder` is the stacked (deep) MLP autoencoder, symmetric
about the code layer; the linear and convolutional ones are its siblings. The MLP's options:

- tied weights: decoder layer j uses the transpose of the mirrored encoder layer's weights
  (own biases), halving the weight count;
- greedy layer-wise training (Bengio et al. 2007): stage i trains a shallow autoencoder on the
  codes of the already-trained layers below it, then a last stage fine-tunes the whole stack;
  each stage is a phase of the one trainer, active for `greedy_steps` steps;
- output and loss that follow the data ("auto"): sigmoid outputs with binary cross-entropy for
  images (which arrive in [0, 1]), linear outputs with MSE for points and tables.

A plain autoencoder has no prior over z. So that `sample` means something, the model fits a
density to its codes after training (`models.code_density`: a Gaussian mixture, its number of
components chosen on held-out codes) and decodes draws from it; during training, before that
fit, it decodes draws from a Gaussian with the running mean and covariance of the codes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...config import check
from ...errors import ConfigError, GenzooError
from ...nn import activation
from ...nn.sizing import mlp_widths
from ..base import (
    Batch,
    Fitted,
    GenerativeModel,
    LossOutput,
    Phase,
    SampleSets,
    in_batches,
    register_model,
)
from ..code_density import CodeDensity, CodePriorConfig
from .common import bce_with_logits, mse

Activation = Literal["relu", "leaky_relu", "elu", "gelu", "silu", "tanh", "sigmoid"]


@dataclass
class AEConfig(CodePriorConfig):
    # size of the code z (none: 32, and at most half the input's size: undercomplete)
    latent_dim: int | None = None
    # encoder widths; the decoder mirrors them (none: (512, 256), narrower for colour images,
    # see nn.sizing.mlp_widths)
    hidden: tuple[int, ...] | None = None
    activation: Activation = "relu"  # between hidden layers
    code_activation: Literal["none", "relu", "sigmoid"] = "none"  # on the code layer
    output_activation: Literal["auto", "sigmoid", "none"] = "auto"  # auto: sigmoid for images
    loss: Literal["auto", "mse", "bce"] = "auto"  # auto: bce with sigmoid outputs, else mse
    tied: bool = False  # decoder weights are the encoder's transposes
    greedy_steps: int = 0  # greedy layer-wise stages of this many steps each; 0 = none

    def __post_init__(self) -> None:
        check(
            self.latent_dim is None or self.latent_dim >= 1,
            "latent_dim",
            self.latent_dim,
            "an integer >= 1",
        )
        check(
            self.hidden is None or all(h >= 1 for h in self.hidden),
            "hidden",
            self.hidden,
            "widths >= 1",
        )
        check(self.greedy_steps >= 0, "greedy_steps", self.greedy_steps, "an integer >= 0")
        check(
            self.loss != "bce" or self.output_activation != "none",
            "loss",
            self.loss,
            "'bce' needs sigmoid outputs in [0, 1]; with output_activation='none' use 'mse'",
        )
        self.check_prior()


class CodeAutoencoder(GenerativeModel):
    """An encoder to a code z of `config.latent_dim` and a decoder back, trained to
    reconstruct; a subclass builds the networks. Its config has `latent_dim`, the fields of
    `CodePriorConfig`, and `output_activation` and `loss` unless it overrides
    `_resolve_output`."""

    LATENT = 32

    @classmethod
    def sized(cls, config, info):
        """An unset code size: 32, at most half the input's size (a 5-column table gets 2,
        2-D points 1)."""
        if config.latent_dim is None:
            config = replace(config, latent_dim=min(cls.LATENT, max(1, info.dim // 2)))
        return config

    def __init__(self, config, info):
        super().__init__(config, info)
        self.output, self.recon_loss = self._resolve_output()
        self._check_width()
        self.build()
        k = self.config.latent_dim
        self.register_buffer("z_mean", torch.zeros(k))  # running code moments, for sample()
        self.register_buffer("z_moment2", torch.eye(k))
        self.density = CodeDensity(k, self.config.prior_components)  # fitted after training

    # ---------------------------------------------------------------- construction
    def _resolve_output(self) -> tuple[str, str]:
        cfg = self.config
        output = cfg.output_activation
        if output == "auto":
            output = "sigmoid" if self.info.kind == "image" else "none"
        loss = cfg.loss if cfg.loss != "auto" else ("bce" if output == "sigmoid" else "mse")
        if loss == "bce" and output != "sigmoid":
            raise ConfigError(
                "model.loss",
                "bce",
                "binary cross-entropy needs sigmoid outputs "
                f"in [0, 1]; {self.info.kind} data gets linear outputs, use mse",
            )
        return output, loss

    def _check_width(self) -> None:
        k, d = self.config.latent_dim, self.info.dim
        if k > d and not self.regularizes():
            raise ConfigError(
                "model.latent_dim",
                k,
                f"at most the input size {d}: an "
                "overcomplete code can copy its input; use denoising-ae, "
                "sparse-ae or contractive-ae, whose regularizer prevents that",
            )

    def build(self) -> None:
        """Make the networks (called once, from __init__)."""
        raise NotImplementedError

    def encode(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def decode_logits(self, z: Tensor) -> Tensor:
        """The decoder's output before the output activation."""
        raise NotImplementedError

    def data_range(self):
        return "unit" if self.output == "sigmoid" else "standard"

    def decode(self, z: Tensor) -> Tensor:
        out = self.decode_logits(z)
        return torch.sigmoid(out) if self.output == "sigmoid" else out

    def reconstruct(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    # ---------------------------------------------------------------- what variants change
    def regularizes(self) -> bool:
        """Whether a corruption or penalty keeps a code wider than the input from copying."""
        return False

    def corrupt(self, x: Tensor) -> Tensor:
        """The input the encoder sees in training; the clean x stays the target."""
        return x

    def penalty(self, x_in: Tensor, z: Tensor) -> dict[str, Tensor]:
        """Regularization terms Omega, already weighted, added to the loss."""
        return {}

    # ---------------------------------------------------------------- training
    def reconstruction_terms(self, logits: Tensor, x: Tensor) -> dict[str, Tensor]:
        x_hat = torch.sigmoid(logits) if self.output == "sigmoid" else logits
        terms = {"mse": mse(x_hat, x)}
        if self.output == "sigmoid":
            terms["bce"] = bce_with_logits(logits, x)
        terms["recon"] = terms[self.recon_loss]
        return terms

    def loss(self, batch: Batch) -> LossOutput:
        x = batch["x"]
        x_in = self.corrupt(x)
        z = self.encode(x_in)
        terms = self.reconstruction_terms(self.decode_logits(z), x)
        penalties = self.penalty(x_in, z)
        if self.training:
            self._track_codes(z.detach())
        total = terms["recon"] + sum(penalties.values())
        return LossOutput(total, {**terms, **penalties})

    def phases(self) -> list[Phase]:
        return [Phase("ae", list(self.parameters()), self.loss)]

    @torch.no_grad()
    def _track_codes(self, z: Tensor) -> None:
        m = self.config.prior_momentum
        with torch.autocast(z.device.type, enabled=False):  # the running moments stay fp32
            z = z.float()
            self.z_mean.lerp_(z.mean(0), m)
            self.z_moment2.lerp_(z.T @ z / len(z), m)

    @torch.no_grad()
    def after_training(self, data: Batch) -> Fitted | None:
        """With `prior=mixture`, fit the code density to the codes of the training examples."""
        if self.config.prior != "mixture":
            return None
        z = in_batches(lambda x: self.encode(x.to(self.device)).float(), data["x"])
        fit = self.density.fit(z)
        ll = fit.heldout[fit.components]
        return Fitted(
            f"fitted a {fit.components}-component Gaussian mixture to {len(z):,} codes "
            f"(held-out log-likelihood {ll:.2f} nats per code; tried K = 1..{max(fit.heldout)})"
            + ("" if fit.converged else "; EM stopped at its iteration limit (100)"),
            {"prior/components": fit.components, "prior/heldout_ll": ll},
        )

    def sample_codes(
        self, n: int, generator: torch.Generator | None = None, prior: str | None = None
    ) -> Tensor:
        """n codes from the code density `prior` (default: the config's): the fitted mixture,
        or the Gaussian of the running code moments (also the mixture's stand-in until it is
        fitted at the end of training): (n, k)."""
        prior = prior or self.config.prior
        if prior not in ("mixture", "gaussian"):
            raise GenzooError(
                f"prior {prior!r}: choose mixture or gaussian ({self.name} has no prior of its "
                "own to draw from)"
            )
        if prior == "mixture" and self.density.fitted:
            return self.density.sample(n, generator)
        if prior == "mixture" and self.config.prior != "mixture":
            raise GenzooError(
                f"prior mixture: this {self.name} was trained with prior=gaussian and has no "
                "fitted mixture; sample with prior gaussian, or train with model.prior=mixture"
            )
        k = self.config.latent_dim
        cov = self.z_moment2 - torch.outer(self.z_mean, self.z_mean)
        cov = 0.5 * (cov + cov.T) + 1e-5 * torch.eye(k, device=cov.device)
        evals, evecs = torch.linalg.eigh(cov)  # robust where Cholesky may fail
        root = evecs * evals.clamp_min(0).sqrt()
        eps = torch.randn(n, k, generator=generator, device=self.z_mean.device)
        return self.z_mean + eps @ root.T

    @torch.no_grad()
    def sample(self, n: int, *, generator=None, labels=None, prior: str | None = None) -> Tensor:
        """Decode z ~ the code density (`sample_codes`): a plain AE has no prior of its own."""
        return self.decode(self.sample_codes(n, generator, prior))

    def report_figures(self, data) -> list[SampleSets]:
        """With a fitted mixture: samples from it beside samples from one Gaussian."""
        if not self.density.fitted:
            return []
        n = 20 if self.info.kind == "image" else 1000
        sets = []
        for prior, label in (("mixture", f"{self.density.components}-component mixture"),
                             ("gaussian", "one Gaussian")):  # fmt: skip
            g = torch.Generator(device=self.device).manual_seed(0)
            sets.append((label, self.sample(n, generator=g, prior=prior)))
        return [
            SampleSets(
                "Samples by code density",
                "decoded draws from the Gaussian mixture fitted to the training codes after "
                "training (its K chosen on held-out codes), above draws from one Gaussian "
                "with the codes' mean and covariance",
                sets,
            )
        ]


@register_model("ae", "stacked MLP autoencoder; tied weights and greedy layer-wise options")
class Autoencoder(CodeAutoencoder):
    """The stacked MLP autoencoder, with tied weights and greedy layer-wise training."""

    Config = AEConfig

    HIDDEN = (512, 256)  # the layout of 28x28 digits

    @classmethod
    def sized(cls, config, info):
        """Unset widths: nn.sizing.mlp_widths; the code size as every autoencoder's."""
        if config.hidden is None:
            channels = info.shape[0] if info.kind == "image" else 1
            config = replace(config, hidden=mlp_widths(cls.HIDDEN, channels))
        return super().sized(config, info)

    def build(self) -> None:
        cfg = self.config
        sizes = [self.info.dim, *cfg.hidden, cfg.latent_dim]
        pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
        self.enc = nn.ModuleList(nn.Linear(a, b) for a, b in pairs)  # D -> ... -> k
        if cfg.tied:
            self.dec_bias = nn.ParameterList(
                nn.Parameter(torch.zeros(a)) for a, _ in reversed(pairs)
            )
        else:
            self.dec = nn.ModuleList(nn.Linear(b, a) for a, b in reversed(pairs))  # k -> D
        self.act = activation(cfg.activation)
        self.code_act = (
            nn.Identity() if cfg.code_activation == "none" else activation(cfg.code_activation)
        )

    @property
    def tied(self) -> bool:
        return self.config.tied

    # ---------------------------------------------------------------- the networks
    def enc_layer(self, i: int, h: Tensor) -> Tensor:
        h = self.enc[i](h)
        return self.act(h) if i < len(self.enc) - 1 else self.code_act(h)

    def dec_layer(self, j: int, h: Tensor) -> Tensor:
        """Decoder layer j (0 next to the code), before its activation."""
        if self.tied:
            return F.linear(h, self.enc[len(self.enc) - 1 - j].weight.t(), self.dec_bias[j])
        return self.dec[j](h)

    def encode(self, x: Tensor) -> Tensor:
        h = x.flatten(1)  # (B, D)
        for i in range(len(self.enc)):
            h = self.enc_layer(i, h)
        return h  # (B, k)

    def decode_logits(self, z: Tensor) -> Tensor:
        h = z
        for j in range(len(self.enc)):
            h = self.dec_layer(j, h)
            if j < len(self.enc) - 1:
                h = self.act(h)
        return h.view(-1, *self.info.shape)

    # ---------------------------------------------------------------- greedy training
    def greedy_loss(self, i: int, batch: Batch) -> LossOutput:
        """Stage i: a shallow autoencoder on the (fixed) codes of layers below i."""
        with torch.no_grad():
            h = self.corrupt(batch["x"]).flatten(1)
            for below in range(i):
                h = self.enc_layer(below, h)
        out = self.dec_layer(len(self.enc) - 1 - i, self.enc_layer(i, h))
        if i == 0:  # the bottom stage reconstructs the data itself
            terms = self.reconstruction_terms(out.view(-1, *self.info.shape), batch["x"])
            return LossOutput(terms["recon"], terms)
        target = h  # reconstruct the hidden layer below, through the hidden activation
        recon = mse(self.act(out), target)
        return LossOutput(recon, {"recon": recon})

    def phases(self) -> list[Phase]:
        g = self.config.greedy_steps
        if not g:
            return super().phases()
        stages = []
        for i in range(len(self.enc)):
            params = list(self.enc[i].parameters())
            j = len(self.enc) - 1 - i
            params += [self.dec_bias[j]] if self.tied else list(self.dec[j].parameters())
            stages.append(
                Phase(
                    f"layer{i + 1}",
                    params,
                    lambda b, i=i: self.greedy_loss(i, b),
                    start=i * g,
                    stop=(i + 1) * g,
                )
            )
        return [*stages, Phase("ae", list(self.parameters()), self.loss, start=len(self.enc) * g)]
