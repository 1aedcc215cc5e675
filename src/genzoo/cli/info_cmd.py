"""genzoo info: what a run holds."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..config import to_dict
from ..models.base import capabilities
from ..train.checkpoint import complete_checkpoints
from .common import open_model
from .options import json_option


@click.command("info")
@click.argument("run", metavar="RUN")
@json_option("print JSON")
def command(run, as_json) -> None:
    """Describe a run: model, data, training, checkpoints, results.

    RUN is a run folder, its model/ folder or a checkpoint folder.

    \b
    Examples:
      genzoo info runs/ae
      genzoo info runs/ae --json
    """
    model, run_config = open_model(run)
    root = Path(run)
    summary_path = root / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else None
    info = {
        "run": str(root),
        "model": model.name,
        "config": to_dict(model.config),
        "capabilities": capabilities(model),
        "parameters": sum(p.numel() for p in model.parameters()),
        "data": model.info.to_dict(),
        "train": (run_config or {}).get("train"),
        "checkpoints": [p.name for p in complete_checkpoints(root)],
        "summary": summary,
    }
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    d = model.info
    click.echo(f"{root}: {model.name}, {info['parameters']:,} parameters")
    click.echo("  config:       " + ", ".join(f"{k}={v}" for k, v in info["config"].items()))
    click.echo(f"  capabilities: sample, {', '.join(info['capabilities']) or '-'}")
    click.echo(
        f"  data:         {d.source} ({d.kind}, shape {tuple(d.shape)}, range "
        f"{d.value_range[0]:g}..{d.value_range[1]:g}, "
        f"{d.num_classes or 'no'} classes)"
    )
    if info["train"]:
        t = info["train"]
        batch = t["batch_size"] or (summary or {}).get("batch_size") or "auto"
        click.echo(
            f"  train:        {t['steps']} steps, batch {batch}, "
            f"{t['optimizer']} lr {t['lr']}, seed {t['seed']}"
        )
    click.echo(f"  checkpoints:  {', '.join(info['checkpoints']) or 'none'}")
    if summary:
        click.echo(
            f"  trained:      {summary['steps']} steps in {summary['train_seconds']}s "
            f"on {summary['device']}"
        )
        for k, v in summary.get("test", {}).items():
            click.echo(f"  {k:<13} {v:.6g}")
