"""genzoo reconstruct: pass examples through an autoencoder-like model."""

from __future__ import annotations

import click
import numpy as np
import torch

from ..errors import GenzooError
from ..models.base import Reconstructor, in_batches
from .common import check_out, check_picture, done, model_inputs, open_model, picture
from .options import count_option, device_option, input_option, split_option


@click.command("reconstruct")
@click.argument("run", metavar="RUN")
@click.option(
    "--out",
    required=True,
    help=".png (originals above reconstructions) or .npy "
    "(reconstructions, in the data's own units)",
)
@input_option("a file or folder of examples [default: the run's test split]")
@split_option()
@count_option("how many examples (all of --input for .npy if larger)")
@device_option
def command(run, out, input_path, split, n, device) -> None:
    """Reconstruct examples with a trained model.

    RUN is a run folder, its model/ folder or a checkpoint folder.

    \b
    Examples:
      genzoo reconstruct runs/ae --out recon.png --n 16
      genzoo reconstruct runs/ae --input my_digits.npz --out recon.npy
    """
    path = check_out(out, (".png", ".npy"))
    model, run_config = open_model(run, device)
    if not isinstance(model, Reconstructor):
        raise GenzooError(f"model {model.name} cannot reconstruct")
    x, y = model_inputs(model, run_config, split, input_path)
    if path.suffix == ".png" or input_path is None:
        check_picture(path, min(n, len(x)), "reconstructions")
        idx = torch.linspace(0, len(x) - 1, min(n, len(x))).long()
        x = x[idx.to(x.device)]
        y = None if y is None else y[idx]
    with torch.no_grad():
        x_hat = in_batches(model.reconstruct, x, model.labels_for(y, "reconstruct"))
    if path.suffix == ".npy":
        np.save(path, model.to_data(x_hat))
    else:
        nrow = min(len(x), 16)
        sets = [("data", x), ("reconstructions", x_hat)]
        if model.info.kind == "image":  # a row of originals, then their reconstructions
            sets = []
            for i in range(0, len(x), nrow):
                sets += [("data", x[i : i + nrow]), ("reconstructions", x_hat[i : i + nrow])]
        picture(model, sets, nrow).save(path)
    done(path, f"{len(x)} reconstructions")
