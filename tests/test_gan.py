"""GAN maths, layers and behaviour: the optimal discriminator and the game's value, the losses'
gradients, the penalties, the minibatch layers, packing, replay, truncation, diagnostics and
the commands."""

from __future__ import annotations

import json
import math
import typing

import numpy as np
import pytest
import torch
from torch import nn

import genzoo
from genzoo.cli.main import main
from genzoo.models.gan import augment as A
from genzoo.models.gan import losses as L
from genzoo.models.gan.common import ReplayBuffer, truncated_normal
from genzoo.models.gan.gan import Augment
from genzoo.models.gan.networks import DCGenerator, MLPTrunk
from genzoo.nn.gan_layers import Maxout, MinibatchDiscrimination, MinibatchStdDev, pack
from genzoo.train import TrainConfig, Trainer
from genzoo.train.evaluation import diagnosis

from .conftest import run_cli, tiny


def normal_pdf(x: torch.Tensor, mu: float) -> torch.Tensor:
    return torch.exp(-0.5 * (x - mu) ** 2) / math.sqrt(2 * math.pi)


def train_discriminator(mu_fake: float, steps: int = 1500, seed: int = 0) -> nn.Module:
    """A small MLP D trained by the discriminator's loss on p_data = N(0, 1) vs p_g = N(mu, 1)."""
    torch.manual_seed(seed)
    d = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1))
    opt = torch.optim.Adam(d.parameters(), lr=3e-3)
    for _ in range(steps):
        real, fake = torch.randn(512, 1), torch.randn(512, 1) + mu_fake
        opt.zero_grad()
        L.d_loss_bce(d(real).squeeze(1), d(fake).squeeze(1)).backward()
        opt.step()
    return d.eval()


# ---------------------------------------------------------------- theory (Goodfellow et al.)
def test_trained_discriminator_approaches_the_optimal_one():
    d = train_discriminator(mu_fake=1.5)
    x = torch.linspace(-2.0, 3.5, 56)[:, None]
    with torch.no_grad():
        got = torch.sigmoid(d(x)).squeeze(1)
    want = L.optimal_discriminator(normal_pdf(x, 0.0), normal_pdf(x, 1.5)).squeeze(1)
    assert (got - want).abs().max() < 0.05, (got - want).abs().max()
    # and far from the truth before training: the check can fail
    torch.manual_seed(0)
    untrained = torch.sigmoid(nn.Linear(1, 1)(x)).squeeze(1).detach()
    assert (untrained - want).abs().max() > 0.2


def test_the_value_of_the_game_at_the_optimum_is_minus_log4_plus_2_jsd():
    """V(D*, G) = -log 4 + 2 JSD(p_data || p_g) (Theorem 1): -log 4 when p_g = p_data."""
    grid = torch.linspace(-12, 14, 200_001, dtype=torch.float64)
    for mu in (0.0, 1.5):
        p, q = normal_pdf(grid, 0.0), normal_pdf(grid, mu)
        m = (p + q) / 2
        kl = lambda a, b: torch.trapezoid(a * (a / b).log(), grid)  # noqa: E731
        want = -L.LOG4 + (kl(p, m) + kl(q, m)).item()  # 2 JSD = KL(p||m) + KL(q||m)
        d = train_discriminator(mu_fake=mu)
        torch.manual_seed(1)
        real, fake = torch.randn(200_000, 1), torch.randn(200_000, 1) + mu
        with torch.no_grad():
            value = L.game_value(torch.sigmoid(d(real)), torch.sigmoid(d(fake))).item()
        assert value == pytest.approx(want, abs=0.02), (mu, value, want)
    half = torch.full((10,), 0.5, dtype=torch.float64)
    assert L.game_value(half, half).item() == pytest.approx(-math.log(4), abs=1e-12)
    assert L.optimal_discriminator(torch.tensor(0.3), torch.tensor(0.3)) == 0.5


def test_minimax_generator_loss_saturates_where_the_non_saturating_one_does_not():
    """Early in training D rejects fakes (D(G(z)) ~ 0): log(1 - D) has a vanishing gradient
    in the logit, -log D a gradient of about -1."""
    logit = torch.tensor([-10.0], requires_grad=True)
    (g_mm,) = torch.autograd.grad(L.g_loss_minimax(logit), logit)
    (g_ns,) = torch.autograd.grad(L.g_loss_non_saturating(logit), logit)
    assert abs(g_mm.item()) < 1e-4 and g_ns.item() == pytest.approx(-1.0, abs=1e-4)
    # both push D(G(z)) up: the same sign
    assert g_mm.item() < 0 and g_ns.item() < 0


def test_losses_match_their_formulas():
    real, fake = torch.tensor([2.0, -1.0, 0.5]), torch.tensor([-3.0, 0.2, 1.0])
    dr, df = torch.sigmoid(real), torch.sigmoid(fake)
    want = -(dr.log().mean() + (1 - df).log().mean())
    assert L.d_loss_bce(real, fake).item() == pytest.approx(want.item(), rel=1e-6)
    smooth = -(0.9 * dr.log() + 0.1 * (1 - dr).log()).mean() - (1 - df).log().mean()
    assert L.d_loss_bce(real, fake, 0.1).item() == pytest.approx(smooth.item(), rel=1e-6)
    assert L.g_loss_non_saturating(fake).item() == pytest.approx(-df.log().mean().item(), rel=1e-6)
    assert L.g_loss_minimax(fake).item() == pytest.approx((1 - df).log().mean().item(), rel=1e-6)
    assert L.d_loss_wasserstein(real, fake).item() == pytest.approx(
        (fake.mean() - real.mean()).item()
    )
    hinge = torch.relu(1 - real).mean() + torch.relu(1 + fake).mean()
    assert L.d_loss_hinge(real, fake).item() == pytest.approx(hinge.item())


def test_gradient_penalty_of_a_linear_critic_is_exact():
    """f(x) = w.x + b has grad w everywhere: the penalty is (||w|| - 1)^2, and R1 ||w||^2."""
    w = torch.tensor([[0.3, -1.2, 2.0, 0.5]])
    f = nn.Linear(4, 1)
    with torch.no_grad():
        f.weight.copy_(w)

    def critic(x):
        return f(x.flatten(1)).squeeze(1)

    x = torch.randn(16, 4)
    gp = L.gradient_penalty(critic, L.interpolates(x, torch.randn(16, 4)))
    assert gp.item() == pytest.approx((w.norm().item() - 1) ** 2, rel=1e-5)
    assert L.r1_penalty(critic, x).item() == pytest.approx(w.norm().item() ** 2, rel=1e-5)
    gp.backward()  # differentiable in the critic's parameters (it trains the critic)
    assert f.weight.grad is not None and f.weight.grad.abs().sum() > 0
    # under mixed precision the penalties still run in fp32, where the exact values hold
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert f(x).dtype == torch.bfloat16  # autocast is on for the critic's own layers
        r1 = L.r1_penalty(critic, x.bfloat16())
    assert r1.dtype == torch.float32
    assert r1.item() == pytest.approx(w.norm().item() ** 2, rel=1e-5)


# ---------------------------------------------------------------- layers
def test_minibatch_discrimination_tells_a_collapsed_batch_from_a_varied_one():
    layer = MinibatchDiscrimination(8, num_kernels=6, kernel_dim=3)
    same = torch.randn(1, 8).expand(10, 8)
    out = layer(same)
    assert out.shape == (10, 14) and torch.equal(out[:, :8], same)
    assert torch.allclose(out[:, 8:], torch.full((10, 6), 9.0))  # exp(0) for the 9 others
    varied = layer(torch.randn(10, 8) * 100)
    assert varied[:, 8:].max() < 0.1


def test_minibatch_stddev_is_the_mean_std_within_groups():
    x = torch.randn(8, 3, 4, 4)
    out = MinibatchStdDev(group_size=4)(x)
    assert out.shape == (8, 4, 4, 4)
    g = x.view(4, 2, 3, 4, 4)  # member j of each group: examples j, j + 2, j + 4, j + 6
    want = (g.var(0, unbiased=False) + 1e-8).sqrt().flatten(1).mean(1)  # (2,)
    assert torch.allclose(out[:, 3, 0, 0], want.repeat(4))
    assert (out[:, 3] == out[:, 3, :1, :1]).all()  # constant map
    collapsed = MinibatchStdDev(4)(torch.ones(8, 5))
    assert collapsed.shape == (8, 6) and collapsed[:, 5].max() < 1e-3
    assert MinibatchStdDev(4)(torch.randn(6, 5)).shape == (6, 6)  # group shrinks to divide 6


def test_pack_concatenates_consecutive_examples():
    x = torch.arange(14.0).view(7, 2)
    assert torch.equal(pack(x, 3), torch.tensor([[0.0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]))
    img = torch.randn(4, 1, 5, 5)
    p = pack(img, 2)
    assert p.shape == (2, 2, 5, 5) and torch.equal(p[1, 1], img[3, 0])
    assert pack(x, 1) is x


def test_diffaugment_color_moves_each_image_as_a_whole():
    torch.manual_seed(0)
    flat = torch.full((64, 3, 8, 8), 0.2)  # a grey image: saturation and contrast keep it
    out = A.color(flat)
    shift = out[:, :, 0, 0] - 0.2
    assert torch.allclose(out, out[:, :1, :1, :1].expand_as(out), atol=1e-6)  # still flat
    assert shift.abs().max() <= 0.5 and shift[:, 0].std() > 0.2  # brightness u - 1/2 each
    two = torch.tensor([-1.0, 1.0]).repeat_interleave(32).view(1, 1, 8, 8).repeat(64, 3, 1, 1)
    spread = A.color(two).flatten(1).std(1) / two.flatten(1).std(1)  # contrast u + 1/2
    assert spread.min() >= 0.5 - 1e-5 and spread.max() <= 1.5 + 1e-5


def test_diffaugment_translation_shifts_whole_pixels_within_an_eighth():
    torch.manual_seed(0)
    x = torch.zeros(200, 1, 16, 16)
    x[:, 0, 8, 8] = 1.0  # one lit pixel, far from the border
    out = A.translation(x)
    lit = out[:, 0].flatten(1).argmax(1)
    dy, dx = lit // 16 - 8, lit % 16 - 8
    assert torch.equal(out.sum((1, 2, 3)), torch.ones(200))  # moved, not blurred or lost
    assert dy.abs().max() == 2 and dx.abs().max() == 2  # 16 / 8 pixels, both ways
    assert len(set(zip(dy.tolist(), dx.tolist(), strict=True))) == 25
    edge = A.translation(torch.ones(200, 1, 16, 16))  # uncovered rows and columns are 0
    assert edge.sum((1, 2, 3)).min() == 14 * 14 and edge.sum((1, 2, 3)).max() == 256


def test_diffaugment_cutout_blanks_at_most_a_half_side_square():
    torch.manual_seed(0)
    out = A.cutout(torch.ones(300, 2, 12, 12))
    blank = (out == 0).sum((2, 3))
    assert torch.equal(blank[:, 0], blank[:, 1])  # the same square in every channel
    assert blank.max() == 36 and blank.min() >= 3 * 3 and (blank < 36).any()  # clipped at edges


def test_diffaugment_is_shown_to_d_in_training_only_and_gradients_reach_g():
    ds = genzoo.load_dataset("digits")
    model = build("dcgan", ds, augment=["color", "translation", "cutout"])
    x = model.to_model(ds.x_train[:16])
    model.train()
    torch.manual_seed(0)
    assert not torch.equal(model.d_input(x), x)
    model.eval()
    assert torch.equal(model.d_input(x), x)
    model.train()
    loss = model.g_loss({"x": x}).loss
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.generator.parameters())


# ---------------------------------------------------------------- ADA
def test_ada_moves_p_by_the_images_seen_toward_its_target():
    # Karras et al. 2020: p += sign(r_t - target) * N / (ada_kimg * 1000), clamped to [0, 1]
    assert A.adjust_probability(0.2, 0.9, 0.6, 256, 500) == pytest.approx(0.2 + 256 / 500_000)
    assert A.adjust_probability(0.2, 0.1, 0.6, 256, 500) == pytest.approx(0.2 - 256 / 500_000)
    assert A.adjust_probability(0.2, 0.6, 0.6, 256, 500) == 0.2
    assert A.adjust_probability(0.0, 0.0, 0.6, 10**6, 500) == 0.0
    assert A.adjust_probability(0.9, 1.0, 0.6, 10**6, 500) == 1.0


def test_ada_applies_each_transform_with_probability_p():
    x = torch.ones(4000, 1, 8, 8)
    torch.manual_seed(0)
    assert torch.equal(A.augment_with_probability(x, ("cutout",), 0.0), x)
    cut = A.augment_with_probability(x, ("cutout",), 0.3)
    changed = (cut != x).flatten(1).any(1).float().mean()
    assert float(changed) == pytest.approx(0.3, abs=0.03)  # cutout always blanks some pixels
    torch.manual_seed(1)
    always = A.augment_with_probability(x, ("translation", "cutout"), 1.0)
    torch.manual_seed(1)
    assert torch.equal(always, A.diff_augment(x, ("translation", "cutout")))


def test_ada_raises_p_while_d_is_sure_of_the_reals_and_resumes_it():
    ds = genzoo.load_dataset("digits")
    model = build("dcgan", ds, augment=["translation"], ada_target=0.6, ada_kimg=1.0)
    model.train()
    x = model.to_model(ds.x_train[:16])
    model.critic = lambda v, y=None: torch.ones(len(v), 1)  # D sure of every real: r_t = 1
    for _ in range(8):  # two intervals of 4 D steps, 64 images each
        terms = model.d_loss({"x": x}).terms
    assert model.ada["p"] == pytest.approx(2 * 64 / 1000)
    assert float(terms["ada_p"]) == pytest.approx(0.128) and float(terms["ada_rt"]) == 1.0
    state = model.training_state()
    other = build("dcgan", ds, augment=["translation"], ada_target=0.6, ada_kimg=1.0)
    other.load_training_state(state)
    assert other.ada == model.ada
    model.critic = lambda v, y=None: -torch.ones(len(v), 1)  # r_t = -1: p comes down
    for _ in range(4):
        model.d_loss({"x": x})
    assert model.ada["p"] == pytest.approx(64 / 1000)


def test_ada_needs_transforms_to_tune():
    ds = genzoo.load_dataset("digits")
    with pytest.raises(genzoo.ConfigError, match="ada_target"):
        build("dcgan", ds, ada_target=0.6)
    with pytest.raises(genzoo.ConfigError, match="ada_target"):
        build("dcgan", ds, augment=["cutout"], ada_target=1.5)


def test_a_resize_convolution_paints_no_checkerboard_where_a_transposed_one_does():
    torch.manual_seed(0)
    flat = torch.ones(1, 8, 6, 6)  # a constant map: its upsampling should stay constant
    stages = {}
    for mode in ("transposed", "nearest"):
        g = DCGenerator(4, (3, 24, 24), (8, 8), "none", mode)
        stage = g.deconv[: 3 if mode == "nearest" else 1]  # the first doubling, 6 -> 12
        stages[mode] = stage(flat)[0, :, 2:-2, 2:-2]  # inside, away from the zero padding
        assert g(torch.randn(2, 4)).shape == (2, 3, 24, 24)
    spread = {k: (v.amax((1, 2)) - v.amin((1, 2))).max().item() for k, v in stages.items()}
    assert spread["nearest"] < 1e-5 and spread["transposed"] > 1e-2
    odd = DCGenerator(4, (1, 27, 27), (8, 8), "batch", "nearest")
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in odd.modules())
    bilinear = DCGenerator(4, (1, 27, 27), (8, 8), "batch", "bilinear")
    assert bilinear(torch.randn(2, 4)).shape == (2, 1, 27, 27)


def test_spectral_norm_bounds_every_weight_of_d_and_only_of_d():
    ds = genzoo.load_dataset("digits")
    model = build("dcgan", ds, d_norm="spectral", loss="hinge")
    model.train()
    with torch.no_grad():
        for _ in range(3):  # power iterations run in training forwards
            model.critic(torch.randn(8, *ds.info().shape))

    def sigmas(net):  # the largest singular value of each weight, as SN reshapes it
        layers = [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
        return [torch.linalg.matrix_norm(m.weight.detach().flatten(1), 2).item() for m in layers]

    assert sigmas(model.discriminator) == pytest.approx([1.0] * 3, rel=0.02)  # 2 convs, read-out
    plain = build("dcgan", ds, d_norm="none")
    assert all(abs(s - 1) > 0.05 for s in sigmas(plain.discriminator))
    assert not any(hasattr(m, "parametrizations") for m in model.generator.modules())


def test_dcgan_initialization_draws_weights_from_a_normal_of_the_set_std():
    ds = genzoo.load_dataset("digits")
    for norm in ("batch", "spectral"):  # a spectral weight is drawn in its raw parameter
        model = build("dcgan", ds, init_std=0.02, d_norm=norm)
        layers = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
        for m in [*layers, *(m for m in model.modules() if isinstance(m, nn.Linear))]:
            sn = getattr(m, "parametrizations", None)
            w = (sn.weight.original if sn is not None else m.weight).detach()  # unnormalized
            if w.numel() >= 500:  # the sample std of N(0, 0.02^2) within 15%
                assert w.mean().abs() < 0.005 and w.std().item() == pytest.approx(0.02, rel=0.15)
            assert m.bias is None or not m.bias.detach().any()
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d)]
    scales = torch.cat([m.weight.detach() for m in norms])  # N(1, 0.02^2), not PyTorch's ones
    assert (scales - 1).abs().max() < 5 * 0.02 and scales.std() > 0.005
    plain = build("dcgan", ds, init_std=None)  # PyTorch's default: kaiming-uniform, not 0.02
    first = plain.discriminator.trunk.net[0].weight.detach()
    assert first.std().item() > 0.05


def test_every_hidden_layer_of_a_maxout_trunk_is_maxout_under_every_norm():
    for norm in ("none", "spectral", "layer"):
        trunk = MLPTrunk(6, (8, 8, 4), "maxout", 3, norm)
        units = [m for m in trunk.modules() if isinstance(m, Maxout)]
        assert len(units) == 3 and not any(isinstance(m, nn.LeakyReLU) for m in trunk.modules())
        spectral = [hasattr(u.linear, "parametrizations") for u in units]
        assert spectral == [norm == "spectral"] * 3
        assert trunk(torch.randn(5, 6)).shape == (5, 4)


def test_the_augment_setting_offers_exactly_the_transforms_there_are():
    assert set(typing.get_args(Augment)) == set(A.TRANSFORMS)


def test_truncated_normal_stays_inside_and_is_seeded():
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    z = truncated_normal((2000, 8), 0.5, generator=g())
    assert z.abs().max() <= 0.5 and z.std() < 0.35  # a uniform-like core, not N(0, 1)
    assert torch.equal(z, truncated_normal((2000, 8), 0.5, generator=g()))


def test_replay_buffer_mixes_the_configured_share_and_round_trips():
    torch.manual_seed(0)
    buf = ReplayBuffer(size=10, ratio=0.25)
    first = torch.zeros(8, 2)
    out, _ = buf.mix(first, None)
    assert torch.equal(out, first) and buf.count == 8  # empty: nothing to mix yet
    out, _ = buf.mix(torch.ones(8, 2), None)
    assert out.shape == (8, 2) and int((out[:, 0] == 0).sum()) == 2  # 25% from the past
    assert buf.count == 10
    again = ReplayBuffer(10, 0.25)
    again.load_state_dict({k: v.clone() for k, v in buf.state_dict().items()})
    assert again.count == 10 and torch.equal(again.x, buf.x)


# ---------------------------------------------------------------- models
@pytest.fixture(scope="module")
def ring():
    return genzoo.load_dataset("ring8", n=2000)


def build(name, ds, **extra):
    model = genzoo.build_model(name, ds.info(), {**tiny(name, ds.kind), **extra}, seed=0)
    model.transform = ds.transform(model.data_range())
    return model


def test_k_discriminator_steps_per_generator_step(ring, tmp_path):
    model = build("wgan", ring)
    assert [p.every for p in model.phases()] == [1, 5]
    cfg = TrainConfig(steps=10, batch_size=50, log_every=1, eval_every=0, tensorboard=False)
    Trainer(model, ring, cfg, out=tmp_path / "run", console=False).fit()
    lines = [json.loads(s) for s in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in lines if "d/loss" in r]
    assert sum("g/loss" in r for r in train) == 2 and all("d/grad_norm" in r for r in train)


def test_weight_clipping_bounds_the_critic_from_the_start_and_after_every_update(ring):
    model = build("wgan", ring, clip=0.01)
    bound = lambda: max(p.abs().max().item() for p in model.discriminator.parameters())  # noqa: E731
    assert bound() <= 0.01
    with torch.no_grad():
        for p in model.discriminator.parameters():
            p.mul_(100)
    assert bound() > 0.01
    cfg = TrainConfig(steps=1, batch_size=32, log_every=0, eval_every=0, tensorboard=False)
    Trainer(model, ring, cfg, console=False).fit()  # one critic update
    assert bound() <= 0.01
    assert max(p.abs().max() for p in model.generator.parameters()) > 0.01  # G is not clipped


def test_resume_with_a_replay_buffer_is_bit_identical(ring, tmp_path):
    def run(steps, out, resume=False):
        model = build("gan", ring, replay_size=64, replay_ratio=0.5)
        cfg = TrainConfig(
            steps=steps,
            batch_size=32,
            log_every=0,
            eval_every=0,
            checkpoint_every=10,
            tensorboard=False,
            final_eval=False,
        )
        Trainer(model, ring, cfg, out=out, console=False).fit(resume=resume)
        return model

    whole = run(20, tmp_path / "whole")
    run(10, tmp_path / "split")
    resumed = run(20, tmp_path / "split", resume=True)
    for (k, a), (_, b) in zip(
        whole.state_dict().items(), resumed.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), k
    assert torch.equal(whole.replay.x, resumed.replay.x)


def test_diagnosis_counts_modes_and_warns_on_collapse(ring):
    model = build("gan", ring).eval()
    x = model.to_model(ring.x_test[:500])
    collapsed = diagnosis(model, {"x": x}, seed=0)
    assert "mode_collapse" in collapsed.warnings  # an untrained G puts everything in one blob
    real = model.to_model(ring.x_test)
    model.generate = lambda z, y=None: real[torch.randint(0, len(real), (len(z),))]  # a perfect G
    healthy = diagnosis(model, {"x": x}, seed=0)
    assert healthy.values["modes"] == 8 and "mode_collapse" not in healthy.warnings
    assert healthy.values["high_quality"] > 0.95


def test_only_models_that_watch_coverage_have_it_counted(ring):
    x = build("vae", ring).to_model(ring.x_test[:200])
    assert "modes" not in diagnosis(build("vae", ring), {"x": x}, seed=0).values
    assert "modes" in diagnosis(build("gan", ring), {"x": x}, seed=0).values


def test_diagnosis_warns_when_the_discriminator_overpowers(ring):
    model = build("gan", ring).eval()
    x = model.to_model(ring.x_test[:500])
    assert "d_overpowers" not in model.diagnose(x).warnings
    model.critic = lambda v, y=None: torch.where(v.abs().sum(1) > 0.7, 20.0, -20.0)
    model.generate = lambda z, y=None: torch.zeros(len(z), 2)  # every fake at the origin
    diag = model.diagnose(x)
    assert diag.values["d_real"] > 0.95 and "d_overpowers" in diag.warnings


def test_cgan_samples_the_requested_classes(ring):
    cfg = TrainConfig(steps=1500, batch_size=100, log_every=0, eval_every=0, tensorboard=False)
    model = build("cgan", ring, g_hidden=[64, 64], d_hidden=[64, 64], latent_dim=2)
    Trainer(model, ring, cfg, console=False).fit()
    labels = torch.arange(400) % 8
    s = torch.as_tensor(model.to_data(model.eval().sample(400, labels=labels)))
    means = torch.tensor(ring.meta["means"])
    nearest = torch.cdist(s.double(), means.double()).argmin(1)
    assert (nearest == labels).float().mean() > 0.9


def test_config_errors_name_the_field(ring):
    with pytest.raises(genzoo.GenzooError, match="label_smoothing"):
        genzoo.build_model("gan", ring.info(), {"loss": "wasserstein", "label_smoothing": 0.1})
    with pytest.raises(genzoo.GenzooError, match="d_norm"):
        genzoo.build_model("wgan-gp", ring.info(), {"d_norm": "batch"})
    with pytest.raises(genzoo.GenzooError, match="image data for dcgan"):
        genzoo.build_model("dcgan", ring.info())
    with pytest.raises(genzoo.GenzooError, match="architecture"):
        genzoo.build_model("gan", ring.info(), {"architecture": "conv"})
    with pytest.raises(genzoo.GenzooError, match="pack"):
        genzoo.build_model("cgan", ring.info(), {"conditioning": "projection", "pack": 2})
    unlabelled = genzoo.DataInfo("points", (2,), (0.0, 1.0), source="mine.csv")
    for name in ("cgan", "cvae"):  # both conditional models share one check
        with pytest.raises(genzoo.GenzooError, match=f"data='mine.csv'.*a {name} is cond"):
            genzoo.build_model(name, unlabelled)


# ---------------------------------------------------------------- commands
def test_gan_commands_end_to_end(tmp_path):
    run = tmp_path / "cgan"
    run_cli(
        "train", "cgan", "--data", "digits", "--steps", "30", "--out", str(run),
        "--set", "model.g_hidden=[32]", "--set", "model.d_hidden=[32]",
        "--set", "train.eval_every=15", check=True,
    )  # fmt: skip
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 30
    records = [json.loads(s) for s in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(
        "diag/d_real" in r and "diag/classes_covered" in r for r in records if "diag/d_fake" in r
    )
    assert any("diag/d_fake" in r for r in records)
    # 30 steps cannot cover ten classes: the feature network notices, and the run says so
    assert any("mode collapse" in w["message"] for w in summary["warnings"])
    out = tmp_path / "s.npy"
    run_cli("sample", str(run), "--n", "20", "--labels", "3", "--truncation", "0.7",
            "--out", str(out), check=True)  # fmt: skip
    assert np.load(out).shape == (20, 1, 8, 8)
    strip = tmp_path / "walk.png"
    run_cli("interpolate", str(run), "--label", "5", "--out", str(strip), check=True)
    assert strip.stat().st_size > 0
    bad = run_cli("interpolate", str(run), "--a", "3", "--out", str(strip))
    assert bad.returncode == 2 and "has no encoder" in bad.stderr
    bad = run_cli("sample", str(run), "--truncation", "-1", "--out", str(out))
    assert bad.returncode == 2 and "psi > 0" in bad.stderr
    html = (run / "report.html").read_text()
    for title in ("D(real) and D(fake)", "Gradient norms", "Samples during training"):
        assert title in html
    assert "Interpolations" in html


# ring8 with std 0.05 (modes 15 std apart): small enough nets to train in seconds, and a
# discriminator that is 100x slower than its generator, the textbook recipe for collapse: G
# runs to wherever D currently scores highest before D can move that point away.
RING_RUN = [
    "--data", "ring8", "--steps", "2000",
    "--set", "data.n=4000", "--set", "data.noise=0.05",
    "--set", "model.latent_dim=2", "--set", "model.g_hidden=[128,128]",
    "--set", "model.d_hidden=[128,128]", "--set", "model.g_norm=none",
    "--set", "train.lr=1e-3", "--set", "train.batch_size=100",
    "--set", "train.schedule=linear", "--set", "train.eval_every=1000",
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    "label, settings, flagged",
    [("healthy", [], False), ("collapsing", ["--set", "model.d_lr=1e-5"], True)],
)
def test_training_flags_a_collapsing_gan_and_not_a_healthy_one(
    label, settings, flagged, seed, tmp_path
):
    out = tmp_path / label
    proc = run_cli("train", "gan", *RING_RUN, *settings, "--seed", str(seed), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    final = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()][-1]
    standing = [w for w in summary["warnings"] if "cleared_step" not in w]
    said = "mode collapse" in proc.stdout + proc.stderr
    if flagged:
        assert final["diag/modes"] < 8 and said
        assert any(w["message"].startswith("mode collapse") for w in standing), standing
    else:
        assert final["diag/modes"] == 8 and not standing, standing  # nor does D overpower G


# ---------------------------------------------------------------- one learning rate per optimizer
def test_train_lr_is_the_gans_learning_rate_and_d_lr_the_discriminators(tmp_path, capsys):
    from genzoo.run import build_run_config

    rc = build_run_config("dcgan")
    assert (rc.train.lr, tuple(rc.train.betas)) == (2e-4, (0.5, 0.999))  # DCGAN's Adam, shown
    assert build_run_config("wgan").train.optimizer == "rmsprop"
    assert main(["train", "dcgan", "--print-config"]) == 0
    assert "lr: 0.0002" in capsys.readouterr().out
    out = tmp_path / "run"
    argv = ["train", "gan", "--data", "digits", "--steps", "2", "--out", str(out), "--set",
            "train.lr=1e-5", "--set", "model.d_lr=3e-5", "--set", "train.log_every=1"]  # fmt: skip
    assert main(argv) == 0
    logged = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    assert logged["g/lr"] == 1e-5 and logged["d/lr"] == 3e-5  # honoured, as set
    assert main(["info", str(out)]) == 0
    assert "adam lr 1e-05" in capsys.readouterr().out
    with pytest.raises(genzoo.GenzooError, match="unknown config field model.lr"):
        build_run_config("gan", overrides=["model.lr=1e-3"])


def test_model_folders_with_the_retired_lr_fields_still_load(tmp_path):
    from genzoo.train.checkpoint import save_model_folder

    ds = genzoo.load_dataset("digits")
    model = genzoo.build_model("gan", ds.info(), {"g_hidden": [8], "d_hidden": [8]}, seed=0)
    model.transform = ds.transform(model.data_range())
    save_model_folder(tmp_path / "m", model)
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    meta["config"] |= {"lr": 2e-4, "betas": [0.5, 0.999], "optimizer": "adam"}  # as 0.1 wrote
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    (tmp_path / "m" / "CHECKSUMS").unlink()  # edited by hand: no checksums to hold it to
    assert genzoo.load(tmp_path / "m").config.g_hidden == (8,)
