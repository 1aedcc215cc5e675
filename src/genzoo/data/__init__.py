"""Datasets: bundled real data, toy 2-D sets, and files a user brings (see DESIGN section 4)."""

from __future__ import annotations

from pathlib import Path

from ..config import from_dict, to_dict
from ..errors import DataError
from ..registry import DATASETS, FILE_FORMATS
from . import files, tasks
from .dataset import DataConfig, DataInfo, Dataset, DataTransform, RawData, split_data

__all__ = ["DataConfig", "DataInfo", "Dataset", "DataTransform", "RawData", "load_dataset"]


def load_dataset(spec: str | DataConfig = "mnist5k", **options) -> Dataset:
    """Load a dataset by registered name or path, split into train and test.

    >>> ds = load_dataset("ring8", n=2000)          # toy set with options
    >>> ds = load_dataset("my_digits/")              # an image folder, one sub-folder per class
    """
    cfg = spec if isinstance(spec, DataConfig) else DataConfig(source=spec)
    if options:
        cfg = from_dict(DataConfig, {**to_dict(cfg), **options}, prefix="data.")
    raw, name = load_raw(cfg)
    if cfg.labels is not None and cfg.source in DATASETS:
        raise DataError("data.labels applies to IDX files only")
    input_name = f"{name}:input"  # a bundled task's input domain
    if cfg.input is not None:
        if raw.input is not None:
            raise DataError(
                f"data.input: {name} is a translation dataset and brings its own input domain"
            )
        raw.input, input_name = load_raw(DataConfig(source=cfg.input, seed=cfg.seed))
        raw.paired = True if cfg.paired is None else cfg.paired
    if cfg.task is not None:
        raw = tasks.make_input(raw, cfg.task, cfg.seed, name)
        input_name = f"{name}:{cfg.task}"
    if raw.input is not None:
        check_domains(raw, name, input_name)
    ds = split_data(raw, cfg, name, input_name)
    if cfg.classes is not None and ds.input is not None:
        raise DataError("data.classes does not apply to translation data (two domains)")
    # Filter after the split: a run restricted to some classes then never trains on an
    # example that the same data's full test split holds (the one-class protocol needs this).
    return keep_classes(ds, cfg.classes) if cfg.classes is not None else ds


def load_raw(cfg: DataConfig) -> tuple[RawData, str]:
    """All examples of `cfg.source` (a registered name or a path), and its name."""
    source = cfg.source
    if source in DATASETS:
        loader = DATASETS.get(source)
        for name in ("label_column", "id_column"):
            if getattr(cfg, name) is not None:
                raise DataError(f"data.{name} applies to CSV files only, not {source}")
        if not getattr(loader, "toy", False):
            for name in ("n", "noise"):
                if getattr(cfg, name) is not None:
                    raise DataError(f"data.{name} applies to the toy 2-D sets only, not {source}")
        return loader(cfg), source
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(
            f"{source}: no such file or folder, and not a dataset name "
            f"(datasets: {', '.join(DATASETS.names())})"
        )
    fmt = files.detect_format(path)
    for name in ("label_column", "id_column"):
        if getattr(cfg, name) is not None and fmt != "csv":
            raise DataError(f"data.{name} applies to CSV files only, not {source} ({fmt})")
    return FILE_FORMATS.get(fmt)(path, cfg), str(path)


def check_domains(raw: RawData, name: str, input_name: str) -> None:
    """Translation needs two image domains; paired folders must pair file by file."""
    for what, r in ((input_name, raw.input), (name, raw)):
        if r.kind != "image":
            raise DataError(f"{what}: translation needs two image domains; this one holds {r.kind}")
    same_count = len(raw.input.x) == len(raw.x)  # else the split says so
    if raw.paired and same_count and raw.names is not None and raw.input.names is not None:
        stem = lambda n: n.rsplit(".", 1)[0]  # noqa: E731  a.png pairs with a.jpg
        for a, b in zip(raw.input.names, raw.names, strict=False):
            if stem(a) != stem(b):
                raise DataError(
                    f"paired folders must hold the same file names: {input_name} has {a} "
                    f"where {name} has {b}"
                )


def keep_classes(ds: Dataset, wanted: tuple[str, ...]) -> Dataset:
    """Only the examples of classes `wanted`, in both splits (labels keep their numbering)."""
    import dataclasses

    import numpy as np

    if ds.y_train is None or not ds.classes:
        raise DataError(f"data.classes needs labelled data; {ds.name} has no labels")
    unknown = [c for c in wanted if c not in ds.classes]
    if unknown:
        raise DataError(
            f"data.classes: {unknown[0]!r} is not a class of {ds.name}; classes: "
            f"{', '.join(ds.classes)}"
        )
    ids = [ds.classes.index(c) for c in wanted]
    tr, te = np.isin(ds.y_train, ids), np.isin(ds.y_test, ids)
    return dataclasses.replace(
        ds,
        x_train=ds.x_train[tr],
        y_train=ds.y_train[tr],
        x_test=ds.x_test[te],
        y_test=ds.y_test[te],
        rows_train=ds.rows("train")[tr],
        rows_test=ds.rows("test")[te],
    )
