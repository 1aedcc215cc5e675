"""genzoo demo: every family trained and compared on real data, in minutes on a laptop CPU."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import click

from ..apps.compare import compare
from ..data import DataConfig
from ..errors import GenzooError
from .options import device_option

# Each comparison: its data, one model per family, and the settings that suit the budget.
IMAGES = ("mnist5k", ["ae", "vae", "dcgan", "edm"])
TOY = ("grid25", ["gan", "wgan-gp", "edm"])  # mode coverage on 25 Gaussians
SETTINGS = {
    "mnist5k": {
        # EDM (batches of 32 and a half-life EMA by default) on a U-Net that folds each 2x2
        # block of pixels into channels, with two levels of 16 and 32 channels: a quarter of
        # the parameters, three times the steps and the samples per second, and lr 2e-3. In
        # one run on two cores it reaches FID 56 after 120 s of training and 37 after 300 s,
        # where DDPM's defaults are still at noise (bench/RESULTS.md, "Time to quality").
        "edm": [
            "model.patch=2", "model.channels=[16,32]", "model.attention=[1]", "train.lr=2e-3",
        ],
    },
    "grid25": {
        # the critic settings of WGAN-GP's own toy experiments: with the image defaults, its
        # samples never gather on modes this narrow (README, Models)
        "wgan-gp": ["model.gp_weight=0.1", "train.betas=[0.5,0.9]"],
        # the toy MLP costs little more per step at 128 points than at 32, and the larger
        # batch puts more samples on the modes early (41% against 16% after 25 s)
        "edm": ["train.batch_size=128"],
    },
}  # fmt: skip
BUDGET, QUICK = 100.0, 10.0  # seconds of training per image model; toy models get a quarter
N, QUICK_N = 500, 300  # samples per model for the metrics (the floor is taken at the same N)
# importance samples (VAE) or strata (diffusion: k network passes per test example) of the
# likelihoods; --quick keeps the bounds valid but looser (VAE) or noisier (diffusion)
NLL_SAMPLES, QUICK_NLL = 5, 3


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
@device_option
def command(out, quick, budget, device) -> None:
    """Train an autoencoder, a VAE, a GAN and a diffusion model on the bundled MNIST digits
    for the same time each, and compare them in one report; then GANs against diffusion on
    25 Gaussians, counting the modes each one finds.

    About 10 minutes on two CPU cores (--quick: about 3). Each comparison is a `genzoo
    compare` run: a table printed here, and compare.html with samples side by side and
    quality against training time; every model keeps its own run folder and report.

    \b
    Examples:
      genzoo demo
      genzoo demo --quick --out /tmp/demo
      genzoo demo --budget 600 --device cuda
    """
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
            n=QUICK_N if quick else N, points=points, device=device, settings=SETTINGS[data],
            nll_samples=QUICK_NLL if quick else NLL_SAMPLES, say=click.echo,
        )  # fmt: skip
        click.echo(f"\n{result.text()}\n")
        reports.append(result.report)
    click.echo(f"done in {time.time() - t0:.0f} s. Open the reports in a browser:")
    click.echo(f"  {reports[0]}  the four families side by side: metrics, samples, speed")
    click.echo(f"  {reports[1]}  mode coverage: which model finds all 25 Gaussians")
    click.echo("Every model has its own run folder beside them (report.html, samples, model/).")
    click.echo(f"Try: genzoo sample {root / IMAGES[0] / 'edm'} --n 64 --out digits.png")
    click.echo(f"     genzoo interpolate {root / IMAGES[0] / 'vae'} --out walk.png")
