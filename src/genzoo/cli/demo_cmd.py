"""genzoo demo: a first look, end to end, in a few minutes on a laptop CPU."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import click


@click.command("demo")
@click.option(
    "--out",
    default="runs/demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="where the demo runs go (replaced if it holds an earlier demo)",
)
@click.option(
    "--steps",
    type=click.IntRange(1),
    default=4000,
    show_default=True,
    help="training steps for each model",
)
def command(out, steps) -> None:
    """Train an autoencoder on the bundled MNIST digits and show what it learned.

    Writes a run folder with reconstructions, samples, metrics and the trained model, then
    prints where to look. Later families join the demo as they land.

    \b
    Examples:
      genzoo demo
      genzoo demo --steps 500 --out /tmp/demo
    """
    import torch

    from ..errors import GenzooError
    from ..run import build_run_config, train
    from .common import open_model, picture, run_dataset
    from .eval_cmd import format_table

    root = Path(out)
    run = root / "ae-mnist5k"
    if root.exists():
        if not (root / ".genzoo-demo").exists():
            raise GenzooError(f"{root} exists and was not made by genzoo demo; choose --out")
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / ".genzoo-demo").write_text("made by genzoo demo\n")

    click.echo(
        f"genzoo demo: training an autoencoder (ae, latent 32) on mnist5k for {steps} "
        "steps on the CPU"
    )
    t0 = time.time()
    rc = build_run_config(
        "ae",
        data="mnist5k",
        steps=steps,
        device="cpu",
        overrides=[
            "train.eval_every=1000",
            "train.sample_every=1000",
            "train.checkpoint_every=1000",
            "train.log_every=200",
        ],
    )
    results = train(rc, out=run)["eval"]  # training ends with the default metrics
    model, run_config = open_model(str(run))
    ds = run_dataset(model, run_config)
    x = model.to_model(ds.x_test)
    idx = torch.linspace(0, len(x) - 1, 16).long()
    with torch.no_grad():
        pairs = [("data", x[idx]), ("reconstructions", model.reconstruct(x[idx]))]
        picture(model, pairs, 16).save(run / "reconstructions.png")
        g = torch.Generator().manual_seed(0)
        picture(model, [("samples", model.sample(64, generator=g))], 8).save(run / "samples.png")
    click.echo("")
    click.echo(
        f"done in {time.time() - t0:.0f}s. Metrics against the {len(x)} held-out digits, "
        "beside the same metric for real training digits (the floor):"
    )
    click.echo(format_table(results))
    click.echo("Look at:")
    shown = [
        (run / "reconstructions.png", "held-out digits (top) and their reconstructions (bottom)"),
        (
            run / "samples.png",
            "new digits, decoded from a Gaussian fitted to the codes "
            "(rough: a plain autoencoder is not trained to generate)",
        ),
        (run / "samples", "previews during training"),
        (run / "report.html", "the whole run on one page: metrics, curves, samples, latents"),
        (run / "summary.json", "final metrics, timings, versions"),
    ]
    width = max(len(str(path)) for path, _ in shown)
    for path, what in shown:
        click.echo(f"  {str(path):<{width}}  {what}")
    click.echo(f"  tensorboard --logdir {run / 'tb'}")
    click.echo(f"Try: genzoo sample {run} --n 64 --out my_samples.png")
