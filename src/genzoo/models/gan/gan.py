"""The GAN (Goodfellow et al. 2014): a generator G(z) and a discriminator D(x) trained as a
two-player game, in two phases per step:

1. discriminator phase: D on a real batch and on G(z) (G fixed), minimizing its loss;
2. generator phase (every `d_steps` steps): G through D (D frozen), minimizing G's loss.

The losses live in `losses.py` beside their formulas: `minimax`, `non-saturating` (the default),
`wasserstein`, `hinge`. Stabilisers any GAN can switch on: experience replay, minibatch
discrimination, the minibatch standard-deviation layer, packing (PacGAN, Lin et al. 2018: D
judges m samples at once), one-sided label smoothing, a gradient penalty, weight clipping, and
for small image sets differentiable augmentation of all D sees (DiffAugment, `augment.py`).
Sampling takes a truncation psi (the truncation trick).

`gan` uses MLPs; `dcgan`, `cgan`, `wgan` and `wgan-gp` each change defaults or one method.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from ...config import check
from ...errors import ConfigError, GenzooError
from ...nn.gan_layers import pack
from ...nn.sizing import mlp_widths, stages_for, widths_for
from ..base import (
    Batch,
    Diagnosis,
    GenerativeModel,
    LossOutput,
    Phase,
    register_model,
    set_trainable,
)
from . import losses as L
from .augment import adjust_probability, augment_with_probability, diff_augment
from .common import ReplayBuffer, truncated_normal
from .networks import (
    Critic,
    DCGenerator,
    DCTrunk,
    Discriminator,
    MLPGenerator,
    MLPTrunk,
    normal_init,
)

Loss = Literal["minimax", "non-saturating", "wasserstein", "hinge"]
Augment = Literal["color", "translation", "cutout"]
Norm = Literal["batch", "layer", "none"]
DNorm = Literal["batch", "layer", "spectral", "none"]  # spectral: Miyato et al. 2018 (SNGAN)
BCE = ("minimax", "non-saturating")  # the games whose D outputs a probability


@dataclass
class GameConfig:
    """The game and its stabilisers: what every GAN shares, whatever its networks."""

    latent_dim: int = 64  # size of z ~ N(0, I)
    loss: Loss = "non-saturating"
    d_steps: int = 1  # discriminator updates per generator update (k; n_critic for WGAN)
    # the discriminator's learning rate, when it differs from the generator's (train.lr, as
    # train.betas and train.optimizer serve both; each model sets its paper's in train)
    d_lr: float | None = None
    label_smoothing: float = 0.0  # one-sided: real target 1 - s (bce losses only)
    gp_weight: float = 0.0  # lambda of the WGAN-GP gradient penalty (0: off)
    r1_weight: float = 0.0  # gamma of the R1 penalty on real data (0: off)
    drift: float = 0.0  # eps_drift E[D(x)^2], keeps a critic's values near 0 (ProGAN; 0: off)
    clip: float = 0.0  # WGAN weight clipping to [-c, c] (0: off)
    replay_size: int = 0  # experience replay: past fakes kept (0: off)
    replay_ratio: float = 0.5  # share of each fake batch drawn from the buffer
    minibatch_std: int = 0  # minibatch stddev layer: group size (0: off)
    pack: int = 1  # PacGAN: samples per discriminator input (1: off)
    # DiffAugment (images): what D sees of real and fake alike, e.g. color,translation,cutout
    # (augment.py; empty: off)
    augment: tuple[Augment, ...] = ()
    # ADA (Karras et al. 2020): each transform of `augment` applied with a probability p that
    # is tuned toward r_t = E[sign D(x_real)] = ada_target (paper: 0.6; none: always applied)
    ada_target: float | None = None
    ada_kimg: float = 500.0  # thousands of images for p to cross from 0 to 1 (paper: 500)
    ada_interval: int = 4  # discriminator steps between adjustments of p (paper: 4)

    def __post_init__(self) -> None:
        check(
            self.ada_target is None or 0 < self.ada_target < 1,
            "ada_target",
            self.ada_target,
            "a share in (0, 1) (paper: 0.6), or none",
        )
        check(
            self.ada_target is None or bool(self.augment),
            "ada_target",
            self.ada_target,
            "none without model.augment (ADA tunes how often its transforms apply)",
        )
        check(self.ada_kimg > 0, "ada_kimg", self.ada_kimg, "thousands of images > 0")
        check(self.ada_interval >= 1, "ada_interval", self.ada_interval, "an integer >= 1")
        check(self.latent_dim >= 1, "latent_dim", self.latent_dim, "an integer >= 1")
        check(self.d_steps >= 1, "d_steps", self.d_steps, "an integer >= 1")
        check(self.d_lr is None or self.d_lr > 0, "d_lr", self.d_lr, "a learning rate > 0")
        check(
            0 <= self.label_smoothing < 0.5,
            "label_smoothing",
            self.label_smoothing,
            "a number in [0, 0.5)",
        )
        check(
            self.label_smoothing == 0 or self.loss in BCE,
            "label_smoothing",
            self.label_smoothing,
            "0 with the wasserstein and hinge losses (there are no labels to smooth)",
        )
        for name in ("gp_weight", "r1_weight", "drift", "clip"):
            check(getattr(self, name) >= 0, name, getattr(self, name), "a number >= 0")
        check(self.replay_size >= 0, "replay_size", self.replay_size, "an integer >= 0")
        check(0 < self.replay_ratio < 1, "replay_ratio", self.replay_ratio, "0 < ratio < 1")
        check(self.minibatch_std >= 0, "minibatch_std", self.minibatch_std, "a group size >= 0")
        check(self.pack >= 1, "pack", self.pack, "an integer >= 1 (1: no packing)")


@dataclass
class GANConfig(GameConfig):
    architecture: Literal["mlp", "conv"] = "mlp"  # conv: DCGAN's networks (images only)
    # mlp: generator and discriminator widths (none: (256, 256), narrower for colour images)
    g_hidden: tuple[int, ...] | None = None
    d_hidden: tuple[int, ...] | None = None
    # conv: D's stride-2 stages; G mirrors them (none: sized to the image, nn.sizing:
    # (64, 128) at 28x28 and 32x32, (32, 64, 128) at 64x64)
    channels: tuple[int, ...] | None = None
    g_norm: Norm = "batch"  # generator hidden layers
    # conv: how G doubles its maps: DCGAN's transposed convolutions, or a resize convolution
    # (upsample nearest or bilinear, then conv 3x3), free of checkerboard artefacts
    g_upsample: Literal["transposed", "nearest", "bilinear"] = "transposed"
    # discriminator: batch and layer norm on its hidden layers (never on its input); spectral
    # norm on every weight of D, its input and read-out layers included
    d_norm: DNorm = "none"
    d_unit: Literal["leaky_relu", "maxout"] = "leaky_relu"  # mlp discriminator units
    maxout_pieces: int = 5
    minibatch_disc: int = 0  # minibatch discrimination: number of kernels B (0: off)
    minibatch_disc_dim: int = 5  # ... and their dimension C
    conditioning: Literal["embedding", "projection"] = "embedding"  # conditional models only
    # weights of both networks drawn from N(0, init_std^2), batch-norm scales from
    # N(1, init_std^2) (DCGAN: 0.02); none: PyTorch's default initialization
    init_std: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("g_hidden", "d_hidden", "channels"):
            value = getattr(self, name)
            ok = value is None or (len(value) >= 1 and all(v >= 1 for v in value))
            check(ok, name, value, "widths >= 1")
        check(
            self.g_upsample == "transposed" or self.architecture == "conv",
            "g_upsample",
            self.g_upsample,
            "'transposed' with mlp networks (only a conv generator upsamples)",
        )
        check(
            self.init_std is None or self.init_std > 0,
            "init_std",
            self.init_std,
            "a standard deviation > 0 (DCGAN: 0.02), or none (PyTorch's default)",
        )
        check(self.maxout_pieces >= 2, "maxout_pieces", self.maxout_pieces, "an integer >= 2")
        check(self.minibatch_disc >= 0, "minibatch_disc", self.minibatch_disc, "an integer >= 0")
        check(self.minibatch_disc_dim >= 1, "minibatch_disc_dim", self.minibatch_disc_dim, ">= 1")
        check(
            not (self.gp_weight and self.d_norm == "batch"),
            "d_norm",
            self.d_norm,
            "'none' or 'layer' with a gradient penalty (batch norm mixes the examples whose "
            "gradients the penalty constrains one by one)",
        )


@register_model("gan", "GAN: MLP generator and discriminator, minimax or non-saturating loss")
class GAN(GenerativeModel):
    Config = GANConfig
    watch_coverage = True
    # DCGAN's Adam (Radford et al. 2016: lr 2e-4, beta1 = 0.5), for both networks
    train_defaults: ClassVar[dict] = {"lr": 2e-4, "betas": (0.5, 0.999)}
    retired = {"lr": "train.lr", "betas": "train.betas", "optimizer": "train.optimizer"}

    HIDDEN, CHANNELS = (256, 256), (64, 128)  # the layouts of 28x28 digits

    @classmethod
    def sized(cls, config, info):
        image = info.kind == "image"
        c = info.shape[0] if image else 1
        if getattr(config, "g_hidden", ()) is None:  # the layer next to the image narrows
            config = replace(config, g_hidden=mlp_widths(cls.HIDDEN, c, data_first=False))
        if getattr(config, "d_hidden", ()) is None:
            config = replace(config, d_hidden=mlp_widths(cls.HIDDEN, c))
        if getattr(config, "channels", ()) is None:
            stages = stages_for(*info.shape[1:]) if image else len(cls.CHANNELS)
            config = replace(config, channels=widths_for(cls.CHANNELS, stages))
        return config

    def __init__(self, config, info):
        super().__init__(config, info)
        self.check_fits(info)
        self.build()
        self.clip_critic()  # clipped from the start, so the critic always meets its bound
        cfg = self.config
        self.replay = ReplayBuffer(cfg.replay_size, cfg.replay_ratio) if cfg.replay_size else None
        # ADA: p, and what the current interval has seen (sum of sign D(x_real), outputs,
        # images, D steps); kept in the training state, so a resumed run goes on from them
        self.ada = {"p": 0.0, "signs": 0.0, "outputs": 0.0, "images": 0.0, "steps": 0.0}

    # ---------------------------------------------------------------- construction
    def check_fits(self, info) -> None:
        cfg = self.config
        if cfg.architecture == "conv" and info.kind != "image":
            raise ConfigError(
                "model.architecture", "conv", f"'mlp' for {info.kind} data (conv needs images)"
            )
        if cfg.augment and info.kind != "image":
            raise ConfigError(
                "model.augment", ",".join(cfg.augment), f"empty for {info.kind} data (images only)"
            )
        if cfg.conditioning == "projection" and cfg.pack > 1 and self.conditional:
            raise ConfigError(
                "model.pack", cfg.pack, "1 with projection conditioning (a pack has no one label)"
            )

    @property
    def cond_dim(self) -> int:
        """Width of the one-hot label both networks see as input (0: unconditional)."""
        return 0

    @property
    def image(self) -> bool:
        return self.info.kind == "image"

    def build(self) -> None:
        cfg, c, m = self.config, self.cond_dim, self.config.pack
        k = cfg.latent_dim
        d_cond = c if cfg.conditioning == "embedding" else 0  # label as an input channel
        if cfg.architecture == "conv":
            ch, h, w = self.info.shape
            self.generator = DCGenerator(
                k + c, self.info.shape, cfg.channels, cfg.g_norm, cfg.g_upsample
            )
            trunk = DCTrunk((m * (ch + d_cond), h, w), cfg.channels, cfg.d_norm)
        else:
            self.generator = MLPGenerator(
                k + c, self.info.shape, cfg.g_hidden, cfg.g_norm, tanh=self.image
            )
            trunk = MLPTrunk(
                m * (self.info.dim + d_cond),
                cfg.d_hidden,
                cfg.d_unit,
                cfg.maxout_pieces,
                cfg.d_norm,
            )
        projection = self.conditional and cfg.conditioning == "projection"
        head = Critic(
            trunk.out_dim,
            cfg.minibatch_std,
            cfg.minibatch_disc,
            cfg.minibatch_disc_dim,
            self.info.num_classes if projection else 0,
            cfg.d_norm,
        )
        self.discriminator = Discriminator(trunk, head)
        if cfg.init_std is not None:
            normal_init(self, cfg.init_std)

    def data_range(self):
        return "symmetric" if self.image else "standard"  # tanh output for images

    # ---------------------------------------------------------------- what variants change
    def condition(self, y: Tensor | None, n: int) -> Tensor | None:
        """The one-hot labels (n, K) the networks see, or None (unconditional)."""
        return None

    # ---------------------------------------------------------------- the networks
    def generate(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """G(z[, y]): (B, *shape) in the model's range."""
        c = self.condition(y, len(z))
        return self.generator(z if c is None else torch.cat([z, c], 1))

    def critic(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """D's raw output for x (B, *shape): one logit per pack of `pack` examples, (B // m,)."""
        cfg = self.config
        c = self.condition(y, len(x)) if cfg.conditioning == "embedding" else None
        if c is not None and cfg.architecture == "conv":  # the label as constant channels
            x = torch.cat([x, c[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1)
        elif c is not None:  # ... or as extra input features
            x = torch.cat([x.flatten(1), c], 1)
        proj = self.conditional and cfg.conditioning == "projection"
        return self.discriminator(pack(x, cfg.pack), y.long().to(x.device) if proj else None)

    def sample_latent(
        self, n: int, generator: torch.Generator | None = None, truncation: float | None = None
    ) -> Tensor:
        """n draws of z ~ N(0, I), truncated to |z_i| <= truncation when given, (n, k)."""
        shape = (n, self.config.latent_dim)
        if truncation is not None:
            return truncated_normal(shape, truncation, generator=generator, device=self.device)
        return torch.randn(shape, generator=generator, device=self.device)

    def decode(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """G(z): the generator read as a decoder of latent codes (for interpolation)."""
        return self.generate(z, y)

    @torch.no_grad()
    def sample(self, n: int, *, generator=None, labels=None, truncation=None) -> Tensor:
        """G(z), z ~ N(0, I) (or its truncation to [-psi, psi] with `truncation` = psi)."""
        if truncation is not None and truncation <= 0:
            raise GenzooError(f"truncation {truncation}: choose psi > 0 (smaller: less variety)")
        z = self.sample_latent(n, generator, truncation)
        return self.generate(z, self.default_labels(n, labels))

    # ---------------------------------------------------------------- the two phases
    def _train_only(self, net: nn.Module) -> None:
        """Freeze the other network, so each phase's gradients reach its own parameters."""
        if torch.is_grad_enabled():
            set_trainable(self.generator, net is self.generator)
            set_trainable(self.discriminator, net is self.discriminator)

    def _fake_labels(self, batch: Batch) -> Tensor | None:
        """Labels for the fakes of a step: the real batch's, so both sides match in class."""
        return batch.get("y") if self.conditional else None

    def fakes(self, n: int, y: Tensor | None = None) -> Tensor:
        """n training fakes G(z), z ~ p(z) (a style-based G mixes styles here)."""
        return self.generate(self.sample_latent(n), y)

    def real_view(self, x: Tensor) -> Tensor:
        """The real batch as D sees it at this step (a growing GAN blends resolutions)."""
        return x

    def d_input(self, x: Tensor) -> Tensor:
        """What D is shown of real or fake images in training: T(x) under DiffAugment, else x."""
        cfg = self.config
        if not (cfg.augment and self.training):
            return x
        if cfg.ada_target is None:
            return diff_augment(x, cfg.augment)
        return augment_with_probability(x, cfg.augment, self.ada["p"])

    def observe_overfitting(self, real_out: Tensor, images: int) -> dict[str, Tensor]:
        """ADA's bookkeeping at each D step: r_t's sums, and every ada_interval steps the
        adjustment of p (summed over processes under torchrun); p and r_t to log."""
        cfg, a = self.config, self.ada
        a["signs"] += float(torch.sign(real_out.detach()).sum())
        a["outputs"] += real_out.numel()
        a["images"] += images
        a["steps"] += 1
        r_t = a["signs"] / a["outputs"]
        if a["steps"] >= cfg.ada_interval:
            sums = torch.tensor([a["signs"], a["outputs"], a["images"]], dtype=torch.float64)
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                sums = sums.to(real_out.device)
                torch.distributed.all_reduce(sums)
            signs, outputs, seen = sums.tolist()
            r_t = signs / outputs
            a["p"] = adjust_probability(a["p"], r_t, cfg.ada_target, int(seen), cfg.ada_kimg)
            a.update(signs=0.0, outputs=0.0, images=0.0, steps=0.0)
        return {"ada_p": torch.tensor(a["p"]), "ada_rt": torch.tensor(r_t)}

    def d_mean(self, out: Tensor) -> Tensor:
        """Mean D output to log: a probability for the bce games, a critic value else."""
        return torch.sigmoid(out).mean() if self.config.loss in BCE else out.mean()

    def terms_of(self, real: Tensor, fake: Tensor) -> dict[str, Tensor]:
        terms = {"d_real": self.d_mean(real), "d_fake": self.d_mean(fake)}
        if self.config.loss not in BCE:  # the critic's estimate of the Wasserstein distance
            terms["distance"] = real.mean() - fake.mean()
        return terms

    def clip_critic(self) -> None:
        """WGAN: the critic's weights clamped to [-c, c], after every critic update (and once
        at construction: the same iterates as clamping before each update, as the reference
        code does). Outside the loss, where an in-place change of parameters under
        DistributedDataParallel would detach them from the gradient averaging."""
        if self.config.clip:
            with torch.no_grad():
                for p in self.discriminator.parameters():
                    p.clamp_(-self.config.clip, self.config.clip)

    def d_loss(self, batch: Batch) -> LossOutput:
        cfg = self.config
        self._train_only(self.discriminator)
        x, y = self.real_view(batch["x"]), batch.get("y")
        y_fake = self._fake_labels(batch)
        with torch.no_grad():  # 1. fakes from the current G
            fake = self.fakes(len(x), y_fake)
        if self.replay is not None and self.training:  # 2. mix in past fakes
            fake, y_fake = self.replay.mix(fake, y_fake)
        x, fake = self.d_input(x), self.d_input(fake)  # 3. D on both (augmented alike)
        real_out, fake_out = self.critic(x, y), self.critic(fake, y_fake)
        if cfg.loss in BCE:
            loss = L.d_loss_bce(real_out, fake_out, cfg.label_smoothing)
        else:
            loss = L.D_LOSSES[cfg.loss](real_out, fake_out)
        terms = self.terms_of(real_out.detach(), fake_out.detach())
        if cfg.ada_target is not None and self.training and torch.is_grad_enabled():
            terms |= self.observe_overfitting(real_out, len(x))  # ADA: tune p
        if cfg.gp_weight and torch.is_grad_enabled():  # 4. penalties
            n = len(real_out) * cfg.pack
            x_hat = L.interpolates(x[:n], fake[:n])
            y_hat = None if y is None else y[:n]
            gp = L.gradient_penalty(lambda v: self.critic(v, y_hat), x_hat)
            loss, terms["gp"] = loss + cfg.gp_weight * gp, gp.detach()
        if cfg.r1_weight and torch.is_grad_enabled():
            r1 = L.r1_penalty(lambda v: self.critic(v, y), x)
            loss, terms["r1"] = loss + cfg.r1_weight / 2 * r1, r1.detach()
        if cfg.drift:
            drift = L.drift_penalty(real_out)
            loss, terms["drift"] = loss + cfg.drift * drift, drift.detach()
        return LossOutput(loss, terms)

    def g_loss(self, batch: Batch) -> LossOutput:
        self._train_only(self.generator)
        y = self._fake_labels(batch)
        fake = self.fakes(len(batch["x"]), y)
        out = self.critic(self.d_input(fake), y)  # D's parameters take no gradient here
        loss = L.G_LOSSES[self.config.loss](out)
        return LossOutput(loss, {"d_fake": self.d_mean(out.detach())})

    def phases(self) -> list[Phase]:
        cfg = self.config
        return [
            Phase(
                "d",
                list(self.discriminator.parameters()),
                self.d_loss,
                lr=cfg.d_lr,  # None: train.lr
                log_grad_norm=True,
                after_update=self.clip_critic if cfg.clip else None,
            ),
            Phase(
                "g",
                list(self.generator.parameters()),
                self.g_loss,
                every=cfg.d_steps,
                log_grad_norm=True,
            ),
        ]

    # ---------------------------------------------------------------- training state, health
    def training_state(self) -> dict[str, Tensor]:
        state = {}
        if self.replay is not None:
            state |= {f"replay.{k}": v for k, v in self.replay.state_dict().items()}
        if self.config.ada_target is not None:
            state |= {f"ada.{k}": torch.tensor(v, dtype=torch.float64) for k, v in self.ada.items()}
        return state

    def load_training_state(self, state: dict[str, Tensor]) -> None:
        if self.replay is not None:
            self.replay.load_state_dict(
                {k[7:]: v for k, v in state.items() if k.startswith("replay.")}
            )
        if self.config.ada_target is not None:
            self.ada.update({k[4:]: float(v) for k, v in state.items() if k.startswith("ada.")})

    @torch.no_grad()
    def diagnose(self, x: Tensor, y: Tensor | None = None, **_: Tensor) -> Diagnosis:
        """D(real) and D(fake) on held-out data and fresh samples; a warning when D
        overpowers G (bce losses: D(real) > 0.95 and D(fake) < 0.05). The evaluation adds
        mode or class coverage (`watch_coverage`)."""
        cfg = self.config
        n = len(x) // cfg.pack * cfg.pack
        x, y = self.real_view(x[:n]), None if y is None else y[:n]
        labels = self.default_labels(n, y)
        fake = self.generate(self.sample_latent(n), labels)
        terms = self.terms_of(self.critic(x, y), self.critic(fake, labels))
        values = {k: float(v) for k, v in terms.items()}
        warnings = {}
        if cfg.loss in BCE and values["d_real"] > 0.95 and values["d_fake"] < 0.05:
            warnings["d_overpowers"] = (
                f"the discriminator overpowers the generator: D(real) {values['d_real']:.3f}, "
                f"D(fake) {values['d_fake']:.3f} (try loss non-saturating, label_smoothing, "
                "a lower d_lr, or pack)"
            )
        return Diagnosis(values, warnings)
