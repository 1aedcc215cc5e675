"""genzoo list: what is registered."""

from __future__ import annotations

import click

from .. import registry

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
        click.echo(f"{kind}:")
        width = max(len(e.name) for e in table)
        for entry in table:
            click.echo(f"  {entry.name:<{width}}  {entry.description}")
