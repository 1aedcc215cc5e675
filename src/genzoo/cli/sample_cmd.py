"""genzoo sample: draw new examples from a trained model."""

from __future__ import annotations

import click
import numpy as np
import torch

from ..errors import GenzooError
from ..models.base import StyleMixing, Trajectory
from ..models.gan.stylegan import parse_layers
from ..viz.grid import frames_picture
from .common import check_out, check_picture, done, open_model, picture
from .options import device_option, seed_option


@click.command("sample")
@click.argument("run", metavar="RUN")
@click.option(
    "--n",
    "n",
    type=click.IntRange(1, 100_000),
    help="how many samples [default: 64; with --mix, 5 sources per side; with --trajectory, "
    "8 images or 1,000 points]",
)
@click.option(
    "--out", required=True, help="a .png grid (or plot) or a .npy array in the data's own units"
)
@seed_option()
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
@click.option(
    "--sampler",
    type=click.Choice(["ddpm", "ddim", "dpm-solver"]),
    help="diffusion: ancestral (ddpm), DDIM, or DPM-Solver++(2M) [default: the model's]",
)
@click.option(
    "--steps",
    type=click.IntRange(1, 100_000),
    help="diffusion: sampler steps (ddpm: all T unless given; ddim: 50; dpm-solver: 10-25)",
)
@click.option(
    "--eta", type=click.FloatRange(0, 1), help="diffusion, ddim: 0 deterministic, 1 ancestral"
)
@click.option(
    "--guidance",
    type=click.FloatRange(0),
    help="conditional diffusion: classifier-free guidance scale (1: none, 0: unconditional)",
)
@click.option(
    "--prior",
    type=click.Choice(["mixture", "gaussian", "normal"]),
    help="autoencoders: the code density to decode draws from: the Gaussian mixture fitted "
    "to the training codes, one Gaussian with their mean and covariance, or the model's own "
    "N(0, sigma^2 I) (wae) [default: the model's prior setting]",
)
@click.option(
    "--trajectory",
    is_flag=True,
    help="diffusion: the x_T -> x_0 strip, one row per sample, instead of a grid",
)
@device_option
def command(
    run, n, out, seed, labels, nrow, truncation, mix, sampler, steps, eta, guidance, prior,
    trajectory, device,
) -> None:  # fmt: skip
    """Draw new samples from a trained model.

    RUN is a run folder, its model/ folder or a checkpoint folder.

    \b
    Examples:
      genzoo sample runs/ae --n 64 --out samples.png
      genzoo sample runs/ae --n 1000 --out samples.npy --seed 1
      genzoo sample runs/cgan --labels 3,7 --out threes-and-sevens.png
      genzoo sample runs/dcgan --truncation 0.7 --out truncated.png
      genzoo sample runs/stylegan --mix coarse --n 6 --out mixing.png
      genzoo sample runs/ddpm --sampler dpm-solver --steps 20 --out fast.png
      genzoo sample runs/cddpm --labels 7 --guidance 3 --out sevens.png
      genzoo sample runs/ddpm --trajectory --n 8 --out trajectory.png
      genzoo sample runs/ae --prior gaussian --out one-gaussian.png
    """
    path = check_out(out, (".png", ".npy"))
    model, _ = open_model(run, device)
    if mix is not None:
        return _mixing_grid(model, mix, n or 5, seed, truncation, path)
    if n is None:  # a trajectory shows a few images, or enough points to see the shape
        n = (8 if model.info.kind == "image" else 1000) if trajectory else 64
    y = None
    if labels is not None:
        num = model.info.num_classes if model.conditional else None
        if not num:
            raise GenzooError(f"--labels: model {model.name} is not conditional")
        y = _parse_labels(labels, n, model.info.classes)
    import inspect

    takes = inspect.signature(model.sample).parameters
    what = {"truncation": "truncation trick", "sampler": "samplers", "steps": "sampler steps"}
    what |= {"eta": "DDIM's eta", "guidance": "classifier-free guidance"}
    what |= {"prior": "code density to choose"}
    given = {"truncation": truncation, "sampler": sampler, "steps": steps, "eta": eta}
    given |= {"guidance": guidance, "prior": prior}
    extra = {k: v for k, v in given.items() if v is not None}
    for k in extra:
        if k not in takes:
            raise GenzooError(f"--{k}: model {model.name} has no {what[k]}")
    if guidance is not None and not model.conditional:
        raise GenzooError(f"--guidance: model {model.name} is not conditional (try cddpm)")
    g = torch.Generator(device=model.device).manual_seed(seed)
    if trajectory:
        if not isinstance(model, Trajectory):
            raise GenzooError(f"--trajectory: model {model.name} has no sampling trajectory")
        if path.suffix != ".png":
            raise GenzooError("--trajectory: write a .png (--out strip.png)")

        with torch.no_grad():
            frames = model.trajectory(n, generator=g, labels=y, **extra)
        frames_picture(model, frames).save(path)
        return done(path, f"the trajectory x_T -> x_0 in {len(frames)} frames")
    check_picture(path, n, "samples")
    if path.suffix == ".npy" and n > CHUNK:
        _stream_to_npy(model, n, g, y, extra, path)  # in bounded memory, chunk by chunk
        return done(path, f"{n} samples")
    with torch.no_grad():
        x = model.sample(n, generator=g, labels=y, **extra)
    if path.suffix == ".npy":
        np.save(path, model.to_data(x))
    else:
        picture(model, [("samples", x)], nrow).save(path)
    done(path, f"{n} samples")


CHUNK = 500  # samples drawn at once: a U-Net's activations for 500 images fit in a few GB


def _stream_to_npy(model, n, g, y, extra, path) -> None:
    """Draw n samples CHUNK at a time into a .npy array written as it fills, so memory stays
    bounded whatever n is (the file is complete only once every chunk is in)."""
    from numpy.lib.format import open_memmap

    out = None
    tmp = path.with_name(f".{path.name}.partial")
    try:
        for start in range(0, n, CHUNK):
            k = min(CHUNK, n - start)
            labels = None if y is None else y[start : start + k]
            with torch.no_grad():
                x = model.to_data(model.sample(k, generator=g, labels=labels, **extra))
            if out is None:
                out = open_memmap(tmp, mode="w+", dtype=x.dtype, shape=(n, *x.shape[1:]))
            out[start : start + k] = x
        out.flush()
        del out
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _mixing_grid(model, spec, n, seed, truncation, path) -> None:

    if not isinstance(model, StyleMixing):
        raise GenzooError(f"--mix: model {model.name} has no per-layer styles to mix")
    if n > 16:
        raise GenzooError(f"--n {n}: a mixing grid takes at most 16 sources per side")

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

    out = []
    for part in text.split(","):
        part = part.strip()
        if part in classes:
            out.append(classes.index(part))
        else:
            raise GenzooError(f"--labels: {part!r} is not a class; classes: {', '.join(classes)}")
    return torch.tensor((out * (n // len(out) + 1))[:n])
