"""Maths of the autoencoder family: losses against their formulas, the code Gaussian used for
sampling, and that training actually learns to reconstruct."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import genzoo
from genzoo.errors import ConfigError
from genzoo.models.autoencoders import common
from genzoo.models.autoencoders.common import bce_with_logits, mse
from genzoo.train import TrainConfig, Trainer


def test_losses_match_their_formulas():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(5, 7, generator=g)
    logits = torch.randn(5, 7, generator=g)
    p = torch.sigmoid(logits)
    manual = -(x * p.log() + (1 - x) * (1 - p).log()).mean()
    assert torch.allclose(bce_with_logits(logits, x), manual, atol=1e-6)
    assert torch.allclose(mse(p, x), ((p - x) ** 2).mean())


def test_sampling_draws_codes_from_the_tracked_gaussian():
    info = genzoo.DataInfo("points", (6,), (0.0, 1.0))
    model = genzoo.build_model(
        "ae",
        info,
        {"latent_dim": 3, "hidden": [8], "prior_momentum": 1.0, "output_activation": "none"},
    )
    g = torch.Generator().manual_seed(1)
    mix = torch.tensor([[1.0, 0, 0], [0.5, 2.0, 0], [0, -1.0, 0.3]])
    z = torch.randn(4000, 3, generator=g) @ mix.T + torch.tensor([1.0, -2.0, 0.5])
    with torch.autocast("cpu", dtype=torch.bfloat16):  # half-precision codes, fp32 moments
        model._track_codes(z.bfloat16())
    assert model.z_mean.dtype == model.z_moment2.dtype == torch.float32
    assert torch.allclose(model.z_mean, z.bfloat16().float().mean(0), atol=1e-5)
    model._track_codes(z)  # momentum 1: the moments of this batch exactly
    assert torch.allclose(model.z_mean, z.mean(0), atol=1e-5)
    model.decode = lambda codes: codes  # look at the codes themselves
    drawn = model.sample(40000, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(drawn.mean(0), z.mean(0), atol=0.05)
    cov = torch.cov(z.T, correction=0)
    assert torch.allclose(torch.cov(drawn.T, correction=0), cov, atol=0.08)


def test_the_code_statistics_only_move_in_training():
    info = genzoo.DataInfo("points", (4,), (0.0, 1.0))
    model = genzoo.build_model("ae", info, {"latent_dim": 2, "hidden": [8]}).eval()
    before = model.z_mean.clone()
    model.loss({"x": torch.rand(16, 4)})
    assert torch.equal(model.z_mean, before)
    model.train().loss({"x": torch.rand(16, 4)})
    assert not torch.equal(model.z_mean, before)


def test_training_reconstructs_about_as_well_as_pca_with_the_same_code_size():
    """A nonlinear AE with k codes should match linear PCA with k components (or beat it)."""
    from sklearn.decomposition import PCA

    ds = genzoo.load_dataset("digits")
    model = genzoo.build_model("ae", ds.info(), {"latent_dim": 8, "hidden": [128]}, seed=0)
    Trainer(
        model,
        ds,
        TrainConfig(steps=400, batch_size=64, log_every=0, tensorboard=False),
        console=False,
    ).fit()
    t = model.transform
    x_test = torch.as_tensor(t.forward(ds.x_test))
    mean_image = torch.as_tensor(t.forward(ds.x_train)).mean(0)
    baseline = float(((x_test - mean_image) ** 2).mean())
    flat_train = t.forward(ds.x_train).reshape(len(ds.x_train), -1)
    pca = PCA(8).fit(flat_train)
    flat_test = x_test.flatten(1).numpy()
    pca_err = float(((pca.inverse_transform(pca.transform(flat_test)) - flat_test) ** 2).mean())
    with torch.no_grad():
        err = float(((model.eval().reconstruct(x_test) - x_test) ** 2).mean())
    assert pca_err < baseline  # the reference itself is meaningful
    assert err < 1.1 * pca_err, (err, pca_err, baseline)


# ---------------------------------------------------------------- the family

IMG = genzoo.DataInfo("image", (1, 8, 8), (0.0, 16.0))
PTS = genzoo.DataInfo("points", (2,), (-1.0, 1.0))


def test_tied_decoder_uses_the_encoder_transposes():
    tied = genzoo.build_model("ae", IMG, {"hidden": [16], "latent_dim": 4, "tied": True})
    free = genzoo.build_model("ae", IMG, {"hidden": [16], "latent_dim": 4})
    weights = lambda m: sum(p.numel() for n, p in m.named_parameters() if "weight" in n)  # noqa: E731
    assert weights(tied) * 2 == weights(free)
    z = torch.randn(3, 4)
    h = F.relu(F.linear(z, tied.enc[1].weight.t(), tied.dec_bias[0]))
    manual = F.linear(h, tied.enc[0].weight.t(), tied.dec_bias[1]).view(3, 1, 8, 8)
    assert torch.allclose(tied.decode_logits(z), manual)


def test_greedy_stages_train_one_layer_each_then_the_whole():
    model = genzoo.build_model("ae", IMG, {"hidden": [16, 8], "latent_dim": 4, "greedy_steps": 10})
    phases = model.phases()
    assert [(p.name, p.start, p.stop) for p in phases] == [
        ("layer1", 0, 10),
        ("layer2", 10, 20),
        ("layer3", 20, 30),
        ("ae", 30, None),
    ]
    batch = {"x": torch.rand(5, 1, 8, 8)}
    for i, phase in enumerate(phases[:3]):
        model.zero_grad(set_to_none=True)
        phase.loss(batch).loss.backward()
        touched = {n.split(".")[1] for n, p in model.named_parameters() if p.grad is not None}
        assert touched == {str(i), str(2 - i)}  # enc.i and its mirror dec.(2-i)
    assert [p.runs_at(s) for p in phases for s in (0, 9, 10, 30)] == [
        True,
        True,
        False,
        False,
        False,
        False,
        True,
        False,
        False,
        False,
        False,
        False,
        False,
        False,
        False,
        True,
    ]


def test_greedy_training_runs_through_the_trainer(capsys):
    ds = genzoo.load_dataset("digits")
    model = genzoo.build_model(
        "ae", ds.info(), {"hidden": [32], "latent_dim": 8, "greedy_steps": 40, "tied": True}, seed=0
    )
    Trainer(
        model,
        ds,
        TrainConfig(steps=150, batch_size=64, log_every=10, tensorboard=False),
        console=False,
    ).fit()
    # a run too short to reach the fine-tuning stage trains the layers greedily, and says so
    summary = Trainer(model, ds, TrainConfig(steps=50, batch_size=64, log_every=0)).fit()
    said = "phase ae of ae does not run in a run of 50 steps (it would start at step 80)"
    assert said in capsys.readouterr().err and said in summary["notes"][0]


def test_contractive_closed_form_equals_autograd():
    model = genzoo.build_model("contractive-ae", IMG, {"latent_dim": 6})
    assert model.closed_form()
    x = torch.rand(7, 1, 8, 8)
    z = model.encode(x)
    closed = common.contractive_sigmoid(z, model.enc[0].weight)
    auto = common.contractive_autograd(model.encode, x)
    assert torch.allclose(closed, auto, rtol=1e-5)
    deep = genzoo.build_model("contractive-ae", IMG, {"latent_dim": 6, "hidden": [12]})
    assert not deep.closed_form()
    deep.loss({"x": x}).loss.backward()  # the autograd penalty is differentiable
    assert deep.enc[0].weight.grad.abs().sum() > 0


def test_sparsity_penalties_from_their_formulas():
    h = torch.tensor([[0.1, 0.5], [0.3, 0.7]])
    rho, q = 0.2, h.mean(0)
    manual = (rho * torch.log(rho / q) + (1 - rho) * torch.log((1 - rho) / (1 - q))).sum()
    assert torch.allclose(common.kl_sparsity(h, rho), manual)
    assert common.kl_sparsity(torch.full((4, 3), 0.2), 0.2).abs() < 1e-6  # at the target
    assert common.l1_sparsity(torch.tensor([[1.0, -2.0], [0.0, 3.0]])) == 3.0


def test_corruptions_have_their_statistics():
    torch.manual_seed(0)
    x = torch.ones(200, 500)
    noisy = common.gaussian_noise(x, 0.3)
    assert abs(float((noisy - x).std()) - 0.3) < 0.01
    dropped = common.dropout_noise(x, 0.25)
    assert abs(float((dropped == 0).float().mean()) - 0.25) < 0.01
    assert abs(float(dropped.mean()) - 1.0) < 0.01  # survivors scaled by 1 / (1 - p)
    masked = common.masking_noise(x, 0.25)
    assert abs(float((masked == 0).float().mean()) - 0.25) < 0.01
    assert set(masked.unique().tolist()) == {0.0, 1.0}  # survivors untouched


def test_affine_corruption_moves_the_image_within_its_bounds():
    from genzoo.data.augment import random_affine

    x = torch.zeros(64, 1, 28, 28)
    x[:, :, 10:18, 12:16] = 1.0  # a bar in the middle, away from the border
    g = torch.Generator().manual_seed(0)
    moved = random_affine(x, rotation=0.0, shift=0.12, scale=0.0, generator=g)
    ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    centre = lambda im: (im * xs).sum((1, 2, 3)) / im.sum((1, 2, 3))  # noqa: E731
    dx = centre(moved) - centre(x)
    assert dx.abs().max() <= 0.12 * 28 + 0.5 and dx.abs().mean() > 1.0  # moved, not too far
    assert torch.allclose(moved.sum((1, 2, 3)), x.sum((1, 2, 3)), rtol=0.05)  # mass kept
    still = random_affine(x, 0.0, 0.0, 0.0)
    assert torch.allclose(still, x, atol=1e-5)  # the identity map at zero strength
    with pytest.raises(ConfigError, match="model.corruption"):
        genzoo.build_model("denoising-ae", PTS, {"corruption": "affine"})


def test_overcomplete_codes_need_a_regularizer():
    with pytest.raises(ConfigError, match="model.latent_dim=100 is not allowed: at most"):
        genzoo.build_model("ae", IMG, {"latent_dim": 100})
    for name in ("denoising-ae", "sparse-ae", "contractive-ae"):
        genzoo.build_model(name, IMG, {"latent_dim": 100})
    with pytest.raises(ConfigError, match="overcomplete"):
        genzoo.build_model("denoising-ae", IMG, {"latent_dim": 100, "noise_std": 0.0})


@pytest.mark.parametrize("upsample", ["transposed", "nearest", "bilinear"])
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 7, 9), (1, 8, 8)])
def test_conv_ae_keeps_any_image_size(shape, upsample):
    info = genzoo.DataInfo("image", shape, (0.0, 1.0))
    model = genzoo.build_model("conv-ae", info, {"latent_dim": 5, "upsample": upsample})
    x = torch.rand(2, *shape)
    assert model.reconstruct(x).shape == x.shape and model.encode(x).shape == (2, 5)


def test_linear_ae_recovers_ordered_principal_directions():
    g = torch.Generator().manual_seed(0)
    basis, _ = torch.linalg.qr(torch.randn(10, 10, generator=g))
    scales = torch.tensor([5.0, 3.0, 2.0, 0.5, 0.4, 0.3, 0.2, 0.1, 0.1, 0.1])
    x = (torch.randn(4000, 10, generator=g) * scales) @ basis.T
    info = genzoo.DataInfo("table", (10,), (-1.0, 1.0))
    model = genzoo.build_model("linear-ae", info, {"latent_dim": 3})
    with torch.no_grad():  # any decoder spanning the top-3 subspace, mixed and scaled
        model.dec[0].weight.copy_(basis[:, :3] @ torch.randn(3, 3, generator=g))
    directions, variances = model.principal_directions(x)
    cosines = (directions @ basis[:, :3]).abs().diagonal()
    assert torch.all(cosines > 0.999) and torch.all(variances[:-1] >= variances[1:])
    assert torch.allclose(variances.sqrt(), scales[:3], rtol=0.05)
