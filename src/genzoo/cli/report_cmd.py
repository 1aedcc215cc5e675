"""genzoo report: one self-contained HTML page for one or more runs."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import GenzooError
from ..viz.report import write_report


@click.command("report")
@click.argument("runs", nargs=-1, required=True, metavar="RUN...")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    help="the .html file to write [default: RUN/report.html for one run, report.html for several]",
)
def command(runs, out) -> None:
    """Write an HTML report of one or more runs.

    Each run shows its config, metrics beside their real-vs-real floors with provenance, loss
    curves, sample grids over training, reconstructions, and a latent plot where the model has
    an encoder. Several runs add a comparison table. The file is self-contained (images
    embedded) and opens in any browser without a server. Training writes one for every run;
    run `genzoo eval` first to add metrics to an older run.

    \b
    Examples:
      genzoo report runs/ae
      genzoo report runs/ae runs/ae-small --out compare.html
    """
    paths = [Path(r) for r in runs]
    if out is None:
        out = paths[0] / "report.html" if len(paths) == 1 else Path("report.html")
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise GenzooError(f"--out {out}: expected a file ending in .html")
    write_report(paths, out)
    click.echo(f"wrote {out}")
