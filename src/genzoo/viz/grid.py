"""Image grids with Pillow, 2-D scatter plots with matplotlib, and the training preview.

Models work in their own range; `to_display` maps a batch back through the data transform to
the data's own range and then to [0, 1] for display.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..data.dataset import DataInfo, DataTransform
from ..errors import GenzooError
from ..models.base import (
    Figure,
    Frames,
    ImageRows,
    Reconstructor,
    SampleSets,
    StageSchedule,
    TrainingGrids,
    in_batches,
)
from ..train.evaluation import test_rows


def to_display(x: torch.Tensor, info: DataInfo, transform: DataTransform | None) -> np.ndarray:
    """(N, C, H, W) in model range -> float array in [0, 1] for display."""
    raw = transform.inverse(x.detach().float().cpu()) if transform is not None else x.float().cpu()
    lo, hi = info.value_range
    return ((raw - lo) / (hi - lo)).clamp(0, 1).numpy()


def image_grid(x: np.ndarray, nrow: int = 8, pad: int = 2, min_size: int = 28) -> Image.Image:
    """(N, C, H, W) floats in [0, 1] -> one grid image, small images upscaled (nearest)."""
    n, c, h, w = x.shape
    scale = max(1, int(np.ceil(min_size / max(h, w))))
    ncol = min(nrow, n)
    rows = int(np.ceil(n / ncol))
    H, W = h * scale, w * scale
    canvas = np.full((rows * (H + pad) + pad, ncol * (W + pad) + pad, 3), 255, np.uint8)
    for i in range(n):
        img = (x[i].transpose(1, 2, 0) * 255).round().astype(np.uint8)
        img = np.repeat(np.repeat(img, scale, 0), scale, 1)
        if c == 1:
            img = np.repeat(img, 3, 2)
        r, q = divmod(i, ncol)
        top, left = pad + r * (H + pad), pad + q * (W + pad)
        canvas[top : top + H, left : left + W] = img[..., :3]
    return Image.fromarray(canvas)


def points_plot(layers: list[tuple[str, np.ndarray, str]], title: str = "") -> Image.Image:
    """Scatter plot of 2-D point sets [(label, (N, 2) array, color)] as a PIL image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    for label, pts, color in layers:
        ax.scatter(pts[:, 0], pts[:, 1], s=5, alpha=0.6, c=color, label=label, linewidths=0)
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper right", markerscale=4)
    if title:
        ax.set_title(title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def frames_picture(model, frames: list[tuple[str, torch.Tensor]]) -> Image.Image:
    """A process shown frame by frame, left to right: images as one row per example and one
    column per frame (the frames' titles are the caller's caption); points as a row of
    scatter plots, each titled."""
    if model.info.kind == "image":
        x = torch.stack([f for _, f in frames], 1).flatten(0, 1)  # (n * frames, C, H, W)
        return image_grid(to_display(x, model.info, model.transform), nrow=len(frames))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(frames)
    fig, axes = plt.subplots(1, k, figsize=(2.2 * k, 2.4), dpi=100, sharex=True, sharey=True)
    for ax, (title, x) in zip(np.atleast_1d(axes), frames, strict=True):
        pts = model.to_data(x)[:, :2]
        ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.5, c="tab:red", linewidths=0)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def _stack_vertical(images: list[Image.Image], gap: int = 8) -> Image.Image:
    width = max(im.width for im in images)
    height = sum(im.height for im in images) + gap * (len(images) - 1)
    out = Image.new("RGB", (width, height), "white")
    top = 0
    for im in images:
        out.paste(im, (0, top))
        top += im.height + gap
    return out


@torch.no_grad()
def preview(
    model,
    x_ref: torch.Tensor,
    n_samples: int | None = None,
    seed: int = 0,
    y_ref: torch.Tensor | None = None,
    x_in_ref: torch.Tensor | None = None,
) -> Image.Image | None:
    """What training looks like now: references and reconstructions, then samples.
    (y_ref: the references' labels, which a conditional model needs to reconstruct; x_in_ref:
    the references' inputs, for a translation model, whose preview is input/output/target.)

    Images: a grid (a row of 8 references, a row of their reconstructions, rows of samples;
    32 samples by default), drawn with the model's fast options (a few sampler steps).
    Points and tables (first two columns): a scatter plot of data, reconstructions and samples
    (as many samples as references by default).
    """
    info, transform = model.info, model.transform
    if x_in_ref is not None:  # the references are targets only when the domains are paired
        return translation_pairs(model, x_in_ref[:16], x_ref[:16] if info.paired else None)
    if n_samples is None:
        n_samples = 32 if info.kind == "image" else len(x_ref)
    g = torch.Generator(device=x_ref.device).manual_seed(seed)
    samples = model.sample(n_samples, generator=g, **model.fast_options("sample"))
    recon = None
    if info.kind == "image":  # 8 references shown, spread over them: only those reconstructed
        pick = torch.linspace(0, len(x_ref) - 1, min(8, len(x_ref))).long().to(x_ref.device)
        x_ref, y_ref = x_ref[pick], None if y_ref is None else y_ref[pick]
    if isinstance(model, Reconstructor):
        fast = model.fast_options("reconstruct")
        recon = in_batches(model.reconstruct, x_ref, model.labels_for(y_ref, "reconstruct"), **fast)
    if info.kind == "image":
        parts = []
        if recon is not None:
            pairs = torch.cat([x_ref, recon])
            parts.append(image_grid(to_display(pairs, info, transform), nrow=8))
        parts.append(image_grid(to_display(samples, info, transform), nrow=8))
        return _stack_vertical(parts)
    if info.dim < 2:
        return None
    sets = [("data", x_ref)] + ([("reconstructions", recon)] if recon is not None else [])
    return picture(model, [*sets, ("samples", samples)], 8)


def training_preview(model, test: dict[str, torch.Tensor], seed: int) -> Image.Image | None:
    """The picture a run draws of itself at train.sample_every (the trainer's `preview`):
    `preview` with references spread over the test split's batch fields (which may be
    ordered by class): 64 for an image grid, 1,000 for a scatter plot, which needs many more
    points to show where the mass is."""
    rows = test_rows(test, 64 if model.info.kind == "image" else 1000)
    return preview(model, rows["x"], seed=seed, y_ref=rows.get("y"), x_in_ref=rows.get("x_in"))


def save_image(image: Image.Image, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def picture(model, sets: list[tuple[str, torch.Tensor]], nrow: int):
    """Images: one grid of the sets, in order, `nrow` per row.

    Points and tables: a scatter plot of the first two columns, one labelled colour per set.
    """
    if model.info.kind == "image":
        x = torch.cat([t for _, t in sets])
        return image_grid(to_display(x, model.info, model.transform), nrow=nrow)
    if model.info.dim < 2:
        raise GenzooError("a picture needs at least 2 features; write .npy instead")
    colors = {"data": "0.55", "reconstructions": "tab:blue", "samples": "tab:red"}
    return points_plot(
        [(name, model.to_data(t)[:, :2], colors.get(name, "tab:green")) for name, t in sets]
    )


def growth_plot(curve: list[tuple[int, int, float]], names: list[str]) -> Image.Image:
    """A progressive-growing schedule: (step, stage, alpha) points drawn as the stage plus the
    fade-in progress (stage k at alpha a sits at k - 1 + a), resolutions on the y axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [s for s, _, _ in curve]
    level = [k - 1 + a if k > 0 else 0.0 for _, k, a in curve]
    fig, ax = plt.subplots(figsize=(7, 2.6), dpi=100)
    ax.plot(steps, level, "-", color="tab:blue")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("step")
    ax.set_ylabel("resolution")
    ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def stage_grids(run, windows: list[tuple[str, int, int | None]]) -> Image.Image | None:
    """Side by side, the last preview grid (samples/step-N.png) a run wrote inside each
    window (name, start, stop), each under its name; None when the run wrote none."""
    from PIL import ImageDraw

    folder = Path(run) / "samples" if run is not None else None
    if folder is None or not folder.is_dir():
        return None
    written = sorted((int(p.stem.split("-")[1]), p) for p in folder.glob("step-*.png"))
    picks = []
    for name, start, stop in windows:
        # a grid written at step s shows the model after s updates: steps start+1 .. stop
        inside = [p for s, p in written if start < s and (stop is None or s <= stop)]
        if inside:
            picks.append((name, Image.open(inside[-1]).convert("RGB")))
    if not picks:
        return None
    label = 18
    width = sum(im.width for _, im in picks) + 10 * (len(picks) - 1)
    height = max(im.height for _, im in picks) + label
    out = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(out)
    left = 0
    for name, im in picks:
        draw.text((left + 4, 2), name, fill="black")
        out.paste(im, (left, label))
        left += im.width + 10
    return out


@torch.no_grad()
def translation_pairs(model, x_in: torch.Tensor, target: torch.Tensor | None = None):
    """Rows of inputs, their translations and (when given) the targets: one grid image."""
    out = in_batches(model.translate, x_in)
    rows = [
        to_display(x_in, model.info.input, model.input_transform),
        to_display(out, model.info, model.transform),
    ]
    if target is not None:
        rows.append(to_display(target, model.info, model.transform))
    return rows_grid(rows)


def rows_grid(rows: list[np.ndarray]) -> Image.Image:
    """Rows of images (each (n, C, H, W) in [0, 1], one n) in one grid; gray rows are shown as
    RGB when other rows are in colour (translation between gray and colour domains)."""
    if len({r.shape[1] for r in rows}) > 1:
        rows = [np.repeat(r, 3, 1) if r.shape[1] == 1 else r for r in rows]
    return image_grid(np.concatenate(rows), nrow=len(rows[0]))


def draw_figure(model, fig: Figure, run: str | Path | None = None) -> Image.Image | None:
    """The picture of one of a model's own figures (`GenerativeModel.report_figures`); None
    when there is nothing to draw (a `TrainingGrids` of a run that wrote no grid)."""
    if isinstance(fig, SampleSets):
        return picture(model, fig.sets, fig.columns)
    if isinstance(fig, Frames):
        return frames_picture(model, fig.frames)
    if isinstance(fig, ImageRows):
        return rows_grid([to_display(x, info, t) for x, info, t in fig.rows])
    if isinstance(fig, StageSchedule):
        return growth_plot(fig.points, fig.stages)
    if isinstance(fig, TrainingGrids):
        return stage_grids(run, fig.windows)
    raise TypeError(f"no drawing for a {type(fig).__name__} figure")
