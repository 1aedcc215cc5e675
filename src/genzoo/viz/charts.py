"""Charts described as data: a `Panel` holds `Series` (curves, points, histograms, bands, arrows,
images), and `draw` lays panels out in one picture.

Whatever computes the numbers (the experiments of genzoo.theory) builds panels and never
touches matplotlib; this module is the only one that draws them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

Kind = Literal["line", "scatter", "hist", "band", "quiver", "image", "hline", "vline"]


@dataclass
class Series:
    """One thing drawn in a panel.

    line, scatter: y against x. hist: a density histogram of the values x (`bins`). band: the
    area between `y` (lower) and `upper` over x. quiver: arrows (u, v) at (x, y). image: the
    2-D array `z` over the box [x[0], x[1]] x [y[0], y[1]] (or pixel indices). hline/vline: a
    reference level at y[0] / x[0]."""

    kind: Kind
    x: Sequence[float] | np.ndarray
    y: Sequence[float] | np.ndarray | None = None
    label: str | None = None
    style: str = ""  # a matplotlib format string: "--", "o-", ":"
    upper: Sequence[float] | np.ndarray | None = None
    u: Sequence[float] | np.ndarray | None = None
    v: Sequence[float] | np.ndarray | None = None
    z: Sequence[Sequence[float]] | np.ndarray | None = None
    bins: int = 60
    color: str | None = None


@dataclass
class Panel:
    title: str
    series: list[Series] = field(default_factory=list)
    xlabel: str = ""
    ylabel: str = ""
    logx: bool = False
    logy: bool = False
    equal: bool = False  # the same scale on both axes (phase portraits, subspaces)
    legend: bool = True


def _draw_series(ax, s: Series) -> None:
    kw = {"label": s.label} if s.label else {}
    if s.color is not None:
        kw["color"] = s.color
    x = np.asarray(s.x, dtype=float)
    if s.kind == "line":
        ax.plot(x, np.asarray(s.y, dtype=float), s.style or "-", **kw)
    elif s.kind == "scatter":
        ax.scatter(x, np.asarray(s.y, dtype=float), s=6, alpha=0.6, **kw)
    elif s.kind == "hist":
        ax.hist(x, bins=s.bins, density=True, alpha=0.45, **kw)
    elif s.kind == "band":
        ax.fill_between(x, np.asarray(s.y, dtype=float), np.asarray(s.upper), alpha=0.2, **kw)
    elif s.kind == "quiver":
        ax.quiver(x, np.asarray(s.y), np.asarray(s.u), np.asarray(s.v), alpha=0.5, **kw)
    elif s.kind == "image":
        z = np.asarray(s.z, dtype=float)
        extent = None
        if s.y is not None and len(x) == 2:
            extent = (x[0], x[1], float(s.y[0]), float(s.y[1]))
        ax.imshow(z, cmap="gray" if extent is None else "viridis", extent=extent, origin="lower"
                  if extent else "upper", aspect="auto" if extent else "equal")  # fmt: skip
        if extent is None:
            ax.set_xticks([])
            ax.set_yticks([])
    elif s.kind == "hline":
        ax.axhline(float(np.asarray(s.y)[0]), linestyle=s.style or ":", color=s.color or "k", lw=1,
                   **({"label": s.label} if s.label else {}))  # fmt: skip
    elif s.kind == "vline":
        ax.axvline(float(x[0]), linestyle=s.style or ":", color=s.color or "k", lw=1,
                   **({"label": s.label} if s.label else {}))  # fmt: skip
    else:  # pragma: no cover - Kind lists every case
        raise ValueError(f"unknown series kind {s.kind!r}")


def draw(panels: Sequence[Panel], path: str | Path, title: str | None = None,
         columns: int | None = None) -> Path:  # fmt: skip
    """Draw `panels` side by side (at most `columns` per row, 3 by default) into a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(1, len(panels))
    cols = min(n, columns or 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.3 * cols, 3.5 * rows), squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        for s in panel.series:
            _draw_series(ax, s)
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel(panel.xlabel)
        ax.set_ylabel(panel.ylabel)
        if panel.logx:
            ax.set_xscale("log")
        if panel.logy:
            ax.set_yscale("log")
        if panel.equal:
            ax.set_aspect("equal", adjustable="datalim")
        if panel.legend and any(s.label for s in panel.series):
            ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
