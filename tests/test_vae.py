"""The variational autoencoder family: its maths against independent answers, and its behaviour
in training (warm-up, diagnostics, conditioning, binarization)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import genzoo
from genzoo.models.vae.common import (
    bernoulli_log_prob,
    gaussian_log_prob,
    iwae_bound,
    kl_standard_normal,
    log_normal,
    log_standard_normal,
    reparameterize,
    slerp,
)
from genzoo.train import TrainConfig, Trainer

from .conftest import run_cli


@pytest.fixture(scope="module")
def digits():
    return genzoo.load_dataset("digits")


def fit(name, ds, steps, config, seed=0, **train):
    model = genzoo.build_model(name, ds.info(), config, seed=seed)
    cfg = TrainConfig(steps=steps, log_every=0, eval_every=0, tensorboard=False, **train)
    Trainer(model, ds, cfg, console=False).fit()
    return model.eval()


# ---------------------------------------------------------------- maths
def test_closed_form_kl_equals_a_monte_carlo_estimate():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
    exact = kl_standard_normal(mu, logvar).sum(1)  # (3,)
    n = 400_000
    eps = torch.randn(n, 3, 4, generator=g, dtype=torch.float64)
    z = reparameterize(mu.double(), logvar.double(), eps)
    ratio = log_normal(z, mu.double(), logvar.double()) - log_standard_normal(z)  # (n, 3)
    estimate, stderr = ratio.mean(0), ratio.std(0) / math.sqrt(n)
    assert torch.all((estimate - exact.double()).abs() < 4 * stderr), (estimate, exact)


def test_reparameterized_draws_have_the_posterior_moments_and_carry_gradients():
    mu = torch.tensor([1.0, -2.0], requires_grad=True)
    logvar = torch.tensor([0.0, math.log(0.25)], requires_grad=True)
    z = reparameterize(mu.expand(200_000, 2), logvar.expand(200_000, 2))
    assert torch.allclose(z.mean(0), mu.detach(), atol=0.01)
    assert torch.allclose(z.std(0), torch.tensor([1.0, 0.5]), atol=0.01)
    z.sum().backward()
    assert mu.grad is not None and logvar.grad is not None and logvar.grad.abs().sum() > 0


def test_iwae_bound_of_one_sample_is_the_elbo_and_of_equal_weights_their_value():
    log_w = torch.randn(1, 7)
    assert torch.allclose(iwae_bound(log_w), log_w[0])
    same = torch.full((50, 3), -2.5)
    assert torch.allclose(iwae_bound(same), torch.full((3,), -2.5))


def test_slerp_stays_on_the_sphere_and_hits_both_ends():
    a, b = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 3.0])
    path = slerp(a, b, torch.linspace(0, 1, 9))
    assert torch.allclose(path[0], a) and torch.allclose(path[-1], b, atol=1e-6)
    assert torch.allclose(path.norm(dim=1), torch.full((9,), 3.0), atol=1e-5)


def test_log_likelihood_matches_the_exact_density_of_a_linear_gaussian_model(digits):
    """With a linear decoder and fixed sigma, p(x) = N(b, W W^T + sigma^2 I) exactly; the
    importance-sampled estimate must approach it from below as k grows."""
    ds = genzoo.load_dataset("ring8", n=400)
    config = {"hidden": [], "latent_dim": 1, "likelihood": "gaussian", "sigma": 0.5}
    model = fit("vae", ds, 300, config)
    lin = model.decoder[0]
    cov = lin.weight @ lin.weight.T + 0.25 * torch.eye(2)
    x = model.to_model(ds.x_test[:200])
    exact = torch.distributions.MultivariateNormal(lin.bias, cov).log_prob(x)
    g = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    est = {k: model.log_likelihood(x, k, generator=g()) for k in (1, 10, 2000)}
    gaps = {k: float((exact - v).mean().detach()) for k, v in est.items()}
    assert gaps[1] > gaps[10] > gaps[2000] > -0.01, gaps
    assert gaps[2000] < 0.02, gaps


def test_decoder_log_likelihoods_match_torch_distributions_with_k_samples_broadcast():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 2, 4, 4, generator=g)  # grey levels: the continuous Bernoulli form
    logits = 3 * torch.randn(5, 3, 2, 4, 4, generator=g)  # k = 5 decodings of each example
    mean, logvar = torch.randn(2, 5, 3, 2, 4, 4, generator=g)
    dims = (-3, -2, -1)
    bern = torch.distributions.Bernoulli(logits=logits, validate_args=False)
    expect = bern.log_prob(x.expand_as(logits)).sum(dims)
    torch.testing.assert_close(bernoulli_log_prob(logits, x), expect)
    torch.testing.assert_close(bernoulli_log_prob(logits[0], x), expect[0])  # no sample dim
    normal = torch.distributions.Normal(mean, (0.5 * logvar).exp())
    torch.testing.assert_close(gaussian_log_prob(x, mean, logvar), normal.log_prob(x).sum(dims))
    shared = logvar[:1, :1]  # one logvar for every sample and example (fixed sigma)
    expect = torch.distributions.Normal(mean, (0.5 * shared).exp()).log_prob(x).sum(dims)
    torch.testing.assert_close(gaussian_log_prob(x, mean, shared), expect)


def test_iwae_bound_is_above_the_elbo_and_grows_with_k(digits):
    model = fit("vae", digits, 200, {"hidden": [64], "latent_dim": 4})
    x = model.to_model(digits.x_test)
    means = {}
    for k in (1, 5, 50):
        with torch.no_grad():
            log_w = model.log_weights(x, None, k, torch.Generator().manual_seed(k))
        means[k] = float(iwae_bound(log_w).mean())
    assert means[1] < means[5] < means[50], means


# ---------------------------------------------------------------- the models in training
def test_kl_warm_up_follows_the_trainer_step(digits, tmp_path):
    model = genzoo.build_model(
        "beta-vae", digits.info(), {"hidden": [16], "latent_dim": 2, "beta": 2, "warmup_steps": 40}
    )
    cfg = TrainConfig(steps=60, log_every=10, eval_every=0, tensorboard=False)
    Trainer(model, digits, cfg, out=tmp_path / "run", console=False).fit()
    lines = [
        json.loads(s) for s in (tmp_path / "run" / "metrics.jsonl").read_text().split("\n") if s
    ]
    betas = [r["vae/beta"] for r in lines if "vae/beta" in r]
    # the mean weight over each 10-step window: steps 0-9 average 4.5 / 40 * 2, and so on
    assert betas[:4] == pytest.approx([(s + 4.5) / 20 for s in (0, 10, 20, 30)])
    assert betas[-1] == 2.0


def test_diagnostics_log_kl_per_dimension_and_warn_on_collapse(digits, tmp_path):
    cfg = TrainConfig(steps=150, log_every=0, eval_every=150, tensorboard=False)
    healthy = genzoo.build_model("vae", digits.info(), {"hidden": [32], "latent_dim": 3})
    Trainer(healthy, digits, cfg, out=tmp_path / "ok", console=False).fit()
    collapsed = genzoo.build_model(
        "beta-vae", digits.info(), {"hidden": [32], "latent_dim": 3, "beta": 200.0}
    )
    Trainer(collapsed, digits, cfg, out=tmp_path / "bad", console=False).fit()
    for run, expect_warning in (("ok", False), ("bad", True)):
        record = json.loads((tmp_path / run / "metrics.jsonl").read_text().split("\n")[-2])
        per_dim = [record[f"diag/kl/z{d:02d}"] for d in range(3)]
        assert sum(per_dim) == pytest.approx(record["diag/kl"])
        summary = json.loads((tmp_path / run / "summary.json").read_text())
        warned = any("posterior collapse" in w["message"] for w in summary["warnings"])
        assert warned == expect_warning, (run, record["diag/active_units"], summary["warnings"])
        assert (record["diag/active_units"] == 0) == expect_warning


def test_cvae_samples_the_classes_it_is_asked_for(digits):
    from genzoo.metrics.features import feature_network_for, to_unit

    model = fit("cvae", digits, 1500, {"hidden": [128], "latent_dim": 4}, lr=2e-3)
    labels = torch.arange(200) % 10
    x = model.sample(200, generator=torch.Generator().manual_seed(0), labels=labels)
    net = feature_network_for(digits.info())
    with torch.no_grad():
        pred = net.probabilities(to_unit(torch.from_numpy(model.to_data(x)), digits.info()))
    accuracy = float((pred.argmax(1) == labels).float().mean())
    assert accuracy > 0.8, accuracy  # chance: 0.1


def test_dynamic_binarization_draws_binary_data_each_time(digits):
    ds = digits
    model = genzoo.build_model(
        "vae", ds.info(), {"hidden": [16], "latent_dim": 2, "binarize": True}
    )
    model.transform = ds.transform(model.data_range())
    x = model.to_model(ds.x_test[:50])
    a, b = model.binarize(x), model.binarize(x)
    assert set(a.unique().tolist()) <= {0.0, 1.0} and not torch.equal(a, b)
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    assert torch.equal(
        model.log_likelihood(x, 5, generator=g()), model.log_likelihood(x, 5, generator=g())
    )


@pytest.mark.parametrize(
    "config, field",
    [
        ({"likelihood": "gaussian", "binarize": True}, "binarize"),
        ({"sigma": 0.0}, "sigma"),
        ({"k": 0}, "k"),
    ],
)
def test_bad_configs_name_the_field(config, field, digits):
    name = "iwae" if "k" in config else "vae"
    with pytest.raises(genzoo.ConfigError, match=field):
        genzoo.build_model(name, digits.info(), config)


def test_bernoulli_decoder_is_refused_for_points():
    ds = genzoo.load_dataset("ring8", n=200)
    with pytest.raises(genzoo.ConfigError, match="model.likelihood"):
        genzoo.build_model("vae", ds.info(), {"likelihood": "bernoulli"})


def test_cli_nll_and_labelled_samples(tmp_path):
    run = tmp_path / "cvae"
    common = ["--data", "digits", "--steps", "60", "--set", "train.final_eval=false"]
    run_cli("train", "cvae", *common, "--set", "model.hidden=[16]", "--out", str(run), check=True)
    out = run_cli("eval", str(run), "--metrics", "nll", "--nll-samples", "20", "--json", check=True)
    nll = json.loads(out.stdout)["metrics"]["nll"]
    assert nll["values"]["nll_nats"] > 0 and nll["provenance"]["importance_samples"] == 20
    assert nll["provenance"]["density"] == "log p(x | y)"
    run_cli(
        "sample",
        str(run),
        "--n",
        "6",
        "--labels",
        "3,7",
        "--out",
        str(tmp_path / "s.npy"),
        check=True,
    )
    assert np.load(tmp_path / "s.npy").shape == (6, 1, 8, 8)


# ---------------------------------------------------------------- latent walks and augmentation
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("vae-runs")
    common = ["--data", "digits", "--steps", "150", "--set", "train.final_eval=false"]
    for name in ("vae", "cvae"):
        run_cli(
            "train",
            name,
            *common,
            "--set",
            "model.hidden=[32]",
            "--out",
            str(root / name),
            check=True,
        )
    return root


def test_interpolation_ends_are_the_reconstructions_and_slerp_keeps_the_norm(runs, tmp_path):
    from genzoo.models.latent import interpolate
    from genzoo.train.checkpoint import load

    out = tmp_path / "path.npy"
    run_cli(
        "interpolate",
        str(runs / "vae"),
        "--a",
        "0",
        "--b",
        "5",
        "--steps",
        "7",
        "--out",
        str(out),
        check=True,
    )
    path = np.load(out)  # (2 modes, 7 steps, 1, 8, 8), data units
    model = load(runs / "vae" / "model").eval()
    ds = genzoo.load_dataset("digits")
    x = model.to_model(ds.x_test[[0, 5]])
    with torch.no_grad():
        ends = model.to_data(model.reconstruct(x))
    assert path.shape == (2, 7, 1, 8, 8)
    np.testing.assert_allclose(path[:, 0], np.stack([ends[0]] * 2), atol=1e-4)
    np.testing.assert_allclose(path[:, -1], np.stack([ends[1]] * 2), atol=1e-4)
    assert not np.allclose(path[0, 3], path[1, 3])  # the two modes take different routes
    z = model.encode(x).detach()
    walk = interpolate(model, z[0], z[1], 5, "spherical")
    assert walk.shape == (5, 1, 8, 8)


def test_class_arithmetic_to_the_own_class_is_the_reconstruction(runs):
    from genzoo.models.latent import class_means, class_transfer
    from genzoo.train.checkpoint import load

    model = load(runs / "vae" / "model").eval()
    ds = genzoo.load_dataset("digits")
    x, y = model.to_model(ds.x_test), torch.as_tensor(ds.y_test)
    means = class_means(model, x, y, 10)
    grid = class_transfer(model, x[:4], y[:4], means)  # (4, 12, 1, 8, 8)
    assert grid.shape == (4, 12, 1, 8, 8)
    for i in range(4):
        assert torch.allclose(grid[i, 2 + int(y[i])], grid[i, 1], atol=1e-5)
        assert not torch.allclose(grid[i, 2 + (int(y[i]) + 1) % 10], grid[i, 1], atol=1e-3)


def test_latent_commands_write_pictures_and_refuse_bad_input(runs, tmp_path):
    for name in ("vae", "cvae"):
        run = str(runs / name)
        run_cli(
            "interpolate",
            run,
            "--a",
            "class:1",
            "--b",
            "class:7",
            "--out",
            str(tmp_path / f"{name}-i.png"),
            check=True,
        )
        run_cli("interpolate", run, "--out", str(tmp_path / f"{name}-p.png"), check=True)
        run_cli(
            "traverse", run, "--dims", "0,1", "--out", str(tmp_path / f"{name}-t.png"), check=True
        )
        run_cli("arithmetic", run, "--n", "3", "--out", str(tmp_path / f"{name}-a.png"), check=True)
        for png in tmp_path.glob(f"{name}-*.png"):
            assert png.stat().st_size > 200
    bad = [
        ("interpolate", "--a", "99999", "--b", "0", "--out", str(tmp_path / "x.png")),
        ("interpolate", "--a", "class:eleven", "--out", str(tmp_path / "x.png")),
        ("traverse", "--dims", "99", "--out", str(tmp_path / "x.png")),
        ("augment", "--n", "10", "--labels", "3", "--out", str(tmp_path / "x.npz")),
    ]
    for cmd, *args in bad:
        proc = run_cli(cmd, str(runs / "vae"), *args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_augmented_data_reads_back_with_its_labels(runs, tmp_path):
    run = str(runs / "cvae")
    run_cli("augment", run, "--n", "100", "--out", str(tmp_path / "syn.npz"), check=True)
    run_cli(
        "augment", run, "--n", "20", "--labels", "3,8", "--out", str(tmp_path / "syn"), check=True
    )
    ds = genzoo.load_dataset(str(tmp_path / "syn.npz"))
    y = np.concatenate([ds.y_train, ds.y_test])
    assert ds.classes == [str(c) for c in range(10)] and np.bincount(y).tolist() == [10] * 10
    folder = genzoo.load_dataset(str(tmp_path / "syn"))
    assert folder.classes == ["3", "8"] and len(folder.x_train) + len(folder.x_test) == 20
    assert folder.shape == (1, 8, 8)
    # and a model trains on it
    run_cli(
        "train",
        "ae",
        "--data",
        str(tmp_path / "syn.npz"),
        "--steps",
        "5",
        "--set",
        "train.batch_size=16",
        "--out",
        str(tmp_path / "r"),
        check=True,
    )
