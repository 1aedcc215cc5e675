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
from ..data.files import check_in_memory
from ..errors import GenzooError
from ..models.base import (
    CAPABILITIES,
    GenerativeModel,
    in_batches,
    mean_phase_losses,
    sample_in_batches,
    sampling_batch,
)
from ..progress import Deadline, duration
from ..registry import METRICS
from .features import (
    available,
    ensure_feature_net,
    load_feature_net,
    task_of,
    to_unit,
    training_cost,
)
from .plan import PROBE, Costs, Counts, fit_counts, per_unit


@dataclass(frozen=True)
class Metric:
    fn: Callable[[EvalContext], dict[str, Any]]
    kinds: tuple[str, ...] = ("image", "points", "table")
    needs: str | None = None  # a capability name from CAPABILITIES
    uses_features: bool = False
    default: bool = True  # part of the default set when it applies
    # why it cannot run on this model and data, or None when it can (a mixture's means, labels)
    requires: Callable[[EvalContext], str | None] | None = None
    # what its time grows with, for the planner: "samples", "recon", "nll", "loss" or None
    cost: str | None = None


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
    # how many test examples the likelihood, reconstruction and loss metrics use (None: all),
    # set by the planner when time is short
    limits: dict[str, int] = field(default_factory=dict)
    say: Callable[[str], None] | None = field(default=None, repr=False)  # console messages
    progress: bool = False  # progress bars (or lines) for slow parts
    _samples: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)  # by n
    _features: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)  # by set

    @property
    def kind(self) -> str:
        return self.data.kind

    @property
    def pass_batch(self) -> int:
        """Examples per call of a per-example pass (reconstruct, translate): the device's
        sampling batch, at most `batch_size`. On a CPU a conv net's cost per example grows with
        a batch that outgrows the caches (DDPM reconstructs 3x32x32 images 2.2 times slower at
        500 than at 100 on two cores), which would overrun the plan's costs, timed on a few
        examples."""
        return min(self.batch_size, sampling_batch(self.model.device))

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

    def test_examples(self, part: str) -> tuple[np.ndarray, np.ndarray | None]:
        """The test split (raw units) and its labels, or the `limits[part]` examples of it
        spread evenly over it when the planner cut them."""
        x, y = self.data.x_test, self.data.y_test
        k = self.limits.get(part)
        if k is None or k >= len(x):
            return x, y
        keep = np.linspace(0, len(x) - 1, k).round().astype(int)
        return x[keep], None if y is None else y[keep]

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
            check_in_memory("--n", n, self.model.info.shape, "generated examples")
        show = "translating" if self.progress else None
        if n not in cache and self.inputs is not None:
            x_in = self.inputs[torch.arange(n, device=self.inputs.device) % len(self.inputs)]
            out = in_batches(self.model.translate, x_in, size=self.pass_batch, progress=show)
            cache[n] = torch.from_numpy(self.model.to_data(out))
        if n not in cache:
            show = "sampling" if self.progress else None
            x = sample_in_batches(self.model, n, self.seed, progress=show)  # the device's batch
            cache[n] = torch.from_numpy(self.model.to_data(x))
        return cache[n]

    @cached_property
    def feature_net(self):
        """The feature network of the data: --features, the shipped one, the cached one, or
        one trained now (and cached) by the fixed recipe."""
        path = available(self.data, self.features_path)
        fn = load_feature_net(path) if path is not None else ensure_feature_net(self.data, self.say)
        fn.check_fits(self.data.info())
        return fn

    def feature_ready(self) -> bool:
        """Whether the feature network exists without training one."""
        return available(self.data, self.features_path) is not None

    def knows_classes(self) -> bool:
        """Whether the feature network classifies the data's classes (for the class metrics),
        without training it to find out."""
        if self.feature_ready():
            return self.feature_net.knows_classes(self.data.info())
        return task_of(self.data) == "classes"

    @cached_property
    def labels(self) -> torch.Tensor | None:
        """The test split's labels (which conditional models need), or None."""
        y = self.data.y_test
        return None if y is None else torch.as_tensor(y, device=self.model.device)

    def unit(self, x_raw: torch.Tensor) -> torch.Tensor:

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


def applies(name: str, ctx: EvalContext) -> bool:
    """Whether metric `name` is defined for this kind of data and model (its reasons aside)."""
    m: Metric = METRICS.get(name)
    if ctx.kind not in m.kinds:
        return False
    if m.needs is not None and not isinstance(ctx.model, CAPABILITIES[m.needs]):
        return False
    return True


def missing(name: str, ctx: EvalContext) -> str | None:
    """Why metric `name` cannot run here (a mixture's means, labels, ...), or None."""
    m: Metric = METRICS.get(name)
    return None if m.requires is None else m.requires(ctx)


def default_metrics(ctx: EvalContext) -> list[str]:
    """Every default metric that applies and can run; a note says why each of the others that
    apply cannot."""
    names = []
    for e in METRICS:
        if not (e.obj.default and applies(e.name, ctx)):
            continue
        why = missing(e.name, ctx)
        if why is None:
            names.append(e.name)
        else:
            ctx.notes.append(f"skipped {e.name}: {why}")
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
    deadline: Deadline | None = None,
    say: Callable[[str], None] | None = None,
    progress: bool = False,
) -> tuple[dict[str, Any], list[str]]:
    """Run metrics `names` (default: all that apply and can run); returns (results, notes).

    `samples`: generated examples in the data's raw units to score in place of drawing `n`
    from the model (a sampler the model does not hold, or samples already drawn and timed).
    `shared`: a dict to keep the real data's features in across calls on the same data.
    `deadline`: the evaluation's time; when bounded, the counts are planned to fit it
    (`metrics.plan`) and every cut is a note. `say`: where to print what it does (a feature
    network trained, the plan); `progress`: progress bars (or lines) for the slow parts.
    """
    if model.transform is None:
        model.transform = data.transform(model.data_range())
    model.eval()
    if samples is not None:
        samples = torch.as_tensor(samples).float().cpu()
        n = len(samples)
    ctx = EvalContext(
        model, data, n=n, seed=seed, features_path=features, nll_samples=nll_samples,
        shared=shared, say=say, progress=progress,
    )  # fmt: skip
    if samples is not None:
        ctx._samples[n] = samples
    if names is None:
        names = default_metrics(ctx)
    for name in names:
        refuse(name, ctx)
    if deadline is not None and deadline.bounded:
        names = plan_to_fit(ctx, names, deadline, given_samples=samples is not None)
    results = {}
    for name in names:
        results[name] = METRICS.get(name).fn(ctx)
    return results, ctx.notes


def refuse(name: str, ctx: EvalContext) -> None:
    """A metric asked for by name that does not apply or cannot run is an error."""
    m = METRICS.get(name)
    if not applies(name, ctx):
        data = ctx.data
        why = f"{data.kind} data" if data.kind not in m.kinds else f"a model that cannot {m.needs}"
        choices = ", ".join(e.name for e in METRICS if applies(e.name, ctx))
        raise GenzooError(
            f"metric {name!r} does not apply to {why}; metrics for "
            f"{ctx.model.name} on {data.name}: {choices}"
        )
    why = missing(name, ctx)
    if why is not None:
        raise GenzooError(f"metric {name!r} cannot run: {why}")


def plan_to_fit(
    ctx: EvalContext, names: list[str], deadline: Deadline, given_samples: bool = False
) -> list[str]:
    """Set the counts of `ctx` so that `names` fit the deadline (metrics.plan); returns the
    metrics that still run. The plan and its cuts go into ctx.notes."""
    wanted = wanted_counts(ctx, names)
    costs = measure_costs(ctx, wanted, given_samples)
    plan = fit_counts(wanted, costs, deadline.remaining())
    c = plan.counts
    ctx.notes.extend(plan.notes)
    if c.n != wanted.n and c.n:
        ctx.n = c.n
        for cached in ("n_ref", "n_gen", "reference", "floor_set"):
            ctx.__dict__.pop(cached, None)
    ctx.nll_samples = c.k or ctx.nll_samples
    ctx.limits = {"nll": c.nll_examples, "recon": c.recon_examples, "loss": c.loss_examples}
    keep = {"nll": c.k and c.nll_examples, "recon": c.recon_examples, "loss": c.loss_examples}
    kept = [
        m
        for m in names
        if keep.get(METRICS.get(m).cost, True)
        and (METRICS.get(m).cost != "samples" or c.n)
        and not (METRICS.get(m).uses_features and wanted.features and not c.features)
    ]
    if ctx.say is not None:
        ctx.say(
            f"evaluating {', '.join(kept) or 'nothing'}: about "
            f"{duration(plan.estimate)} of the {duration(deadline.remaining())} left"
        )
    return kept


def wanted_counts(ctx: EvalContext, names: list[str]):
    """The counts `names` ask for before any cut: samples, likelihood samples and examples,
    reconstructed and loss examples, and whether a feature network must be trained."""
    groups = {METRICS.get(m).cost for m in names}
    n_test = len(ctx.data.x_test)
    return Counts(
        n=ctx.n_gen if "samples" in groups else 0,
        k=ctx.nll_samples if "nll" in groups else 0,
        nll_examples=n_test if "nll" in groups else 0,
        recon_examples=n_test if "recon" in groups else 0,
        loss_examples=n_test if "loss" in groups else 0,
        features=any(METRICS.get(m).uses_features for m in names) and not ctx.feature_ready(),
    )


def estimate_seconds(
    model: GenerativeModel,
    data: Dataset,
    names: list[str] | None = None,
    features: str | Path | None = None,
    nll_samples: int = 200,
) -> float:
    """Seconds `evaluate(model, data, names)` would take at its full counts, each part timed
    on a few examples as the plan of a bounded evaluation times them (a feature network still
    to train included). Sampling and likelihood passes cost the same whatever the weights, so
    an untrained model tells what the trained one will cost. The global random state and the
    model's mode are left as they were."""
    training = model.training
    with torch.random.fork_rng(devices=[]):
        if model.transform is None:
            model.transform = data.transform(model.data_range())
        model.eval()
        ctx = EvalContext(model, data, features_path=features, nll_samples=nll_samples)
        names = default_metrics(ctx) if names is None else names
        wanted = wanted_counts(ctx, names)
        seconds = measure_costs(ctx, wanted, given_samples=False).total(wanted)
    model.train(training)
    return seconds


def measure_costs(ctx: EvalContext, wanted, given_samples: bool):
    """Seconds per unit of each part of the evaluation, timed on a few examples (and the
    training of the feature network, when one must be trained)."""
    model, costs = ctx.model, Costs()
    x = model.to_model(ctx.data.x_test[:PROBE])
    y = None if ctx.labels is None else ctx.labels[:PROBE]
    extra = {"y": y} if model.conditional else {}
    with torch.no_grad():
        if wanted.n and not given_samples:
            if ctx.inputs is not None:
                x_in = ctx.inputs[:PROBE]
                costs.sample = per_unit(lambda: model.translate(x_in), len(x_in))
            else:
                g = torch.Generator(device=model.device).manual_seed(0)
                costs.sample = per_unit(lambda: model.sample(PROBE, generator=g), PROBE)
        if wanted.recon_examples:
            costs.recon = per_unit(lambda: model.reconstruct(x, **extra), len(x))
        if wanted.nll_examples:
            g = torch.Generator(device=model.device).manual_seed(0)
            costs.nll = per_unit(
                lambda: model.log_likelihood(x, k=2, generator=g, **extra), 2 * len(x)
            )
        if wanted.loss_examples:
            x_in = None if ctx.inputs is None else ctx.inputs[:PROBE]
            costs.loss = per_unit(lambda: mean_phase_losses(model, x, y, x_in=x_in), len(x))
    if wanted.features:
        costs.features = training_cost(ctx.data)
    return costs


def table(results: dict[str, Any]) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """Results as rows (name, value, floor or "") and as each distinct provenance once,
    with the metrics that share it: what the CLI table and the HTML report both show."""
    rows: list[tuple[str, str, str]] = []
    sources: dict[str, list[str]] = {}
    for name, res in results.items():
        floor = res.get("floor") or {}
        prov = res.get("provenance", {})
        for key, value in res["values"].items():
            f = floor.get(key)
            label = display_name(key, prov)
            rows.append((label, format_value(value), format_value(f) if f is not None else ""))
        sources.setdefault(describe_provenance(prov), []).append(name)
    return rows, [(", ".join(names), text) for text, names in sources.items()]


def display_name(key: str, provenance: dict[str, Any]) -> str:
    """A value's name as tables show it: a number computed in a feature network's space
    names the network, "fid (mnist5k-cnn features)", so that nobody sets it beside an
    Inception FID or one from another network."""
    features = provenance.get("features")
    if not features:
        return key
    return f"{key} ({features.get('name') or features['file']} features)"


def format_value(v: Any) -> str:
    return f"{v:.5g}" if isinstance(v, float) else str(v)


def describe_provenance(p: dict[str, Any]) -> str:
    """One line: what was compared with what, and with which feature network."""
    p = dict(p)
    features = p.pop("features", None)
    parts = [f"{k}={v}" for k, v in p.items()]
    if features:
        task = features.get("task", "classes")
        task = "its classes" if task == "classes" else "the rotation task (self-supervised)"
        parts.append(
            f"features {features.get('name') or features['file']} (sha256 "
            f"{features['sha256'][:12]}, trained on {features['trained_on']} for {task}, "
            f"{features['test_accuracy']:.1%} held-out accuracy)"
        )
    return "; ".join(parts)
