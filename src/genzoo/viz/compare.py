"""The comparison report: one self-contained HTML page for `genzoo compare`.

On top, the table (headline metrics beside the real-data floor, training and sampling time),
then the samples of every model side by side, quality against training time, and for each
model its full metrics with provenance and a link to its own run report. The two pictures are
also written beside the page (samples.png, quality.png), for slides and documents.
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from ..train.checkpoint import load
from .grid import picture
from .html import FEATURES_NOTE, fig_to_image, figure, metrics_table, save_png, table, write_page

HEADLINE = {
    "image": [
        ("fid", "fid", "FID"),
        ("kid", "kid", "KID"),
        ("precision_recall", "precision", "precision"),
        ("precision_recall", "recall", "recall"),
        ("classes", "classes_covered", "classes"),
        ("nll", "bits_per_dim", "bits/dim"),
    ],
    "points": [
        ("modes", "modes", "modes"),
        ("modes", "high_quality", "high quality"),
        ("knn_kl", "knn_kl", "k-NN KL"),
        ("mmd", "mmd", "MMD²"),
        ("nll", "nll_nats", "NLL (nats)"),
    ],
}
HEADLINE["table"] = [h for h in HEADLINE["points"] if h[0] != "modes"]
# the metric of the quality-against-time curve: (metric, value), lower is better
CURVE = {"image": ("fid", "fid"), "points": ("knn_kl", "knn_kl"), "table": ("knn_kl", "knn_kl")}


def samples_picture(entry, data, count: int, seed: int) -> Image.Image:
    """64 samples of an image model as a grid; for points, 1,000 beside the test data."""
    model = load(entry.run)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        x = model.sample(count, generator=g)
    if model.info.kind == "image":
        return picture(model, [("samples", x)], 8)
    idx = torch.linspace(0, len(data.x_test) - 1, min(count, len(data.x_test))).long()
    real = model.to_model(data.x_test[idx.numpy()])
    return picture(model, [("data", real), ("samples", x)], 0)


def curve_plot(entries, metric: str, log: bool) -> Image.Image | None:
    """The headline metric against seconds of training, one line per model."""
    if not any(e.curve for e in entries):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for e in entries:
        pts = [(t, v) for t, v in e.curve if math.isfinite(t) and math.isfinite(v)]
        if pts:
            ax.plot(*zip(*pts, strict=True), marker="o", label=e.name)
    ax.set_xlabel("seconds of training (optimizer steps only)")
    ax.set_ylabel(f"{metric} (lower is better)")
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig_to_image(fig)


LABELS = {"fid": "FID", "knn_kl": "k-NN KL"}


def panel_title(entry, metric: str, key: str) -> str:
    """A model's name and its headline figures: FID, or the modes found and k-NN KL."""
    parts = []
    modes = entry.results.get("modes", {}).get("values", {})
    if "modes" in modes:
        parts.append(f"{modes['modes']} of {modes['of_modes']} modes")
    found = entry.results.get(metric, {})
    value = found.get("values", {}).get(key)
    if value is not None:
        features = found.get("provenance", {}).get("features")
        net = f" ({features.get('name') or features['file']})" if features else ""
        parts.append(f"{LABELS[key]}{net} {value:.3g}")
    return f"{entry.name}: {', '.join(parts)}" if parts else entry.name


def side_by_side(panels: list[tuple[str, Image.Image]]) -> Image.Image:
    """Pictures in one row, each titled (a model's name and its headline figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.5), dpi=100)
    for ax, (title, image) in zip(list(getattr(axes, "flat", [axes])), panels, strict=True):
        ax.imshow(image)
        ax.set_title(title, fontsize=11)
        ax.axis("off")
    fig.tight_layout()
    return fig_to_image(fig)


def write_compare_report(entries, data, meta: dict[str, Any], path: Path) -> Path:
    kind = data.kind
    budget = meta["budget_seconds"]
    title = f"genzoo compare: {', '.join(e.name for e in entries)} on {data.name}"
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Each model trained for {budget:g} s of optimizer steps (train.max_step_seconds: "
        "evaluation, pictures and checkpoints not counted) with its own default settings (but "
        "those noted below) and "
        f"seed {meta['seed']}, then was scored on the same {meta['n']:,} samples per model against "
        f"{min(meta['n'], len(data.x_test)):,} test examples of {html.escape(data.name)}. "
        "<i>sample s</i> is the time to draw those samples with the model's default sampler; "
        "the last row is each metric for real data alone, the best a model can reach.</p>",
        "<div class='wide'>" + table(*table_rows(entries, kind)) + "</div>",
    ]
    changed = {name: items for name, items in meta.get("settings", {}).items() if items}
    if changed:
        parts.append(
            "<p class='note'>Settings changed from the defaults: "
            + "; ".join(
                f"{html.escape(name)}: <code>{html.escape(', '.join(items))}</code>"
                for name, items in changed.items()
            )
            + ".</p>"
        )
    if kind == "image":
        parts.append(f"<p class='note'>{html.escape(FEATURES_NOTE)}</p>")
    note = likelihood_note(entries)
    if note:
        parts.append(f"<p class='note'>{html.escape(note)}</p>")
    if any(e.reused for e in entries):
        reused = ", ".join(e.name for e in entries if e.reused)
        parts.append(f"<p class='note'>Reused from an earlier comparison: {reused}.</p>")
    parts.append("<h2>Samples</h2>")
    count = 64 if kind == "image" else 1000
    metric, key = CURVE[kind]
    panels = []
    for e in entries:
        caption = f"{e.name}: {e.summary.get('steps')} steps"
        image = samples_picture(e, data, count, meta["seed"])
        parts.append(figure(image, e.name, caption))
        panels.append((panel_title(e, metric, key), image))
    path.parent.mkdir(parents=True, exist_ok=True)
    save_png(side_by_side(panels), path.parent / "samples.png")
    plot = curve_plot(entries, key, log=kind == "image")
    if plot is not None:
        save_png(plot, path.parent / "quality.png")
        parts += [
            "<h2>Quality against training time</h2>",
            f"<p>{metric} of each kept checkpoint, at the same N and seed as the table.</p>",
            figure(plot, "quality against training time"),
        ]
    for e in entries:
        link = os.path.relpath(e.run / "report.html", path.parent)
        parts += [
            f"<h2>{html.escape(e.name)}</h2>",
            f"<p>Run folder <code>{html.escape(str(e.run))}</code>; its own report "
            f"(loss curves, samples during training, latents): "
            f"<a href='{html.escape(link)}'>{html.escape(link)}</a></p>",
            metrics_table(e.results),
        ]
    return write_page(path, title, parts)


def density_of(provenance: dict[str, Any]) -> str:
    """In words, what an nll number measures: only the same kind compare."""
    if provenance.get("binarized"):
        return "the probability of binarized pixels"
    if provenance.get("discrete"):
        return "a bound on the probability of the 8-bit pixel values"
    if provenance.get("decoder") == "bernoulli":
        return "a Bernoulli cross-entropy of grey levels (not a density of the data)"
    return "a density of continuous values in the model's range"


def likelihood_note(entries: list) -> str | None:
    """Which density each likelihood is of, when the models' differ; None when they agree."""
    kinds = {e.name: density_of(e.results["nll"]["provenance"]) for e in entries
             if "nll" in e.results}  # fmt: skip
    if len(set(kinds.values())) < 2:
        return None
    said = "; ".join(f"{name}: {what}" for name, what in kinds.items())
    return f"The likelihoods are of different things and do not compare ({said})."


def headline(kind: str, entries: list) -> list[tuple[str, str, str]]:
    """The headline columns some entry has, each named by its feature network where it has
    one: "FID (mnist5k-cnn features)"."""
    cols = []
    for metric, key, label in HEADLINE[kind]:
        found = [
            e.results[metric] for e in entries if key in e.results.get(metric, {}).get("values", {})
        ]
        if not found:
            continue
        features = found[0].get("provenance", {}).get("features")
        if features:
            label = f"{label} ({features.get('name') or features['file']} features)"
        cols.append((metric, key, label))
    return cols


def table_rows(entries: list, kind: str) -> tuple[list[str], list[list[str]]]:
    """The comparison as text: a header and one row per model, then the real-data floor."""
    cols = headline(kind, entries)
    head = ["model", "params", "steps", "train s", "sample s"] + [c[2] for c in cols]
    rows = []
    for e in entries:
        s = e.summary
        row = [e.name, f"{s.get('parameters', 0):,}", str(s.get("steps"))]
        row += [num(s.get("step_seconds")), num(e.sample_seconds)]
        row += [num(e.results.get(m, {}).get("values", {}).get(k)) for m, k, _ in cols]
        rows.append(row)
    floor = ["real data (floor)", "", "", "", ""]
    for m, k, _ in cols:
        floors = [e.results.get(m, {}).get("floor") or {} for e in entries]
        floor.append(num(next((f[k] for f in floors if k in f), None)))
    rows.append(floor)
    return head, rows


def num(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return str(v)
        return f"{v:.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return str(v)


def format_rows(head: list[str], rows: list[list[str]]) -> str:
    """Text columns: the first left-aligned, the numbers right-aligned."""
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells):
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join(line(r) for r in [head, *rows])
