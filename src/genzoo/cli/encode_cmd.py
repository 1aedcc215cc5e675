"""genzoo encode: latent codes of examples."""

from __future__ import annotations

import click
import numpy as np
import torch

from ..errors import GenzooError
from ..models.base import Encoder, in_batches
from .common import check_out, done, model_inputs, open_model
from .options import device_option, input_option, split_option


@click.command("encode")
@click.argument("run", metavar="RUN")
@click.option(
    "--out", required=True, help=".npy (codes) or .npz (arrays z, and y when labels exist)"
)
@input_option("a file or folder of examples [default: a split of the run's data]")
@split_option("test", "train", "all")
@device_option
def command(run, out, input_path, split, device) -> None:
    """Encode examples into latent codes.

    RUN is a run folder, its model/ folder or a checkpoint folder.

    \b
    Examples:
      genzoo encode runs/ae --out codes.npy
      genzoo encode runs/ae --split all --out codes.npz      # z and labels, for plots
      genzoo encode runs/ae --input my_digits/ --out codes.npy
    genzoo encode runs/ddpm --out noise.npy      # diffusion: x_T by DDIM inversion
    """
    path = check_out(out, (".npy", ".npz"))
    model, run_config = open_model(run, device)
    if not isinstance(model, Encoder):
        raise GenzooError(f"model {model.name} has no encoder")
    x, y = model_inputs(model, run_config, split, input_path)
    with torch.no_grad():
        z = in_batches(model.encode, x, model.labels_for(y, "encode")).cpu().numpy()
    if path.suffix == ".npz":
        arrays = {"z": z} if y is None else {"z": z, "y": y.numpy()}
        np.savez(path, **arrays)
    else:
        np.save(path, z)
    size = " x ".join(str(d) for d in z.shape[1:])  # a diffusion model's code is x_T, an image
    done(path, f"{len(z)} codes of size {size}")
