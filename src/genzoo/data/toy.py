"""Toy 2-D distributions with known ground truth, for mode-coverage experiments.

The mixtures follow the GAN mode-collapse benchmarks (Metz et al. 2017, Srivastava et al. 2017):
`ring8` puts 8 Gaussians at angles 2*pi*k/8 on the unit circle (std 0.01), `grid25` puts 25 at
{-4,-2,0,2,4}^2 (std 0.05). Each keeps its means and std in `meta`, and the component index as
its label, so metrics can count modes and high-quality samples. `swissroll`, `moons` and
`circles` come from scikit-learn's generators. `n` and `noise` are options of every set.
"""

from __future__ import annotations

import numpy as np

from ..registry import DATASETS
from .dataset import DataConfig, RawData


def _mixture(means: np.ndarray, std: float, n: int, seed: int) -> RawData:
    rng = np.random.default_rng(seed)
    k = rng.integers(0, len(means), size=n)
    x = means[k] + std * rng.standard_normal((n, 2))
    meta = {"means": means.tolist(), "std": std}
    classes = [f"mode{i}" for i in range(len(means))]
    return RawData(x.astype(np.float32), k.astype(np.int64), "points", _bounds(x), classes, meta)


def _bounds(x: np.ndarray) -> tuple[float, float]:
    return (float(x.min()), float(x.max()))


def toy(name: str, description: str, n: int, noise: float):
    """Register a toy set with its default size and noise."""

    def deco(fn):
        def load(cfg: DataConfig) -> RawData:
            size = cfg.n if cfg.n is not None else n
            return fn(size, cfg.noise if cfg.noise is not None else noise, cfg.seed)

        load.toy = True  # accepts data.n and data.noise
        load.__doc__ = fn.__doc__
        return DATASETS.register(name, description)(load)

    return deco


@toy("ring8", "8 Gaussians on the unit circle, std 0.01 (2-D, ground truth kept)", 8000, 0.01)
def ring8(n: int, noise: float, seed: int) -> RawData:
    angles = 2 * np.pi * np.arange(8) / 8
    return _mixture(np.stack([np.cos(angles), np.sin(angles)], 1), noise, n, seed)


@toy(
    "grid25",
    "25 Gaussians on a 5x5 grid at {-4..4}, std 0.05 (2-D, ground truth kept)",
    10000,
    0.05,
)
def grid25(n: int, noise: float, seed: int) -> RawData:
    g = np.arange(-4.0, 5.0, 2.0)
    return _mixture(np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2), noise, n, seed)


@toy("swissroll", "2-D swiss roll (scikit-learn), scaled by 1/7.5", 8000, 0.05)
def swissroll(n: int, noise: float, seed: int) -> RawData:
    from sklearn.datasets import make_swiss_roll

    x3, t = make_swiss_roll(n, noise=0.0, random_state=seed)
    rng = np.random.default_rng(seed + 1)
    x = x3[:, [0, 2]] / 7.5 + noise * rng.standard_normal((n, 2))
    return RawData(x.astype(np.float32), None, "points", _bounds(x), None, {"noise": noise})


@toy("moons", "two interleaving half circles (scikit-learn), 2 classes", 8000, 0.05)
def moons(n: int, noise: float, seed: int) -> RawData:
    from sklearn.datasets import make_moons

    x, y = make_moons(n, noise=noise, random_state=seed)
    return RawData(
        x.astype(np.float32), y.astype(np.int64), "points", _bounds(x), ["0", "1"], {"noise": noise}
    )


@toy("circles", "two concentric circles, radius ratio 0.5 (scikit-learn), 2 classes", 8000, 0.05)
def circles(n: int, noise: float, seed: int) -> RawData:
    from sklearn.datasets import make_circles

    x, y = make_circles(n, noise=noise, factor=0.5, random_state=seed)
    return RawData(
        x.astype(np.float32),
        y.astype(np.int64),
        "points",
        _bounds(x),
        ["outer", "inner"],
        {"noise": noise, "factor": 0.5},
    )
