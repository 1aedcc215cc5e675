"""Learning-rate schedules: multipliers of the base rate, as pure functions of the step.

Each is linear warm-up over `warmup` steps followed by a decay over the remaining steps.
"""

from __future__ import annotations

import math

from ..registry import SCHEDULES


def _warm(step: int, warmup: int) -> float | None:
    return (step + 1) / warmup if step < warmup else None


@SCHEDULES.register("constant", "warm-up, then the base rate")
def constant(step: int, total: int, warmup: int) -> float:
    return _warm(step, warmup) or 1.0


@SCHEDULES.register("cosine", "warm-up, then half a cosine down to 0 (Loshchilov & Hutter 2017)")
def cosine(step: int, total: int, warmup: int) -> float:
    w = _warm(step, warmup)
    if w is not None:
        return w
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


@SCHEDULES.register("linear", "warm-up, then a straight line down to 0")
def linear(step: int, total: int, warmup: int) -> float:
    w = _warm(step, warmup)
    if w is not None:
        return w
    return max(0.0, 1 - (step - warmup) / max(1, total - warmup))
