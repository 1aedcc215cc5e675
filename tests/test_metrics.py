"""Metrics: identities of each formula, the toy-2D protocol, FID floors against degraded
images, shipped feature networks, and evaluation end to end. The network is off throughout."""

from __future__ import annotations

import math
import socket

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import genzoo
from genzoo.metrics import evaluate, toy
from genzoo.metrics import reconstruction as rec
from genzoo.metrics import sample_quality as sq
from genzoo.metrics.evaluate import EvalContext
from genzoo.metrics.features import load_feature_net, shipped, to_unit


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access is disabled in the metric tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def gauss(n, d, shift=0.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64) + shift


# ---------------------------------------------------------------- toy 2-D protocol
@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_real_held_out_points_capture_every_mode(name):
    ds = genzoo.load_dataset(name)
    means, std = torch.tensor(ds.meta["means"]), ds.meta["std"]
    m = toy.mode_metrics(torch.as_tensor(ds.x_test), means, std)
    assert m["modes"] == m["of_modes"] == len(means)
    # within 3 std in 2-D: P(chi_2 < 3) = 1 - exp(-9/2) = 0.9889
    assert m["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.006)
    assert m["reverse_kl"] < 0.02
    # E[r^2 | r < 3 std] = 2 - 9 e^-4.5 / (1 - e^-4.5) in std^2, so sqrt(that / 2) per axis
    tail = 9 * math.exp(-4.5) / (1 - math.exp(-4.5))
    assert m["spread"] == pytest.approx(math.sqrt((2 - tail) / 2), abs=0.02)


def test_spread_catches_modes_shrunk_to_points():
    """Every sample on a mode mean: perfect by the three PacGAN numbers, spread 0."""
    ds = genzoo.load_dataset("grid25")
    means, std = torch.tensor(ds.meta["means"]), ds.meta["std"]
    points = means.repeat(100, 1)
    m = toy.mode_metrics(points, means, std)
    assert m["modes"] == 25 and m["high_quality"] == 1 and m["reverse_kl"] < 1e-12
    assert m["spread"] == 0
    half = toy.mode_metrics(means.repeat(100, 1) + 0.5 * std * gauss(2500, 2).float(), means, std)
    assert half["spread"] == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_a_collapsed_generator_captures_one_mode(name):
    ds = genzoo.load_dataset(name)
    means, std = torch.tensor(ds.meta["means"]), ds.meta["std"]
    collapsed = means[3] + std * gauss(2500, 2, seed=1).float()
    m = toy.mode_metrics(collapsed, means, std)
    assert m["modes"] == 1 and m["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    assert m["reverse_kl"] == pytest.approx(math.log(len(means)))
    far = toy.mode_metrics(means[:1] + 0.5, means, std)  # between modes: nothing high quality
    assert far["high_quality"] == 0 and far["modes"] == 0


def test_knn_kl_matches_the_gaussian_closed_form():
    p, q_same, q_far = gauss(3000, 2), gauss(3000, 2, seed=1), gauss(3000, 2, 1.0, seed=2)
    assert abs(toy.knn_kl(p, q_same)) < 0.08
    assert toy.knn_kl(p, q_far) == pytest.approx(1.0, abs=0.15)  # |mu|^2 / 2 = 2 / 2


def test_mmd_is_near_zero_for_one_distribution_and_positive_for_two():
    assert abs(toy.mmd(gauss(1000, 2), gauss(1000, 2, seed=1))) < 0.005
    assert toy.mmd(gauss(1000, 2), gauss(1000, 2, 1.0, seed=1)) > 0.1


# ---------------------------------------------------------------- feature-space metrics
def test_fid_matches_the_closed_form_for_gaussians():
    mu = torch.tensor([1.0, -2.0, 0.5, 0.0], dtype=torch.float64)
    fid = sq.fid(gauss(20000, 4), gauss(20000, 4, seed=1) + mu)
    assert fid == pytest.approx(float(mu @ mu), rel=0.03)  # covariances cancel
    scale = sq.fid(gauss(20000, 1), 2 * gauss(20000, 1, seed=1))
    assert scale == pytest.approx(1 + 4 - 2 * 2, abs=0.05)  # 1D: (s1 - s2)^2


def test_kid_is_unbiased_near_zero_and_grows_with_shift():
    same, _ = sq.kid(gauss(1000, 8), gauss(1000, 8, seed=1), subsets=20, subset_size=500)
    far, _ = sq.kid(gauss(1000, 8), gauss(1000, 8, 1.0, seed=1), subsets=20, subset_size=500)
    assert abs(same) < 0.01 and far > 0.1


def test_precision_recall_density_coverage_behave():
    real, same = gauss(800, 5), gauss(800, 5, seed=1)
    p, r = sq.precision_recall(real, same)
    d, c = sq.density_coverage(real, same)
    assert p > 0.7 and r > 0.7 and 0.7 < d < 1.3 and c > 0.9
    far = gauss(800, 5, 10.0, seed=2)
    assert sq.precision_recall(real, far) == (0.0, 0.0)
    assert sq.density_coverage(real, far) == (0.0, 0.0)
    narrow = 0.05 * gauss(800, 5, seed=3)  # all fakes near the mode: precise, no recall
    p, r = sq.precision_recall(real, narrow)
    assert p > 0.95 and r < 0.2


def test_class_scores_from_their_definitions():
    k = 10
    uniform = F.one_hot(torch.arange(1000) % k, k).double()
    s = sq.class_scores(uniform)
    assert s["classes_covered"] == k and s["kl_uniform"] == pytest.approx(0, abs=1e-12)
    assert s["inception_score"] == pytest.approx(k)
    collapsed = F.one_hot(torch.zeros(1000, dtype=torch.long), k).double()
    s = sq.class_scores(collapsed)
    assert s["classes_covered"] == 1 and s["kl_uniform"] == pytest.approx(math.log(k))
    assert s["inception_score"] == pytest.approx(1.0)


def test_reconstruction_and_likelihood_formulas():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, 1, 16, 16, generator=g)
    noisy = (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    mse = float(((noisy - x) ** 2).mean())
    assert rec.psnr(noisy, x) == pytest.approx(10 * math.log10(1 / mse), rel=1e-4)
    assert rec.ssim(x, x) == pytest.approx(1.0) and rec.ssim(noisy, x) < 0.95
    small = x[:, :, :8, :8]  # 8x8 digits: the window shrinks to fit
    assert rec.ssim(small, small) == pytest.approx(1.0) and rec.ssim(noisy[:, :, :8, :8], small) < 1
    s = rec.likelihood_summary(torch.tensor([-100.0, -120.0]), dims=50)
    assert s["nll_nats"] == 110 and s["bits_per_dim"] == pytest.approx(110 / (50 * math.log(2)))


# ---------------------------------------------------------------- shipped feature networks
@pytest.mark.parametrize("name,target", [("mnist5k", 0.97), ("digits", 0.95)])
def test_shipped_feature_networks_reach_their_accuracy(name, target):
    fn = load_feature_net(shipped(name))
    ds = genzoo.load_dataset(name)
    probs = fn.probabilities(to_unit(ds.x_test, ds.info()))
    acc = float((probs.argmax(1).numpy() == ds.y_test).mean())
    assert acc >= target and acc == pytest.approx(fn.meta["test_accuracy"], abs=2e-3)
    assert fn.meta["data"]["source"] == name and len(fn.sha256) == 64


def test_fid_floor_is_far_below_noise_and_blur():
    ds = genzoo.load_dataset("mnist5k")
    fn = load_feature_net(shipped("mnist5k"))
    info = ds.info()
    real = fn.features(to_unit(ds.x_test, info))
    pick = np.random.default_rng(0).choice(len(ds.x_train), 1000, replace=False)
    train = fn.features(to_unit(ds.x_train[pick], info))  # a random 1000: the split is sorted
    x = to_unit(ds.x_test, info)
    blurred = F.interpolate(F.avg_pool2d(x, 4), size=28, mode="bilinear")
    noise = torch.rand(x.shape, generator=torch.Generator().manual_seed(0))
    floor = sq.fid(real, train)
    fid_blur, fid_noise = sq.fid(real, fn.features(blurred)), sq.fid(real, fn.features(noise))
    assert floor * 10 < fid_blur and floor * 10 < fid_noise, (floor, fid_blur, fid_noise)


# ---------------------------------------------------------------- evaluation end to end
@pytest.fixture(scope="module")
def trained_digits_ae():
    ds = genzoo.load_dataset("digits")
    model = genzoo.build_model("ae", ds.info(), {"latent_dim": 8, "hidden": [64]}, seed=0)
    genzoo.Trainer(
        model,
        ds,
        genzoo.TrainConfig(steps=200, batch_size=64, log_every=0, tensorboard=False),
        console=False,
    ).fit()
    return model, ds


def test_default_image_metrics_have_floors_and_provenance(trained_digits_ae):
    model, ds = trained_digits_ae
    results, notes = evaluate(model, ds)
    assert (
        set(results)
        == {"fid", "kid", "precision_recall", "density_coverage", "classes", "recon", "loss"}
        and notes == []
    )
    for name in ("fid", "kid", "precision_recall", "density_coverage", "classes"):
        prov = results[name]["provenance"]
        assert prov["generated"] == prov["reference"] == len(ds.x_test)
        assert prov["reference_split"] == "test" and len(prov["features"]["sha256"]) == 64
        assert results[name]["floor"] is not None
    assert results["fid"]["floor"]["fid"] < results["fid"]["values"]["fid"]
    again, _ = evaluate(model, ds, ["fid"])
    assert again["fid"] == results["fid"]  # seeded: the same numbers twice


def test_reconstruction_runs_in_the_devices_sampling_batches(trained_digits_ae, monkeypatch):
    model, ds = trained_digits_ae
    sizes = []
    reconstruct = model.reconstruct
    monkeypatch.setattr(
        model, "reconstruct", lambda x, **kw: sizes.append(len(x)) or reconstruct(x)
    )
    results, _ = evaluate(model, ds, ["recon"])
    assert sum(sizes) == len(ds.x_test) and max(sizes) == 100  # the CPU's, not 500 at once
    assert results["recon"]["provenance"]["examples"] == len(ds.x_test)
    assert EvalContext(model, ds, batch_size=40).pass_batch == 40  # a smaller one is kept


def test_point_metrics_on_a_toy_set():
    ds = genzoo.load_dataset("ring8", n=2000)
    model = genzoo.build_model("ae", ds.info(), {"latent_dim": 2, "hidden": [32]}, seed=0)
    model.transform = ds.transform(model.data_range())
    results, _ = evaluate(model, ds)
    assert {"modes", "knn_kl", "mmd", "recon", "loss"} <= set(results)
    assert results["modes"]["floor"]["modes"] == 8
    assert results["modes"]["provenance"]["generated"] == 2500


def test_asking_for_a_metric_that_does_not_apply(trained_digits_ae):
    model, ds = trained_digits_ae
    with pytest.raises(genzoo.GenzooError, match="metric 'modes' does not apply to image"):
        evaluate(model, ds, ["modes"])
    with pytest.raises(genzoo.GenzooError, match="unknown metric 'fidd'"):
        evaluate(model, ds, ["fidd"])


def test_user_images_get_a_feature_network_trained_once_and_cached(tmp_path):
    ds = genzoo.load_dataset("digits")
    n = 500  # a small set of one's own: the feature networks train in seconds
    np.savez(tmp_path / "mine.npz", x=ds.x_train[:n], y=ds.y_train[:n])
    mine = genzoo.load_dataset(str(tmp_path / "mine.npz"))
    model = genzoo.build_model("ae", mine.info(), {"latent_dim": 4, "hidden": [16]}, seed=0)
    said = []
    results, notes = evaluate(model, mine, ["fid", "classes"], say=said.append)
    net = results["fid"]["provenance"]["features"]
    assert net["name"] == "mine-cnn" and net["task"] == "classes" and net["trained_on"]
    assert "no feature network ships for" in said[0] and "cached as" in said[0]
    assert results["classes"]["values"]["of_classes"] == 10
    said.clear()
    again, _ = evaluate(model, mine, ["fid"], say=said.append)  # from the cache: no training
    assert again["fid"]["provenance"]["features"]["sha256"] == net["sha256"] and not said
    assert again["fid"]["values"] == results["fid"]["values"]
    results, _ = evaluate(model, mine, ["fid"], features=shipped("digits"))
    assert results["fid"]["provenance"]["features"]["file"] == "digits.safetensors"
    # unlabelled images: features from the rotation task, and no class metrics
    np.save(tmp_path / "plain.npy", ds.x_train[:n])
    plain = genzoo.load_dataset(str(tmp_path / "plain.npy"))
    results, notes = evaluate(model, plain)
    assert results["fid"]["provenance"]["features"]["task"] == "rotation"
    assert "classes" not in results and any("no labels" in n for n in notes)


def test_samples_are_drawn_in_the_devices_batches_with_their_labels():
    from genzoo.models.base import sample_in_batches, sampling_batch

    ds = genzoo.load_dataset(genzoo.DataConfig(source="mnist5k"))
    model = genzoo.build_model("cvae", ds.info(), {"latent_dim": 4, "hidden": [32]}, seed=0)
    calls, sample = [], model.sample

    def spy(n, generator=None, labels=None):
        calls.append((n, labels.clone()))
        return sample(n, generator=generator, labels=labels)

    model.sample = spy
    labels = torch.arange(250) % 10
    x = sample_in_batches(model, 250, seed=3, labels=labels)
    assert sampling_batch(model.device) == 100 and sampling_batch("cuda:0") == 500
    assert [n for n, _ in calls] == [100, 100, 50]
    assert torch.equal(torch.cat([y for _, y in calls]), labels)  # each batch its own labels
    assert x.shape == (250, *ds.info().shape)
    assert torch.equal(x, sample_in_batches(model, 250, seed=3, labels=labels))
    assert not torch.equal(x, sample_in_batches(model, 250, seed=4, labels=labels))
