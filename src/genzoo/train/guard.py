"""The non-finite guard: a phase's update goes ahead only with finite loss terms and gradient.

With train.on_nan "stop" (the default) a non-finite value stops training, naming the step and
the culprit, before any update and with the last good checkpoint intact; with "skip" the update
is skipped, up to train.max_nan_skips steps in a row.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from ..errors import NonFiniteLossError
from ..models.base import LossOutput
from . import distributed


def culprit(phase: str, out: LossOutput, grad_norm: torch.Tensor | None) -> str | None:
    """What is not finite in a phase's loss terms or gradient norm, or None if all are finite
    (one device sync for all of them)."""
    values = {**out.terms, "loss": out.loss}  # name the culprit term first
    dev = out.loss.device  # a constant term may be a CPU tensor
    parts = [v.detach().float().reshape(()).to(dev) for v in values.values()]
    if grad_norm is not None:
        parts.append(grad_norm.detach().float().reshape(()).to(dev))
    if bool(torch.isfinite(torch.stack(parts)).all()):
        return None
    for k, v in values.items():
        if not torch.isfinite(v.detach()).all():
            return f"loss term {phase}/{k} is {float(v.detach())}"
    return f"the gradient of phase {phase} is {float(grad_norm)} (its loss is finite)"


class NonFiniteGuard:
    """Decides, phase by phase, whether an update goes ahead (agreed across processes)."""

    def __init__(
        self,
        on_nan: str,
        max_skips: int,
        world: distributed.World,
        last_checkpoint: Callable[[], Path | None],
    ):
        self.on_nan, self.max_skips, self.world = on_nan, max_skips, world
        self.last_checkpoint = last_checkpoint
        self.run = 0  # updates skipped in a row

    def check(
        self, step: int, phase: str, out: LossOutput, grad_norm: torch.Tensor | None
    ) -> str | None:
        """None: the update goes ahead. Else what was not finite, and the update is skipped;
        or NonFiniteLossError when training has to stop."""
        found = culprit(phase, out, grad_norm)
        bad = found is not None
        if self.world.distributed:  # every process skips or stops together
            bad = distributed.any_across(bad)
        if not bad:
            self.run = 0
            return None
        found = found or "another process's loss or gradient is not finite"
        self.run += 1
        if self.on_nan == "skip" and self.run <= self.max_skips:
            return found
        last = self.last_checkpoint()
        keep = f"the last good checkpoint is {last}" if last else "no checkpoint was written"
        why = (
            f"after {self.max_skips} steps skipped in a row (train.max_nan_skips), "
            if self.on_nan == "skip"
            else ""
        )
        raise NonFiniteLossError(
            f"step {step}: {found}; training stopped {why}before the update, {keep} "
            "(try a lower train.lr or set train.grad_clip; train.on_nan=skip skips such steps)"
        )
