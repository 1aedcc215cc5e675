"""genzoo eval: metrics of a trained model, each with its real-vs-real floor and provenance."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..atomic import atomic_write_text
from ..errors import GenzooError
from ..metrics import evaluate
from ..metrics.evaluate import table
from ..progress import Deadline
from ..run import parse_duration
from ..viz.report import write_report
from .common import open_model, run_dataset
from .options import device_option, json_option, seed_option


@click.command("eval")
@click.argument("run", metavar="RUN")
@click.option(
    "--metrics",
    help="comma-separated metric names [default: all that apply; see genzoo list metrics]",
)
@click.option(
    "--n",
    "n",
    type=click.IntRange(10),
    help="generated samples [default: the size of the test split; 2,500 for the 2-D mode metrics]",
)
@seed_option()
@click.option(
    "--features",
    type=click.Path(dir_okay=False),
    help="a feature network (.safetensors) [default: the one shipped for the run's data]",
)
@click.option(
    "--nll-samples",
    type=click.IntRange(1, 100_000),
    default=200,
    show_default=True,
    help="importance samples per example for the nll metric; the estimate tightens as it "
    "grows (5000 is the published protocol)",
)
@click.option(
    "--budget",
    metavar="DURATION",
    help="at most this long (90s, 10m, 1.5h): the counts (samples, likelihood samples and "
    "examples) are cut to fit, and the cuts are said [default: no limit]",
)
@click.option("--data", help="evaluate against this dataset instead of the run's own")
@json_option("print JSON instead of a table")
@click.option("--no-save", is_flag=True, help="do not write the results into summary.json")
@device_option
def command(
    run, metrics, n, seed, features, budget, data, nll_samples, as_json, no_save, device
) -> None:
    """Compute metrics of a trained model against its data's test split.

    RUN is a run folder, its model/ folder or a checkpoint folder. The defaults depend on the
    data and the model. For images: FID, KID, precision/recall, density/coverage and
    class-based scores, all in the feature space of a small classifier trained on the data
    (shipped for mnist5k and digits). For 2-D and tabular data: the mode metrics (ring8,
    grid25), a k-NN KL estimate and MMD. Reconstruction and likelihood metrics are added where
    the model has those capabilities. Every number has its floor, the same metric on real data
    alone, and the provenance it was computed with. Results go into the run's summary.json,
    and the run's report.html is written again with them.

    Sample-quality metrics of images are computed in a feature network's space: the one that
    ships with the data, --features, or one genzoo trains on the data the first time (cached
    for later runs on the same data). Each number names its network. A metric that cannot run
    on the data (the mode count of points without a known mixture, the class metrics of
    unlabelled images) is left out with a note saying why.

    \b
    Examples:
      genzoo eval runs/ae
      genzoo eval runs/ae --metrics fid,kid --n 2000 --json
      genzoo eval runs/vae --metrics nll --nll-samples 5000
      genzoo eval runs/mine --features my_features.safetensors
      genzoo eval runs/ddpm64 --budget 5m
    """
    if features is not None and not Path(features).is_file():
        raise GenzooError(f"--features {features}: no such file")
    deadline = Deadline(None if budget is None else parse_duration(budget, "--budget"))
    model, run_config = open_model(run, device)
    ds = run_dataset(model, run_config, data)
    names = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    say = lambda text: click.echo(text, err=True)  # noqa: E731
    results, notes = evaluate(
        model, ds, names, n=n, seed=seed, features=features, nll_samples=nll_samples,
        deadline=deadline, say=say, progress=True,
    )  # fmt: skip
    report = {"run": run, "model": model.name, "data": ds.name, "metrics": results, "notes": notes}
    summary = Path(run) / "summary.json"
    if not no_save and summary.is_file():
        saved = json.loads(summary.read_text())
        saved["eval"] = {**saved.get("eval", {}), **results}
        saved["eval_notes"] = notes
        atomic_write_text(summary, json.dumps(saved, indent=2))
        write_report([Path(run)], Path(run) / "report.html", deadline=deadline)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"{model.name} on {ds.name}")
    click.echo(format_table(results))
    for note in notes:
        click.echo(f"note: {note}")
    if not no_save and summary.is_file():
        click.echo(f"saved in {summary} and {Path(run) / 'report.html'}")


def format_table(results: dict) -> str:
    """Values beside their real-vs-real floors; then each distinct provenance once."""
    rows, sources = table(results)
    w = max([18, *(len(key) for key, _, _ in rows)])  # a column as wide as its longest name
    lines = [f"  {'metric':<{w}} {'value':>12}  {'floor (real)':>12}"]
    lines += [f"  {key:<{w}} {value:>12}  {floor:>12}" for key, value, floor in rows]
    lines.append("provenance:")
    lines += [f"  {names}: {text}" for names, text in sources]
    return "\n".join(lines)
