"""genzoo translate: map images of one domain to the other with pix2pix or CycleGAN."""

from __future__ import annotations

import click
import numpy as np
import torch

from ..data.tasks import luminance, scale_of, upscale
from ..errors import GenzooError
from ..models.base import BackTranslator, Translator, in_batches
from ..viz.grid import rows_grid, to_display
from .common import (
    check_out,
    check_picture,
    done,
    open_model,
    read_examples,
    run_dataset,
)
from .options import count_option, device_option, input_option, split_option


@click.command("translate")
@click.argument("run", metavar="RUN")
@click.option(
    "--out",
    required=True,
    help=".png (inputs, translations and, for the run's paired data, targets in rows) or .npy "
    "(translations, in the output domain's own units)",
)
@input_option("an image folder or array file of the input domain [default: the run's test split]")
@split_option()
@count_option("how many examples (every one of --input for .npy)")
@click.option(
    "--direction",
    type=click.Choice(["a2b", "b2a"]),
    default="a2b",
    show_default=True,
    help="a2b: input domain to output domain; b2a: back (CycleGAN only)",
)
@device_option
def command(run, out, input_path, split, n, direction, device) -> None:
    """Translate images with a trained pix2pix or CycleGAN model.

    RUN is a run folder, its model/ folder or a checkpoint folder. Inputs must have the size
    and channel count of the domain they come from.

    \b
    A run trained on a task (data.task) takes its inputs as people have them: grey images for
    colorize, small images for superres2 and superres4 (their size times the factor is the
    model's; each pixel is repeated to reach it), images with holes for inpaint.

    \b
    Examples:
      genzoo translate runs/pix2pix --out restored.png
      genzoo translate runs/pix2pix --input my_masked_digits/ --out restored.npy
      genzoo translate runs/cyclegan --direction b2a --n 32 --out to-digits.png
      genzoo train pix2pix --data my_photos/ --set data.task=colorize --out runs/colour
      genzoo translate runs/colour --input old_grey_photos/ --out coloured.png
      genzoo train pix2pix --data my_photos/ --set data.task=superres4 --out runs/sr4
      genzoo translate runs/sr4 --input thumbnails/ --out sharp.npy
    """
    path = check_out(out, (".png", ".npy"))
    model, run_config = open_model(run, device)
    if not isinstance(model, Translator):
        raise GenzooError(f"model {model.name} does not translate (pix2pix and cyclegan do)")
    back = direction == "b2a"
    if back and not isinstance(model, BackTranslator):
        raise GenzooError(f"--direction b2a: model {model.name} translates one way only")
    src_info, dst_info = (model.info, model.info.input) if back else (model.info.input, model.info)
    to_model = model.to_model if back else model.to_model_input
    target = None
    if input_path is not None:
        x_raw = task_inputs(input_path, model, run_config, src_info, back)
    else:
        ds = run_dataset(model, run_config)
        src, dst = (ds, ds.input) if back else (ds.input, ds)
        x_raw, _ = src.split(split)
        if ds.paired:
            target = dst.split(split)[0]
    if path.suffix == ".png" or input_path is None:
        check_picture(path, min(n, len(x_raw)), "translations")
        idx = np.linspace(0, len(x_raw) - 1, min(n, len(x_raw))).round().astype(int)
        x_raw, target = x_raw[idx], None if target is None else target[idx]
    x = to_model(x_raw)
    if target is not None:
        target = (model.to_model_input if back else model.to_model)(target)
    with torch.no_grad():
        y = in_batches(model.translate_back if back else model.translate, x)
    to_data = model.input_to_data if back else model.to_data
    if path.suffix == ".npy":
        np.save(path, to_data(y))
    else:
        _grid(model, x, y, target, back).save(path)
    done(path, f"{len(x)} translations ({src_info.source} -> {dst_info.source})")


def task_inputs(path: str, model, run_config, src_info, back: bool):
    """The examples of `path` as the source domain takes them: for a super-resolution run,
    images of 1/factor the size are shown at the model's size first (each pixel repeated)."""
    task = None if back else model.info.meta.get("task")
    f = scale_of(task)
    c, h, w = src_info.shape
    if task == "colorize":  # colour images are made grey first, as the run's inputs were
        try:
            return read_examples(path, model, run_config, shape=src_info.shape)[0]
        except GenzooError as e:
            if "do not fit" not in str(e):
                raise
            x = read_examples(path, model, run_config, shape=(3, h, w))[0]
            click.echo("the inputs are in colour: their luminance is translated", err=True)
            return luminance(x)
    if f > 1:
        small = (c, -(-h // f), -(-w // f))
        for shape in (small, src_info.shape):  # small ones, or already at the model's size
            try:
                x, _ = read_examples(path, model, run_config, shape=shape)
            except GenzooError as e:
                if "do not fit" not in str(e):
                    raise
                continue
            return upscale(x, f, (h, w)) if shape == small else x
        raise GenzooError(
            f"{path}: a {model.info.meta['task']} run takes images of {'x'.join(map(str, small))}"
            f" (made {f} times larger) or of {'x'.join(map(str, src_info.shape))}"
        )
    return read_examples(path, model, run_config, shape=src_info.shape)[0]


def _grid(model, x, y, target, back: bool):

    info_a, info_b = model.info.input, model.info
    t_a, t_b = model.input_transform, model.transform
    src, dst = ((info_b, t_b), (info_a, t_a)) if back else ((info_a, t_a), (info_b, t_b))
    rows = [to_display(x, *src), to_display(y, *dst)]
    if target is not None:
        rows.append(to_display(target, *dst))
    return rows_grid(rows)
