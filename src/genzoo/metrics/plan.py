"""Planning an evaluation to fit its time: measured unit costs, then counts that fit.

The final evaluation of a run (and `genzoo eval --max-seconds`) must end within the time it
has. What it costs grows with a few counts: the samples drawn for the sample metrics (n), the
test examples reconstructed, the test examples whose phase losses are averaged, and the
examples times the importance samples (VAEs) or strata (diffusion) of the likelihood (k). A
feature network that must first be trained adds a fixed cost to the sample metrics of images.

`measure` times one small call of each (a few samples, a few reconstructions, one likelihood
pass) on the model as it is; `fit_counts` then cuts the counts, in this order, until the
estimate fits the time:

1. the likelihood's k, down to `K_MIN`;
2. the likelihood's examples, down to `MIN_EXAMPLES`;
3. the samples n, down to `MIN_SAMPLES`;
4. the reconstructed examples, then the examples of the loss metric, down to `MIN_EXAMPLES`;

and what still does not fit is left out, in the order likelihood, reconstruction, losses, the
feature network's training (and with it FID and the other feature metrics), the sample metrics.
A feature network whose training alone would take longer than the time is left out first.
Each cut and each metric left out is said in a note: nothing is cut silently. The estimates
come from small batches, so they err on the slow side.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

from ..progress import duration

K_MIN = 5  # importance samples or strata per example: fewer make a loose or noisy estimate
MIN_EXAMPLES = 100  # test examples for the likelihood, reconstructions and losses
MIN_SAMPLES = 200  # generated examples for the sample metrics
PROBE = 4  # examples per timing probe
SAFETY = 0.85  # plan to use this share of the time: the rest absorbs estimation error


@dataclass
class Counts:
    """How much each part of an evaluation computes; 0 leaves a part out."""

    n: int = 0  # samples for the sample metrics
    k: int = 0  # importance samples or strata per likelihood example
    nll_examples: int = 0
    recon_examples: int = 0
    loss_examples: int = 0
    features: bool = False  # a feature network is trained first


@dataclass
class Costs:
    """Seconds per unit of each part (per sample, per example, per example per k)."""

    sample: float = 0.0
    nll: float = 0.0
    recon: float = 0.0
    loss: float = 0.0
    features: float = 0.0  # training the feature network, all of it

    def total(self, c: Counts) -> float:
        return (
            c.n * self.sample
            + c.nll_examples * c.k * self.nll
            + c.recon_examples * self.recon
            + c.loss_examples * self.loss
            + (self.features if c.features and c.n else 0.0)
        )


@dataclass
class Plan:
    counts: Counts
    estimate: float  # seconds
    notes: list[str] = field(default_factory=list)


def fit_counts(wanted: Counts, costs: Costs, seconds: float) -> Plan:
    """The counts closest to `wanted` whose estimated cost fits `seconds` (see the module
    docstring for the order of the cuts), and a note for each cut."""
    budget = seconds * SAFETY
    c = replace(wanted)
    notes: list[str] = []
    why = f"to fit the {duration(seconds)} the evaluation has"

    def over() -> float:
        return costs.total(c) - budget

    def cut(attr: str, unit: float, minimum: int, what: str) -> None:
        """Lower c.<attr> (whose each unit costs `unit` s) until it fits or reaches minimum."""
        have = getattr(c, attr)
        if over() <= 0 or unit <= 0 or have <= minimum:
            return
        fits = math.floor(have - over() / unit)
        new = max(minimum, min(have, fits))
        if new < have:
            setattr(c, attr, new)
            notes.append(f"{what}: {new} instead of {have}, {why}")

    if c.features and c.n and costs.features > budget:  # a network that cannot be trained
        c.features = False  # in time: its metrics go, the samples the others use stay
        notes.append(
            "left out the metrics in a feature network's space: none exists for this data yet, "
            f"and training one needs about {duration(costs.features)}, more than the "
            "evaluation has"
        )
    cut("k", c.nll_examples * costs.nll, min(K_MIN, wanted.k), "likelihood samples per example")
    cut(
        "nll_examples",
        c.k * costs.nll,
        min(MIN_EXAMPLES, wanted.nll_examples),
        "likelihood examples",
    )
    cut("n", costs.sample, min(MIN_SAMPLES, wanted.n), "generated samples")
    cut(
        "recon_examples",
        costs.recon,
        min(MIN_EXAMPLES, wanted.recon_examples),
        "reconstructed examples",
    )
    cut(
        "loss_examples",
        costs.loss,
        min(MIN_EXAMPLES, wanted.loss_examples),
        "examples of the loss metric",
    )
    for attrs, what in (
        (("k", "nll_examples"), "the likelihood (nll): it needs"),
        (("recon_examples",), "the reconstruction metrics (recon): they need"),
        (("loss_examples",), "the test losses (loss): they need"),
        (("features",), "the metrics in a feature network's space: none exists for this data "
                        "yet, and training one needs"),
        (("n",), "the sample metrics: they need"),
    ):  # fmt: skip
        if over() <= 0:
            break
        if not all(getattr(c, a) for a in attrs):
            continue
        before = costs.total(c)
        for a in attrs:
            setattr(c, a, False if a == "features" else 0)
        need = duration(before - costs.total(c))
        notes.append(f"left out {what} about {need}, more than the evaluation has left")
    return Plan(c, costs.total(c), notes)


def per_unit(fn, units: int, repeats: int = 2) -> float:
    """Seconds per unit of `fn()` (which processes `units` units): the best of `repeats`
    timed calls after one warm-up call."""
    fn()
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best / max(units, 1)
