"""The HTML run report: one self-contained file (images embedded), readable without a server.

For each run: what was trained, the metrics beside their real-vs-real floors with their
provenance, loss curves, sample grids over training, reconstructions, and a 2-D map of the
latent codes where the model has an encoder. Several runs make one report with a comparison
table on top.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..atomic import atomic_write_text
from ..metrics.evaluate import format_value
from ..models.base import Decoder, Encoder, LatentPrior, Reconstructor, in_batches
from ..models.latent import active_order, interpolate, traversal
from ..progress import Deadline
from ..train.run_folder import open_run, run_dataset
from .grid import draw_figure, picture
from .html import FEATURES_NOTE, fig_to_image, figure, metrics_table, notes_list, page


def latent_walks(model, data) -> list[str]:
    """Interpolations between test examples and a traversal of the most active dimensions,
    for image models that encode and decode."""
    if model.info.kind != "image" or not isinstance(model, Decoder):
        return []
    if not isinstance(model, Encoder):
        return prior_walks(model) if isinstance(model, LatentPrior) else []
    x, y = model.to_model(data.x_test), _labels(data)
    y = None if y is None else y.to(model.device)
    prior = isinstance(model, LatentPrior)
    pairs = torch.linspace(0, len(x) - 1, 8).long()  # spread over the split
    # only the pairs' codes: encoding may be costly (a diffusion model inverts its sampler)
    z_pairs = in_batches(
        model.encode, x[pairs], model.labels_for(None if y is None else y[pairs], "encode")
    )
    rows = []
    for i in range(0, 8, 2):
        a, b = pairs[i].item(), pairs[i + 1].item()
        label = None if y is None else y[a]
        mode = "spherical" if prior else "linear"
        rows.append((f"{a}-{b}", interpolate(model, z_pairs[i], z_pairs[i + 1], 10, mode, label)))
    parts = [
        "<h3>Interpolations</h3>",
        figure(
            picture(model, rows, 10),
            "interpolations",
            f"{'spherical' if prior else 'linear'} paths between pairs of test examples' codes",
        ),
    ]
    if z_pairs.dim() > 2:  # codes shaped like the data (inverted noise): no dimension to traverse
        return parts
    z = in_batches(model.encode, x, model.labels_for(y, "encode"))
    dims = active_order(z)[:8]
    z0 = torch.zeros_like(z[0]) if prior else z.mean(0)
    label0 = None if y is None else y[0]
    grid = traversal(model, z0, dims, 3.0, 9, label0, None if prior else z.std(0))
    return parts + [
        "<h3>Latent traversal</h3>",
        figure(
            picture(model, [("traversal", grid)], 9),
            "latent traversal",
            f"rows: dimensions {', '.join(map(str, dims))} (most active first), each from -3 to "
            f"+3 {'prior' if prior else 'code'} standard deviations, the others held",
        ),
    ]


def prior_walks(model) -> list[str]:
    """Spherical interpolations between draws from the prior, for generators without an
    encoder (GANs)."""
    g = torch.Generator(device=model.device).manual_seed(0)
    ends = model.sample_latent(8, generator=g)
    labels = model.default_labels(4, None)
    rows = [
        (
            f"path {i}",
            interpolate(
                model,
                ends[2 * i],
                ends[2 * i + 1],
                10,
                "spherical",
                None if labels is None else labels[i],
            ),
        )
        for i in range(4)
    ]
    return [
        "<h3>Interpolations</h3>",
        figure(
            picture(model, rows, 10),
            "interpolations",
            "spherical paths between pairs of draws from the prior"
            + (", one class per row" if labels is not None else ""),
        ),
    ]


def _labels(data) -> torch.Tensor | None:
    return None if data.y_test is None else torch.as_tensor(data.y_test)


def log_scale(values: list[float]) -> bool:
    """A log axis for positive values that span more than a factor of 10 (losses, gradient
    norms); a linear one for counts such as modes or classes covered, or anything signed."""
    return min(values) > 0 and max(values) > 10 * min(values)


def curves(records: list[dict[str, Any]], keep, ylabel: str) -> Image.Image | None:
    """The logged scalars whose key passes `keep`, against the step; held-out ones (test/,
    diag/) as dashed lines with markers at each evaluation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({k for r in records for k in r if keep(k) and isinstance(r[k], (int, float))})
    if not keys:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for key in keys:
        pts = [(r["step"], r[key]) for r in records if key in r]
        style = "o--" if key.startswith(("test/", "diag/")) else "-"
        ax.plot(*zip(*pts, strict=True), style, label=key, markersize=4)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    if log_scale([v for r in records for k, v in r.items() if k in keys]):
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig_to_image(fig)


def loss_curves(records: list[dict[str, Any]]) -> Image.Image | None:
    """Training terms per logged step, and test terms at each evaluation."""
    return curves(records, lambda k: k.endswith("/loss"), "loss")


def diagnostics(records: list[dict[str, Any]], summary: dict[str, Any]) -> list[str]:
    """What the trainer logged about the model's health: D(real)/D(fake), gradient norms, the
    model's own checks (diag/...), and the warnings it raised."""
    parts = []
    d_out = curves(records, lambda k: k.split("/")[-1] in ("d_real", "d_fake"), "D output")
    if d_out is not None:
        parts += [
            "<h3>D(real) and D(fake)</h3>",
            figure(
                d_out,
                "discriminator outputs",
                "probabilities for the bce games, critic "
                "values for the Wasserstein and hinge games; d/: training batches, "
                "g/: the generator's step, diag/: held-out data and fresh samples",
            ),
        ]
    norms = curves(records, lambda k: k.endswith("/grad_norm"), "gradient norm")
    if norms is not None:
        parts += ["<h3>Gradient norms</h3>", figure(norms, "gradient norms")]
    other = curves(
        records,
        lambda k: (
            k.startswith("diag/")
            and k.count("/") == 1
            and k.split("/")[1] not in ("d_real", "d_fake")
        ),
        "value",
    )
    if other is not None:
        parts += ["<h3>Diagnostics</h3>", figure(other, "diagnostics")]
    warnings = summary.get("warnings") or []
    if warnings:
        items = "".join(
            f"<li>step {w['step']}: {html.escape(w['message'])}"
            + (
                f" <em>(no longer the case at step {w['cleared_step']})</em>"
                if "cleared_step" in w
                else ""
            )
            + "</li>"
            for w in warnings
        )
        parts += ["<h3>Warnings</h3>", f"<ul>{items}</ul>"]
    return parts


def latent_plot(model, data) -> Image.Image | None:
    """Test-split codes, projected onto their two principal axes if wider than 2."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not isinstance(model, Encoder):
        return None
    x, y = model.to_model(data.x_test), data.y_test
    labels = _labels(data)
    # a model whose encoder is costly plots a subset, spread evenly over the split
    n = min(len(x), model.report_latent_points or len(x))
    if n < len(x):
        keep = torch.linspace(0, len(x) - 1, n).long()
        x, labels = x[keep], None if labels is None else labels[keep]
        y = None if y is None else np.asarray(y)[keep.numpy()]
    with torch.no_grad():
        # codes may keep the data's shape (a diffusion model's inverted noise x_T)
        z = in_batches(
            model.encode, x, model.labels_for(labels, "encode"), **model.fast_options("encode")
        )
        z = z.float().cpu().flatten(1)
    title = "latent codes"
    if z.shape[1] > 2:
        z = z - z.mean(0)
        _, _, v = torch.linalg.svd(z, full_matrices=False)
        z = z @ v[:2].T
        title = "latent codes, first two principal axes"
    elif z.shape[1] == 1:
        z = torch.cat([z, torch.zeros_like(z)], 1)
    fig, ax = plt.subplots(figsize=(5, 5))
    if y is not None:
        sc = ax.scatter(
            z[:, 0],
            z[:, 1],
            c=y,
            cmap="tab10" if data.num_classes <= 10 else "viridis",
            s=6,
            alpha=0.8,
        )
        if data.num_classes <= 10:
            handles, _ = sc.legend_elements()
            ax.legend(handles, data.classes, fontsize=7, loc="best", markerscale=0.8)
    else:
        ax.scatter(z[:, 0], z[:, 1], s=6, alpha=0.8)
    ax.set_title(title)
    return fig_to_image(fig)


def _cell(v) -> str:

    return "" if v is None else html.escape(format_value(v))


def run_section(run: Path, deadline: Deadline | None = None) -> tuple[str, dict[str, Any]]:
    """The HTML of one run, and its summary (for the comparison table). The pictures that
    cost time are drawn while `deadline` leaves time; what is left out is said."""
    deadline = deadline or Deadline(None)
    left_out: list[str] = []

    def time_for(what: str) -> bool:
        if deadline.expired():
            left_out.append(what)
            return False
        return True

    model, run_config = open_run(run)
    summary_path = run / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    records = []
    if (run / "metrics.jsonl").is_file():
        records = [
            json.loads(line)
            for line in (run / "metrics.jsonl").read_text().splitlines()
            if line.strip()
        ]
    parts = [
        f"<h2>{html.escape(run.name)}: {html.escape(model.name)} on "
        f"{html.escape(model.info.source)}</h2>"
    ]
    facts = {
        "model": model.name,
        "parameters": f"{sum(p.numel() for p in model.parameters()):,}",
        "data": f"{model.info.source} ({model.info.kind}, shape {tuple(model.info.shape)})",
        "steps": summary.get("steps"),
        "training time (s)": summary.get("train_seconds"),
        "device": summary.get("device"),
        "seed": summary.get("seed"),
        "versions": ", ".join(f"{k} {v}" for k, v in summary.get("versions", {}).items()),
    }
    parts.append(
        "<table>"
        + "".join(
            f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
            for k, v in facts.items()
            if v is not None
        )
        + "</table>"
    )
    parts.append("<h3>Metrics</h3>")
    if summary.get("eval"):
        parts.append(metrics_table(summary["eval"]))
    else:
        parts.append("<p>No evaluation yet: run <code>genzoo eval</code> on this run.</p>")
    parts.append(notes_list(summary.get("eval_notes") or []))
    losses = loss_curves(records)
    if losses is not None:
        parts += ["<h3>Loss curves</h3>", figure(losses, "loss curves")]
    parts += diagnostics(records, summary)
    grids = sorted((run / "samples").glob("step-*.png")) if (run / "samples").is_dir() else []
    if grids:
        picks = [grids[int(i)] for i in np.unique(np.linspace(0, len(grids) - 1, 6).round())]
        parts.append("<h3>Samples during training</h3>")
        parts += [
            figure(Image.open(p).convert("RGB"), p.stem, p.stem.replace("-", " ")) for p in picks
        ]
    ds = run_dataset(model, run_config)
    if model.has_report_figures() and time_for("the model's own figures"):
        # what is particular to a model (growth, mixing, samplers), figure by figure
        for fig in model.report_figures(ds):
            image = draw_figure(model, fig, run)
            if image is not None:
                parts.append(f"<h3>{html.escape(fig.title)}</h3>")
                parts.append(figure(image, fig.title.lower(), fig.caption))
            if deadline.expired():
                left_out.append("the rest of the model's own figures")
                break

    if isinstance(model, Reconstructor) and time_for("reconstructions"):
        x = model.to_model(ds.x_test)
        idx = torch.linspace(0, len(x) - 1, 16).long()
        with torch.no_grad():
            y = _labels(ds)
            recon = in_batches(
                model.reconstruct,
                x[idx],
                model.labels_for(None if y is None else y[idx], "reconstruct"),
                **model.fast_options("reconstruct"),
            )
            sets = [("data", x[idx]), ("reconstructions", recon)]
        parts += [
            "<h3>Reconstructions</h3>",
            figure(
                picture(model, sets, 16),
                "reconstructions",
                "test examples (top) and their reconstructions (bottom)"
                if model.info.kind == "image"
                else "",
            ),
        ]
    latent = latent_plot(model, ds) if time_for("the latent plot") else None
    if latent is not None:
        parts += ["<h3>Latent space</h3>", figure(latent, "latent plot")]
    if time_for("the latent walks"):
        parts += latent_walks(model, ds)
    if left_out:
        parts.append(
            "<p class='note'>Left out of this report, the time it had being spent: "
            f"{html.escape(', '.join(left_out))}. <code>genzoo report</code> on this run "
            "draws them.</p>"
        )
    if run_config:
        import yaml

        parts += [
            "<h3>Config</h3>",
            f"<pre>{html.escape(yaml.safe_dump(run_config, sort_keys=False))}</pre>",
        ]
    return "\n".join(parts), summary


def comparison_table(summaries: list[tuple[str, dict[str, Any]]]) -> str:
    keys: list[str] = []
    for _, s in summaries:
        for res in s.get("eval", {}).values():
            keys += [k for k in res["values"] if k not in keys]
    if not keys:
        return ""
    head = "<th>data</th>" + "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    rows = []
    for name, s in summaries:
        values = {k: v for res in s.get("eval", {}).values() for k, v in res["values"].items()}
        rows.append(
            f"<tr><td>{html.escape(name)}</td>"
            + "".join(f"<td>{_cell(values.get(k))}</td>" for k in keys)
            + "</tr>"
        )
    return (
        f"<h2>Comparison</h2><div class='wide'><table><tr><th>run</th>{head}</tr>"
        f"{''.join(rows)}</table></div>"
    )


def render_report(runs: list[Path], deadline: Deadline | None = None) -> str:
    """The report page: the comparison of several runs, then each run."""
    sections = [run_section(Path(r), deadline) for r in runs]
    title = "genzoo report: " + ", ".join(Path(r).name for r in runs)
    compare = comparison_table(
        [(Path(r).name, s) for r, (_, s) in zip(runs, sections, strict=True)]
    )
    body = "\n".join(h for h, _ in sections)
    return page(
        title,
        [
            f"<h1>{html.escape(title)}</h1><p class='note'>{html.escape(FEATURES_NOTE)}</p>",
            compare if len(runs) > 1 else "",
            body,
        ],
    )


def write_report(runs: list[Path], out: Path, deadline: Deadline | None = None) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, render_report(runs, deadline))
    return out
