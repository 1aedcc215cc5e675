"""Theory you can run: the course's derivations as experiments, each checked against its closed
form and drawn as a figure.

An experiment is a pure function `fn(seed) -> Finding`, registered with `@experiment(name,
description)`; its docstring derives what it checks. A `Finding` holds the numbers, the checks
(a measured value against the closed form, within a stated tolerance) and the panels of its
figure, which genzoo.viz.charts draws. `genzoo theory list` and `genzoo theory NAME` run them;
docs/theory.md is their guide.

>>> from genzoo.theory import run_experiment
>>> finding = run_experiment("forward-marginal", seed=0)
>>> all(c.ok for c in finding.checks)
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from ..registry import EXPERIMENTS, import_package
from ..viz.charts import Panel, Series

__all__ = [
    "TOPICS", "Check", "Finding", "Panel", "Series", "experiment", "one_thread", "run_experiment",
]  # fmt: skip


# the modules of this package, in the order the guide takes them, with their headings
TOPICS = {
    "estimators": "Gradient estimators",
    "reparameterization": "Reparameterization beyond the Gaussian",
    "game": "The GAN game",
    "dynamics": "The GAN game's dynamics",
    "divergences": "Divergences",
    "autoencoders": "Autoencoders and convolutions",
    "diffusion": "Diffusion",
}


@dataclass
class Check:
    """A measured value against what the maths says it is: |measured - expected| <= tol, or,
    `relative`, <= tol * |expected|. `tol` is set by the Monte-Carlo error or the float
    precision of the measurement, never by what the code happens to give."""

    claim: str
    measured: float
    expected: float
    tol: float
    relative: bool = False

    def __post_init__(self) -> None:  # numpy or torch scalars in, plain floats out (JSON)
        self.measured, self.expected = float(self.measured), float(self.expected)
        self.tol, self.relative = float(self.tol), bool(self.relative)

    @property
    def error(self) -> float:
        return abs(self.measured - self.expected)

    @property
    def ok(self) -> bool:
        bound = self.tol * abs(self.expected) if self.relative else self.tol
        return bool(math.isfinite(self.measured) and self.error <= bound)

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        within = f"{self.tol:.3g} relative" if self.relative else f"{self.tol:.3g}"
        return (
            f"{mark} {self.claim}: {self.measured:.6g} (expected {self.expected:.6g}, "
            f"within {within})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"claim": self.claim, "measured": self.measured, "expected": self.expected,
                "tol": self.tol, "relative": self.relative, "ok": self.ok}  # fmt: skip


@dataclass
class Finding:
    """What an experiment found: its headline numbers, its checks and its figure."""

    name: str
    title: str
    numbers: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    panels: list[Panel] = field(default_factory=list)

    @property
    def failed(self) -> list[Check]:
        """The checks that do not hold."""
        return [c for c in self.checks if not c.ok]

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {"experiment": self.name, "title": self.title, "ok": self.ok,
                "numbers": self.numbers, "checks": [c.to_dict() for c in self.checks]}  # fmt: skip


Experiment = Callable[[int], Finding]


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one intra-op thread, then restore the count (also a decorator). The
    experiments loop over small tensors; splitting each operation over threads costs more than
    it saves, and on cores other work shares it can cost ten times the work itself."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def experiment(name: str, description: str) -> Callable[[Experiment], Experiment]:
    """Register `fn(seed) -> Finding` as theory experiment `name`."""
    return EXPERIMENTS.register(name, description)


def run_experiment(name: str, seed: int = 0) -> Finding:
    """Run experiment `name` (an unknown name is a GenzooError listing the choices)."""
    fn = EXPERIMENTS.get(name)
    with one_thread():
        finding = fn(seed)
    finding.name = name
    return finding


import_package(__name__, __path__)  # each module registers its experiments
