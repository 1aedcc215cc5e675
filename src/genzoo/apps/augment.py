"""Synthetic training data from a generative model, written in formats the data layer reads.

A conditional model draws the same number of examples of every class (or the classes asked
for), so the labels come with the data. An unconditional model's samples have no labels and go
to formats that need none. Written in the data's own units:

- `.npz`: arrays `x` and `y` (class names, so they read back as the same classes);
- `.npy`: `x` alone;
- `.csv`: one row per example, feature columns and a `label` column (points and tables);
- a folder: one sub-folder per class of PNG images (images).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from ..data.files import check_in_memory
from ..errors import GenzooError
from ..models.base import sample_in_batches


def out_format(path: Path) -> str:
    return path.suffix.lower() if path.suffix else "folder"


@torch.no_grad()
def synthesize(
    model, n: int, labels: list[int] | None = None, seed: int = 0, batch: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """n samples in the data's units, and their labels (class indices) for a conditional model:
    the classes in `labels` (default: all) in turn, so each gets n / K of them."""
    check_in_memory("--n", n, model.info.shape, "examples")
    conditional = model.conditional
    if labels is not None and not conditional:
        raise GenzooError(f"labels: model {model.name} is not conditional")
    y = None
    if conditional:
        classes = labels if labels is not None else list(range(model.info.num_classes))
        y = torch.tensor(classes, device=model.device).repeat(n // len(classes) + 1)[:n]
    x = model.to_data(sample_in_batches(model, n, seed, batch, labels=y))
    return x, None if y is None else y.cpu().numpy()


def write(path: Path, x: np.ndarray, y: np.ndarray | None, info) -> None:
    """Write examples (data units) and labels (class indices) to `path` (see module doc)."""
    fmt = out_format(path)
    names = np.array(info.classes)[y] if y is not None and info.classes else y
    if fmt == ".npz":
        np.savez_compressed(path, **({"x": x} if y is None else {"x": x, "y": names}))
    elif fmt == ".npy":
        np.save(path, x)
    elif fmt == ".csv":
        if info.kind == "image":
            raise GenzooError(f"--out {path}: images go to a folder, .npz or .npy, not CSV")
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            cols = [f"x{i}" for i in range(x.shape[1])]
            w.writerow(cols + (["label"] if y is not None else []))
            for i, row in enumerate(x):
                w.writerow([f"{v:.6g}" for v in row] + ([names[i]] if y is not None else []))
    elif fmt == "folder":
        if info.kind != "image":
            raise GenzooError(f"--out {path}: a folder holds images; use .npz or .csv")
        _write_folder(path, x, names, info)
    else:
        raise GenzooError(f"--out {path}: expected a folder or a file ending in .npz, .npy, .csv")


def _write_folder(path: Path, x: np.ndarray, names, info) -> None:
    from PIL import Image

    lo, hi = info.value_range
    pixels = np.clip((x - lo) / (hi - lo) * 255 + 0.5, 0, 255).astype(np.uint8)  # (N, C, H, W)
    for i, img in enumerate(pixels):
        sub = path / str(names[i]) if names is not None else path
        sub.mkdir(parents=True, exist_ok=True)
        arr = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
        Image.fromarray(arr).save(sub / f"{i:06d}.png")
