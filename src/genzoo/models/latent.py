"""Walking the latent space of a model that encodes and decodes: interpolation between two
codes (linear or spherical, White 2016, "Sampling Generative Networks"), traversals that vary
one latent dimension at a time (Higgins et al. 2017), and class-mean latent arithmetic
(z - mean_z(class a) + mean_z(class b), the "attribute vector" of Larsen et al. 2016).

Everything works on codes; images come from `model.decode`. A conditional model decodes with a
label, which the caller gives (for arithmetic the label itself is what changes).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import in_batches
from .vae.common import lerp, slerp


def _decode(model, z: Tensor, y: Tensor | None) -> Tensor:
    if model.conditional:
        return model.decode(z, y.to(z.device).expand(len(z)) if y.dim() == 0 else y)
    return model.decode(z)


@torch.no_grad()
def interpolate(
    model, z_a: Tensor, z_b: Tensor, steps: int = 10, mode: str = "linear", y: Tensor | None = None
) -> Tensor:
    """Decoded points from z_a to z_b (each (k,), or any shape: a diffusion model's x_T is
    an image), ends included: (steps, *shape).

    Spherical interpolation follows the great circle and keeps the norm a Gaussian prior
    expects; linear interpolation cuts through the low-density middle of the ball."""
    t = torch.linspace(0, 1, steps, device=z_a.device)
    path = (slerp if mode == "spherical" else lerp)(z_a.flatten(), z_b.flatten(), t)  # (steps, k)
    return _decode(model, path.view(steps, *z_a.shape), y)


def active_order(z: Tensor) -> list[int]:
    """Latent dimensions by decreasing variance of the codes z (N, k): most active first."""
    return torch.argsort(z.var(0), descending=True).tolist()


@torch.no_grad()
def traversal(
    model,
    z0: Tensor,
    dims: list[int],
    span: float = 3.0,
    steps: int = 9,
    y: Tensor | None = None,
    scale: Tensor | None = None,
) -> Tensor:
    """Rows vary one dimension each, from -span to +span (times `scale[d]`, e.g. the codes'
    standard deviation, for models without a unit prior) around z0 (k,), the others held:
    (len(dims) * steps, *shape), row-major."""
    values = torch.linspace(-span, span, steps, device=z0.device)
    rows = []
    for d in dims:
        z = z0.repeat(steps, 1)  # (steps, k)
        z[:, d] = z0[d] + values * (1.0 if scale is None else float(scale[d]))
        rows.append(z)
    return _decode(model, torch.cat(rows), y)


@torch.no_grad()
def class_means(model, x: Tensor, y: Tensor, num_classes: int) -> Tensor:
    """The mean code of each class, (num_classes, k) (NaN rows for absent classes)."""
    z = in_batches(model.encode, x, model.labels_for(y, "encode"))
    y = y.to(z.device)
    return torch.stack(
        [
            z[y == c].mean(0) if bool((y == c).any()) else torch.full_like(z[0], float("nan"))
            for c in range(num_classes)
        ]
    )


@torch.no_grad()
def class_transfer(model, x: Tensor, y: Tensor, means: Tensor) -> Tensor:
    """Each example rewritten as every class: (n, 2 + K, *shape), columns = the input, its
    reconstruction, then class c = 0..K-1.

    Unconditional models move the code along the difference of class means,
    z - mean(y) + mean(c); a conditional model keeps its code (the "style") and decodes it
    with label c."""
    k_classes = len(means)
    conditional = model.conditional
    z = in_batches(model.encode, x, model.labels_for(y, "encode"))  # (n, k)
    recon = _decode(model, z, y) if conditional else model.decode(z)
    columns = [x, recon]
    for c in range(k_classes):
        label = torch.full((len(z),), c, device=z.device)
        if conditional:
            columns.append(model.decode(z, label))
        else:
            columns.append(model.decode(z - means[y.to(z.device)] + means[c]))
    return torch.stack(columns, 1)
