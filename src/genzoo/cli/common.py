"""Helpers shared by the commands: opening runs, reading inputs, writing outputs."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import torch

from ..data.examples import file_examples
from ..errors import GenzooError
from ..train.run_folder import open_run, run_dataset
from ..viz import picture

open_model = open_run  # the commands' name for it
__all__ = ["open_model", "picture", "run_dataset"]


def model_inputs(model, run_config, split: str, input_path: str | None, data: str | None = None):
    """Examples (model range) and labels to feed a model: a split of its data, or a file."""
    if input_path is not None:
        x, y = read_examples(input_path, model, run_config)
    else:
        ds = run_dataset(model, run_config, data)
        if split == "all":
            x = np.concatenate([ds.x_train, ds.x_test])
            y = None if ds.y_train is None else np.concatenate([ds.y_train, ds.y_test])
        else:
            x, y = ds.split(split)
    return model.to_model(x), (None if y is None else torch.as_tensor(y))


def read_examples(path: str, model, run_config: dict | None = None, shape=None):
    """All examples of a user file (no split), checked against the model's input shape (or
    `shape`, e.g. a translation model's input domain), and their labels or None.

    File settings of the run's data carry over: a CSV's columns are matched to the training
    columns by name, its label column read where the file has it, its id column left out.
    """
    import dataclasses

    info = model.info
    if shape is not None and tuple(shape) != tuple(info.shape):  # another domain's shape
        info = dataclasses.replace(info, shape=tuple(shape))
    rows = file_examples(Path(path), info, (run_config or {}).get("data", {}), None)
    return rows.x, rows.y


def check_out(path: str, suffixes: tuple[str, ...], option: str = "--out") -> Path:
    out = Path(path)
    if out.suffix.lower() not in suffixes:
        raise GenzooError(f"{option} {path}: expected a file ending in {' or '.join(suffixes)}")
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    return out


MAX_PICTURE = 4096  # examples in one .png: more would be unreadable, and a huge file


def check_picture(path: Path, n: int, what: str) -> None:
    """Refuse a .png of more than MAX_PICTURE examples; a .npy takes any number."""
    if path.suffix.lower() == ".png" and n > MAX_PICTURE:
        raise GenzooError(
            f"--n {n}: a picture of more than {MAX_PICTURE:,} {what} would be unreadable; "
            "write them to a .npy array (--out FILE.npy)"
        )


def done(path: Path, what: str) -> None:
    click.echo(f"wrote {what} to {path}")
