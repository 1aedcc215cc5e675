"""Image-to-image tasks made from a user's own images: the pairs are built when the data loads.

Most people who want pix2pix or CycleGAN do not have pairs of images; they have images, and a
task: colour old black-and-white photos, sharpen small images, fill in a hole. Each task here
turns a set of target images B into the paired inputs A a translation model learns from
(`data.task` on any image source, e.g. ``--data my_photos/ --set data.task=colorize``):

- `colorize`: A is the luminance of B, Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601, the
  grey that JPEG and television use), one channel. B must be in colour.
- `superres2`, `superres4`: A is B averaged over f x f blocks (its size divided by f) and shown
  back at B's size by repeating each pixel (nearest): super-resolution by 2 or 4.
- `inpaint`: A is B with a square hole, 40% of its side, at a random place (seeded by
  `data.seed`), filled with 0.

Every function is pure (a batch in, a batch out, uint8 or float kept), and `make_input` is the
one place `load_dataset` calls.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import DataError
from ..registry import TASKS
from .dataset import RawData

HOLE = 0.4  # inpainting: the hole's side as a share of the image's shorter side
LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601


def luminance(x: np.ndarray) -> np.ndarray:
    """(N, 3, H, W) colour -> (N, 1, H, W) grey, Y = 0.299 R + 0.587 G + 0.114 B."""
    y = np.tensordot(x.astype(np.float64), LUMA, axes=([1], [0]))[:, None]
    return _like(y, x)


def block_mean(x: np.ndarray, f: int) -> np.ndarray:
    """(N, C, H, W) -> (N, C, ceil(H/f), ceil(W/f)): the mean of each f x f block (blocks at
    the edge of a size that f does not divide take the pixels they have)."""
    n, c, h, w = x.shape
    ph, pw = -h % f, -w % f
    v = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (0, ph), (0, pw)), mode="constant")
    ones = np.pad(np.ones((h, w)), ((0, ph), (0, pw)), mode="constant")
    sums = v.reshape(n, c, (h + ph) // f, f, (w + pw) // f, f).sum((3, 5))
    counts = ones.reshape((h + ph) // f, f, (w + pw) // f, f).sum((1, 3))
    return sums / counts


def upscale(x: np.ndarray, f: int, size: tuple[int, int]) -> np.ndarray:
    """Each pixel repeated f x f times (nearest), cropped to `size`."""
    big = x.repeat(f, axis=2).repeat(f, axis=3)
    return big[:, :, : size[0], : size[1]]


def low_resolution(x: np.ndarray, f: int) -> np.ndarray:
    """B -> A for super-resolution by f: block means shown back at B's size."""
    return _like(upscale(block_mean(x, f), f, x.shape[2:]), x)


def with_holes(x: np.ndarray, rng: np.random.Generator, share: float = HOLE) -> np.ndarray:
    """B -> A for inpainting: a square of side share * min(H, W) set to 0 at a random place
    inside each image."""
    n, _, h, w = x.shape
    side = max(1, round(share * min(h, w)))
    top = rng.integers(0, h - side + 1, size=n)
    left = rng.integers(0, w - side + 1, size=n)
    out = x.copy()
    for i in range(n):
        out[i, :, top[i] : top[i] + side, left[i] : left[i] + side] = 0
    return out


def _like(v: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Float results back in x's dtype (8-bit images rounded)."""
    if np.issubdtype(x.dtype, np.integer):
        info = np.iinfo(x.dtype)
        return np.clip(np.round(v), info.min, info.max).astype(x.dtype)
    return v.astype(x.dtype)


def task(name: str, description: str):
    def deco(fn: Callable[[RawData, np.random.Generator], np.ndarray]):
        TASKS.register(name, description)(fn)
        return fn

    return deco


@task("colorize", "grey -> colour: the input is the image's luminance (ITU-R BT.601)")
def colorize(raw: RawData, rng: np.random.Generator) -> np.ndarray:
    if raw.x.shape[1] != 3:
        raise DataError(
            "data.task=colorize: colourization learns colour from grey; these images have "
            f"{raw.x.shape[1]} channel(s), not 3 (RGB)"
        )
    return luminance(raw.x)


@task("superres2", "super-resolution x2: the input is 2x2 block means, shown at full size")
def superres2(raw: RawData, rng: np.random.Generator) -> np.ndarray:
    return low_resolution(raw.x, 2)


@task("superres4", "super-resolution x4: the input is 4x4 block means, shown at full size")
def superres4(raw: RawData, rng: np.random.Generator) -> np.ndarray:
    return low_resolution(raw.x, 4)


@task("inpaint", "inpainting: the input has a square hole (40% of the side) at a random place")
def inpaint(raw: RawData, rng: np.random.Generator) -> np.ndarray:
    return with_holes(raw.x, rng)


def make_input(raw: RawData, name: str, seed: int, source: str) -> RawData:
    """`raw` (the targets) with the paired inputs of task `name` as its input domain."""
    if raw.kind != "image":
        raise DataError(f"data.task={name}: tasks make image pairs; {source} holds {raw.kind}")
    if raw.input is not None:
        raise DataError(f"data.task={name}: {source} already brings its own input domain")
    rng = np.random.default_rng(seed)
    x_in = TASKS.get(name)(raw, rng)
    raw.input = RawData(x_in, raw.y, "image", raw.value_range, raw.classes, names=raw.names)
    raw.paired = True
    raw.meta["task"] = name
    return raw


def scale_of(name: str | None) -> int:
    """The factor of a super-resolution task (1 for the others)."""
    return {"superres2": 2, "superres4": 4}.get(name or "", 1)
