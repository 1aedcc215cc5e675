"""The joined families and the autoencoders that generate: code densities fitted after
training, RAE and WAE's regularizers, the two-stage VAE, latent diffusion. Each piece of maths
against its definition or closed form; each model through the trainer."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import genzoo
from genzoo.errors import CheckpointError, ConfigError, GenzooError
from genzoo.models import build_model
from genzoo.models.autoencoders.common import (
    decoder_jacobian_norm,
    imq_kernel,
    mmd_imq,
)
from genzoo.models.code_density import (
    CodeDensity,
    fit_mixture,
    mixture_log_prob,
    mixture_sample,
)
from genzoo.models.diffusion import karras as K
from genzoo.models.joined.vae_gan import feature_nll
from genzoo.models.vae.two_stage import gaussian_gamma_nll, stage_split, warmup_weight
from genzoo.train import TrainConfig, Trainer
from genzoo.train.checkpoint import load, save_model_folder

from .conftest import tiny, tiny_autoencoder


def three_clusters(n=1500, seed=0) -> tuple[torch.Tensor, torch.Tensor]:
    """Codes from three well-separated 2-D Gaussians of different shapes, and their means."""
    g = torch.Generator().manual_seed(seed)
    means = torch.tensor([[-6.0, 0.0], [6.0, 0.0], [0.0, 8.0]])
    scales = torch.tensor([[1.0, 0.3], [0.5, 1.5], [0.8, 0.8]])
    c = torch.arange(n) % 3
    return means[c] + scales[c] * torch.randn(n, 2, generator=g), means


# ---------------------------------------------------------------- code densities
def test_the_mixture_chosen_on_held_out_codes_has_the_clusters_count_and_means():
    z, means = three_clusters()
    fit = fit_mixture(z, max_components=8)
    assert fit.components == 3, fit.heldout
    # held-out likelihood rises to K = 3, then stops rising by more than noise
    assert fit.heldout[3] > fit.heldout[2] + 0.5 > fit.heldout[1] + 1.0
    found = fit.means[torch.cdist(means, fit.means).argmin(1)]
    assert torch.allclose(found, means, atol=0.15)
    assert torch.allclose(fit.weights.sum(), torch.tensor(1.0))


def test_mixture_log_prob_is_the_mixture_density():
    g = torch.Generator().manual_seed(1)
    k, kk = 3, 4
    weights = torch.tensor([0.1, 0.2, 0.3, 0.4])
    means = torch.randn(kk, k, generator=g)
    a = torch.randn(kk, k, k, generator=g)
    cov = a @ a.transpose(1, 2) + 0.5 * torch.eye(k)
    chol = torch.linalg.cholesky(cov)
    z = torch.randn(50, k, generator=g)
    ref = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(weights),
        torch.distributions.MultivariateNormal(means, scale_tril=chol),
    ).log_prob(z)
    assert torch.allclose(mixture_log_prob(z, weights, means, chol), ref, atol=1e-4)


def test_mixture_samples_have_the_mixtures_mean_and_covariance():
    weights = torch.tensor([0.25, 0.75])
    means = torch.tensor([[0.0, 0.0], [4.0, -2.0]])
    chol = torch.stack([torch.eye(2), torch.tensor([[1.0, 0.0], [0.5, 0.5]])])
    z = mixture_sample(200_000, weights, means, chol, torch.Generator().manual_seed(0))
    mean = (weights[:, None] * means).sum(0)
    second = sum(
        w * (c @ c.T + torch.outer(m, m)) for w, m, c in zip(weights, means, chol, strict=True)
    )
    assert torch.allclose(z.mean(0), mean, atol=0.02)
    assert torch.allclose(torch.cov(z.T), second - torch.outer(mean, mean), atol=0.05)


def test_code_density_keeps_the_fit_in_fixed_size_buffers():
    z, _ = three_clusters()
    density = CodeDensity(2, 6)
    assert not density.fitted
    density.fit(z)
    assert density.fitted and density.components == 3
    assert density.weights[3:].eq(0).all()
    copy = CodeDensity(2, 6)
    copy.load_state_dict(density.state_dict())
    g1, g2 = (torch.Generator().manual_seed(0) for _ in range(2))
    assert torch.equal(copy.sample(5, g1), density.sample(5, g2))
    assert float(density.log_prob(z).mean()) > -5.0


def train(model, ds, steps=30, out=None, **kw):
    cfg = TrainConfig(steps=steps, batch_size=32, log_every=0, tensorboard=False, **kw)
    Trainer(model, ds, cfg, out=out, console=False).fit()
    return model


def test_an_autoencoder_fits_its_mixture_after_training_and_samples_from_it(tmp_path):
    ds = genzoo.load_dataset("digits")
    model = build_model("ae", ds.info(), tiny("ae", "image"), seed=0)
    assert not model.density.fitted
    train(model, ds, out=tmp_path / "run")
    assert model.density.fitted
    logged = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert any(r.get("prior/components") == model.density.components for r in logged)
    loaded = load(tmp_path / "run")
    assert torch.equal(loaded.density.weights, model.density.weights)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    mixture, gaussian = (
        loaded.sample(8, generator=g()),
        loaded.sample(8, generator=g(), prior="gaussian"),
    )
    assert mixture.shape == gaussian.shape == (8, 1, 8, 8)
    assert not torch.allclose(mixture, gaussian)
    # the mixture's codes are the density's draws
    codes = loaded.sample_codes(4, g())
    assert torch.equal(codes, loaded.density.sample(4, g()))


def test_a_gaussian_prior_fits_nothing_and_refuses_the_mixture():
    ds = genzoo.load_dataset("digits")
    model = build_model("ae", ds.info(), {**tiny("ae", "image"), "prior": "gaussian"}, seed=0)
    train(model, ds, steps=5)
    assert not model.density.fitted
    with pytest.raises(GenzooError, match="prior=gaussian"):
        model.sample(2, prior="mixture")


# ---------------------------------------------------------------- RAE and WAE
def test_imq_kernel_and_the_unbiased_mmd_against_their_definitions():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    c = 1.7
    ref = torch.tensor([[c / (c + float((x - y).pow(2).sum())) for y in b] for x in a])
    assert torch.allclose(imq_kernel(a, b, c), ref)
    n, k = 5, 3
    total = 0.0
    for s in (0.5, 2.0):
        cc = s * 2 * k
        kxx = sum(
            float(imq_kernel(b[i : i + 1], b[j : j + 1], cc))
            for i in range(n)
            for j in range(n)
            if i != j
        )
        kzz = sum(
            float(imq_kernel(a[i : i + 1], a[j : j + 1], cc))
            for i in range(n)
            for j in range(n)
            if i != j
        )
        kxz = sum(
            float(imq_kernel(a[i : i + 1], b[j : j + 1], cc)) for i in range(n) for j in range(n)
        )
        total += (kxx + kzz) / (n * (n - 1)) - 2 * kxz / n**2
    assert math.isclose(float(mmd_imq(a, b, 1.0, (0.5, 2.0))), total, rel_tol=1e-5)


def test_the_mmd_is_unbiased_at_zero_and_grows_with_a_shift():
    g = torch.Generator().manual_seed(0)
    same = [
        float(mmd_imq(torch.randn(32, 4, generator=g), torch.randn(32, 4, generator=g)))
        for _ in range(300)
    ]
    shifted = float(mmd_imq(torch.randn(32, 4, generator=g) + 1.0, torch.randn(32, 4, generator=g)))
    spread = np.std(same) / math.sqrt(len(same))
    assert abs(np.mean(same)) < 3 * spread  # unbiased: zero in expectation, not above it
    assert shifted > 10 * np.std(same)


def test_the_decoder_jacobian_estimate_is_the_frobenius_norm_of_a_linear_decoder():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(6, 3, generator=g, requires_grad=True)
    z = torch.randn(20_000, 3, generator=g)
    est = decoder_jacobian_norm(lambda v: v @ w.T, z, generator=g)
    assert math.isclose(float(est), float(w.pow(2).sum()), rel_tol=0.03)
    est.backward()  # differentiable in the decoder's weights, as a penalty must be
    assert torch.allclose(w.grad, 2 * w.detach(), rtol=0.1, atol=0.05)


@pytest.mark.parametrize("reg", ["l2", "gradient", "spectral"])
def test_rae_adds_its_regularizers_to_the_reconstruction(reg):
    ds = genzoo.load_dataset("digits")
    model = build_model("rae", ds.info(), {**tiny("rae", "image"), "decoder_reg": reg}, seed=0)
    x = torch.as_tensor(ds.transform("unit").forward(ds.x_train[:16]))
    out = model.loss({"x": x})
    extra = {"l2": "decoder_l2", "gradient": "decoder_grad", "spectral": None}[reg]
    assert "z_energy" in out.terms and (extra is None or extra in out.terms)
    penalties = sum(
        v for k, v in out.terms.items() if k in ("z_energy", "decoder_l2", "decoder_grad")
    )
    assert torch.allclose(out.loss, out.terms["recon"] + penalties)
    if reg == "l2":
        expected = 1e-7 * sum(float(m.weight.pow(2).sum()) for m in model.dec)
        assert math.isclose(float(out.terms["decoder_l2"]), expected, rel_tol=1e-5)


def test_wae_weighs_the_mmd_against_the_summed_squared_error_and_samples_its_prior():
    ds = genzoo.load_dataset("digits")
    model = build_model("wae", ds.info(), tiny("wae", "image"), seed=0)
    assert model.recon_loss == "mse"
    x = torch.as_tensor(ds.transform("unit").forward(ds.x_train[:32]))
    torch.manual_seed(0)
    out = model.loss({"x": x})
    torch.manual_seed(0)
    z = model.encode(x)
    mmd = mmd_imq(z, torch.randn_like(z))
    assert math.isclose(float(out.terms["mmd"]), 10.0 / 64 * float(mmd), rel_tol=1e-4)
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    assert torch.equal(model.sample_codes(4, g()), torch.randn(4, 2, generator=g()))


def test_wrong_rae_and_wae_settings_are_refused():
    with pytest.raises(ConfigError, match="model.reg_weight"):
        genzoo.models.model_config("rae", {"decoder_reg": "spectral", "reg_weight": 1.0})
    with pytest.raises(ConfigError, match="model.decoder_reg"):
        genzoo.models.model_config("rae", {"decoder_reg": "spectral", "tied": True})
    with pytest.raises(ConfigError, match="model.sigma_z"):
        genzoo.models.model_config("wae", {"sigma_z": 0})


# ---------------------------------------------------------------- two-stage VAE
def test_gamma_nll_is_the_isotropic_gaussian_density():
    g = torch.Generator().manual_seed(0)
    z, z_hat = torch.randn(7, 4, generator=g), torch.randn(7, 4, generator=g)
    log_gamma = torch.tensor(-1.3)
    ref = -torch.distributions.Normal(z_hat, log_gamma.exp().sqrt()).log_prob(z).sum(1)
    assert torch.allclose(gaussian_gamma_nll(z, z_hat, log_gamma), ref, atol=1e-5)


def test_the_second_stage_trains_last_and_then_draws_the_codes():
    assert stage_split(100, 0.2) == 80 and stage_split(None, 0.2) == 0
    ds = genzoo.load_dataset("digits")
    cfg = {**tiny("vae", "image"), "second_stage": 0.4, "second_hidden": [16]}
    model = build_model("vae", ds.info(), cfg, seed=0)
    first = {n: p.detach().clone() for n, p in model.named_parameters() if "stage2" not in n}
    model.total_steps = 10
    phases = {p.name: p for p in model.phases()}
    model.total_steps = None
    assert phases["vae"].stop == 6 and phases["stage2"].start == 6
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.equal(model.sample_latent(3, g()), torch.randn(3, 2, generator=g()))
    train(model, ds, steps=10)
    assert int(model.stage2.updates) == 4
    after = dict(model.named_parameters())
    assert any(not torch.equal(first[n], after[n]) for n in first)
    with torch.no_grad():
        assert torch.equal(model.sample_latent(3, g()), model.stage2.sample(3, 2, g()))
    assert "trained for 4 steps" in model.after_training({}).message
    # a run that ended before the second stage began says so, and samples from N(0, I)
    early = build_model("vae", ds.info(), cfg, seed=0)
    early.total_steps = 10
    early.phases()
    assert "before its second stage" in early.after_training({}).message
    assert torch.equal(early.sample_latent(3, g()), torch.randn(3, 2, generator=g()))


def test_the_second_stages_kl_weight_warms_up_over_its_share_of_the_stage():
    # a stage from step 60 to 100 with half of it warming up: 0 at 60, 1/2 at 70, 1 from 80
    assert [warmup_weight(s, 60, 100, 0.5) for s in (60, 70, 80, 95)] == [0.0, 0.5, 1.0, 1.0]
    assert warmup_weight(60, 60, 100, 0.0) == 1.0 and warmup_weight(5, 0, None, 0.5) == 1.0
    ds = genzoo.load_dataset("digits")
    cfg = {**tiny("vae", "image"), "second_stage": 0.5, "second_hidden": [16]}
    model = build_model("vae", ds.info(), cfg, seed=0)
    model.total_steps = 20
    stage2 = {p.name: p for p in model.phases()}["stage2"]
    model.total_steps = None  # as the trainer leaves it: the phase keeps its own plan
    x = torch.as_tensor(ds.transform(model.data_range()).forward(ds.x_train[:32]))
    model.step = 12  # 2 of the stage's 10 steps, 5 of them warming up
    out = stage2.loss({"x": x})
    assert math.isclose(float(out.terms["beta"]), 0.4, rel_tol=1e-6)  # a float32 tensor
    assert torch.allclose(out.loss, out.terms["recon"] + 0.4 * out.terms["kl"])
    model.eval()  # evaluation reports the full bound
    assert float(stage2.loss({"x": x}).terms["beta"]) == 1.0


# ---------------------------------------------------------------- VAE-GAN
def test_vae_gan_measures_reconstruction_in_the_discriminators_features():
    g = torch.Generator().manual_seed(0)
    h_x, h_t = torch.randn(4, 3, 5, generator=g), torch.randn(4, 3, 5, generator=g)
    ref = -torch.distributions.Normal(h_t, 1.0).log_prob(h_x).flatten(1).sum(1)
    const = 0.5 * math.log(2 * math.pi) * 15
    assert torch.allclose(feature_nll(h_x, h_t), (ref - const).mean(), atol=1e-5)


@pytest.mark.parametrize("loss", ["non-saturating", "minimax"])
def test_vae_gan_weighs_the_decoders_two_terms_and_keeps_the_game_from_the_encoder(loss):
    ds = genzoo.load_dataset("digits")
    cfg = {**tiny("vae-gan", "image"), "loss": loss, "gamma": 0.25}
    model = build_model("vae-gan", ds.info(), cfg, seed=0)
    x = torch.as_tensor(ds.transform("symmetric").forward(ds.x_train[:16]))
    torch.manual_seed(0)
    out = model.decoder_loss({"x": x})
    assert torch.allclose(out.loss, 0.25 * out.terms["llike"] + 0.75 * out.terms["gan"])
    torch.manual_seed(0)
    fake = model._pass(x)["fake"]
    if loss == "non-saturating":
        expected = F.softplus(-fake).mean()  # -log D(G)
    else:
        expected = -F.softplus(fake).mean()  # log(1 - D(G))
    assert torch.allclose(out.terms["gan"], expected)
    # the encoder's update sees the KL and the feature error, and nothing of the game
    model.zero_grad(set_to_none=True)
    model.encoder_loss({"x": x}).loss.backward()
    assert all(p.grad is None for p in model.decoder.parameters())
    assert all(p.grad is None for p in model.head.parameters())
    assert any(p.grad is not None for p in model.encoder.parameters())


# ---------------------------------------------------------------- latent diffusion
def ldm_config(kind="image", **kw):
    return {**tiny("ldm", kind), **kw}


def test_ldm_standardizes_the_codes_before_training_and_keeps_the_autoencoder_out():
    ds = genzoo.load_dataset("digits")
    model = build_model("ldm", ds.info(), ldm_config(), seed=0)
    ae = model.autoencoder
    assert all(not k.startswith("autoencoder") for k in model.state_dict())
    assert all(not p.requires_grad for p in ae.parameters())
    assert model.config.autoencoder_sha256 and model.config.autoencoder.startswith("/")
    train(model, ds, steps=3)
    x = torch.as_tensor(ds.transform(model.data_range()).forward(ds.x_train))
    with torch.no_grad():
        z = ae.encode(x)
    assert torch.allclose(model.code_mean, z.mean(0), atol=1e-5)
    assert torch.allclose(model.code_std, z.std(0), atol=1e-5)
    codes = model.encode(x)
    assert torch.allclose(codes.mean(0), torch.zeros(4), atol=1e-4)
    assert model.sample(3, generator=torch.Generator().manual_seed(0)).shape == (3, 1, 8, 8)


def test_ldm_refuses_a_changed_missing_or_mismatched_autoencoder(tmp_path):
    ds = genzoo.load_dataset("digits")
    ae_run = tmp_path / "ae"
    ae = build_model("ae", ds.info(), tiny("ae", "image"), seed=0)
    ae.transform = ds.transform(ae.data_range())
    save_model_folder(ae_run / "model", ae)
    model = build_model("ldm", ds.info(), ldm_config(autoencoder=str(ae_run)), seed=0)
    model.transform = ds.transform(model.data_range())
    save_model_folder(tmp_path / "ldm", model)
    assert load(tmp_path / "ldm").config.autoencoder == str((ae_run / "model").resolve())
    # retrained: other weights in the same folder
    other = build_model("ae", ds.info(), tiny("ae", "image"), seed=1)
    other.transform = ae.transform
    save_model_folder(ae_run / "model", other)
    with pytest.raises(CheckpointError, match="not the autoencoder"):
        load(tmp_path / "ldm")
    with pytest.raises(ConfigError, match="model.autoencoder"):
        build_model("ldm", ds.info(), ldm_config(autoencoder=str(tmp_path / "nowhere")))
    ring = genzoo.load_dataset("ring8", n=600)
    with pytest.raises(ConfigError, match="model.autoencoder"):
        build_model("ldm", ring.info(), ldm_config(autoencoder=str(ae_run)))
    with pytest.raises(ConfigError, match="model.autoencoder"):
        genzoo.models.model_config("ldm", {})


def test_ldm_on_points_uses_vector_codes():
    ring = genzoo.load_dataset("ring8", n=600)
    model = build_model("ldm", ring.info(), ldm_config("points"), seed=0)
    assert model.codes.kind == "points" and model.codes.shape == (1,)
    assert str(tiny_autoencoder("points")) == model.config.autoencoder


# ---------------------------------------------------------------- diffusion autoencoder
def gaussian_denoiser(sd: float):
    """The exact D(x; sigma) of data ~ N(0, sd^2 I): x sd^2 / (sd^2 + sigma^2)."""
    return lambda x, sigma: x * sd**2 / (sd**2 + K._col(sigma, x) ** 2)


@pytest.mark.parametrize("heun", [False, True])
def test_the_probability_flow_carries_gaussian_data_along_its_closed_form(heun):
    # for N(0, sd^2) data the ODE's solution is x(sigma) = x(s0) sqrt(sd^2 + sigma^2) /
    # sqrt(sd^2 + s0^2); Euler (DDIM) is a first-order method, its error 10x smaller for 10x
    # the steps, and Heun a second-order one, about 100x
    sd, g = 0.5, torch.Generator().manual_seed(0)
    x0 = torch.randn(64, 3, generator=g, dtype=torch.float64)
    errors = []
    for steps in (100, 1000):
        up = K.inversion_sigmas(steps)
        x_T = K.probability_flow(gaussian_denoiser(sd), up, x0, heun)
        exact = x0 * math.sqrt(sd**2 + float(up[-1]) ** 2) / math.sqrt(sd**2 + float(up[0]) ** 2)
        errors.append(float((x_T - exact).abs().max() / exact.abs().max()))
    order = math.log10(errors[0] / errors[1])
    assert (1.7 < order < 2.3) if heun else (0.8 < order < 1.2), errors
    assert errors[1] < 1e-2


def test_ddim_is_euler_on_the_ode_one_step_by_hand():
    sd, x = 0.5, torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    D = gaussian_denoiser(sd)
    sigmas = torch.tensor([2.0, 1.0], dtype=torch.float64)
    step = K.probability_flow(D, sigmas, x)
    d = (x - D(x, sigmas[:1])) / 2.0  # (x - D) / sigma
    assert torch.allclose(step, x + (1.0 - 2.0) * d)


def diffae_model(ds, **kw):
    return build_model("diffae", ds.info(), {**tiny("diffae", "image"), **kw}, seed=0)


def roughen(model, seed=0):
    """Random weights in the layers that start at zero, so that the untrained denoiser is
    not the identity."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.net.parameters():
            if not p.abs().sum():
                p.copy_(0.1 * torch.randn(p.shape, generator=g))


def test_diffae_round_trip_through_both_codes_is_exact_as_the_ddim_steps_grow():
    ds = genzoo.load_dataset("digits")
    model = diffae_model(ds).eval()
    roughen(model)
    x = torch.as_tensor(ds.transform(model.data_range()).forward(ds.x_test[:16]))
    z = model.encode(x)
    errors = {}
    for steps in (5, 50, 400):
        x_hat = model.decode(z, model.invert(x, z, steps), steps)
        errors[steps] = float((x_hat - x).pow(2).mean())
    assert errors[400] < errors[50] < errors[5]
    # Euler both ways: the round trip's error (its RMSE) falls as 1 / steps
    order = math.log(math.sqrt(errors[50] / errors[400])) / math.log(400 / 50)
    assert 0.8 < order < 1.2, errors
    assert 10 * math.log10(4 / errors[400]) > 40, errors  # PSNR, images in [-1, 1]
    # the code is used: with another z_sem the same x_T decodes elsewhere (were z_sem
    # ignored, it would decode to the same round trip, with the same error)
    other = model.decode(z.flip(0), model.invert(x, z, 400), 400)
    assert float((other - x).pow(2).mean()) > 2 * errors[400]


def test_diffae_decodes_z_sem_alone_with_one_fixed_noise():
    ds = genzoo.load_dataset("digits")
    model = diffae_model(ds).eval()
    roughen(model)
    z = torch.randn(3, 3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(model.decode(z), model.decode(z))
    same = model.decode(z[:1].expand(3, 3))
    assert torch.allclose(same[0], same[2])  # every row gets the same x_T


def test_diffae_trains_its_latent_model_on_standardized_codes_with_the_gradient_stopped():
    ds = genzoo.load_dataset("digits")
    model = diffae_model(ds, code_momentum=1.0)  # the statistics of the last batch
    latent = model.phases()[1]
    assert {id(p) for p in latent.params} == {id(p) for p in model.latent.parameters()}
    x = torch.as_tensor(ds.transform(model.data_range()).forward(ds.x_train[:64]))
    out = latent.loss({"x": x})
    out.loss.backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.latent.parameters())
    with torch.no_grad():
        z = model.encode(x)
    assert torch.allclose(model.code_mean, z.mean(0), atol=1e-5)
    assert torch.allclose(model.code_std, z.std(0), atol=1e-5)
    # and samples are unstandardized: the latent model's draws times std plus mean
    train(model, ds, steps=3)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    codes = model.eval().sample_codes(5, g())
    u = K.heun_sample(
        model.latent_denoise,
        K.karras_sigmas(model.config.latent_steps),
        torch.randn(5, 3, generator=g()),
    )
    assert torch.allclose(codes, u * model.code_std + model.code_mean, atol=1e-5)


def test_interpolation_with_noise_ends_on_both_reconstructions():
    from genzoo.models.latent import interpolate

    ds = genzoo.load_dataset("digits")
    model = diffae_model(ds).eval()
    roughen(model)
    x = torch.as_tensor(ds.transform(model.data_range()).forward(ds.x_test[:2]))
    z = model.encode(x)
    x_T = model.invert(x, z)
    path = interpolate(model, z[0], z[1], 5, "linear", noise=(x_T[0], x_T[1]))
    assert path.shape == (5, 1, 8, 8)
    assert torch.allclose(path[0], model.decode(z[:1], x_T[:1])[0], atol=1e-5)
    assert torch.allclose(path[-1], model.decode(z[1:], x_T[1:])[0], atol=1e-5)


def test_the_attribute_direction_finds_the_planted_axis_and_the_probe_reads_labels():
    from genzoo.models.latent import attribute_direction, linear_probe, manipulate

    g = torch.Generator().manual_seed(0)
    z = torch.randn(600, 6, generator=g) * torch.tensor([1.0, 1, 1, 4, 1, 1])
    target = z[:, 3] > 0
    w, accuracy = attribute_direction(z, target)
    assert accuracy > 0.97
    assert float(w[3]) / float(w.norm()) > 0.97  # the axis, scaled by its std of 4
    assert math.isclose(float(w[3]), 4.0, rel_tol=0.1)
    assert linear_probe(z[:400], target[:400], z[400:], target[400:]) > 0.95
    noise = torch.rand(600, generator=g) > 0.5  # labels the codes do not hold
    assert linear_probe(z[:400], noise[:400], z[400:], noise[400:]) < 0.65
    # a move of 0 decodes the code as it is
    ds = genzoo.load_dataset("digits")
    model = build_model("ae", ds.info(), tiny("ae", "image"), seed=0).eval()
    codes = torch.randn(2, 4, generator=g)
    grid = manipulate(model, codes, torch.ones(4), torch.tensor([-1.0, 0.0, 1.0]))
    assert grid.shape == (2, 3, 1, 8, 8)
    with torch.no_grad():
        assert torch.allclose(grid[:, 1], model.decode(codes))
        assert torch.allclose(grid[:, 2], model.decode(codes + 1))
