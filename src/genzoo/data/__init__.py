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
    if cfg.classes is not None:
        raw = keep_classes(raw, cfg.classes, name)
    return split_data(raw, cfg, name)


def keep_classes(raw: RawData, wanted: tuple[str, ...], name: str) -> RawData:
    """Only the examples of classes `wanted` (labels keep their original numbering)."""
    import numpy as np

    if raw.y is None or not raw.classes:
        raise DataError(f"data.classes needs labelled data; {name} has no labels")
    unknown = [c for c in wanted if c not in raw.classes]
    if unknown:
        raise DataError(
            f"data.classes: {unknown[0]!r} is not a class of {name}; classes: "
            f"{', '.join(raw.classes)}"
        )
    keep = np.isin(raw.y, [raw.classes.index(c) for c in wanted])
    return RawData(raw.x[keep], raw.y[keep], raw.kind, raw.value_range, raw.classes, raw.meta)
