"""A style-based generator (Karras, Laine & Aila 2019, "A Style-Based Generator Architecture for
Generative Adversarial Networks"), with ProGAN's discriminator.

G has two parts (section 2, figure 1b):

1. a mapping network f: z -> w, an MLP of `mapping_layers` equalized dense layers whose
   learning rate is cut 100-fold (lr_mul 0.01). The paper uses 8 layers; the default is 2,
   the depth StyleGAN2-ADA (Karras et al. 2020) uses for small datasets;
2. a synthesis network g that starts from a learned constant at the lowest resolution, and per
   resolution runs [upsample x2, conv 3x3], [conv 3x3]; after each convolution it adds noise
   (one Gaussian image per example, a learned scale per channel), a bias and LeakyReLU(0.2),
   then AdaIN with a style y = A(w), A a learned affine map per layer (eq. 1):
       AdaIN(x_i, y) = y_s,i (x_i - mu(x_i)) / sigma(x_i) + y_b,i.

Each synthesis layer takes its own w, so styles can differ per layer: style-mixing
regularization (section 3.1) trains with two latents z1, z2 on a random share of the batch,
w1 before a random crossover layer and w2 after it. At sampling time the same mechanism gives
the mixing grid (`mixing_grid`: coarse, middle or fine styles copied from a second source), and
the truncation trick in W (appendix B) pulls w toward the running mean w_avg:
w' = w_avg + psi (w - w_avg), on all layers or the first `cutoff`.

Resolutions are ProGAN's: the data's size and its halvings, one per entry of `channels` (7, 14,
28 for 28x28 data), two style layers each. Unlike the paper, which grew G and D progressively,
every layer trains from the start. The default game is StyleGAN's: the non-saturating loss
with the R1 penalty at the paper's gamma 10, Adam lr 2e-3 (as StyleGAN2), betas (0, 0.99).

On small data these two defaults matter (bench/RESULTS.md, "StyleGAN's defaults"): with the
8-layer mapping and a weaker R1 (gamma 1) most seeds collapse to a few digit classes, whereas
gamma 10 with a 2-layer mapping kept 8 to 10 classes on every seed tried.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from ...config import check
from ...errors import GenzooError
from ...nn.gan_layers import pack
from ...nn.style import (
    LEAK,
    AdaIN,
    EqualizedConv2d,
    MappingNetwork,
    NoiseInjection,
    broadcast_styles,
    mix_styles,
    track_w_avg,
    truncate_styles,
)
from ..base import SampleSets, register_model
from .gan import GAN, GameConfig, Loss
from .progan import GrowingDiscriminator, Resolutions, resize

GROUPS = ("coarse", "middle", "fine")


@dataclass
class StyleGANConfig(GameConfig):
    latent_dim: int = 128  # z and w
    mapping_layers: int = 2  # depth of the mapping network f: z -> w (the paper's: 8)
    mapping_lr_mul: float = 0.01  # its learning-rate multiplier
    # feature maps per resolution, lowest first (the last at the data's size; see ProGAN;
    # none: sized to the image)
    channels: tuple[int, ...] | None = None
    mixing_prob: float = 0.9  # share of training fakes made from two latents
    w_avg_beta: float = 0.995  # decay of the running mean of w that truncation pulls toward
    noise: bool = True  # per-layer noise inputs
    loss: Loss = "non-saturating"
    r1_weight: float = 10.0  # gamma of R1, the paper's value
    minibatch_std: int = 4

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.mapping_layers >= 1, "mapping_layers", self.mapping_layers, "an integer >= 1")
        check(self.mapping_lr_mul > 0, "mapping_lr_mul", self.mapping_lr_mul, "a number > 0")
        check(
            self.channels is None
            or (len(self.channels) >= 1 and all(c >= 1 for c in self.channels)),
            "channels",
            self.channels,
            "one width >= 1 per resolution, lowest first",
        )
        check(0 <= self.mixing_prob <= 1, "mixing_prob", self.mixing_prob, "a number in [0, 1]")
        check(0 < self.w_avg_beta < 1, "w_avg_beta", self.w_avg_beta, "a number in (0, 1)")


class StyleLayer(nn.Module):
    """[conv 3x3] -> noise -> bias -> LeakyReLU -> AdaIN(w): one synthesis layer."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, conv: bool, noise: bool):
        super().__init__()
        self.conv = EqualizedConv2d(c_in, c_out, 3, padding=1, bias=False) if conv else None
        self.noise = NoiseInjection(c_out) if noise else None
        self.bias = nn.Parameter(torch.zeros(1, c_out, 1, 1))
        self.act = nn.LeakyReLU(LEAK)
        self.adain = AdaIN(c_out, w_dim)

    def forward(
        self,
        x: Tensor,
        w: Tensor,
        generator: torch.Generator | None = None,
        noise: Tensor | None = None,
    ) -> Tensor:
        if self.conv is not None:
            x = self.conv(x)
        if self.noise is not None:
            x = self.noise(x, noise, generator)
        return self.adain(self.act(x + self.bias), w)


class SynthesisNetwork(nn.Module):
    """ws (N, L, w_dim) -> (N, C, H, W): a learned constant, then two style layers per
    resolution (L = 2 x resolutions), read out by a 1x1 convolution."""

    def __init__(self, w_dim: int, image_channels: int, sizes, channels, noise: bool):
        super().__init__()
        (h0, w0), c0 = sizes[0], channels[0]
        self.const = nn.Parameter(torch.ones(1, c0, h0, w0))
        self.layers = nn.ModuleList()
        c_in = c0
        for k, c in enumerate(channels):
            self.layers.append(StyleLayer(c_in, c, w_dim, conv=k > 0, noise=noise))
            self.layers.append(StyleLayer(c, c, w_dim, conv=True, noise=noise))
            c_in = c
        self.to_rgb = EqualizedConv2d(channels[-1], image_channels, 1, gain=1.0)
        self.sizes = list(sizes)

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def forward(
        self,
        ws: Tensor,
        generator: torch.Generator | None = None,
        noise: list[Tensor] | None = None,
    ) -> Tensor:
        """`noise`: one (N or 1, 1, h, w) image per layer to use instead of fresh draws."""
        x = self.const.expand(len(ws), -1, -1, -1)  # (N, C_0, h_0, w_0)
        for i, layer in enumerate(self.layers):
            if i % 2 == 0 and i > 0:
                x = resize(x, self.sizes[i // 2])  # nearest x2, before the resolution's conv
            x = layer(x, ws[:, i], generator, None if noise is None else noise[i])
        return self.to_rgb(x)

    def fixed_noise(self, generator: torch.Generator | None = None) -> list[Tensor]:
        """One noise image per layer, (1, 1, h, w), to share across a batch."""
        dev = self.const.device
        return [
            torch.randn(1, 1, *self.sizes[i // 2], generator=generator, device=dev)
            for i in range(len(self.layers))
        ]


class StyleGenerator(nn.Module):
    """The mapping network and the synthesis network, z -> w -> image."""

    def __init__(self, cfg: StyleGANConfig, image_channels: int, sizes):
        super().__init__()
        k = cfg.latent_dim
        self.mapping = MappingNetwork(k, k, cfg.mapping_layers, lr_mul=cfg.mapping_lr_mul)
        self.synthesis = SynthesisNetwork(k, image_channels, sizes, cfg.channels, cfg.noise)


def layer_groups(num_layers: int) -> dict[str, range]:
    """Style layers split by resolution into coarse, middle and fine thirds (figure 3's
    groups), two layers per resolution; with two resolutions there is no middle, with one
    all are coarse."""
    res = num_layers // 2
    third = max(1, round(res / 3))
    a, b = min(third, res), max(min(third, res), res - third)
    return {
        "coarse": range(0, 2 * a),
        "middle": range(2 * a, 2 * b),
        "fine": range(2 * b, num_layers),
    }


def parse_layers(spec: str, num_layers: int) -> range:
    """'coarse' | 'middle' | 'fine' | 'A-B' (layers A to B, inclusive) -> a range of layers."""
    groups = layer_groups(num_layers)
    if spec in groups:
        if not groups[spec]:
            raise GenzooError(
                f"--mix {spec}: this model has only {num_layers} style layers and no {spec} ones"
            )
        return groups[spec]
    a, sep, b = spec.partition("-")
    if sep and a.isdigit() and b.isdigit() and int(a) <= int(b) < num_layers:
        return range(int(a), int(b) + 1)
    raise GenzooError(
        f"--mix {spec!r}: choose coarse, middle, fine or a layer range A-B within "
        f"0-{num_layers - 1}"
    )


@register_model("stylegan", "StyleGAN: mapping network, AdaIN styles, noise, style mixing")
class StyleGAN(Resolutions, GAN):
    Config = StyleGANConfig
    data_kinds = ("image",)
    train_defaults: ClassVar[dict] = {"lr": 2e-3, "betas": (0.0, 0.99)}  # StyleGAN2's Adam

    def __init__(self, config, info):
        super().__init__(config, info)
        self.register_buffer("w_avg", torch.zeros(self.config.latent_dim))

    @property
    def num_layers(self) -> int:
        return 2 * len(self.config.channels)

    def build(self) -> None:
        cfg, c = self.config, self.info.shape[0]
        self.generator = StyleGenerator(cfg, c, self.sizes)
        self.discriminator = GrowingDiscriminator(
            c * cfg.pack, self.sizes, cfg.channels, cfg.minibatch_std, grow=False
        )

    # ---------------------------------------------------------------- z -> w -> image
    def mapping(self, z: Tensor) -> Tensor:
        """f(z): (N, k) -> w (N, k)."""
        return self.generator.mapping(z)

    def synthesize(
        self, ws: Tensor, generator: torch.Generator | None = None, noise=None
    ) -> Tensor:
        """g(ws): per-layer styles (N, L, k) -> images (N, C, H, W), linear output; noise
        drawn from `generator`, or the given per-layer images."""
        return self.generator.synthesis(ws, generator, noise)

    def styles(self, n: int, generator=None, mixing: float = 0.0) -> Tensor:
        """Per-layer styles of n fresh latents, (n, L, k); a `mixing` share of them crossed
        over with a second latent's (style-mixing regularization)."""
        w = self.mapping(self.sample_latent(n, generator))
        if mixing > 0:
            w2 = self.mapping(self.sample_latent(n, generator))
            return mix_styles(w, w2, self.num_layers, mixing, generator)
        return broadcast_styles(w, self.num_layers)

    def generate(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """G(z) with one w for every layer: (N, C, H, W)."""
        return self.synthesize(broadcast_styles(self.mapping(z), self.num_layers))

    def critic(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        s = len(self.sizes) - 1
        return self.discriminator(pack(x, self.config.pack), s, 1.0)

    # ---------------------------------------------------------------- training
    def fakes(self, n: int, y: Tensor | None = None) -> Tensor:
        """Training fakes with style mixing; a generator update also moves w_avg."""
        ws = self.styles(n, mixing=self.config.mixing_prob if self.training else 0.0)
        if self.training and torch.is_grad_enabled():  # only the G phase runs G with grad
            self.w_avg.copy_(track_w_avg(self.w_avg, ws[:, 0], self.config.w_avg_beta))
        return self.synthesize(ws)

    # ---------------------------------------------------------------- sampling
    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator=None,
        labels=None,
        truncation: float | None = None,
        cutoff: int | None = None,
    ) -> Tensor:
        """G(z) clamped to [-1, 1]; with `truncation` psi, w pulled toward w_avg (on the first
        `cutoff` layers only when given)."""
        if truncation is not None and truncation < 0:
            raise GenzooError(f"truncation {truncation}: choose psi >= 0 (0: the mean w)")
        ws = self.styles(n, generator)
        if truncation is not None:
            ws = truncate_styles(ws, self.w_avg, truncation, cutoff)
        return self.synthesize(ws, generator).clamp(-1, 1)

    @torch.no_grad()
    def truncation_sweep(
        self, psis: list[float], n: int, generator=None, cutoff: int | None = None
    ) -> Tensor:
        """One row per psi, the same n latents and noise in every row: (len(psis) n, C, H, W)."""
        ws = self.styles(n, generator)
        noise = self.generator.synthesis.fixed_noise(generator)
        rows = [
            self.synthesize(truncate_styles(ws, self.w_avg, psi, cutoff), noise=noise)
            for psi in psis
        ]
        return torch.cat(rows).clamp(-1, 1)

    def report_figures(self, data) -> list[SampleSets]:
        """Style-mixing grids (coarse and fine styles from B) and a truncation sweep."""
        out = []
        for group, layers in layer_groups(self.num_layers).items():
            if group == "middle" or not layers:
                continue
            g = torch.Generator(device=self.device).manual_seed(0)
            grid = self.mixing_grid(5, 3, layers, generator=g)
            out.append(
                SampleSets(
                    f"Style mixing: {group} styles",
                    f"top row: sources A; left column: sources B; each cell is A with B's "
                    f"styles on layers {layers.start}-{layers.stop - 1} ({group}), one noise "
                    "draw for the whole grid",
                    [("mixing", grid)],
                    6,
                )
            )
        psis = [1.0, 0.7, 0.5, 0.3, 0.0]
        g = torch.Generator(device=self.device).manual_seed(0)
        sweep = self.truncation_sweep(psis, 10, generator=g)
        out.append(
            SampleSets(
                "Truncation in W",
                "rows: psi = " + ", ".join(f"{p:g}" for p in psis) + " (w_avg + psi (w - w_avg));"
                " the same latents and noise in every row; psi 0 draws the mean style",
                [("truncation", sweep)],
            )
        )
        return out

    @torch.no_grad()
    def mixing_grid(
        self,
        n_a: int,
        n_b: int,
        layers: range,
        generator=None,
        truncation: float | None = None,
    ) -> Tensor:
        """The style-mixing figure: (1 + n_b) rows of (1 + n_a) images. The top row holds n_a
        sources A, the left column n_b sources B; cell (b, a) is A with the styles of
        `layers` taken from B. The top-left corner is blank (-1: background)."""
        wa = self.styles(n_a, generator)
        wb = self.styles(n_b, generator)
        if truncation is not None:
            wa = truncate_styles(wa, self.w_avg, truncation)
            wb = truncate_styles(wb, self.w_avg, truncation)
        take = torch.zeros(self.num_layers, dtype=torch.bool, device=wa.device)
        take[list(layers)] = True
        mixed = torch.where(take[None, None, :, None], wb[:, None], wa[None])  # (n_b, n_a, L, k)
        # one noise image per layer for the whole grid, so only the styles differ between cells
        noise = self.generator.synthesis.fixed_noise(generator)
        render = lambda ws: self.synthesize(ws, noise=noise).clamp(-1, 1)  # noqa: E731
        img_a, img_b = render(wa), render(wb)
        cells = torch.stack([render(mixed[i]) for i in range(n_b)])  # (n_b, n_a, C, H, W)
        blank = torch.full_like(img_a[:1], -1.0)
        rows = [torch.cat([blank, img_a])]
        rows += [torch.cat([img_b[i : i + 1], cells[i]]) for i in range(n_b)]
        return torch.cat(rows)
