"""The maths of diffusion: schedules, the forward process, parameterizations, samplers and the
bound, checked against identities and a Gaussian whose exact denoiser is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import genzoo
from genzoo.models.diffusion import process as P
from genzoo.models.diffusion.samplers import (
    ddim_invert,
    ddim_sample,
    ddpm_sample,
    dpm_solver_sample,
)
from genzoo.models.diffusion.schedules import (
    logsnr_timesteps,
    make_schedule,
    respace,
    spaced_timesteps,
)

M, S = 0.7, 0.4  # the data of the exact-denoiser tests: x_0 ~ N(M, S^2)


def gaussian_predict(schedule):
    """The exact x_0 | x_t denoiser of N(M, S^2) data: E[x_0 | x_t] in closed form."""

    def predict(x_t, t):
        ab = schedule.alpha_bar.to(x_t)[t].view(-1, *([1] * (x_t.dim() - 1)))
        a, b2 = ab.sqrt(), 1 - ab
        x0 = M + a * S**2 / (ab * S**2 + b2) * (x_t - a * M)
        return P.Prediction(x0, (x_t - a * x0) / b2.sqrt())

    return predict


# ---------------------------------------------------------------- schedules
def test_schedule_endpoints():
    lin = make_schedule("linear", 1000)
    assert lin.betas[0].item() == pytest.approx(1e-4) and lin.betas[-1].item() == pytest.approx(
        0.02
    )
    assert lin.alpha_bar[-1].item() < 1e-4  # x_T is almost pure noise
    short = make_schedule("linear", 100)  # scaled by 1000 / T
    assert short.betas[0].item() == pytest.approx(1e-3) and short.betas[-1].item() == pytest.approx(
        0.2
    )
    cos = make_schedule("cosine", 1000)
    f = lambda t: math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    assert cos.alpha_bar[499].item() == pytest.approx(f(500) / f(0), rel=1e-6)
    assert cos.betas.max().item() == pytest.approx(0.999)  # clipped at the end
    for s in (lin, short, cos):
        assert (s.alpha_bar[1:] < s.alpha_bar[:-1]).all()
    with pytest.raises(genzoo.GenzooError, match="unknown noise schedule 'quadratic'"):
        make_schedule("quadratic", 10)


def test_respacing_keeps_alpha_bar_at_the_kept_steps():
    s = make_schedule("cosine", 1000)
    ts = spaced_timesteps(1000, 50)
    assert ts[0] == 0 and ts[-1] == 999 and len(ts) == 50
    r = respace(s, ts)
    assert torch.allclose(r.alpha_bar, s.alpha_bar[ts], rtol=1e-12)
    assert torch.equal(r.timesteps, ts)
    assert torch.equal(spaced_timesteps(1000, 10, "trailing")[-1], torch.tensor(999))
    with pytest.raises(genzoo.GenzooError, match="--steps 0"):
        spaced_timesteps(1000, 0)


# ---------------------------------------------------------------- the forward process
def test_closed_form_marginal_matches_running_the_chain():
    s = make_schedule("linear", 200)
    g = torch.Generator().manual_seed(0)
    x0 = torch.full((200_000,), 1.5, dtype=torch.float64)
    x, t = x0.clone(), 120
    for k in range(t + 1):  # x_k = sqrt(1 - beta_k) x_{k-1} + sqrt(beta_k) eps
        x = (1 - s.betas[k]).sqrt() * x + s.betas[k].sqrt() * torch.randn(
            x.shape, generator=g, dtype=x.dtype
        )
    ab = s.alpha_bar[t]
    assert x.mean().item() == pytest.approx(ab.sqrt().item() * 1.5, abs=0.01)
    assert x.var().item() == pytest.approx(1 - ab.item(), abs=0.01)
    eps = torch.randn(x0.shape, generator=g, dtype=x0.dtype)
    closed = P.q_sample(s, x0[:, None], torch.full((len(x0),), t), eps[:, None])
    assert closed.mean().item() == pytest.approx(x.mean().item(), abs=0.01)
    assert closed.var().item() == pytest.approx(x.var().item(), abs=0.01)


def test_posterior_is_bayes_rule_on_the_two_gaussians():
    """q(x_{t-1} | x_t, x_0) ∝ q(x_t | x_{t-1}) q(x_{t-1} | x_0): precisions add."""
    s = make_schedule("cosine", 100)
    t = torch.tensor([1, 30, 99])
    x0, x_t = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    mean, logvar = P.q_posterior(s, x0, x_t, t)
    beta, ab_prev = s.betas[t][:, None], s.alpha_bar_prev[t][:, None]
    precision = (1 - beta) / beta + 1 / (1 - ab_prev)
    assert torch.allclose(logvar.exp(), 1 / precision)
    expect = (ab_prev.sqrt() * x0 / (1 - ab_prev) + (1 - beta).sqrt() * x_t / beta) / precision
    assert torch.allclose(mean, expect)


@pytest.mark.parametrize("kind", ["eps", "x0", "v"])
def test_eps_x0_v_round_trip(kind):
    s = make_schedule("linear", 1000)
    x0, eps = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    t = torch.tensor([0, 10, 500, 900, 999])
    x_t = P.q_sample(s, x0, t, eps)
    out = P.training_target(kind, s, x0, t, eps)
    x0_hat, eps_hat = P.x0_eps_from(kind, s, x_t, t, out)
    assert torch.allclose(x0_hat, x0, atol=1e-6) and torch.allclose(eps_hat, eps, atol=1e-6)


@pytest.mark.parametrize("kind", ["eps", "x0", "v"])
def test_min_snr_weights_make_each_targets_error_the_clipped_x0_error(kind):
    s = make_schedule("linear", 1000)
    g = torch.Generator().manual_seed(0)
    x0, eps, err = (torch.randn(5, 3, generator=g, dtype=torch.float64) for _ in range(3))
    t = torch.tensor([0, 10, 500, 900, 999])
    x_t = P.q_sample(s, x0, t, eps)
    x0_hat = x0 + 0.1 * err  # a denoiser's x_0 estimate, and what it is in each target
    eps_hat = P.eps_from_x0(s, x_t, t, x0_hat)
    out = {"eps": eps_hat, "x0": x0_hat, "v": P.v_from(s, x0_hat, t, eps_hat)}[kind]
    target = P.training_target(kind, s, x0, t, eps)
    ab = s.alpha_bar[t].double()
    snr = ab / (1 - ab)
    assert (snr > 5).any() and (snr < 5).any()  # both sides of the clip
    weighted = P.min_snr_weight(kind, s, t, 5.0).double() * (out - target).pow(2).mean(1)
    expect = snr.clamp(max=5.0) * (x0_hat - x0).pow(2).mean(1)
    torch.testing.assert_close(weighted, expect, rtol=1e-5, atol=1e-10)


def test_min_snr_gamma_reweights_the_training_loss_and_zero_keeps_the_mean():
    ds = genzoo.load_dataset("digits")
    batch = {"x": torch.as_tensor(ds.x_train[:16] / 16.0 * 2 - 1, dtype=torch.float32)}
    losses = {}
    for gamma in (0.0, 5.0):
        config = {"T": 50, "channels": [8, 16], "prediction": "v", "min_snr_gamma": gamma}
        model = genzoo.build_model("ddpm", ds.info(), config, seed=0)
        torch.manual_seed(1)
        losses[gamma] = model.loss(batch).loss
        torch.manual_seed(1)  # the same t and noise: the plain mean of the squared errors
        t = torch.randint(0, 50, (16,))
        eps = torch.randn_like(batch["x"])
        target = P.training_target("v", model.schedule, batch["x"], t, eps)
        out = model.denoise(P.q_sample(model.schedule, batch["x"], t, eps), t, None)
        if gamma == 0:
            torch.testing.assert_close(losses[gamma], F.mse_loss(out, target))
    assert torch.isfinite(losses[5.0]) and losses[5.0] != losses[0.0]


def test_lognormal_timesteps_follow_edms_noise_levels_on_the_schedules_steps():
    s = make_schedule("linear", 1000)
    p = P.lognormal_timestep_probs(s, -1.2, 1.2)
    assert p.shape == (1000,) and (p >= 0).all()
    torch.testing.assert_close(p.sum(), torch.tensor(1.0, dtype=torch.float64))
    # the median step is the one whose noise level is EDM's median, exp(P_mean)
    ab = s.alpha_bar
    log_sigma = 0.5 * torch.log((1 - ab) / ab)
    median = int((p.cumsum(0) < 0.5).sum())
    assert abs(log_sigma[median] - (-1.2)) < 0.02
    # the share of draws with ln sigma within one std of the mean is the normal's 68%
    inside = p[(log_sigma > -2.4) & (log_sigma < 0.0)].sum()
    assert abs(float(inside) - 0.6827) < 0.01
    # a wider normal spreads the draws: more of them at the noisiest steps
    assert P.lognormal_timestep_probs(s, -1.2, 3.0)[800:].sum() > 10 * p[800:].sum()


def test_lognormal_timesteps_draw_the_training_steps_and_uniform_keeps_randint():
    ds = genzoo.load_dataset("digits")
    uniform = genzoo.build_model("ddpm", ds.info(), {"T": 100, "channels": [8, 16]}, seed=0)
    assert uniform.t_probs is None
    torch.manual_seed(3)
    drawn = uniform._timesteps(8, "cpu")
    torch.manual_seed(3)
    assert torch.equal(drawn, torch.randint(0, 100, (8,)))
    config = {"T": 100, "channels": [8, 16], "timesteps": "lognormal", "lognormal_mean": 2.0}
    model = genzoo.build_model("ddpm", ds.info(), config, seed=0)
    torch.manual_seed(0)
    t = model._timesteps(4000, "cpu")
    probs = P.lognormal_timestep_probs(model.schedule, 2.0, 1.2)
    counts = torch.bincount(t, minlength=100).double() / 4000
    assert (counts - probs).abs().max() < 0.03  # the draws follow p(t) ...
    expected = float((probs * torch.arange(100)).sum())
    assert abs(t.float().mean() - expected) < 1.5 and expected > 55  # the noisy half, mostly


# ---------------------------------------------------------------- samplers
def test_ddim_with_eta_zero_is_deterministic_and_inverts():
    s = make_schedule("cosine", 1000)
    predict, ts = gaussian_predict(s), spaced_timesteps(1000, 100)
    x_T = torch.randn(64, 1, dtype=torch.float64)
    a = ddim_sample(predict, s, ts, x_T, 0.0, torch.Generator().manual_seed(1))
    b = ddim_sample(predict, s, ts, x_T, 0.0, torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    # inversion reads each prediction at the step's start: a first-order error that
    # shrinks in proportion to the step (DDIM paper, Table 2's trend)
    x0 = M + S * torch.randn(64, 1, dtype=torch.float64)
    err = {}
    for n in (50, 200, 1000):
        ts = spaced_timesteps(1000, n)
        back = ddim_sample(predict, s, ts, ddim_invert(predict, s, ts, x0), 0.0)
        err[n] = (back - x0).abs().max().item()
    assert err[50] > 2 * err[200] > 4 * err[1000] and err[1000] < 0.01


def test_ddim_eta_one_over_all_steps_is_ancestral_sampling():
    """With every step and eta = 1, DDIM's update is the posterior mean plus sqrt(beta~) noise:
    given the same noise draws it lands exactly where ancestral sampling does."""
    s = make_schedule("linear", 100)
    predict, ts = gaussian_predict(s), spaced_timesteps(100, 100)
    x_T = torch.randn(500, 1, dtype=torch.float64)
    a = ddpm_sample(predict, s, ts, x_T, torch.Generator().manual_seed(3))
    b = ddim_sample(predict, s, ts, x_T, 1.0, torch.Generator().manual_seed(3))
    assert torch.allclose(a, b, atol=1e-10)


@pytest.mark.parametrize(
    "sampler,steps", [("ddpm", 1000), ("ddim", 50), ("dpm-solver", 20), ("dpm-solver", 10)]
)
def test_samplers_draw_the_data_distribution_from_its_exact_denoiser(sampler, steps):
    s = make_schedule("cosine", 1000)
    predict = gaussian_predict(s)
    g = torch.Generator().manual_seed(4)
    x_T = torch.randn(20_000, 1, generator=g, dtype=torch.float64)
    if sampler == "ddpm":
        x = ddpm_sample(predict, s, spaced_timesteps(1000, steps), x_T, g)
    elif sampler == "ddim":
        x = ddim_sample(predict, s, spaced_timesteps(1000, steps), x_T, 0.0)
    else:
        x = dpm_solver_sample(predict, s, logsnr_timesteps(s, steps), x_T)
    assert x.mean().item() == pytest.approx(M, abs=0.015)
    assert x.std().item() == pytest.approx(S, abs=0.015)


def test_dpm_solver_is_second_order():
    """For Gaussian data the probability-flow ODE has a closed-form solution: x_T maps to
    M + S (x_T - alpha_T M) / sqrt(alpha_T^2 S^2 + sigma_T^2). Doubling DPM-Solver++(2M)'s
    steps cuts its error about four-fold (second order); first-order DDIM's only halves."""
    s = make_schedule("linear", 1000)
    predict = gaussian_predict(s)
    x_T = torch.linspace(-2, 2, 9, dtype=torch.float64)[:, None]
    ab_T = s.alpha_bar[-1]
    exact = M + S * (x_T - ab_T.sqrt() * M) / (ab_T * S**2 + 1 - ab_T).sqrt()

    def err(n, fn):
        return (fn(predict, s, logsnr_timesteps(s, n), x_T) - exact).abs().max().item()

    ddim = lambda *a: ddim_sample(*a, 0.0)  # noqa: E731
    assert err(20, dpm_solver_sample) / err(40, dpm_solver_sample) > 3.0
    assert err(20, ddim) / err(40, ddim) < 2.5
    assert err(20, dpm_solver_sample) < err(20, ddim) / 5


# ---------------------------------------------------------------- the bound
@pytest.mark.parametrize(
    "config,asked,steps",
    [
        ({}, None, 50),  # ddim, in sample_steps
        ({}, "ddpm", 1000),  # ancestral by name: every step
        ({"sampler": "ddpm", "sample_steps": 7}, None, 7),  # the configured pair
        ({"sampler": "ddpm", "sample_steps": 7}, "ddpm", 7),
        ({"sampler": "ddpm", "sample_steps": 7}, "ddim", 7),
    ],
)
def test_each_sampler_takes_its_default_number_of_steps(config, asked, steps):
    info = genzoo.DataInfo("points", (2,), (-3.0, 3.0))
    model = genzoo.build_model("ddpm", info, {"width": 8, "blocks": 1, **config})
    calls = []
    model.denoise = lambda x_t, t, y=None: calls.append(1) or torch.zeros_like(x_t)
    model.sample(3, sampler=asked)
    assert len(calls) == steps


def test_the_bound_is_a_lower_bound_and_its_terms_vanish_for_the_true_posterior():
    """For N(M, S^2) data and its exact denoiser, -L stays below the true log p(x) (with fixed
    variances it is loose in the first steps, as Nichol & Dhariwal's figure 2 shows); a
    denoiser that returns x_0 itself makes every KL term 0, leaving L_T + L_0; and the
    stratified estimate from 20 timesteps agrees with the exact bound on average."""
    info = genzoo.DataInfo("points", (1,), (-3.0, 3.0))
    model = genzoo.build_model("ddpm", info, {"T": 200, "schedule": "cosine", "prediction": "x0"})
    s = model.schedule
    exact = gaussian_predict(s)
    model.denoise = lambda x_t, t, y=None: exact(x_t, t).x0.float()
    g = torch.Generator().manual_seed(5)
    x = M + S * torch.randn(4000, 1, generator=g)
    bound = model.log_likelihood(x, generator=g)
    true = -0.5 * math.log(2 * math.pi * S**2) - 0.5 * ((x[:, 0] - M) / S) ** 2
    assert bound.mean() < true.mean()
    estimate = model.log_likelihood(x, k=20, generator=g)
    stderr = (estimate - bound).std() / math.sqrt(len(x))
    assert abs((estimate - bound).mean()) < 4 * stderr
    # the geometric strata spread clearly less than 19 equal ones at the same cost (here about
    # half as much; with equal strata the two would be alike)
    with torch.no_grad():
        equal = P.prior_kl(s, x) + model._vlb_at(x, torch.zeros(len(x), dtype=torch.long), None, g)
        edges = torch.linspace(1, 200, 20).round().long().tolist()
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            equal = equal + (hi - lo) * model._vlb_at(x, torch.randint(lo, hi, (len(x),)), None, g)
    assert (estimate - bound).std() < 0.75 * (-equal - bound).std()
    # the true x_0 as the prediction: q(x_{t-1} | x_t, x_0) = p(x_{t-1} | x_t) for t >= 1
    cheat = x.clone()
    model.denoise = lambda x_t, t, y=None: cheat
    l0 = -P.gaussian_log_likelihood(x, x, s.posterior_log_variance[0].float().expand_as(x))
    expect = -(P.prior_kl(s, x) + l0[:, 0])
    assert torch.allclose(model.log_likelihood(x, generator=g), expect, atol=1e-4)


@pytest.mark.parametrize("T,k", [(1000, 10), (1000, 3), (1000, 50), (200, 20), (20, 19), (5, 2)])
def test_bound_strata_cover_every_step_once_finest_first(T, k):
    edges = P.bound_strata(T, k)
    assert edges[0] == 1 and edges[-1] == T and len(edges) == k  # k - 1 strata of 1..T-1
    widths = [hi - lo for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    assert min(widths) >= 1 and widths == sorted(widths)
    with pytest.raises(ValueError, match="k must be"):
        P.bound_strata(T, T + 1)


# ---------------------------------------------------------------- command line and report
TINY_CLI = [
    "--set", "model.T=20", "--set", "model.channels=[8,8]", "--set", "model.attention=[1]",
    "--set", "model.heads=2", "--set", "model.norm_groups=4", "--set", "model.sample_steps=5",
    "--set", "train.eval_every=0", "--set", "train.batch_size=32",
]  # fmt: skip


@pytest.fixture(scope="module")
def cddpm_run(tmp_path_factory):
    from genzoo.cli.main import main

    out = tmp_path_factory.mktemp("diff") / "run"
    args = ["train", "cddpm", "--data", "digits", "--steps", "10", "--out", str(out)]
    assert main([*args, *TINY_CLI]) == 0
    return out


def test_a_diffusion_run_samples_with_every_sampler_and_writes_its_report(cddpm_run, tmp_path):
    from PIL import Image

    from genzoo.cli.main import main

    saved = genzoo.load(cddpm_run / "model")
    assert isinstance(saved, genzoo.MODELS.get("cddpm"))
    html = (cddpm_run / "report.html").read_text()
    for title in ("Trajectory", "Samples: ddpm, 20 steps", "dpm-solver, 20 steps", "guidance"):
        assert title in html
    outs = {}
    for sampler, steps in (("ddpm", "20"), ("ddim", "4"), ("dpm-solver", "3")):
        path = tmp_path / f"{sampler}.npy"
        args = ["sample", str(cddpm_run), "--sampler", sampler, "--steps", steps, "--n", "6"]
        assert main([*args, "--labels", "3", "--guidance", "2", "--out", str(path)]) == 0
        outs[sampler] = np.load(path)
        assert outs[sampler].shape == (6, 1, 8, 8)
        assert outs[sampler].min() >= 0 and outs[sampler].max() <= 16  # digits' own units
    strip = tmp_path / "t.png"
    assert main(["sample", str(cddpm_run), "--trajectory", "--n", "3", "--out", str(strip)]) == 0
    assert Image.open(strip).size[0] > 6 * 8  # six frames across: x_T and the 5 steps
    frames = saved.trajectory(2, frames=10, generator=torch.Generator().manual_seed(0))
    assert [title for title, _ in frames] == ["x_T"] + [f"step {i}" for i in range(1, 6)]


def test_diffusion_options_are_refused_where_they_do_not_apply(cddpm_run, tmp_path, capsys):
    from genzoo.cli.main import main

    out = str(tmp_path / "x.png")
    assert main(["sample", str(cddpm_run), "--steps", "50", "--out", out]) == 2
    assert "--steps 50: choose between 1 and the model's T = 20" in capsys.readouterr().err
    assert main(["sample", str(cddpm_run), "--trajectory", "--out", str(tmp_path / "t.npy")]) == 2
    assert "--trajectory: write a .png" in capsys.readouterr().err


def test_encode_reconstruct_and_interpolate_go_through_ddim_inversion(cddpm_run, tmp_path):
    from genzoo.cli.main import main

    codes = tmp_path / "codes.npz"
    assert main(["encode", str(cddpm_run), "--out", str(codes)]) == 0
    z, y = np.load(codes)["z"], np.load(codes)["y"]
    assert z.shape[1:] == (1, 8, 8) and len(z) == len(y)
    model = genzoo.load(cddpm_run)
    data = genzoo.load_dataset(genzoo.DataConfig(source="digits", seed=0))
    x = model.to_model(data.x_test[:4])
    y4 = torch.as_tensor(data.y_test[:4])
    assert torch.allclose(torch.from_numpy(z[:4]).float(), model.encode(x, y4), atol=1e-5)
    # the codes are noise: decoding them deterministically gives back the reconstruction
    assert torch.allclose(model.decode(model.encode(x, y4), y4), model.reconstruct(x, y4))
    path = tmp_path / "path.npy"
    args = ["interpolate", str(cddpm_run), "--a", "0", "--b", "1", "--steps", "5"]
    assert main([*args, "--mode", "spherical", "--out", str(path)]) == 0
    strip = np.load(path)[0]  # (modes, steps, ...): the one spherical row
    assert strip.shape == (5, 1, 8, 8)
    ends = model.to_data(model.reconstruct(x[:1], torch.as_tensor(data.y_test[:1])))
    assert np.allclose(strip[0], ends[0], atol=1e-3)  # the path starts at example 0's inversion
    assert main([*args, "--out", str(tmp_path / "path.png")]) == 0
    assert main(["reconstruct", str(cddpm_run), "--n", "4", "--out", str(tmp_path / "r.png")]) == 0
