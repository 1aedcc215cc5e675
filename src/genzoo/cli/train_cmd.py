"""genzoo train: train a model into a run folder."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import GenzooError
from ..metrics.evaluate import format_value
from ..run import build_run_config, parse_duration, train
from ..train.distributed import World


@click.command("train")
@click.argument("model")
@click.option(
    "--data", help="a dataset name (genzoo list datasets) or a file/folder path [default: mnist5k]"
)
@click.option(
    "--steps",
    type=int,
    help="optimizer steps [default: 2000; with --budget, as many as fit, planned from the time "
    "of a few steps so that the learning-rate schedule and warm-up end with the budget]",
)
@click.option(
    "--budget",
    metavar="DURATION",
    help="the whole command's time, evaluation and report included: 90s, 10m or 1.5h "
    "(train.max_seconds); training stops early enough for the rest to fit",
)
@click.option(
    "--out", type=click.Path(file_okay=False), help="run folder [default: runs/MODEL-DATA]"
)
@click.option("--seed", type=int, help="seed for initialization, batches and noise [default: 0]")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="a YAML or JSON file with model/data/train sections",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.FIELD=VALUE",
    help="override one config field; repeatable",
)
@click.option(
    "--resume",
    metavar="auto|DIR",
    help="auto: continue the run in --out from its "
    "newest checkpoint (or start it); DIR: continue that run",
)
@click.option("--device", type=str, help="auto, cpu, cuda or cuda:N [default: auto]")
@click.option(
    "--compile",
    "compile_",
    is_flag=True,
    default=None,
    help="torch.compile the training losses (train.compile): a slower start, faster steps",
)
@click.option(
    "--on-nan",
    type=click.Choice(["stop", "skip"]),
    help="a NaN or infinite loss or gradient: stop (default) or skip that update "
    "(train.on_nan; at most train.max_nan_skips in a row)",
)
@click.option(
    "--features",
    type=click.Path(dir_okay=False),
    help="the feature network for FID and the other sample metrics (.safetensors) [default: "
    "the one shipped for the data, else one trained on it once and cached]",
)
@click.option("--print-config", is_flag=True, help="print the resolved config as YAML and exit")
def command(
    model,
    data,
    steps,
    budget,
    features,
    out,
    seed,
    config_file,
    overrides,
    resume,
    device,
    compile_,
    on_nan,
    print_config,
) -> None:
    """Train a model and write its run folder.

    The run folder holds the resolved config, metrics.jsonl, TensorBoard events, sample grids,
    checkpoints and the final model. Settings come from the defaults, then --config, then --set,
    then the flags; --print-config shows every field with its value. With neither --steps nor
    --budget a run is 2,000 steps: under a minute for the autoencoders, VAEs and MLP GANs on
    mnist5k, about 5 minutes for edm and dcgan, 20 to 25 for ddpm, progan and stylegan on two
    CPU cores (README, "How long a default run takes").

    \b
    Examples:
      genzoo train ae --data mnist5k --steps 2000 --out runs/ae
      genzoo train ae --data digits --set model.latent_dim=8 --set train.lr=3e-4
      genzoo train ae --data ring8 --set data.noise=0.05 --set model.output_activation=none
      genzoo train ddpm --data my_images/ --budget 10m         # 10 minutes, report included
      genzoo train edm --data mnist5k --budget 5m --set train.schedule=cosine   # planned
      genzoo train ddpm --steps 100000 --budget 1h                # at most an hour in all
      genzoo train ae --data my_images/ --config ae.yaml
      genzoo train ae --data mnist5k --out runs/ae --resume auto   # continue after a stop
      genzoo train ae --print-config > ae.yaml                      # every field, to edit

    \b
    Data-parallel on 2 processes (train.batch_size is per process; see README):
      torchrun --standalone --nproc_per_node 2 -m genzoo train ddpm --out runs/ddpm
    """
    if features is not None and not Path(features).is_file():
        raise GenzooError(f"--features {features}: no such file")
    rc = build_run_config(
        model,
        config_file=config_file,
        overrides=overrides,
        data=data,
        steps=steps,
        seed=seed,
        device=device,
        compile=compile_,
        on_nan=on_nan,
        max_seconds=None if budget is None else parse_duration(budget, "--budget"),
    )
    if print_config:
        import yaml

        click.echo(yaml.safe_dump(rc.to_dict(), sort_keys=False), nl=False)
        return
    if resume not in (None, "auto"):
        if out is not None and Path(out) != Path(resume):
            raise GenzooError(f"--resume {resume} and --out {out} name different runs")
        out = resume
        if not (Path(out) / "config.yaml").is_file():
            raise GenzooError(f"--resume {resume}: not a genzoo run folder (no config.yaml)")
    if out is None:
        out = Path("runs") / f"{rc.model_name}-{Path(rc.data.source).stem or 'data'}"
    summary = train(rc, out=out, resume=resume is not None, features=features)

    if not World.from_env().is_main:  # under torchrun, rank 0 speaks for the run
        return
    test = summary.get("test", {})
    shown = "  ".join(f"{k.removeprefix('test/')} {v:.4g}" for k, v in test.items())
    why = {"max_seconds": " (the budget ended it)", "max_step_seconds": " (its step time ended it)"}
    click.echo(
        f"trained {rc.model_name} for {summary['steps']} steps in "
        f"{summary['train_seconds']:.1f}s{why.get(summary.get('stopped_by'), '')}; test: {shown}"
    )
    headline = headline_metrics(summary.get("eval", {}))
    if headline:
        click.echo(f"quality: {headline}")
    for note in summary.get("eval_notes", []):
        click.echo(f"note: {note}")
    report = "report.html, " if (Path(out) / "report.html").is_file() else ""
    click.echo(f"run folder: {out}  ({report}samples/, metrics.jsonl, model/, summary.json)")


HEADLINE = ("fid", "precision", "recall", "classes_covered", "modes", "knn_kl", "bits_per_dim",
            "psnr", "mse")  # fmt: skip


def headline_metrics(results: dict) -> str:
    """The few numbers a person looks at first; those of a feature network's space grouped
    under its name: "in mnist5k-cnn features: fid 41.2, precision 0.71; psnr 18.3"."""
    groups: dict[str, list[str]] = {}
    for res in results.values():
        features = res.get("provenance", {}).get("features")
        where = f"in {features.get('name') or features['file']} features: " if features else ""
        for key, value in res.get("values", {}).items():
            if key in HEADLINE:
                groups.setdefault(where, []).append(f"{key} {format_value(value)}")
    return "; ".join(where + ", ".join(items) for where, items in groups.items())
