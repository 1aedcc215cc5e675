"""genzoo compare and genzoo demo: models trained for the same time on the same data, scored
alike, in one report; runs that exist are reused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genzoo.apps.compare import parse_budget, parse_settings
from genzoo.cli.main import main
from genzoo.errors import GenzooError


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("compare") / "digits"
    args = ["compare", "--data", "digits", "--models", "ae,gan", "--budget", "2s"]
    assert main([*args, "--points", "2", "--out", str(out)]) == 0
    return out


def test_each_model_trains_for_the_budget_and_is_scored_alike(images):
    found = json.loads((images / "compare.json").read_text())
    assert [m["model"] for m in found["models"]] == ["ae", "gan"]
    assert found["budget_seconds"] == 2.0 and found["n"] == 359  # digits' test split
    for m in found["models"]:
        summary = json.loads((images / m["model"] / "summary.json").read_text())
        assert summary["step_seconds"] >= 2.0 or summary["stopped_by"] == "steps"
        assert m["steps"] == summary["steps"] > 0
        assert {"fid", "precision_recall", "classes"} <= set(m["metrics"])
        assert "recon" not in m["metrics"]  # not comparable across families
        provenance = summary["eval"]["fid"]["provenance"]
        assert provenance["generated"] == 359 and provenance["seed"] == 0
        # the curve: the intermediate checkpoints, then the final model, in training time
        times = [t for t, _ in m["curve"]]
        assert len(times) >= 2 and times == sorted(times)
        assert m["curve"][-1][1] == m["metrics"]["fid"]["fid"]
        assert (images / m["model"] / "report.html").is_file()
    # both models are scored against the same real features: the floor is one number
    floors = {json.dumps(json.loads((images / m / "summary.json").read_text())["eval"]["fid"]
                         ["floor"]) for m in ("ae", "gan")}  # fmt: skip
    assert len(floors) == 1


def test_the_report_shows_the_table_samples_and_the_time_plot(images):
    page = (images / "compare.html").read_text()
    assert page.count("<img") == 3  # two sample grids and the quality-against-time plot
    assert "real data (floor)" in page and "FID" in page
    assert "ae/report.html" in page and "gan/report.html" in page


def test_a_second_compare_reuses_the_runs_and_adds_a_model(images, capsys):
    before = json.loads((images / "ae" / "summary.json").read_text())["steps"]
    args = ["compare", "--data", "digits", "--models", "ae,vae", "--budget", "1s"]
    assert main([*args, "--points", "1", "--out", str(images)]) == 0
    out = capsys.readouterr().out
    assert "already trained: reused" in out and "real data (floor)" in out
    found = json.loads((images / "compare.json").read_text())
    assert [m["reused"] for m in found["models"]] == [True, False]
    assert json.loads((images / "ae" / "summary.json").read_text())["steps"] == before


def test_points_get_the_mode_metrics(tmp_path):
    args = ["compare", "--data", "ring8", "--models", "gan,ddpm", "--budget", "1s"]
    settings = ["--set", "ddpm:model.sample_steps=10", "--set", "gan:model.latent_dim=2"]
    assert main([*args, *settings, "--points", "1", "--out", str(tmp_path / "c")]) == 0
    found = json.loads((tmp_path / "c" / "compare.json").read_text())
    for m in found["models"]:
        assert {"modes", "knn_kl", "mmd"} <= set(m["metrics"])
    from genzoo.config import read_file

    assert read_file(tmp_path / "c" / "gan" / "config.yaml")["model"]["latent_dim"] == 2
    assert read_file(tmp_path / "c" / "ddpm" / "config.yaml")["model"]["sample_steps"] == 10
    page = (tmp_path / "c" / "compare.html").read_text()
    assert "ddpm: <code>model.sample_steps=10</code>" in page
    assert "gan: <code>model.latent_dim=2</code>" in page
    from PIL import Image

    for name in ("samples.png", "quality.png"):  # the report's pictures, also as files
        with Image.open(tmp_path / "c" / name) as im:
            assert im.width > 300 and im.height > 200


def test_a_users_image_folder_is_compared_in_a_feature_network_of_its_own(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    folder, rng = tmp_path / "my_images", np.random.default_rng(0)
    folder.mkdir()
    for i in range(48):  # colour images, no classes: a bright square somewhere
        x = rng.integers(0, 60, (16, 16, 3)).astype(np.uint8)
        top, left = rng.integers(0, 10, 2)
        x[top : top + 6, left : left + 6] = rng.integers(150, 256, 3)
        Image.fromarray(x).save(folder / f"{i:02d}.png")
    args = ["compare", "--data", str(folder), "--models", "conv-ae,vae", "--budget", "2s"]
    assert main([*args, "--points", "1", "--out", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    found = json.loads((tmp_path / "c" / "compare.json").read_text())
    for m in found["models"]:
        assert "fid" in m["metrics"] and "classes" not in m["metrics"]  # no labels to count
        summary = json.loads((tmp_path / "c" / m["model"] / "summary.json").read_text())
        net = summary["eval"]["fid"]["provenance"]["features"]
        assert net["name"] == "my_images-rotation-cnn" and net["task"] == "rotation"
    assert "my_images-rotation-cnn features" in out


@pytest.mark.parametrize(
    "args,message",
    [
        (["--models", "ae,nope"], "unknown model 'nope'"),
        (["--models", "ae,ae"], "named twice"),
        (["--models", ","], "--models"),
        (["--models", "ae", "--budget", "0"], "--budget 0"),
        (["--models", "ae", "--budget", "ten minutes"], "--budget"),
        (["--models", "ae", "--set", "vae:model.beta=2"], "not one of --models"),
        (["--models", "ae", "--set", "model.latent_dim=2"], "MODEL:SECTION.FIELD=VALUE"),
        (["--models", "ae", "--set", "ae:model.latent_dim=-1"], "model.latent_dim"),
        (["--models", "ae", "--set", "ae:data.source=digits"], "the same data"),
        (["--models", "gan,dcgan", "--data", "ring8"], "image data for dcgan"),
        (["--models", "ae", "--data", "nowhere.npz"], "nowhere.npz"),
        (["--models", "ae", "--n", "5"], "--n"),
        (["--models", "ae", "--device", "tpu"], "tpu"),
    ],
)
def test_bad_requests_exit_2_in_one_line_before_any_training(args, message, tmp_path, capsys):
    assert main(["compare", *args, "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) <= 2, err
    assert not (tmp_path / "c").exists()


def test_budgets_and_settings_parse():
    assert [parse_budget(t) for t in ("90", "90s", "1.5m", "2h")] == [90, 90, 90, 7200]
    with pytest.raises(GenzooError):
        parse_budget("-1m")
    assert parse_settings(["a:model.x=1", "a:train.y=2"], ["a", "b"]) == {
        "a": ["model.x=1", "train.y=2"]
    }


def test_a_run_trained_with_other_settings_is_not_reused(images, capsys):
    args = ["compare", "--data", "digits", "--models", "ae", "--budget", "2s"]
    assert main([*args, "--set", "ae:model.latent_dim=3", "--out", str(images)]) == 2
    assert "model.latent_dim None there, 3 asked" in capsys.readouterr().err
    assert main([*args, "--set", "ae:train.lr=0.5", "--out", str(images)]) == 2
    assert "train.lr 0.001 there, 0.5 asked" in capsys.readouterr().err


def test_a_run_trained_on_other_data_is_not_reused(images, capsys):
    args = ["compare", "--data", "mnist5k", "--models", "ae", "--budget", "1s"]
    assert main([*args, "--out", str(images)]) == 2
    assert "trained on other data" in capsys.readouterr().err


def test_likelihoods_of_different_things_are_said_not_to_compare():
    """A VAE's Bernoulli cross-entropy of grey levels and a diffusion bound on 8-bit pixels are
    different densities: the table says so; likelihoods of one kind get no note."""
    from types import SimpleNamespace

    from genzoo.viz.compare import likelihood_note

    def entry(name, provenance):
        return SimpleNamespace(name=name, results={"nll": {"provenance": provenance}})

    vae, ddpm = entry("vae", {"decoder": "bernoulli"}), entry("ddpm", {"discrete": True})
    note = likelihood_note([vae, ddpm, SimpleNamespace(name="edm", results={})])
    assert note.startswith("The likelihoods are of different things and do not compare")
    assert "vae: a Bernoulli cross-entropy" in note and "ddpm: a bound on the probability" in note
    assert likelihood_note([vae, entry("iwae", {"decoder": "bernoulli"})]) is None


def test_demo_compares_the_four_families_then_the_toy_models(tmp_path, capsys, monkeypatch):
    from genzoo.cli import demo_cmd

    monkeypatch.setattr(demo_cmd, "QUICK_N", 100)  # the wiring, not the figures: fewer samples
    assert main(["demo", "--quick", "--budget", "2", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    images = json.loads((tmp_path / "demo" / "mnist5k" / "compare.json").read_text())
    assert [m["model"] for m in images["models"]] == ["ae", "vae", "dcgan", "edm"]
    assert all("fid" in m["metrics"] for m in images["models"])
    toy = json.loads((tmp_path / "demo" / "grid25" / "compare.json").read_text())
    assert [m["model"] for m in toy["models"]] == ["gan", "wgan-gp", "edm"]
    assert all(m["metrics"]["modes"]["of_modes"] == 25 for m in toy["models"])
    from genzoo.config import read_file

    # each comparison's own settings: a small fast EDM on digits, WGAN-GP's toy critic; the
    # model's own defaults elsewhere
    edm = read_file(tmp_path / "demo" / "mnist5k" / "edm" / "config.yaml")
    assert edm["model"]["patch"] == 2 and edm["model"]["channels"] == [16, 32]
    assert edm["train"]["lr"] == 2e-3 and edm["train"]["ema_halflife_images"] == 10_000
    toy_edm = read_file(tmp_path / "demo" / "grid25" / "edm" / "config.yaml")
    assert toy_edm["model"]["patch"] == 1 and toy_edm["train"]["batch_size"] == 128
    assert (
        read_file(tmp_path / "demo" / "grid25" / "wgan-gp" / "config.yaml")["model"]["gp_weight"]
        == 0.1
    )
    assert str(tmp_path / "demo" / "mnist5k" / "compare.html") in out
    assert "real data (floor)" in out
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("user data")
    assert main(["demo", "--quick", "--out", str(tmp_path / "mine")]) == 2  # never deletes it
    assert (tmp_path / "mine" / "keep.txt").exists()


def test_the_comparison_renders_in_headless_chromium(images, tmp_path):
    from .test_report import render

    check, _ = render((images / "compare.html").read_text(), tmp_path)
    assert check["images"] == 3 and check["broken"] == 0 and check["errors"] == [], check
