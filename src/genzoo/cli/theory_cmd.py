"""genzoo theory: the course's derivations as experiments, each checked and drawn."""

from __future__ import annotations

import json

import click

from .. import registry
from ..errors import GenzooError
from ..theory import TOPICS, run_experiment
from ..viz.charts import draw
from .common import check_out, done
from .options import json_option, seed_option


def _listing() -> None:
    groups: dict[str, list] = {}
    for entry in registry.EXPERIMENTS:
        groups.setdefault(entry.obj.__module__.rsplit(".", 1)[-1], []).append(entry)
    width = max(len(e.name) for e in registry.EXPERIMENTS)
    for module, title in TOPICS.items():
        if module in groups:
            click.echo(f"{title}:")
            for entry in groups[module]:
                click.echo(f"  {entry.name:<{width}}  {entry.description}")


@click.command("theory")
@click.argument("name", metavar="list|NAME")
@click.option("--out", help="the figure, a .png [default: theory-NAME.png]")
@json_option("print the numbers and the checks as JSON")
@seed_option("seed of the experiment's random draws")
def command(name, out, as_json, seed) -> None:
    """Run an experiment of the course's maths: each checks a derivation against its closed
    form, prints what it measured and draws its figure (docs/theory.md derives each one).

    `genzoo theory list` shows them all. A check that fails means the maths in genzoo (or
    your change to it) is wrong: the command then exits with code 1.

    \b
    Examples:
      genzoo theory list
      genzoo theory forward-marginal --out forward.png
      genzoo theory forward-marginal --json
    """
    if name == "list":
        if out is not None or as_json:
            raise GenzooError("genzoo theory list takes no --out or --json; name an experiment")
        _listing()
        return
    registry.EXPERIMENTS.entry(name)  # an unknown name: one line naming the choices
    path = check_out(out or f"theory-{name}.png", (".png",))
    click.echo(f"theory {name}: running ...", err=True)
    finding = run_experiment(name, seed=seed)
    columns = 2 if len(finding.panels) == 4 else None  # 2 x 2 rather than 3 + 1
    draw(finding.panels, path, title=finding.title, columns=columns)
    if as_json:
        click.echo(json.dumps({**finding.to_dict(), "figure": str(path)}, indent=1))
    else:
        click.echo(finding.title)
        for check in finding.checks:
            click.echo(f"  {check.line()}")
        done(path, "the figure")
    if finding.failed:
        n = len(finding.failed)
        click.echo(f"genzoo: {n} check(s) of {name} failed: the maths does not hold", err=True)
        return 1
    return 0
