"""The command line, as a user runs it: subprocesses for the main path, in-process for errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genzoo.cli.main import main

from .conftest import run_cli

COMMANDS = [
    "list", "train", "sample", "eval", "reconstruct", "encode", "info", "demo", "translate",
    "compare",
]  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "a"
    proc = run_cli(
        "train",
        "ae",
        "--data",
        "digits",
        "--steps",
        "120",
        "--out",
        str(out),
        "--set",
        "train.batch_size=64",
        "--set",
        "model.latent_dim=6",
        check=True,
    )
    assert "trained ae for 120 steps" in proc.stdout
    return out


def test_sample_png_and_npy_in_data_units(run, tmp_path):
    run_cli("sample", str(run), "--n", "20", "--out", str(tmp_path / "s.png"), check=True)
    assert Image.open(tmp_path / "s.png").size[0] > 8 * 8
    run_cli(
        "sample", str(run), "--n", "5", "--out", str(tmp_path / "s.npy"), "--seed", "3", check=True
    )
    x = np.load(tmp_path / "s.npy")
    assert x.shape == (5, 1, 8, 8) and x.min() >= 0 and x.max() <= 16 and x.max() > 1


def test_reconstruct_encode_eval_info(run, tmp_path):
    run_cli("reconstruct", str(run), "--out", str(tmp_path / "r.png"), check=True)
    run_cli("reconstruct", str(run), "--out", str(tmp_path / "r.npy"), "--n", "7", check=True)
    assert np.load(tmp_path / "r.npy").shape == (7, 1, 8, 8)
    run_cli("encode", str(run), "--out", str(tmp_path / "z.npz"), "--split", "all", check=True)
    z = np.load(tmp_path / "z.npz")
    assert z["z"].shape == (1797, 6) and z["y"].shape == (1797,)
    proc = run_cli("eval", str(run), "--json", check=True)
    report = json.loads(proc.stdout)
    metrics = report["metrics"]
    for name, keys in {
        "fid": ["fid"],
        "kid": ["kid"],
        "precision_recall": ["precision", "recall"],
        "density_coverage": ["density", "coverage"],
        "classes": ["classes_covered", "kl_uniform", "inception_score"],
    }.items():
        assert set(keys) <= set(metrics[name]["values"]) and set(keys) <= set(
            metrics[name]["floor"]
        ), name
        prov = metrics[name]["provenance"]
        assert prov["generated"] == prov["reference"] == 359
        assert prov["features"]["file"] == "digits.safetensors"
    assert metrics["fid"]["floor"]["fid"] < metrics["fid"]["values"]["fid"]
    recon = metrics["recon"]["values"]
    assert 0 < recon["mse"] < 0.2 and recon["bce"] > 0 and 0 < recon["ssim"] <= 1
    summary = json.loads((run / "summary.json").read_text())
    assert recon["mse"] == pytest.approx(summary["test"]["test/ae/mse"], rel=1e-4)
    assert summary["eval"]["fid"] == metrics["fid"]  # eval writes into the run's summary
    table = run_cli("eval", str(run), "--metrics", "fid,recon", "--no-save", check=True).stdout
    assert "fid" in table and "floor (real)" in table and "sha256" in table
    head, *rows = table.splitlines()[1 : table.splitlines().index("provenance:")]
    ends = {len(line) for line in [head, *rows]}  # the value and floor columns line up
    assert len(rows) >= 2 and len(ends) == 1, table
    info = json.loads(run_cli("info", str(run), "--json", check=True).stdout)
    assert info["model"] == "ae" and info["config"]["latent_dim"] == 6
    assert info["capabilities"] == ["encode", "decode", "reconstruct"]


def test_encode_user_file_and_shape_mismatch(run, tmp_path):
    from genzoo import load_dataset

    ds = load_dataset("digits")
    np.save(tmp_path / "mine.npy", ds.x_test[:9])
    run_cli(
        "encode",
        str(run),
        "--input",
        str(tmp_path / "mine.npy"),
        "--out",
        str(tmp_path / "z.npy"),
        check=True,
    )
    assert np.load(tmp_path / "z.npy").shape == (9, 6)
    np.save(tmp_path / "wrong.npy", np.zeros((4, 1, 9, 9), np.float32))
    proc = run_cli(
        "encode",
        str(run),
        "--input",
        str(tmp_path / "wrong.npy"),
        "--out",
        str(tmp_path / "z2.npy"),
    )
    assert proc.returncode == 2 and "do not fit a model trained on shape (1, 8, 8)" in proc.stderr


def test_bad_data_is_one_line_and_exit_2(tmp_path):
    proc = run_cli("train", "ae", "--data", "no/such/file.npz", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "genzoo: error: no/such/file.npz: no such file or folder, and not a dataset name "
        "(datasets: circles, digits, digits28, digits2mnist, grid25, mnist5k, mnist5k-color, "
        "mnist5k-lowres, mnist5k-masked, moons, ring8, swissroll)"
    ]
    assert "Traceback" not in proc.stderr and not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "ae", "--set", "model.latnt_dim=3"], "unknown config field model.latnt_dim"),
        (["train", "ae", "--set", "train.lr=-1"], "train.lr=-1.0 is not allowed: a number > 0"),
        (
            ["train", "ae", "--set", "model.loss=l2"],
            "model.loss='l2' is not allowed: choose one of",
        ),
        (["train", "nope"], "unknown model 'nope'; choose one of: ae"),
        (["train", "ae", "--bogus"], "No such option"),
        (["sample", "nowhere", "--out", "x.png"], "nowhere: no such run or model folder"),
        (["sample", ".", "--out", "x.gif"], "expected a file ending in .png or .npy"),
        (["list", "things"], "'things' is not one of"),
        (
            ["train", "ae", "--data", "no/such.npz", "--set", "model.latent_dim=0"],
            "model.latent_dim=0 is not allowed",
        ),  # config is checked before data is touched
    ],
)
def test_user_errors_in_process(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()


def test_existing_run_needs_resume(run, capsys):
    assert main(["train", "ae", "--data", "digits", "--out", str(run)]) == 2
    assert "already holds a run; pass --resume auto" in capsys.readouterr().err


def test_a_folder_that_is_not_a_run(tmp_path, capsys):
    (tmp_path / "junk").mkdir()
    assert main(["info", str(tmp_path / "junk")]) == 2
    assert "not a model folder" in capsys.readouterr().err


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(command, capsys):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Examples:" in out and f"genzoo {command}" in out


def test_list_reads_the_registries(capsys):
    assert main(["list", "datasets"]) == 0
    out = capsys.readouterr().out
    for name in ("mnist5k", "digits", "ring8", "grid25", "swissroll", "moons", "circles"):
        assert f"  {name} " in out
    assert main(["list", "models"]) == 0
    listing = capsys.readouterr().out
    for name in ("ae", "linear-ae", "conv-ae", "denoising-ae", "sparse-ae", "contractive-ae"):
        assert re.search(rf"^  {name} +\S", listing, re.M), name
    # grouped by family, the joined ones under their own heading
    joined = listing[listing.index("models: joined families") :]
    for name in ("ldm", "rae", "wae"):
        assert re.search(rf"^  {name} +\S", joined, re.M), name
    assert "models: autoencoders" in listing and "models: GANs" in listing


def test_print_config_is_a_valid_config_file(tmp_path, capsys):
    assert main(["train", "ae", "--print-config", "--set", "model.latent_dim=5"]) == 0
    (tmp_path / "c.yaml").write_text(capsys.readouterr().out)
    from genzoo import build_run_config

    assert build_run_config("ae", config_file=tmp_path / "c.yaml").model.latent_dim == 5


def test_non_finite_loss_exits_2_with_one_line(tmp_path, capsys, monkeypatch):
    from genzoo.models.autoencoders.ae import Autoencoder

    real = Autoencoder.loss

    def broken(self, batch):
        out = real(self, batch)
        out.terms["mse"] = out.terms["mse"] + float("inf")
        out.loss = out.terms["mse"]
        return out

    monkeypatch.setattr(Autoencoder, "loss", broken)
    code = main(["train", "ae", "--data", "digits", "--steps", "5", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("genzoo: error: step 0: loss term ae/mse is inf")


def test_features_train_on_user_images_then_eval_with_them(tmp_path, capsys):
    from genzoo import load_dataset

    ds = load_dataset("digits")
    folder = tmp_path / "imgs"
    for i, (x, y) in enumerate(zip(ds.x_train[:300], ds.y_train[:300], strict=True)):
        (folder / f"c{y}").mkdir(parents=True, exist_ok=True)
        Image.fromarray((x[0] * 255 / 16).astype(np.uint8)).save(folder / f"c{y}" / f"{i}.png")
    out = tmp_path / "f.safetensors"
    assert (
        main(
            [
                "features",
                "train",
                "--data",
                str(folder),
                "--out",
                str(out),
                "--epochs",
                "3",
                "--set",
                "width=8",
            ]
        )
        == 0
    )
    assert "held-out accuracy" in capsys.readouterr().out
    assert main(["features", "info", str(out)]) == 0
    assert "trained on   " + str(folder) in capsys.readouterr().out
    assert main(["features", "train", "--data", "ring8", "--out", str(out)]) == 2
    assert "a feature network is for images" in capsys.readouterr().err
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "ae",
                "--data",
                str(folder),
                "--steps",
                "20",
                "--out",
                str(run),
                "--set",
                "train.batch_size=32",
            ]
        )
        == 0
    )
    summary = json.loads((run / "summary.json").read_text())
    # no network ships for a user's folder: one was trained on its classes, cached, and named
    auto = summary["eval"]["fid"]["provenance"]["features"]
    assert auto["name"] == "imgs-cnn" and auto["task"] == "classes"
    assert "in imgs-cnn features: fid" in capsys.readouterr().out
    assert main(["eval", str(run), "--metrics", "fid", "--json"]) == 0  # the cached one, again
    again = json.loads(capsys.readouterr().out)["metrics"]["fid"]["provenance"]["features"]
    assert again["sha256"] == auto["sha256"]
    assert (
        main(["eval", str(run), "--metrics", "fid,classes", "--features", str(out), "--json"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    chosen = report["metrics"]["fid"]["provenance"]["features"]
    assert chosen["file"] == "f.safetensors" and chosen["sha256"] != auto["sha256"]
    page = (run / "report.html").read_text()  # the report is written again, in those features
    assert f"sha256 {chosen['sha256'][:12]}" in page


def test_class_ends_on_unlabelled_data_and_a_0d_array_are_one_line_errors(tmp_path, capsys):
    x = np.random.default_rng(0).integers(0, 255, (30, 8, 8)).astype(np.uint8)
    np.save(tmp_path / "plain.npy", x)
    run = tmp_path / "run"
    argv = ["train", "vae", "--data", str(tmp_path / "plain.npy"), "--steps", "2"]
    assert main([*argv, "--out", str(run), "--set", "train.final_eval=false"]) == 0
    capsys.readouterr()
    out = str(tmp_path / "i.png")
    assert main(["interpolate", str(run), "--a", "class:1", "--b", "class:2", "--out", out]) == 2
    err = capsys.readouterr().err
    assert "--a class:1: this run's data has no classes" in err and "Traceback" not in err
    np.save(tmp_path / "zero.npy", np.float32(3.0))
    assert main(["train", "ae", "--data", str(tmp_path / "zero.npy"), "--out", out]) == 2
    err = capsys.readouterr().err
    assert "holds a single number (a 0-d array), not examples" in err
    assert len(err.strip().splitlines()) == 1


def test_points_of_ones_own_train_evaluate_and_report_what_cannot_run(tmp_path, capsys):
    pts = np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32)
    np.save(tmp_path / "mine.npy", pts)
    run = tmp_path / "run"
    argv = ["train", "gan", "--data", str(tmp_path / "mine.npy"), "--steps", "20"]
    assert main([*argv, "--out", str(run)]) == 0  # no longer an error at the end
    out = capsys.readouterr().out
    assert "note: skipped modes: it counts the modes of a mixture with known means" in out
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["eval"]) == {"knn_kl", "mmd", "loss"}
    page = (run / "report.html").read_text()
    assert "Not measured, or measured on less" in page and "skipped modes" in page
