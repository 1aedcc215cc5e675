"""Walking the latent space of a model that encodes and decodes: interpolation between two
codes (linear or spherical, White 2016, "Sampling Generative Networks"), traversals that vary
one latent dimension at a time (Higgins et al. 2017), class-mean latent arithmetic
(z - mean_z(class a) + mean_z(class b), the "attribute vector" of Larsen et al. 2016), and
manipulation along a linear classifier's direction (Preechakul et al. 2022, section 5.3), with
the linear probe that measures how much of a label the codes make linearly readable.

Everything works on codes; images come from `model.decode`. A conditional model decodes with a
label, which the caller gives (for arithmetic the label itself is what changes). A model with a
stochastic code beside its code (`StochasticCode`: a diffusion autoencoder's inverted noise
x_T) decodes each point with that noise too, moved along a great circle between two ends.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .base import in_batches
from .vae.common import lerp, slerp


def _decode(model, z: Tensor, y: Tensor | None, noise: Tensor | None = None) -> Tensor:
    if noise is not None:  # a stochastic code beside z (diffae's x_T)
        return model.decode(z, noise)
    if model.conditional:
        return model.decode(z, y.to(z.device).expand(len(z)) if y.dim() == 0 else y)
    return model.decode(z)


@torch.no_grad()
def interpolate(
    model,
    z_a: Tensor,
    z_b: Tensor,
    steps: int = 10,
    mode: str = "linear",
    y: Tensor | None = None,
    noise: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """Decoded points from z_a to z_b (each (k,), or any shape: a diffusion model's x_T is
    an image), ends included: (steps, *shape). With `noise`, the two ends' stochastic codes
    (x_T), each point decodes with the noise along the great circle between them, whatever
    the mode: Gaussian noise keeps its norm there (Preechakul et al.: lerp z_sem, slerp x_T).

    Spherical interpolation follows the great circle and keeps the norm a Gaussian prior
    expects; linear interpolation cuts through the low-density middle of the ball."""
    t = torch.linspace(0, 1, steps, device=z_a.device)
    path = (slerp if mode == "spherical" else lerp)(z_a.flatten(), z_b.flatten(), t)  # (steps, k)
    path_noise = None
    if noise is not None:
        n_a, n_b = noise
        path_noise = slerp(n_a.flatten(), n_b.flatten(), t).view(steps, *n_a.shape)
    return _decode(model, path.view(steps, *z_a.shape), y, path_noise)


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


def _standardized(z: Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(codes (N, k) as float64, standardized; their mean; their standard deviation)."""
    z = z.detach().double().cpu().flatten(1).numpy()
    mean, std = z.mean(0), z.std(0) + 1e-8
    return (z - mean) / std, mean, std


def linear_probe(z_train: Tensor, y_train, z_test: Tensor, y_test) -> float:
    """Test accuracy of a logistic regression (scikit-learn, L2, C = 1) fitted on standardized
    training codes: how much of the label the codes make linearly readable."""
    from sklearn.linear_model import LogisticRegression

    a, mean, std = _standardized(z_train)
    b = (z_test.detach().double().cpu().flatten(1).numpy() - mean) / std
    clf = LogisticRegression(max_iter=2000).fit(a, np.asarray(y_train))
    return float((clf.predict(b) == np.asarray(y_test)).mean())


def attribute_direction(z: Tensor, target) -> tuple[Tensor, float]:
    """The unit normal w of a logistic regression that tells `target` (N booleans) from the
    codes z (N, k), in standardized code units, mapped back to code units (w_i sigma_i): a
    step of s along it moves a code s standard deviations toward the attribute. Returns
    (the direction (k,), the classifier's training accuracy)."""
    from sklearn.linear_model import LogisticRegression

    target = np.asarray(target, dtype=bool)
    a, _, std = _standardized(z)
    clf = LogisticRegression(max_iter=2000).fit(a, target)
    w = clf.coef_[0] / np.linalg.norm(clf.coef_[0])
    accuracy = float((clf.predict(a) == target).mean())
    return torch.as_tensor(w * std, dtype=z.dtype, device=z.device), accuracy


@torch.no_grad()
def manipulate(
    model, z: Tensor, direction: Tensor, scales: Tensor, noise: Tensor | None = None
) -> Tensor:
    """Each code z (n, k) moved by s * direction for each s of `scales` and decoded (with its
    own stochastic code `noise` (n, *shape) when the model has one): (n, len(scales), *shape).
    Scale 0 decodes the code as it is."""
    rows = []
    for i in range(len(z)):
        path = z[i] + scales.to(z)[:, None] * direction.to(z)  # (S, k)
        n_i = None if noise is None else noise[i : i + 1].expand(len(scales), *noise.shape[1:])
        rows.append(_decode(model, path, None, n_i))
    return torch.stack(rows)
