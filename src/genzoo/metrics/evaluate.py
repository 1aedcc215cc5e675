"""Evaluation: which metrics apply to a model and its data, and the numbers with provenance.

`evaluate(model, data, ...)` draws samples once, computes features once, and runs every metric
that applies (or the ones named). Each result is
``{"values": {...}, "floor": {...} | None, "provenance": {...}}``. The floor is the same
metric on real data alone: for sample metrics, train-split examples against the test split at
the same N. It gives each number its "perfect" value beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.dataset import Dataset
from ..errors import GenzooError
from ..models.base import CAPABILITIES, GenerativeModel
from ..registry import METRICS


@dataclass(frozen=True)
class Metric:
    fn: Callable[[EvalContext], dict[str, Any]]
    kinds: tuple[str, ...] = ("image", "points", "table")
    needs: str | None = None  # a capability name from CAPABILITIES
    uses_features: bool = False
    default: bool = True  # part of the default set when it applies


def metric(name: str, description: str, **kw):
    def deco(fn):
        METRICS.register(name, description)(Metric(fn, **kw))
        return fn

    return deco


@dataclass
class EvalContext:
    """A model, its data and the evaluation settings; samples and features are cached."""

    model: GenerativeModel
    data: Dataset
    n: int | None = None  # generated samples; default: as many as the test split holds
    seed: int = 0
    features_path: str | Path | None = None
    batch_size: int = 500
    nll_samples: int = 200  # importance samples per example for log-likelihood estimates
    notes: list[str] = field(default_factory=list)
    # real-data features kept across evaluations of several models on the same data
    shared: dict | None = field(default=None, repr=False)
    _samples: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)  # by n
    _features: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)  # by set

    @property
    def kind(self) -> str:
        return self.data.kind

    @cached_property
    def n_ref(self) -> int:
        return min(self.n or len(self.data.x_test), len(self.data.x_test))

    @cached_property
    def n_gen(self) -> int:
        return self.n or self.n_ref

    @cached_property
    def reference(self) -> torch.Tensor:
        """n_ref test examples in raw units (all of them by default)."""
        return torch.as_tensor(self._subset(self.data.x_test, self.n_ref, self.seed))

    @cached_property
    def floor_set(self) -> torch.Tensor:
        """n_ref train examples in raw units: the real-vs-real comparison."""
        return torch.as_tensor(self._subset(self.data.x_train, self.n_ref, self.seed + 1))

    def _subset(self, x: np.ndarray, n: int, seed: int) -> np.ndarray:
        if n >= len(x):
            return x
        return x[np.sort(np.random.default_rng(seed).choice(len(x), n, replace=False))]

    @cached_property
    def inputs(self) -> torch.Tensor | None:
        """Translation models: the input domain's test split in model range, row for row with
        the output's test split when paired (cycled to its length when not); else None."""
        if self.data.input is None:
            return None
        return self.model.to_model_input(self.data.inputs_for("test"))

    def samples(self, n: int | None = None) -> torch.Tensor:
        """Generated examples in raw units, drawn once per n with a seeded generator; for a
        translation model, the translations of n test inputs (cycled when n is larger)."""
        n = n or self.n_gen
        cache = self._samples
        if n not in cache:
            from ..data.files import check_in_memory

            check_in_memory("--n", n, self.model.info.shape, "generated examples")
        if n not in cache and self.inputs is not None:
            from ..models.base import in_batches

            x_in = self.inputs[torch.arange(n, device=self.inputs.device) % len(self.inputs)]
            out = in_batches(self.model, "translate", x_in, size=self.batch_size)
            cache[n] = torch.from_numpy(self.model.to_data(out))
        if n not in cache:
            from ..models.base import sample_in_batches

            x = sample_in_batches(self.model, n, self.seed)  # the device's batch
            cache[n] = torch.from_numpy(self.model.to_data(x))
        return cache[n]

    @cached_property
    def feature_net(self):
        from .features import feature_network_for

        return feature_network_for(self.data.info(), self.features_path)

    @cached_property
    def labels(self) -> torch.Tensor | None:
        """The test split's labels (which conditional models need), or None."""
        y = self.data.y_test
        return None if y is None else torch.as_tensor(y, device=self.model.device)

    def unit(self, x_raw: torch.Tensor) -> torch.Tensor:
        from .features import to_unit

        return to_unit(x_raw, self.data.info())

    def features(self, which: str) -> torch.Tensor:
        """Features of "fake" (samples), "real" (reference) or "floor" (train subset)."""
        cache, key = self._features, which
        if which != "fake" and self.shared is not None:
            cache = self.shared
            key = (self.data.name, which, self.n_ref, self.seed, str(self.features_path))
        if key not in cache:
            x = {
                "fake": self.samples,
                "real": lambda: self.reference,
                "floor": lambda: self.floor_set,
            }[which]()
            cache[key] = self.feature_net.features(self.unit(x))
        return cache[key]

    def sample_provenance(self) -> dict[str, Any]:
        return {
            "generated": self.n_gen,
            "reference": self.n_ref,
            "reference_split": "test",
            "floor": f"{self.n_ref} train-split examples vs the reference",
            "features": self.feature_net.provenance(),
            "seed": self.seed,
        }

    def has_features(self) -> bool:
        from .features import shipped

        return self.features_path is not None or shipped(self.data.name, self.data.meta) is not None


def applies(name: str, ctx: EvalContext) -> bool:
    m: Metric = METRICS.get(name)
    if ctx.kind not in m.kinds:
        return False
    if m.needs is not None and not isinstance(ctx.model, CAPABILITIES[m.needs]):
        return False
    return True


def default_metrics(ctx: EvalContext) -> list[str]:
    names = [e.name for e in METRICS if e.obj.default and applies(e.name, ctx)]
    if ctx.kind == "image" and not ctx.has_features():
        skipped = [n for n in names if METRICS.get(n).uses_features]
        names = [n for n in names if n not in skipped]
        if skipped:
            ctx.notes.append(
                f"skipped {', '.join(skipped)}: no feature network ships for "
                f"{ctx.data.name}; train one with `genzoo features train` and "
                "pass --features"
            )
    return names


def evaluate(
    model: GenerativeModel,
    data: Dataset,
    names: list[str] | None = None,
    n: int | None = None,
    seed: int = 0,
    features: str | Path | None = None,
    nll_samples: int = 200,
    samples: torch.Tensor | np.ndarray | None = None,
    shared: dict | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Run metrics `names` (default: all that apply); returns (results, notes).

    `samples`: generated examples in the data's raw units to score in place of drawing `n`
    from the model (a sampler the model does not hold, or samples already drawn and timed).
    `shared`: a dict to keep the real data's features in across calls on the same data.
    """
    from . import library  # noqa: F401  (registers the metrics)

    if model.transform is None:
        model.transform = data.transform(model.data_range())
    model.eval()
    if samples is not None:
        samples = torch.as_tensor(samples).float().cpu()
        n = len(samples)
    ctx = EvalContext(
        model, data, n=n, seed=seed, features_path=features, nll_samples=nll_samples,
        shared=shared,
    )  # fmt: skip
    if samples is not None:
        ctx._samples[n] = samples
    if names is None:
        names = default_metrics(ctx)
    results = {}
    for name in names:
        if not applies(name, ctx):
            m = METRICS.get(name)
            why = (
                f"{data.kind} data"
                if data.kind not in m.kinds
                else f"a model that cannot {m.needs}"
            )
            choices = ", ".join(e.name for e in METRICS if applies(e.name, ctx))
            raise GenzooError(
                f"metric {name!r} does not apply to {why}; metrics for "
                f"{model.name} on {data.name}: {choices}"
            )
        results[name] = METRICS.get(name).fn(ctx)
    return results, ctx.notes


def table(results: dict[str, Any]) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """Results as rows (name, value, floor or "") and as each distinct provenance once,
    with the metrics that share it: what the CLI table and the HTML report both show."""
    rows: list[tuple[str, str, str]] = []
    sources: dict[str, list[str]] = {}
    for name, res in results.items():
        floor = res.get("floor") or {}
        for key, value in res["values"].items():
            f = floor.get(key)
            rows.append((key, format_value(value), format_value(f) if f is not None else ""))
        sources.setdefault(describe_provenance(res.get("provenance", {})), []).append(name)
    return rows, [(", ".join(names), text) for text, names in sources.items()]


def format_value(v: Any) -> str:
    return f"{v:.5g}" if isinstance(v, float) else str(v)


def describe_provenance(p: dict[str, Any]) -> str:
    """One line: what was compared with what, and with which feature network."""
    p = dict(p)
    features = p.pop("features", None)
    parts = [f"{k}={v}" for k, v in p.items()]
    if features:
        parts.append(
            f"features {features['file']} (sha256 {features['sha256'][:12]}, "
            f"trained on {features['trained_on']}, "
            f"{features['test_accuracy']:.1%} held-out accuracy)"
        )
    return "; ".join(parts)
