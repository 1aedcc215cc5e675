"""genzoo demo: every family trained and compared on real data, in minutes on a laptop CPU."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import click

IMAGES = ("mnist5k", ["ae", "vae", "dcgan", "ddpm"])  # one model of each family
TOY = ("grid25", ["gan", "wgan-gp", "ddpm"])  # mode coverage on 25 Gaussians
BUDGET, QUICK = 100.0, 12.0  # seconds of training per image model; toy models get a quarter
N, QUICK_N = 500, 300  # samples per model for the metrics (the floor is taken at the same N)
NLL_SAMPLES = 10  # a diffusion model's bound costs T_k network passes per test example
# DPM-Solver in 20 steps samples as well as DDIM in 100 (bench/RESULTS.md), 2.5x faster than
# the default DDIM-50: on a CPU, drawing the samples is most of a diffusion model's evaluation
SETTINGS = {"ddpm": ["model.sampler=dpm-solver", "model.sample_steps=20"]}


@click.command("demo")
@click.option(
    "--out",
    default="runs/demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="where the demo runs go (replaced if it holds an earlier demo)",
)
@click.option("--quick", is_flag=True, help=f"{QUICK:g} s per model instead of {BUDGET:g} s")
@click.option(
    "--budget",
    type=click.FloatRange(0, min_open=True),
    help=f"seconds of training per image model [default: {BUDGET:g}; --quick: {QUICK:g}]",
)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N")
def command(out, quick, budget, device) -> None:
    """Train an autoencoder, a VAE, a GAN and a diffusion model on the bundled MNIST digits
    for the same time each, and compare them in one report; then GANs against diffusion on
    25 Gaussians, counting the modes each one finds.

    About 12 minutes on two CPU cores (--quick: about 2). Each comparison is a `genzoo
    compare` run: a table printed here, and compare.html with samples side by side and
    quality against training time; every model keeps its own run folder and report.

    \b
    Examples:
      genzoo demo
      genzoo demo --quick --out /tmp/demo
      genzoo demo --budget 600 --device cuda
    """
    from ..apps.compare import compare
    from ..data import DataConfig
    from ..errors import GenzooError
    from .common import _check_device

    _check_device(None, None, device)
    root = Path(out)
    if root.exists():
        if not (root / ".genzoo-demo").exists():
            raise GenzooError(f"{root} exists and was not made by genzoo demo; choose --out")
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / ".genzoo-demo").write_text("made by genzoo demo\n")
    seconds = budget or (QUICK if quick else BUDGET)
    points = 1 if quick else 3
    t0 = time.time()
    reports = []
    for (data, models), share, what in (
        (IMAGES, 1.0, "one model of each family on handwritten digits"),
        (TOY, 0.25, "two GANs and a diffusion model on 25 Gaussians"),
    ):
        click.echo(
            f"genzoo demo: {what} ({data}), {seconds * share:g} s of training each on {device}"
        )
        result = compare(
            DataConfig(source=data), models, seconds * share, root / data,
            n=QUICK_N if quick else N, points=points, device=device, settings=SETTINGS,
            nll_samples=NLL_SAMPLES, say=click.echo,
        )  # fmt: skip
        click.echo(f"\n{result.text()}\n")
        reports.append(result.report)
    click.echo(f"done in {time.time() - t0:.0f} s. Open the reports in a browser:")
    click.echo(f"  {reports[0]}  the four families side by side: metrics, samples, speed")
    click.echo(f"  {reports[1]}  mode coverage: which model finds all 25 Gaussians")
    click.echo("Every model has its own run folder beside them (report.html, samples, model/).")
    click.echo(f"Try: genzoo sample {root / IMAGES[0] / 'ddpm'} --n 64 --out digits.png")
    click.echo(f"     genzoo interpolate {root / IMAGES[0] / 'vae'} --out walk.png")
