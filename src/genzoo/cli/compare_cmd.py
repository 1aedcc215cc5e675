"""genzoo compare: several models, the same data, the same wall-clock budget, one report."""

from __future__ import annotations

from pathlib import Path

import click

from ..apps.compare import compare, parse_budget, parse_models, parse_settings
from ..data import DataConfig
from ..errors import GenzooError
from .options import device_option, seed_option


@click.command("compare")
@click.option("--data", default="mnist5k", show_default=True, help="a dataset name or path")
@click.option("--models", required=True, help="comma-separated model names, e.g. ae,vae,dcgan")
@click.option(
    "--budget",
    default="10m",
    show_default=True,
    help="seconds of training for each model: 90s, 10m or 1.5h",
)
@click.option("--out", type=click.Path(file_okay=False), help="[default: runs/compare-DATA]")
@click.option(
    "--n",
    "n",
    type=click.IntRange(10, 100_000),
    help="samples per model for the metrics [default: the size of the test split]",
)
@click.option(
    "--points",
    type=click.IntRange(1, 20),
    default=4,
    show_default=True,
    help="checkpoints per model scored for the quality-against-time plot",
)
@click.option(
    "--nll-samples",
    type=click.IntRange(1, 100_000),
    default=50,
    show_default=True,
    help="importance samples (VAEs) or strata (diffusion) per example for the likelihood",
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="MODEL:SECTION.FIELD=VALUE",
    help="a setting for one model of the comparison; repeatable",
)
@click.option(
    "--features",
    type=click.Path(dir_okay=False),
    help="the feature network for FID and the other sample metrics (.safetensors) [default: "
    "the one shipped for the data, else one trained on it once and cached]",
)
@seed_option()
@device_option
def command(
    data, models, budget, out, n, points, nll_samples, settings, features, seed, device
) -> None:
    """Train models on the same data for the same time, and compare them in one report.

    Each model trains with its own defaults for --budget seconds of optimizer steps (time in
    evaluation, pictures and checkpoints is not counted), then every model is scored with the
    same metrics on the same number of samples: the table gives quality beside the real-data
    floor, likelihood where a model has one, and training and sampling time. compare.html
    adds the samples side by side and quality against training time. Runs already in --out
    are reused, and runs cut off are resumed, so a comparison can grow a model at a time.

    \b
    Examples:
      genzoo compare --data mnist5k --models ae,vae,dcgan,ddpm --budget 3m
      genzoo compare --data grid25 --models gan,wgan-gp,ddpm --budget 1m --out runs/toy
      genzoo compare --data my_images/ --models vae,ddpm --budget 1h --device cuda
      genzoo compare --models vae,ddpm --set ddpm:model.sampler=dpm-solver \\
          --set ddpm:model.sample_steps=20 --budget 5m
      genzoo compare --models ae,rae,wae,vae,ldm --set ldm:model.autoencoder=runs/vae \\
          --budget 2m
    """
    if features is not None and not Path(features).is_file():
        raise GenzooError(f"--features {features}: no such file")

    names = parse_models(models)
    per_model = parse_settings(settings, names)
    seconds = parse_budget(budget)
    data_cfg = DataConfig(source=data)
    folder = Path(out) if out else Path("runs") / f"compare-{Path(data).name or data}"
    result = compare(
        data_cfg, names, seconds, folder, n=n, seed=seed, points=points, device=device,
        settings=per_model, nll_samples=nll_samples, say=click.echo, features=features,
    )  # fmt: skip
    click.echo(f"\n{result.text()}\n\nreport: {result.report}")
