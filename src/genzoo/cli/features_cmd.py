"""genzoo features: train and inspect the feature networks behind the sample-quality metrics."""

from __future__ import annotations

import json

import click

from ..config import from_dict
from ..data import load_dataset
from ..errors import GenzooError
from ..metrics.features import (
    WEIGHTS,
    FeatureTrainConfig,
    load_feature_net,
    save_feature_net,
    train_feature_net,
)
from ..progress import reporting
from .options import seed_option


@click.group("features")
def command() -> None:
    """Feature networks for FID, KID, precision/recall and the class-based scores.

    genzoo ships one for mnist5k, mnist5k-color and digits. On your own images, train, eval
    and compare train one the first time by the same fixed recipe (a classifier of the
    classes, or a rotation task for unlabelled images) and cache it for later runs on the same
    data. To choose it yourself, train one here and pass it with --features PATH.

    \b
    Examples:
      genzoo features train --data my_images/ --out my_features.safetensors
      genzoo features info my_features.safetensors
    """


@command.command("train")
@click.option("--data", required=True, help="images: a dataset name or a path")
@click.option(
    "--task",
    type=click.Choice(["classes", "rotation"]),
    help="what the network learns: the data's classes, or which of four rotations an image "
    "had (self-supervised) [default: classes when the data has labels]",
)
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False), help="the .safetensors file to write"
)
@click.option("--epochs", type=click.IntRange(1), default=30, show_default=True)
@seed_option()
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="FIELD=VALUE",
    help="a training field (batch_size, lr, width, feature_dim, rotation, shift, "
    "scale); repeatable",
)
def train(data, task, out, epochs, seed, overrides) -> None:
    """Train a feature network on a dataset's train split and report held-out accuracy.

    \b
    Examples:
      genzoo features train --data my_images/ --out my_features.safetensors
      genzoo features train --data my_unlabelled/ --task rotation --out mine.safetensors
      genzoo features train --data mnist5k --out mnist5k.safetensors   # the shipped one
    """
    if not out.endswith(".safetensors"):
        raise GenzooError(f"--out {out}: expected a file ending in .safetensors")
    values = {"epochs": epochs, "seed": seed}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise GenzooError(f"--set {item!r}: expected field=value, e.g. lr=1e-3")
        values[key.strip()] = value
    cfg = from_dict(FeatureTrainConfig, values, prefix="features.")
    ds = load_dataset(data)
    steps = cfg.epochs * max(1, len(ds.x_train) // cfg.batch_size)
    with reporting(steps, "training the feature network", "steps") as bar:
        net, meta = train_feature_net(ds, cfg, lambda *_: bar.update(1), task=task)
    digest = save_feature_net(out, net, meta)
    click.echo(
        f"held-out accuracy {meta['test_accuracy']:.2%} on {meta['test_examples']} "
        f"{ds.name} test examples"
    )
    click.echo(f"wrote {out} (sha256 {digest[:16]}...)")


@command.command("info")
@click.argument("path", required=False)
def info(path) -> None:
    """Show a feature network's data, training config, accuracy and hash (default: shipped).

    \b
    Examples:
      genzoo features info
      genzoo features info my_features.safetensors
    """
    paths = [path] if path else sorted(str(p) for p in WEIGHTS.glob("*.safetensors"))
    for p in paths:
        fn = load_feature_net(p)
        m = fn.meta
        click.echo(f"{p}")
        task = "a classifier of its classes" if fn.task == "classes" else "the rotation task"
        click.echo(f"  name         {fn.name} ({task})")
        click.echo(
            f"  trained on   {m['data']['source']} (shape {tuple(m['data']['shape'])}, "
            f"{m['architecture']['num_classes']} classes)"
        )
        click.echo(f"  accuracy     {m['test_accuracy']:.2%} on {m['test_examples']} held-out")
        click.echo(f"  features     {m['architecture']['feature_dim']}-d penultimate layer")
        click.echo(f"  sha256       {fn.sha256}")
        click.echo(f"  train config {json.dumps(m['train'])}")
