"""genzoo sample: draw new examples from a trained model."""

from __future__ import annotations

import click
import numpy as np
import torch

from .common import check_out, device_option, done, open_model, picture


@click.command("sample")
@click.argument("run", metavar="RUN")
@click.option(
    "--n",
    "n",
    type=click.IntRange(1, 100_000),
    help="how many samples [default: 64; with --mix, 5 sources per side]",
)
@click.option(
    "--out", required=True, help="a .png grid (or plot) or a .npy array in the data's own units"
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--labels", help="class labels for conditional models, e.g. 0,1,2 (repeated to fill --n)"
)
@click.option(
    "--nrow",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="images per row in a .png grid",
)
@click.option(
    "--truncation",
    type=float,
    help="GANs: the truncation trick, z drawn from N(0, I) cut to [-psi, psi]; StyleGAN: w "
    "pulled toward the mean w, w_avg + psi (w - w_avg) (e.g. 0.7; smaller: cleaner but less "
    "varied)",
)
@click.option(
    "--mix",
    metavar="LAYERS",
    help="StyleGAN: the style-mixing grid instead of samples; the cells take the styles of "
    "LAYERS (coarse, middle, fine, or a range such as 0-3) from the left column's sources "
    "and the rest from the top row's",
)
@device_option
def command(run, n, out, seed, labels, nrow, truncation, mix, device) -> None:
    """Draw new samples from a trained model.

    RUN is a run folder, its model/ folder or a checkpoint folder.

    \b
    Examples:
      genzoo sample runs/ae --n 64 --out samples.png
      genzoo sample runs/ae --n 1000 --out samples.npy --seed 1
      genzoo sample runs/cgan --labels 3,7 --out threes-and-sevens.png
      genzoo sample runs/dcgan --truncation 0.7 --out truncated.png
      genzoo sample runs/stylegan --mix coarse --n 6 --out mixing.png
    """
    from ..errors import GenzooError

    path = check_out(out, (".png", ".npy"))
    model, _ = open_model(run, device)
    if mix is not None:
        return _mixing_grid(model, mix, n or 5, seed, truncation, path)
    n = n or 64
    y = None
    if labels is not None:
        num = model.info.num_classes if getattr(model, "conditional", False) else None
        if not num:
            raise GenzooError(f"--labels: model {model.name} is not conditional")
        y = _parse_labels(labels, n, model.info.classes)
    extra = {}
    if truncation is not None:
        import inspect

        if "truncation" not in inspect.signature(model.sample).parameters:
            raise GenzooError(f"--truncation: model {model.name} has no truncation trick")
        extra["truncation"] = truncation
    g = torch.Generator(device=model.device).manual_seed(seed)
    with torch.no_grad():
        x = model.sample(n, generator=g, labels=y, **extra)
    if path.suffix == ".npy":
        np.save(path, model.to_data(x))
    else:
        picture(model, [("samples", x)], nrow).save(path)
    done(path, f"{n} samples")


def _mixing_grid(model, spec, n, seed, truncation, path) -> None:
    from ..errors import GenzooError

    if not hasattr(model, "mixing_grid"):
        raise GenzooError(f"--mix: model {model.name} has no per-layer styles to mix")
    if n > 16:
        raise GenzooError(f"--n {n}: a mixing grid takes at most 16 sources per side")
    from ..models.gan.stylegan import parse_layers

    layers = parse_layers(spec, model.num_layers)
    g = torch.Generator(device=model.device).manual_seed(seed)
    with torch.no_grad():
        x = model.mixing_grid(n, n, layers, generator=g, truncation=truncation)
    if path.suffix == ".npy":
        np.save(path, model.to_data(x).reshape(n + 1, n + 1, *x.shape[1:]))
    else:
        picture(model, [("mixing", x)], n + 1).save(path)
    done(path, f"a {n + 1}x{n + 1} style-mixing grid (layers {layers.start}-{layers.stop - 1})")


def _parse_labels(text: str, n: int, classes: list[str]) -> torch.Tensor:
    from ..errors import GenzooError

    out = []
    for part in text.split(","):
        part = part.strip()
        if part in classes:
            out.append(classes.index(part))
        else:
            raise GenzooError(f"--labels: {part!r} is not a class; classes: {', '.join(classes)}")
    return torch.tensor((out * (n // len(out) + 1))[:n])
