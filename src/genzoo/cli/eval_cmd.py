"""genzoo eval: metrics of a trained model on its test split."""

from __future__ import annotations

import json

import click

from .common import device_option, model_inputs, open_model


@click.command("eval")
@click.argument("run", metavar="RUN")
@click.option(
    "--metrics",
    help="comma-separated metric names [default: all that apply; see genzoo list metrics]",
)
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True)
@click.option("--data", help="evaluate on this dataset instead of the run's own")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
@device_option
def command(run, metrics, split, data, as_json, device) -> None:
    """Compute metrics of a trained model on its data's test split.

    RUN is a run folder, its model/ folder or a checkpoint folder.

    For an autoencoder: reconstruction MSE per dimension (in the model's [0, 1] range) and
    binary cross-entropy per dimension and per example (nats), plus the training loss terms.

    \b
    Examples:
      genzoo eval runs/ae
      genzoo eval runs/ae --metrics recon --json
    """
    from ..metrics import evaluate

    model, run_config = open_model(run, device)
    x, y = model_inputs(model, run_config, split, None, data)
    names = [m.strip() for m in metrics.split(",")] if metrics else None
    results = evaluate(model, x, None if y is None else y.to(x.device), names)
    report = {
        "run": run,
        "model": model.name,
        "split": split,
        "examples": len(x),
        "metrics": results,
    }
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"{model.name} on {split} split ({len(x)} examples)")
    for name, values in results.items():
        for k, v in values.items():
            click.echo(
                f"  {name}/{k:<24} {v:.6g}" if isinstance(v, float) else f"  {name}/{k:<24} {v}"
            )
