"""Image-to-image tasks made from a user's own images, and the procedural colour data set."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import genzoo
from genzoo.cli.main import main
from genzoo.data import tasks
from genzoo.data.bundled import random_colours
from genzoo.errors import ConfigError, DataError


def test_luminance_block_means_and_holes_are_what_they_say():
    rgb = np.zeros((2, 3, 4, 4), np.uint8)
    rgb[:, 0] = 255  # pure red: Y = 0.299 * 255
    assert (tasks.luminance(rgb) == round(0.299 * 255)).all()
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    assert np.allclose(tasks.block_mean(x, 2)[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    odd = np.ones((1, 1, 5, 5))
    assert np.allclose(tasks.block_mean(odd, 2), 1.0)  # edge blocks average what they have
    low = tasks.low_resolution(np.arange(16, dtype=np.uint8).reshape(1, 1, 4, 4), 2)
    assert low.shape == (1, 1, 4, 4) and low.dtype == np.uint8
    assert low[0, 0, 0, 1] == low[0, 0, 1, 0] == low[0, 0, 0, 0]  # a block repeats its mean
    holes = tasks.with_holes(np.full((6, 1, 10, 10), 7, np.uint8), np.random.default_rng(0))
    assert ((holes == 0).reshape(6, -1).sum(1) == 16).all()  # a 4x4 hole: 40% of the side


def test_a_task_pairs_each_image_with_its_input_and_refuses_what_cannot_be_made():
    ds = genzoo.load_dataset(genzoo.DataConfig(source="mnist5k-color", task="colorize"))
    assert ds.paired and ds.input.shape == (1, 32, 32) and ds.shape == (3, 32, 32)
    assert np.allclose(ds.input.x_test, tasks.luminance(ds.x_test), atol=0.5)
    assert ds.meta["task"] == "colorize"
    with pytest.raises(DataError, match="colourization learns colour from grey"):
        genzoo.load_dataset(genzoo.DataConfig(source="mnist5k", task="colorize"))
    with pytest.raises(DataError, match="tasks make image pairs; ring8 holds points"):
        genzoo.load_dataset(genzoo.DataConfig(source="ring8", task="inpaint"))
    with pytest.raises(ConfigError, match="task='inpaint' is not allowed: unset with data.input"):
        genzoo.DataConfig(source="a/", input="b/", task="inpaint")
    with pytest.raises(ConfigError, match="one of colorize, inpaint, superres2, superres4"):
        genzoo.DataConfig(source="mnist5k", task="deblur")


def test_mnist5k_color_hides_the_class_from_the_colour():
    ds = genzoo.load_dataset("mnist5k-color")
    assert ds.shape == (3, 32, 32) and ds.num_classes == 10
    assert (ds.x_train[:, :, :2].std((0, 2, 3)) > 40).all()  # the background: colours vary
    # the mean colour of the background is the same for every class, within noise
    per_class = [ds.x_train[ds.y_train == k][:, :, 0, 0].mean(0) for k in range(10)]
    assert np.ptp(np.stack(per_class), axis=0).max() < 25
    pairs = random_colours(500, np.random.default_rng(1))
    luma = pairs @ tasks.LUMA
    assert (np.abs(luma[:, 0] - luma[:, 1]) >= 0.35).all()


@pytest.fixture(scope="module")
def colour_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    x = genzoo.load_dataset("mnist5k-color").x_train[::100].astype(np.uint8)  # 40 images
    for i, im in enumerate(x):
        Image.fromarray(im.transpose(1, 2, 0)).save(root / f"{i:03d}.png")
    return root


@pytest.mark.parametrize("task", ["colorize", "superres4", "inpaint", "superres2"])
def test_pix2pix_learns_a_task_on_a_users_folder_and_translates_as_users_give_inputs(
    task, colour_folder, tmp_path, capsys
):
    run = tmp_path / task
    args = ["train", "pix2pix", "--data", str(colour_folder), "--steps", "2", "--out", str(run)]
    small = ["model.channels=[4,8,8,8,8]", "model.d_width=4", f"data.task={task}"]
    assert main([*args, *[a for s in small for a in ("--set", s)]]) == 0
    capsys.readouterr()
    out = tmp_path / "out.npy"
    if task == "colorize":  # grey inputs, and colour ones (made grey first, and said)
        grey = tmp_path / "grey.npy"
        files = sorted(colour_folder.iterdir())
        colour = np.stack([np.asarray(Image.open(p)).transpose(2, 0, 1) for p in files])
        np.save(grey, tasks.luminance(colour)[:, 0])  # (N, H, W): grey images
        assert main(["translate", str(run), "--input", str(grey), "--out", str(out)]) == 0
        assert main(["translate", str(run), "--input", str(colour_folder), "--out", str(out)]) == 0
        assert "their luminance is translated" in capsys.readouterr().err
    elif task.startswith("superres"):  # thumbnails a factor smaller are made larger first
        f = tasks.scale_of(task)
        thumbs = np.zeros((3, 3, 32 // f, 32 // f), np.uint8)
        np.save(tmp_path / "small.npy", thumbs)
        argv = ["translate", str(run), "--input", str(tmp_path / "small.npy"), "--out", str(out)]
        assert main(argv) == 0
        np.save(tmp_path / "odd.npy", np.zeros((3, 3, 20, 20), np.uint8))
        argv[3] = str(tmp_path / "odd.npy")
        assert main(argv) == 2
        assert f"a {task} run takes images of 3x{32 // f}x{32 // f}" in capsys.readouterr().err
    else:
        assert main(["translate", str(run), "--input", str(colour_folder), "--out", str(out)]) == 0
    assert np.load(out).shape[1:] == (3, 32, 32)
