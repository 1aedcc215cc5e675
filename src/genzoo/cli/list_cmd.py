"""genzoo list: what is registered."""

from __future__ import annotations

import click

from .. import registry
from ..models.base import FAMILIES

KINDS = ("models", "datasets", "metrics", "schedules", "formats", "tasks")


@click.command("list")
@click.argument(
    "what",
    required=False,
    default=None,
    metavar="[models|datasets|metrics|...]",
    type=click.Choice(KINDS),
)
def command(what: str | None) -> None:
    """List the registered models, datasets, metrics, schedules, file formats and
    image-to-image tasks (data.task).

    \b
    Examples:
      genzoo list
      genzoo list models
      genzoo list datasets
    """
    tables = {
        "models": registry.MODELS,
        "datasets": registry.DATASETS,
        "metrics": registry.METRICS,
        "schedules": registry.SCHEDULES,
        "formats": registry.FILE_FORMATS,
        "tasks": registry.TASKS,
    }
    for kind in [what] if what else KINDS:
        table = tables[kind]
        width = max(len(e.name) for e in table)
        groups: dict[str, list] = {}
        for entry in table:  # models by family, in the order they register
            family = entry.obj.family if kind == "models" else ""
            groups.setdefault(family, []).append(entry)
        order = list(FAMILIES.values())  # the families in the order the guides take them
        rank = {f: order.index(f) if f in order else len(order) for f in groups}
        for family, entries in sorted(groups.items(), key=lambda g: rank[g[0]]):
            click.echo(f"{kind}: {family}" if family else f"{kind}:")
            for entry in entries:
                click.echo(f"  {entry.name:<{width}}  {entry.description}")
