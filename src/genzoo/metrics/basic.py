"""Metrics every run can compute from the model and its test data.

- `loss`: every phase's loss terms, averaged over the split (what training minimizes).
- `recon`: reconstruction error of models that can reconstruct: mean squared error per
  dimension, in the model's range, and for data in [0, 1] the binary cross-entropy per
  dimension (nats) and per example (nats, summed over dimensions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import GenzooError
from ..models.base import CAPABILITIES, GenerativeModel
from ..registry import METRICS


@dataclass(frozen=True)
class Metric:
    fn: Callable[[GenerativeModel, torch.Tensor, torch.Tensor | None], dict[str, float]]
    needs: str | None = None  # a capability name from CAPABILITIES

    def applies_to(self, model: GenerativeModel) -> bool:
        return self.needs is None or isinstance(model, CAPABILITIES[self.needs])


def metric(name: str, description: str, needs: str | None = None):
    def deco(fn):
        METRICS.register(name, description)(Metric(fn, needs))
        return fn

    return deco


def _batches(x: torch.Tensor, y: torch.Tensor | None, size: int = 500):
    for start in range(0, len(x), size):
        yield x[start : start + size], None if y is None else y[start : start + size]


@metric("loss", "each phase's loss terms averaged over the split")
@torch.no_grad()
def loss_terms(model: GenerativeModel, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, float]:
    sums: dict[str, float] = {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        for xb, yb in _batches(x, y):
            batch = {"x": xb} if yb is None else {"x": xb, "y": yb}
            for phase in model.phases():
                out = phase.loss(batch)
                for k, v in {"loss": out.loss, **out.terms}.items():
                    key = f"{phase.name}/{k}"
                    sums[key] = sums.get(key, 0.0) + float(v) * len(xb)
    return {k: v / len(x) for k, v in sums.items()}


@metric("recon", "reconstruction MSE (and BCE for data in [0, 1])", needs="reconstruct")
@torch.no_grad()
def reconstruction(model: GenerativeModel, x: torch.Tensor, y) -> dict[str, float]:
    se = bce = 0.0
    unit = bool(x.min() >= 0 and x.max() <= 1)
    for xb, _ in _batches(x, None):
        x_hat = model.reconstruct(xb).float()
        se += float(F.mse_loss(x_hat, xb, reduction="sum"))
        if unit:
            p = x_hat.clamp(1e-6, 1 - 1e-6)
            bce += float(F.binary_cross_entropy(p, xb, reduction="sum"))
    dims = x[0].numel()
    out = {"mse": se / x.numel()}
    if unit:
        out["bce"] = bce / x.numel()
        out["bce_per_example"] = bce / len(x)
    out["dims"] = dims
    return out


def applicable(model: GenerativeModel) -> list[str]:
    return [e.name for e in METRICS if e.obj.applies_to(model)]


def evaluate(
    model: GenerativeModel, x: torch.Tensor, y: torch.Tensor | None, names: list[str] | None = None
) -> dict[str, dict[str, float]]:
    """Run metrics `names` (default: all that apply) on `x` (model range)."""
    names = names or applicable(model)
    results = {}
    model.eval()
    for name in names:
        m = METRICS.get(name)
        if not m.applies_to(model):
            raise GenzooError(
                f"metric {name!r} needs a model that can {m.needs}; "
                f"{model.name} cannot (metrics for it: {', '.join(applicable(model))})"
            )
        results[name] = m.fn(model, x, y)
    return results
