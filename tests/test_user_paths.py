"""Every model, every kind of data a user brings, every command: it works or says no cleanly.

The data is made here, none of it bundled: 2-D points without a known mixture, a CSV table
with a label and an id column and one without, grayscale and colour image folders with and
without class sub-folders, and .npy images at 28, 32 and 64 pixels (the last channels-last).

For every registered model and every such data set (table-driven over the registry):

- with its defaults (a 2-step run), `genzoo train` either trains or is refused before any
  folder is made, in one line with exit code 2;
- with a tiny config, the whole path: train (the final evaluation and report included), then
  every command of the CLI that takes a run, with its defaults. Each command the model can
  serve exits 0 and writes its output; the others are refused in one line with exit code 2;
  none ends in a traceback.

Translation models learn an image-to-image task made from the images themselves (data.task).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import genzoo
from genzoo.cli.main import main
from genzoo.models.base import Decoder, Encoder, LikelihoodModel, Reconstructor

from .conftest import ON_AUTOENCODER, tiny

N = 40  # examples in each data set: 32 to train on, 8 to test


def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _images(rng, n: int, size: int, channels: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """n 8-bit images (N, H, W[, C]) of a bright square whose place depends on the class."""
    y = np.arange(n) % classes
    x = rng.integers(0, 40, (n, size, size, channels)).astype(np.uint8)
    side = size // 3
    for i, k in enumerate(y):
        top = (k * side) % (size - side)
        x[i, top : top + side, top : top + side] = rng.integers(150, 256, channels)
    return (x[..., 0] if channels == 1 else x), y


@pytest.fixture(scope="module")
def user_data(tmp_path_factory) -> dict[str, tuple[str, list[str]]]:
    """name -> (the --data argument, the --set options a user gives it)."""
    root = tmp_path_factory.mktemp("user-data")
    rng = np.random.default_rng(0)
    out: dict[str, tuple[str, list[str]]] = {}
    blobs = rng.normal(size=(N, 2)) + 3 * (np.arange(N) % 2)[:, None]
    np.save(root / "points.npy", blobs.astype(np.float32))
    out["points"] = (str(root / "points.npy"), [])
    rows = ["tx,amount,age,score,hour,items,kind"]
    for i in range(N):
        v = rng.normal(2.0 * (i % 2), 1.0, 5)
        rows.append(f"t{i:03d}," + ",".join(f"{t:.3f}" for t in v) + f",{'ab'[i % 2]}")
    (root / "labelled.csv").write_text("\n".join(rows) + "\n")
    out["table-labelled"] = (
        str(root / "labelled.csv"),
        ["data.label_column=kind", "data.id_column=tx"],
    )
    (root / "plain.csv").write_text("\n".join(",".join(r.split(",")[1:-1]) for r in rows) + "\n")
    out["table"] = (str(root / "plain.csv"), [])
    for name, channels in (("gray", 1), ("rgb", 3)):
        x, y = _images(rng, N, 16, channels, 2)
        for i in range(N):
            _png(root / f"{name}-classes" / f"c{y[i]}" / f"{i:03d}.png", x[i])
            _png(root / f"{name}-flat" / f"{i:03d}.png", x[i])
        out[f"{name}-classes"] = (str(root / f"{name}-classes"), [])
        out[f"{name}-flat"] = (str(root / f"{name}-flat"), [])
    for size, channels, layout in ((28, 1, "NHW"), (32, 3, "NCHW"), (64, 3, "NHWC")):
        x, _ = _images(rng, N, size, channels, 2)
        if layout == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        np.save(root / f"images{size}.npy", np.ascontiguousarray(x))
        out[f"npy{size}"] = (str(root / f"images{size}.npy"), [])
    return out


DATA = [
    "points", "table-labelled", "table", "gray-classes", "gray-flat", "rgb-classes", "rgb-flat",
    "npy28", "npy32", "npy64",
]  # fmt: skip
KIND = {"points": "points", "table-labelled": "table", "table": "table"}
LABELLED = {"table-labelled", "gray-classes", "rgb-classes"}
COLOUR = {"rgb-classes", "rgb-flat", "npy32", "npy64"}
MODELS = [e.name for e in genzoo.MODELS]


def expected_refusal(model: str, data: str) -> str | None:
    """Why `model` cannot train on `data` (a phrase of the one-line message), or None."""
    cls = genzoo.MODELS.get(model)
    kind = KIND.get(data, "image")
    if cls.translation and kind != "image":
        return f"two image domains for {model}"
    if kind not in cls.data_kinds:
        return f"data for {model}, which has {kind}"
    if getattr(cls, "conditional", False) and data not in LABELLED:
        return "label"
    return None


def task_options(model: str, data: str) -> list[str]:
    """A translation model learns a task made from the images: colour from grey, or holes."""
    if not genzoo.MODELS.get(model).translation or KIND.get(data, "image") != "image":
        return []
    return [f"data.task={'colorize' if data in COLOUR else 'inpaint'}"]


def sets(options: list[str]) -> list[str]:
    return [a for o in options for a in ("--set", o)]


def autoencoder_for(model: str, data: str, source: str, options: list[str], tmp: Path):
    """A model trained on another run's codes (latent diffusion) first gets that run: a tiny
    `ae` trained for 2 steps on the same data, as a user would train it; [] for the others."""
    if model not in ON_AUTOENCODER:
        return []
    ae = tmp / "autoencoder"
    config = [f"model.{k}={json.dumps(v)}" for k, v in tiny("ae", KIND.get(data, "image")).items()]
    extra = [*options, *config, "train.batch_size=8", "train.final_eval=false"]
    argv = ["train", "ae", "--data", source, "--steps", "2", "--out", str(ae), *sets(extra)]
    assert main(argv) == 0
    return [f"model.autoencoder={ae}"]


def one_line_refusal(code: int, err: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


# ---------------------------------------------------------------- defaults, a short run
@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("model", MODELS)
def test_train_with_defaults_works_or_is_refused_before_any_folder(
    model, data, user_data, tmp_path, capsys
):
    source, options = user_data[data]
    out = tmp_path / "run"
    before = autoencoder_for(model, data, source, options, tmp_path)
    capsys.readouterr()
    options = [*options, *task_options(model, data), "train.batch_size=8", "train.final_eval=false"]
    options += before
    code = main(
        ["train", model, "--data", source, "--steps", "2", "--out", str(out), *sets(options)]
    )
    err = capsys.readouterr().err
    why = expected_refusal(model, data)
    if why is None:
        assert code == 0, err
        assert (out / "model" / "model.safetensors").is_file()
    else:
        one_line_refusal(code, err)
        assert why in err, err
        assert not out.exists()


# ---------------------------------------------------------------- every command on a tiny run
def commands(model, run: Path, source: str, data: str, tmp: Path) -> list[tuple]:
    """(argv, whether the model can serve it, the output it must write) for every command."""
    image, labelled = KIND.get(data, "image") == "image", data in LABELLED
    translation = model.translation
    enc, dec = isinstance(model, Encoder), isinstance(model, Decoder)
    recon = isinstance(model, Reconstructor)
    scores = recon or isinstance(model, LikelihoodModel)
    conditional = getattr(model, "conditional", False)
    vector = enc and codes_are_vectors(model)  # a diffusion model's codes are images
    r = str(run)
    # a class of the run's data where it has labels, else the images' ink
    attribute = f"class:{model.info.classes[0]}" if labelled and model.info.classes else "ink"

    def out(name: str) -> tuple[list[str], Path]:
        return ["--out", str(tmp / name)], tmp / name

    table = [
        (["sample", r], "s.png", not translation),
        (["sample", r, "--n", "5"], "s.npy", not translation),
        (["eval", r], None, True),  # into summary.json, then report.html written again
        (["report", r], "r.html", True),
        (["info", r], None, True),
        (["encode", r], "z.npz", enc),
        (["reconstruct", r], "rec.png", recon),
        (["interpolate", r], "i.png", dec and not translation),
        (["traverse", r], "t.png", enc and dec and vector),
        (["arithmetic", r], "a.png", enc and dec and labelled),
        (
            ["manipulate", r, "--attribute", attribute, "--n", "2", "--steps", "3"],
            "m.png",
            enc and dec and vector and not conditional and (labelled or image),
        ),
        (["embed", r], "e.png", enc),
        (["score", r], "sc.csv", scores),
        (["score", r, "--data", source, "--json"], None, scores),
        (["denoise", r, "--input", source], "d.npy", recon),
        (["augment", r, "--n", "6"], "aug.npz", not translation),
        (
            ["pretrain", r, "--labels-per-class", "2", "--steps", "30"],
            None,
            vector and labelled and not conditional,
        ),
        (["components", r], None, model.name == "linear-ae"),
        (["translate", r], "tr.png", translation),
    ]
    if translation and image:  # the user's own images, as the task's inputs
        table.append((["translate", r, "--input", source], "tr.npy", True))
    rows = []
    for args, name, serves in table:
        extra, path = out(name) if name else ([], None)
        rows.append(([*args, *extra], serves, path))
    return rows


def small(model: str, kind: str) -> dict:
    """A tiny config, but the layout a user gets (depth, attention) left to the image's size:
    diffusion keeps its sized U-Net and samples in 2 steps."""
    if model in ("ddpm", "cddpm"):
        return {"T": 8, "sample_steps": 2}
    if model in ("edm", "cedm"):  # the tiny U-Net's attention at level 1 is 32x32 at 64x64
        return {"sample_steps": 2}
    if model == "diffae":
        return {"sample_steps": 2, "invert_steps": 2, "latent_steps": 2, "latent_width": 8,
                "latent_blocks": 1}  # fmt: skip
    # a latent model's autoencoder is trained on the user's data (autoencoder_for)
    return tiny(model, kind, autoencoder=False)


def codes_are_vectors(model) -> bool:
    """Whether the model's codes are vectors (not shaped like the data, as inverted noise)."""
    import torch

    x = torch.zeros(1, *model.info.shape)
    with torch.no_grad():
        if getattr(model, "conditional", False):
            return model.encode(x, torch.zeros(1, dtype=torch.long)).dim() == 2
        return model.encode(x).dim() == 2


# Every command on a covering subset of the kinds: points, tables with labels (and an id
# column) and without, a grayscale folder with classes, a colour folder without, and large
# channels-last arrays; the other kinds (a grayscale folder without classes, a colour one with
# them, 28 and 32 pixels) meet every model through `train` above, and the commands read them
# through the same loaders.
EVERY_COMMAND = ["points", "table-labelled", "table", "gray-classes", "rgb-flat", "npy64"]
PAIRS = [(m, d) for m in MODELS for d in EVERY_COMMAND if expected_refusal(m, d) is None]


@pytest.mark.parametrize("model,data", PAIRS, ids=[f"{m}-{d}" for m, d in PAIRS])
def test_every_command_works_or_refuses_in_one_line(model, data, user_data, tmp_path, capsys):
    source, options = user_data[data]
    kind = KIND.get(data, "image")
    config = [f"model.{k}={json.dumps(v)}" for k, v in small(model, kind).items()]
    run = tmp_path / "run"
    # the final evaluation and report are the eval and report commands below, run apart
    options = [*options, *task_options(model, data), *config, "train.batch_size=8"]
    options.append("train.final_eval=false")
    options += autoencoder_for(model, data, source, user_data[data][1], tmp_path)
    capsys.readouterr()
    argv = ["train", model, "--data", source, "--steps", "2", "--out", str(run)]
    assert main([*argv, *sets(options)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    loaded = genzoo.load(run)
    problems = []
    for args, serves, output in commands(loaded, run, source, data, tmp_path):
        code = main(args)
        err = capsys.readouterr().err
        what = f"genzoo {' '.join(args[:1] + args[2:])} -> {code}: {err.strip()[-600:]}"
        if "Traceback" in err:
            problems.append(what)
        elif serves and (code != 0 or (output is not None and not output.exists())):
            problems.append(what)
        elif not serves and (code != 2 or len(err.strip().splitlines()) > 2):  # click: 2 lines
            problems.append(what)
    assert not problems, "\n".join(problems)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["eval"] and "eval_notes" in summary and (run / "report.html").is_file()
