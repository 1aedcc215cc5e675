"""Examples a trained model is asked about, with what joins each back to its source.

A command that takes a user's file for a trained model (score, reconstruct, denoise, encode,
translate) reads it whole and unsplit, as the run read its own data: a CSV's feature columns
matched to the training columns by name (a file with its columns in another order, or with
more of them, still fits), its label column used when the file has it (new rows often have
none), an id column kept for the output. Each example keeps its row: its position in the file
(0-based, a header not counted), or in the run's own data for a split of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import GenzooError
from ..registry import FILE_FORMATS
from .dataset import DataConfig
from .files import csv_header, detect_format


@dataclass
class Examples:
    """Examples to score, in the data's own units, with what joins each back to its source."""

    x: np.ndarray
    y: np.ndarray | None  # class indices into `classes`
    classes: list[str] | None
    rows: np.ndarray  # 0-based position of each example in its file (header excluded)
    ids: list[str] | None  # the id column's values, where one was named
    source: str
    notes: list[str] = field(default_factory=list)


def split_examples(ds, split: str) -> Examples:
    """Split `split` ("train", "test" or "all") of a loaded dataset, rows in source order."""
    parts = ["train", "test"] if split == "all" else [split]
    x = np.concatenate([ds.split(p)[0] for p in parts])
    y = None if ds.y_train is None else np.concatenate([ds.split(p)[1] for p in parts])
    rows = np.concatenate([ds.rows(p) for p in parts])
    order = np.argsort(rows, kind="stable")
    ids = ds.ids
    return Examples(
        x[order],
        None if y is None else y[order],
        ds.classes,
        rows[order],
        None if ids is None else [ids[i] for i in rows[order]],
        ds.name,
    )


def file_examples(path: Path, info, data_config: dict, id_column: str | None) -> Examples:
    """Every row of a user's file, unsplit, as a model trained with `data_config` reads it:
    a CSV's feature columns matched to the training columns by name, its label column used
    when the file has it (new rows often have none), its id column kept for the output."""
    if not path.exists():
        raise GenzooError(f"{path}: no such file or folder")
    fmt = detect_format(path)
    notes: list[str] = []
    label = id_col = None
    if fmt == "csv":
        header = csv_header(path) or []
        label = data_config.get("label_column")
        if label is not None and label not in header:
            notes.append(f"{path.name} has no column {label!r} (the run's labels): scored without")
            label = None
        id_col = id_column or data_config.get("id_column")
        if id_col is not None and id_col not in header:
            if id_column is not None:
                raise GenzooError(
                    f"--id-column {id_col}: {path} has no such column; columns: "
                    f"{', '.join(header) or 'none (no header row)'}"
                )
            notes.append(f"{path.name} has no id column {id_col!r}: rows are named by number")
            id_col = None
    elif id_column is not None:
        raise GenzooError(f"--id-column: only CSV files have columns; {path} is {fmt}")
    cfg = DataConfig(source=str(path), label_column=label, id_column=id_col)
    raw = FILE_FORMATS.get(fmt)(path, cfg)
    x = match_columns(raw, info, path) if fmt == "csv" else raw.x
    if tuple(x.shape[1:]) != tuple(info.shape):
        raise GenzooError(
            f"{path}: examples of shape {tuple(x.shape[1:])} do not fit a model trained on "
            f"shape {tuple(info.shape)}"
        )
    return Examples(
        x.astype(np.float32), raw.y, raw.classes, np.arange(len(x)), raw.ids, str(path), notes
    )


def match_columns(raw, info, path: Path) -> np.ndarray:
    """A CSV's features in the order the model was trained on, matched by column name (a
    file with its columns in another order, or with more of them, still fits)."""
    want, have = info.meta.get("columns"), raw.meta.get("columns")
    if not want or not have or list(want) == list(have):
        return raw.x
    missing = [c for c in want if c not in have]
    if missing:
        raise GenzooError(
            f"{path}: no column {missing[0]!r}, which the model was trained on; it needs "
            f"{', '.join(want)}"
        )
    return raw.x[:, [have.index(c) for c in want]]
