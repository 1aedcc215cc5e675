"""EDM (Karras et al. 2022): the preconditioning of table 1, the loss of eq. 8, the sigma steps
of eq. 5 and Heun's sampler of algorithms 1 and 2, each against its definition or a closed form;
then the model."""

from __future__ import annotations

import math

import pytest
import torch

import genzoo
from genzoo.errors import ConfigError
from genzoo.models.diffusion import karras as K
from genzoo.train import TrainConfig, Trainer

SD = 0.5
SIGMAS = torch.tensor([0.002, 0.1, 0.5, 1.0, 5.0, 80.0], dtype=torch.float64)


# ---------------------------------------------------------------- preconditioning
def test_the_preconditioned_denoiser_hits_y_exactly_with_the_training_target():
    g = torch.Generator().manual_seed(0)
    y = torch.randn(6, 3, generator=g, dtype=torch.float64) * SD
    x = y + SIGMAS[:, None] * torch.randn(6, 3, generator=g, dtype=torch.float64)
    target = K.training_target(y, x, SIGMAS, SD)
    d = K.precondition(lambda v, c: target, x, SIGMAS, SD)
    assert torch.allclose(d, y, atol=1e-12)


def test_the_unit_weight_loss_is_lambda_times_the_denoising_error():
    """eq. 8: lambda(sigma) ||D(x; sigma) - y||^2 == ||F - F_target||^2, for any F."""
    g = torch.Generator().manual_seed(1)
    y = torch.randn(6, 4, generator=g, dtype=torch.float64)
    x = y + SIGMAS[:, None] * torch.randn(6, 4, generator=g, dtype=torch.float64)
    f = torch.randn(6, 4, generator=g, dtype=torch.float64)
    d = K.precondition(lambda v, c: f, x, SIGMAS, SD)
    weighted = K.loss_weight(SIGMAS, SD)[:, None] * (d - y) ** 2
    assert torch.allclose(weighted, (f - K.training_target(y, x, SIGMAS, SD)) ** 2, rtol=1e-9)


def test_inputs_and_targets_have_unit_variance_at_every_sigma():
    """The point of table 1's c_in and c_out: for data of std sigma_data, F's input and its
    ideal target both have unit variance whatever sigma is."""
    g = torch.Generator().manual_seed(2)
    for sigma in SIGMAS.tolist():
        y = torch.randn(200_000, generator=g, dtype=torch.float64) * SD
        x = y + sigma * torch.randn(200_000, generator=g, dtype=torch.float64)
        s = torch.full((1,), sigma, dtype=torch.float64)
        assert float((K.c_in(s, SD) * x).std()) == pytest.approx(1.0, abs=0.01)
        assert float(K.training_target(y, x, s.expand(len(y)), SD).std()) == pytest.approx(
            1.0, abs=0.01
        )


def test_the_coefficients_at_the_ends():
    tiny, huge = torch.tensor([1e-8]), torch.tensor([1e8])
    assert float(K.c_skip(tiny, SD)) == pytest.approx(1.0) and float(K.c_out(tiny, SD)) < 1e-7
    assert float(K.c_skip(huge, SD)) < 1e-15 and float(K.c_out(huge, SD)) == pytest.approx(SD)
    assert float(K.c_noise(torch.tensor([math.e**4]))) == pytest.approx(1.0)


def test_training_sigmas_are_lognormal():
    s = K.training_sigmas(200_000, -1.2, 1.2, torch.Generator().manual_seed(3))
    assert float(s.log().mean()) == pytest.approx(-1.2, abs=0.01)
    assert float(s.log().std()) == pytest.approx(1.2, abs=0.01)


# ---------------------------------------------------------------- sigma steps and Heun
def test_karras_sigmas_follow_eq_5():
    s = K.karras_sigmas(18)
    assert len(s) == 19 and float(s[-1]) == 0.0
    assert float(s[0]) == pytest.approx(80.0) and float(s[-2]) == pytest.approx(0.002)
    assert bool((s[1:] < s[:-1]).all())
    i = 5  # the formula itself, at one i
    want = (80 ** (1 / 7) + i / 17 * (0.002 ** (1 / 7) - 80 ** (1 / 7))) ** 7
    assert float(s[i]) == pytest.approx(want)
    assert torch.allclose(
        K.karras_sigmas(5, 1.0, 5.0, rho=1.0)[:-1], torch.linspace(5, 1, 5).double()
    )


def gaussian_denoiser(mu: float, s: float):
    """The exact D(x; sigma) = E[y | x] for y ~ N(mu, s^2): mu + s^2 / (s^2 + sigma^2) (x - mu)."""

    def d(x, sigma):
        sig = sigma.reshape(-1, *([1] * (x.dim() - 1)))
        return mu + s**2 / (s**2 + sig**2) * (x - mu)

    return d


def ode_solution(x_start, mu, s, sigma_start):
    """The probability-flow ODE dx/dsigma = (x - D)/sigma for Gaussian data has x - mu
    proportional to sqrt(s^2 + sigma^2): its value at sigma = 0."""
    return mu + (x_start - mu) * s / math.sqrt(s**2 + sigma_start**2)


def test_heun_solves_the_gaussian_ode_with_second_order_error():
    mu, s = 0.3, 0.5
    z = torch.randn(1000, 1, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    exact = ode_solution(z * 80.0, mu, s, 80.0)
    errors = []
    for n in (16, 32, 64):
        out = K.heun_sample(gaussian_denoiser(mu, s), K.karras_sigmas(n), z)
        errors.append(float((out - exact).abs().max()))
    assert errors[0] < 0.2  # of starting points |x_T| up to about 300
    # second order: doubling the steps cuts the error about four times (Euler: two)
    assert errors[0] / errors[1] > 3 and errors[1] / errors[2] > 3


def test_heun_takes_2n_minus_1_network_evaluations():
    calls = []

    def d(x, sigma):
        calls.append(1)
        return torch.zeros_like(x)

    K.heun_sample(d, K.karras_sigmas(18), torch.zeros(2, 1))
    assert len(calls) == K.network_evaluations(18) == 35


def test_churn_keeps_the_exact_denoisers_samples_on_the_data_distribution():
    mu, s = -0.4, 0.6
    g = torch.Generator().manual_seed(5)
    z = torch.randn(40_000, 1, generator=g, dtype=torch.float64)
    sigmas = K.karras_sigmas(256)  # churn at every step: its error shrinks as steps grow
    out = K.heun_sample(gaussian_denoiser(mu, s), sigmas, z, churn=400.0, generator=g)
    assert float(out.mean()) == pytest.approx(mu, abs=0.01)
    assert float(out.std()) == pytest.approx(s, abs=0.01)


# ---------------------------------------------------------------- the model
def test_the_models_loss_is_the_weighted_denoising_error(tmp_path):
    ds = genzoo.load_dataset("digits")
    tiny = {"channels": [8, 8], "attention": [1], "heads": 2, "norm_groups": 4}
    model = genzoo.build_model("edm", ds.info(), tiny, seed=0)
    y = model.to_model(ds.x_train[:8])
    torch.manual_seed(7)
    loss = model.loss({"x": y}).loss.detach()
    torch.manual_seed(7)
    sigma = K.training_sigmas(8, -1.2, 1.2)
    x = y + sigma[:, None, None, None] * torch.randn_like(y)
    with torch.no_grad():
        d = model.denoise(x, sigma)
    direct = (K.loss_weight(sigma, 0.5)[:, None, None, None] * (d - y) ** 2).mean()
    assert float(loss) == pytest.approx(float(direct), rel=1e-4)


def test_config_errors_name_the_field():
    ds = genzoo.load_dataset("ring8", n=200)
    for field, value in [("sigma_data", -1.0), ("p_std", 0.0), ("sample_steps", 0), ("churn", -1)]:
        with pytest.raises(ConfigError, match=field):
            genzoo.build_model("edm", ds.info(), {field: value})
    with pytest.raises(ConfigError, match="sigma_max"):
        genzoo.build_model("edm", ds.info(), {"sigma_min": 100.0})


@pytest.mark.slow
def test_edm_learns_the_eight_modes_of_ring8():
    ds = genzoo.load_dataset("ring8", n=4000)
    model = genzoo.build_model("edm", ds.info(), {"width": 128, "blocks": 3}, seed=0)
    cfg = TrainConfig(steps=3000, batch_size=256, lr=2e-3, log_every=0, eval_every=0,
                      sample_every=0, tensorboard=False, final_eval=False, ema=True,
                      ema_halflife_images=50_000, ema_rampup=0.05)  # fmt: skip
    from genzoo.metrics import toy

    trainer = Trainer(model, ds, cfg, console=False)
    trainer.fit()
    s = torch.as_tensor(model.to_data(trainer.eval_model().eval().sample(2000)))
    found = toy.mode_metrics(s, torch.tensor(ds.meta["means"]), ds.meta["std"])
    assert found["modes"] == 8 and found["high_quality"] > 0.8
