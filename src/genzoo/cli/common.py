"""Helpers shared by the commands: opening runs, reading inputs, writing outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import numpy as np
import torch

from ..errors import GenzooError


def open_model(run: str, device: str = "cpu"):
    """Load the model of `run`, strictly; returns (model, the run's config dict or None)."""
    from ..config import read_file
    from ..train.checkpoint import load

    model = load(run, device=device)
    cfg_path = next(
        (p / "config.yaml" for p in _run_roots(Path(run)) if (p / "config.yaml").is_file()), None
    )
    return model, (read_file(cfg_path) if cfg_path else None)


def _run_roots(path: Path) -> list[Path]:
    # run/, run/model/, run/checkpoints/step-N/ all lead back to the run folder
    return [path, path.parent, path.parent.parent]


def run_dataset(model, run_config: dict[str, Any] | None, data: str | None = None):
    """The dataset a run was trained on (same split), or `data` if given."""
    from ..config import from_dict
    from ..data import DataConfig, load_dataset

    if data is not None:
        cfg = DataConfig(source=data)
    elif run_config is not None and "data" in run_config:
        cfg = from_dict(DataConfig, run_config["data"], prefix="data.")
    else:
        cfg = DataConfig(source=model.info.source)
    ds = load_dataset(cfg)
    if ds.shape != tuple(model.info.shape):
        raise GenzooError(
            f"{cfg.source}: examples of shape {ds.shape} do not fit a model "
            f"trained on shape {tuple(model.info.shape)}"
        )
    return ds


def model_inputs(model, run_config, split: str, input_path: str | None, data: str | None = None):
    """Examples (model range) and labels to feed a model: a split of its data, or a file."""
    if input_path is not None:
        x, y = read_examples(input_path, model)
    else:
        ds = run_dataset(model, run_config, data)
        if split == "all":
            x = np.concatenate([ds.x_train, ds.x_test])
            y = None if ds.y_train is None else np.concatenate([ds.y_train, ds.y_test])
        else:
            x, y = ds.split(split)
    x = torch.as_tensor(model.transform.forward(x.astype(np.float32)), device=model.device)
    return x, (None if y is None else torch.as_tensor(y))


def read_examples(path: str, model) -> tuple[np.ndarray, np.ndarray | None]:
    """All examples of a user file (no split), checked against the model's input shape."""
    from ..data import DataConfig
    from ..data.files import detect_format
    from ..registry import FILE_FORMATS

    p = Path(path)
    if not p.exists():
        raise GenzooError(f"{path}: no such file or folder")
    raw = FILE_FORMATS.get(detect_format(p))(p, DataConfig(source=path))
    if tuple(raw.x.shape[1:]) != tuple(model.info.shape):
        raise GenzooError(
            f"{path}: examples of shape {tuple(raw.x.shape[1:])} do not fit a "
            f"model trained on shape {tuple(model.info.shape)}"
        )
    return raw.x.astype(np.float32), raw.y


def check_out(path: str, suffixes: tuple[str, ...]) -> Path:
    out = Path(path)
    if out.suffix.lower() not in suffixes:
        raise GenzooError(f"--out {path}: expected a file ending in {' or '.join(suffixes)}")
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    return out


def to_raw(model, x: torch.Tensor) -> np.ndarray:
    """Model range -> the data's own units."""
    x = x.detach().float().cpu()
    return (model.transform.inverse(x) if model.transform is not None else x).numpy()


def picture(model, sets: list[tuple[str, torch.Tensor]], nrow: int):
    """Images: one grid of the sets, in order, `nrow` per row.

    Points and tables: a scatter plot of the first two columns, one labelled colour per set.
    """
    from ..viz import image_grid, points_plot, to_display

    if model.info.kind == "image":
        x = torch.cat([t for _, t in sets])
        return image_grid(to_display(x, model.info, model.transform), nrow=nrow)
    if model.info.dim < 2:
        raise GenzooError("a picture needs at least 2 features; write .npy instead")
    colors = {"data": "0.55", "reconstructions": "tab:blue", "samples": "tab:red"}
    return points_plot(
        [(name, to_raw(model, t)[:, :2], colors.get(name, "tab:green")) for name, t in sets]
    )


def done(path: Path, what: str) -> None:
    click.echo(f"wrote {what} to {path}")


def device_option(fn):
    return click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N")(
        fn
    )
