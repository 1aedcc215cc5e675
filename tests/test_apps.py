"""The applications on a user's own data: an image folder and a CSV with a label column."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import genzoo
from genzoo.apps import anomaly
from genzoo.apps.denoise import add_gaussian_noise, gaussian_blur, median_filter, psnr
from genzoo.apps.pretrain import few_labels
from genzoo.cli.main import main


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Digits as PNG files, one sub-folder per class (0, 1, 2)."""
    root = tmp_path_factory.mktemp("imgs")
    ds = genzoo.load_dataset("digits")
    x, y = ds.x_train, ds.y_train
    for i in np.flatnonzero(y < 3):
        (root / f"c{y[i]}").mkdir(exist_ok=True)
        Image.fromarray((x[i, 0] * 255 / 16).astype(np.uint8)).save(root / f"c{y[i]}" / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """Three Gaussian blobs in 5-D as a CSV with a header and a label column."""
    path = tmp_path_factory.mktemp("csv") / "rows.csv"
    rng = np.random.default_rng(0)
    rows = ["a,b,c,d,e,kind"]
    for i in range(300):
        k = i % 3
        v = rng.normal(3.0 * k, 1.0, 5)
        rows.append(",".join(f"{t:.4f}" for t in v) + f",{'xyz'[k]}")
    path.write_text("\n".join(rows) + "\n")
    return path


def train(tmp_path, model, data, *extra):
    out = tmp_path / model
    assert (
        main(
            [
                "train",
                model,
                "--data",
                str(data),
                "--out",
                str(out),
                "--steps",
                "150",
                "--set",
                "train.batch_size=32",
                "--set",
                "train.final_eval=false",
                *extra,
            ]
        )
        == 0
    )
    return out


@pytest.mark.parametrize("kind", ["folder", "table"])
def test_embed_on_user_data(kind, folder, table, tmp_path, capsys):
    data, extra = (
        (folder, ["--set", "model.latent_dim=8"])
        if kind == "folder"
        else (table, ["--set", "data.label_column=kind", "--set", "model.latent_dim=3"])
    )
    run = train(tmp_path, "ae", data, *extra)
    assert (
        main(
            [
                "embed",
                str(run),
                "--out",
                str(tmp_path / "e.png"),
                "--codes",
                str(tmp_path / "z.npy"),
            ]
        )
        == 0
    )
    assert Image.open(tmp_path / "e.png").size[0] > 400
    assert np.load(tmp_path / "z.npy").shape[1] == (8 if kind == "folder" else 3)


@pytest.mark.parametrize("kind", ["folder", "table"])
def test_denoise_on_user_data(kind, folder, table, tmp_path):
    data = folder if kind == "folder" else table
    extra = ["--set", "data.label_column=kind"] if kind == "table" else []
    run = train(tmp_path, "denoising-ae", data, "--set", "model.latent_dim=3", *extra)
    out = tmp_path / "clean.npy"
    assert (
        main(["denoise", str(run), "--input", str(data), "--out", str(out), "--add-noise", "0.2"])
        == 0
    )
    clean = np.load(out)
    assert clean.shape[1:] == ((1, 8, 8) if kind == "folder" else (5,))
    assert np.isfinite(clean).all()


def test_score_flags_other_classes_in_a_folder(folder, tmp_path, capsys):
    run = train(tmp_path, "ae", folder, "--set", "data.classes=c0", "--set", "model.latent_dim=6")
    capsys.readouterr()
    assert main(["score", str(run), "--json", "--out", str(tmp_path / "s.csv")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["normal_classes"] == ["c0"] and 0.5 < report["auroc"] <= 1.0
    lines = (tmp_path / "s.csv").read_text().splitlines()
    assert lines[0] == "row,score,flagged,label" and len(lines) == report["examples"] + 1


def test_score_a_csv_with_named_normal_class(table, tmp_path, capsys):
    run = train(
        tmp_path,
        "ae",
        table,
        "--set",
        "data.label_column=kind",
        "--set",
        "model.latent_dim=2",
        "--set",
        "data.classes=x",
    )
    capsys.readouterr()
    assert main(["score", str(run), "--data", str(table), "--normal", "x", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["normal_classes"] == ["x"] and report["auroc"] > 0.95  # far-apart blobs
    assert main(["score", str(run), "--normal", "w"]) == 2
    assert "'w' is not a class of" in capsys.readouterr().err


@pytest.fixture(scope="module")
def payments(tmp_path_factory):
    """A fraud-style table: normal rows around 0, rare anomalies far away; an id column, and
    a label column that new rows do not have."""
    root = tmp_path_factory.mktemp("payments")
    rng = np.random.default_rng(1)
    head = "tx,amount,hour,items,kind"
    known = rng.normal(size=(200, 3))
    known[:6] += 8.0  # a few known frauds among the history's rows
    rows = [head] + [
        f"n{i},{a:.3f},{b:.3f},{c:.3f},{'fraud' if i < 6 else 'normal'}"
        for i, (a, b, c) in enumerate(known)
    ]
    (root / "history.csv").write_text("\n".join(rows) + "\n")
    new = rng.normal(size=(30, 3))
    new[[4, 17]] += 8.0  # two anomalies, rows 4 and 17
    # the new file: another column order, no label column, ids of its own
    lines = ["items,tx,hour,amount"] + [
        f"{c:.3f},new{i},{b:.3f},{a:.3f}" for i, (a, b, c) in enumerate(new)
    ]
    (root / "new.csv").write_text("\n".join(lines) + "\n")
    labelled = ["amount,hour,items,kind"] + [
        f"{a:.3f},{b:.3f},{c:.3f},{'fraud' if i in (4, 17) else 'normal'}"
        for i, (a, b, c) in enumerate(new)
    ]
    (root / "new_labelled.csv").write_text("\n".join(labelled[:5] + labelled[5:17]) + "\n")
    return root


def test_score_new_rows_whole_with_their_row_numbers_and_ids(payments, tmp_path, capsys):
    run = train(
        tmp_path, "ae", payments / "history.csv", "--set", "data.label_column=kind",
        "--set", "data.id_column=tx", "--set", "data.classes=normal",
    )  # fmt: skip
    capsys.readouterr()
    out = tmp_path / "scores.csv"
    argv = ["score", str(run), "--data", str(payments / "new.csv"), "--out", str(out), "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["examples"] == 30 and report["split"] == "all"  # every row, not a split
    assert "has no column 'kind'" in report["notes"][0]  # new rows are unlabelled: said
    lines = out.read_text().splitlines()
    assert lines[0] == "row,id,score,flagged" and len(lines) == 31
    rows = [line.split(",") for line in lines[1:]]
    assert [int(r[0]) for r in rows] == list(range(30)) and rows[4][1] == "new4"
    top = sorted(rows, key=lambda r: -float(r[2]))[:2]
    assert {r[1] for r in top} == {"new4", "new17"}  # the anomalies, found by their ids
    assert report["flagged"] == sum(int(r[3]) for r in rows) >= 2
    # a fixed threshold flags what lies above it, and says how many
    assert main([*argv[:4], "--threshold", "1e9", "--json"]) == 0
    fixed = json.loads(capsys.readouterr().out)
    assert fixed["flagged"] == 0 and fixed["threshold_from"] == "fixed (--threshold)"


def test_score_a_labelled_file_with_a_single_anomaly_and_warn_of_all_class_models(
    payments, tmp_path, capsys
):
    run = train(tmp_path, "ae", payments / "history.csv", "--set", "data.label_column=kind",
                "--set", "data.id_column=tx")  # fmt: skip
    capsys.readouterr()
    argv = ["score", str(run), "--data", str(payments / "new_labelled.csv"), "--normal", "normal"]
    assert main([*argv, "--split", "all", "--json"]) == 0  # one fraud row: no split is needed
    report = json.loads(capsys.readouterr().out)
    assert report["examples"] == 16 and 0.5 < report["auroc"] <= 1.0
    assert any("trained on every class" in n for n in report["notes"])


@pytest.mark.parametrize("kind", ["folder", "table"])
def test_pretrain_on_user_data(kind, folder, table, tmp_path, capsys):
    data = folder if kind == "folder" else table
    extra = ["--set", "model.latent_dim=4"] + (
        ["--set", "data.label_column=kind"] if kind == "table" else []
    )
    run = train(tmp_path, "ae", data, *extra)
    capsys.readouterr()
    assert main(["pretrain", str(run), "--labels-per-class", "5", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["labels"] == 15
    assert set(report["test_error"]) == {
        "pretrained_encoder",
        "same_classifier_from_scratch",
        "logistic_regression_raw",
    }
    assert all(0 <= e <= 1 for e in report["test_error"].values())


# ---------------------------------------------------------------- the library pieces
def test_threshold_flags_the_chosen_share_of_normal_data():
    scores = torch.arange(1000, dtype=torch.float64)
    t = anomaly.threshold_at_fpr(scores, 0.05)
    assert float((scores > t).double().mean()) == pytest.approx(0.05, abs=0.002)
    m = anomaly.detection_metrics(
        torch.tensor([0.1, 0.2, 0.9, 0.8]), np.array([False, False, True, True])
    )
    assert m["auroc"] == 1.0 and m["auprc"] == 1.0


def test_denoising_baselines_help_on_noisy_images():
    ds = genzoo.load_dataset("mnist5k")
    x = torch.as_tensor(ds.x_test[:200] / 255.0).float()
    noisy = add_gaussian_noise(x, 0.5)
    assert psnr(median_filter(noisy), x) > psnr(noisy, x)
    assert psnr(gaussian_blur(noisy), x) > psnr(noisy, x)


def test_few_labels_takes_each_class_equally():
    y = np.repeat(np.arange(4), 30)
    idx = few_labels(y, 5, seed=1)
    assert np.bincount(y[idx]).tolist() == [5, 5, 5, 5]
    assert not np.array_equal(idx, few_labels(y, 5, seed=2))
