"""Datasets: bundled real data, toy 2-D sets, and files a user brings (see DESIGN section 4)."""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from ..registry import DATASETS, FILE_FORMATS
from . import bundled, files, toy  # noqa: F401  (registers the sources)
from .dataset import DataConfig, DataInfo, Dataset, DataTransform, RawData, split_data

__all__ = ["DataConfig", "DataInfo", "Dataset", "DataTransform", "RawData", "load_dataset"]


def load_dataset(spec: str | DataConfig = "mnist5k", **options) -> Dataset:
    """Load a dataset by registered name or path, split into train and test.

    >>> ds = load_dataset("ring8", n=2000)          # toy set with options
    >>> ds = load_dataset("my_digits/")              # an image folder, one sub-folder per class
    """
    cfg = spec if isinstance(spec, DataConfig) else DataConfig(source=spec)
    if options:
        from ..config import from_dict, to_dict

        cfg = from_dict(DataConfig, {**to_dict(cfg), **options}, prefix="data.")
    source = cfg.source
    if source in DATASETS:
        loader = DATASETS.get(source)
        if not getattr(loader, "toy", False):
            for name in ("n", "noise"):
                if getattr(cfg, name) is not None:
                    raise DataError(f"data.{name} applies to the toy 2-D sets only, not {source}")
        raw = loader(cfg)
        name = source
    else:
        path = Path(source).expanduser()
        if not path.exists():
            raise DataError(
                f"{source}: no such file or folder, and not a dataset name "
                f"(datasets: {', '.join(DATASETS.names())})"
            )
        raw = FILE_FORMATS.get(files.detect_format(path))(path, cfg)
        name = str(path)
    if cfg.labels is not None and source in DATASETS:
        raise DataError("data.labels applies to IDX files only")
    ds = split_data(raw, cfg, name)
    # Filter after the split: a run restricted to some classes then never trains on an
    # example that the same data's full test split holds (the one-class protocol needs this).
    return keep_classes(ds, cfg.classes) if cfg.classes is not None else ds


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
    )
