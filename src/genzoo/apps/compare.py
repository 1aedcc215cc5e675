"""Side by side: several models trained on the same data for the same wall-clock budget, then
evaluated with the same metrics, sample count and seed.

Each model's run is an ordinary run folder under the comparison's folder. Its number of steps
comes from a short timed probe (steps per second times the budget), and
`train.max_step_seconds` holds it to the budget whatever the probe said, so a fast model takes
many steps and a slow one few. Time in evaluation, pictures and checkpoints is not counted. A run
that is already there is reused (or resumed where it was cut off), so a comparison can grow a
model at a time.

Quality against training time comes from the run's checkpoints: each is scored with the same
headline metric (FID for images, the k-NN KL estimate for points and tables) at the same N.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_write_text
from ..config import differing_fields, merge, parse_overrides, read_file, to_dict
from ..data import DataConfig, load_dataset
from ..errors import GenzooError
from ..metrics import evaluate
from ..metrics.evaluate import EvalContext, default_metrics
from ..models import build_model
from ..models.base import sample_in_batches
from ..registry import MODELS
from ..run import RunConfig, parse_duration, record_eval, seconds_per_step, train
from ..train.checkpoint import complete_checkpoints, load, load_state
from ..viz.compare import CURVE, format_rows, likelihood_note, table_rows, write_compare_report

# the columns of the comparison table, in order, where a model has them
# the metrics of a comparison: every default one except those that do not compare across
# families (a GAN has no reconstruction, a diffusion model inverts exactly; loss terms differ)
LEFT_OUT = ("recon", "loss")


def parse_budget(text: str) -> float:
    """'90s', '10m', '1.5h' or a plain number of seconds -> seconds."""
    return parse_duration(text, "--budget")


def parse_models(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise GenzooError("--models: name at least one model, e.g. ae,vae,dcgan,ddpm")
    for name in names:
        MODELS.get(name)  # an unknown name is refused with the choices
    if len(set(names)) != len(names):
        raise GenzooError(f"--models {text}: a model is named twice")
    return names


@dataclass
class Entry:
    """One model of a comparison, once trained and evaluated."""

    name: str
    run: Path
    summary: dict[str, Any]
    results: dict[str, Any]
    sample_seconds: float  # drawing the N evaluation samples
    curve: list[tuple[float, float]] = field(default_factory=list)  # (train seconds, value)
    reused: bool = False


@dataclass
class Comparison:
    entries: list[Entry]
    kind: str  # of the data: image, points or table
    meta: dict[str, Any]
    report: Path

    def table(self) -> tuple[list[str], list[list[str]]]:
        return table_rows(self.entries, self.kind)

    def text(self) -> str:
        """The table as text, and the likelihood note where it applies."""
        note = likelihood_note(self.entries)
        return format_rows(*self.table()) + (f"\n{note}" if note else "")


def parse_settings(items: list[str] | tuple[str, ...], names: list[str]) -> dict[str, list[str]]:
    """MODEL:SECTION.FIELD=VALUE items -> {model: [SECTION.FIELD=VALUE, ...]}."""
    out: dict[str, list[str]] = {}
    for item in items:
        model, sep, setting = item.partition(":")
        if not sep or "=" not in setting:
            raise GenzooError(f"--set {item}: expected MODEL:SECTION.FIELD=VALUE")
        if model not in names:
            raise GenzooError(f"--set {item}: {model} is not one of --models ({', '.join(names)})")
        out.setdefault(model, []).append(setting)
    return out


def plan(
    name: str,
    data,
    budget: float,
    points: int,
    seed: int,
    device: str,
    settings: list[str] = (),
):
    """The run config of `name` for the budget: the model's defaults, the step count a probe
    predicts and half as many again (so that the budget, not the count, ends the run), and
    `points` checkpoints."""
    rc = run_config(name, data, seed, device, settings)
    per_step = seconds_per_step(rc, data)
    predicted = budget / per_step
    steps = max(points, math.ceil(1.5 * predicted))
    every = max(1, int(predicted / points))
    train = {
        "steps": steps,
        "max_step_seconds": budget,
        "checkpoint_every": every,
        "keep_checkpoints": points + 2,  # the last may fall just short of the budget's end
        "sample_every": 0,  # one preview, at the end: the comparison draws its own samples
        "eval_every": every,
        "log_every": max(1, min(50, every)),
        "final_eval": False,  # the comparison evaluates every model the same way
    }
    return RunConfig.from_dict({**rc.to_dict(), "train": {**to_dict(rc.train), **train}})


def existing(run: Path, name: str, data_cfg: DataConfig) -> dict[str, Any] | None:
    """The saved config of a run already in the comparison's folder, checked to be `name`
    on the same data; None where there is none."""
    saved = run / "config.yaml"
    if not saved.is_file():
        if run.exists() and any(run.iterdir()):
            raise GenzooError(f"{run} exists and is not a genzoo run folder; choose another --out")
        return None
    cfg = read_file(saved)
    if cfg.get("model", {}).get("name") != name:
        raise GenzooError(f"{run} holds a {cfg.get('model', {}).get('name')} run, not {name}")
    ours = to_dict(data_cfg)
    fields = [("data", k) for k in sorted(ours)]
    differ = differing_fields(cfg, {"data": ours}, fields)
    if differ:
        what = ", ".join(f"{name} {a!r} there, {b!r} asked" for name, a, b in differ)
        raise GenzooError(f"{run} was trained on other data ({what}); choose another --out")
    return cfg


def refuse_other_settings(run: Path, saved: dict, asked, settings: list[str]) -> None:
    """A run is reused only as it was asked for now: the same model settings, and the same
    value of every train field set with --set (the step count and the checkpoints come from
    the timing probe, which differs from one time to the next)."""
    mine = asked.to_dict()
    fields = [("model", k) for k in mine["model"]]
    fields += [("train", k) for k in parse_overrides(settings).get("train", {})]
    differ = [
        f"{name} {a!r} there, {b!r} asked" for name, a, b in differing_fields(saved, mine, fields)
    ]
    if differ:
        raise GenzooError(
            f"{run} was trained with other settings ({'; '.join(differ)}); "
            "choose another --out, or remove that run to train it again"
        )


def run_config(name: str, data, seed: int, device: str, settings: list[str]):
    """`name` with its defaults on the comparison's data, and its own --set settings."""
    raw = {"model": {"name": name}, "data": to_dict(data.config)}
    raw = merge({**raw, "train": {"seed": seed, "device": device}}, parse_overrides(settings))
    if raw["data"] != to_dict(data.config):
        raise GenzooError(f"--set {name}:data...: every model of a comparison has the same data")
    return RunConfig.from_dict(raw)


def plan_check(name: str, data, settings: list[str]) -> None:
    """Refuse a model that does not fit the data, or settings it does not take, up front."""
    build_model(name, data.info(), run_config(name, data, 0, "cpu", settings).model)


def train_one(
    name: str,
    out: Path,
    data,
    budget: float,
    points: int,
    seed: int,
    device: str,
    settings: list[str] = (),
) -> tuple[Path, bool]:
    """Train (or reuse, or resume) the run of `name`; returns (its folder, reused)."""
    run = out / name
    saved = existing(run, name, data.config)
    if saved is not None:
        refuse_other_settings(run, saved, run_config(name, data, seed, device, settings), settings)
    if saved is not None and (run / "summary.json").is_file():
        return run, True
    if saved is not None:  # cut off: continue it as it was planned
        train(RunConfig.from_dict(saved), out=run, resume=True)
        return run, False
    rc = plan(name, data, budget, points, seed, device, settings)
    train(rc, out=run)
    return run, False


def timed_samples(model, n: int, seed: int) -> tuple[torch.Tensor, float]:
    """n samples in the data's units, drawn in the device's batches with a seeded generator,
    and the seconds it took (the model's default sampler)."""
    t0 = time.perf_counter()
    x = sample_in_batches(model, n, seed)  # on the CPU: the device has finished
    seconds = time.perf_counter() - t0
    return torch.from_numpy(model.to_data(x)), seconds


def curve(
    run: Path,
    data,
    n: int,
    seed: int,
    device: str,
    shared: dict,
    final: tuple[float, float],
    features: str | Path | None = None,
) -> list[tuple[float, float]]:
    """The headline metric of each kept checkpoint against its seconds of training; the
    last checkpoint is the final model, whose value is `final` (seconds, value)."""
    metric, key = CURVE[data.kind]
    points = []
    for path in complete_checkpoints(run)[:-1]:
        state = load_state(path / "trainer_state.pt")
        weights = "ema" if (path / "ema.safetensors").is_file() else "model"
        model = load(path, weights=weights, device=device)
        samples, _ = timed_samples(model, n, seed)
        results, _ = evaluate(
            model, data, [metric], seed=seed, samples=samples, shared=shared, features=features
        )
        points.append((float(state.get("step_seconds", math.nan)), results[metric]["values"][key]))
    return sorted(points) + [final]


def headline_value(results: dict[str, Any], kind: str) -> float:
    """The curve's metric in `results`, or NaN where it was not measured."""
    metric, key = CURVE[kind]
    return float(results.get(metric, {}).get("values", {}).get(key, math.nan))


def evaluate_one(
    name: str,
    run: Path,
    data,
    n: int,
    seed: int,
    device: str,
    shared: dict,
    nll_samples: int,
    reused: bool = False,
    say=print,
    features: str | Path | None = None,
) -> Entry:
    """The comparison's metrics of the run's final model on the same N samples as every other,
    written into the run's summary.json and report.html as `genzoo eval` would."""
    model = load(run, device=device)
    ctx = EvalContext(model, data, features_path=features)
    names = [m for m in default_metrics(ctx) if m not in LEFT_OUT]
    samples, seconds = timed_samples(model, n, seed)
    results, notes = evaluate(
        model, data, names, seed=seed, samples=samples, shared=shared, nll_samples=nll_samples,
        say=say, progress=True, features=features,
    )  # fmt: skip
    notes = ctx.notes + notes  # what could not run on this data, then what evaluate said
    for note in notes:
        say(f"  note: {note}")
    summary = record_eval(run, results, notes)
    final = (float(summary.get("step_seconds", math.nan)), headline_value(results, data.kind))
    metric = CURVE[data.kind][0]
    points = (
        curve(run, data, n, seed, device, shared, final, features) if metric in results else [final]
    )
    return Entry(name, run, summary, results, seconds, points, reused)


def compare(
    data_cfg: DataConfig,
    names: list[str],
    budget: float,
    out: Path,
    *,
    n: int | None = None,
    seed: int = 0,
    points: int = 4,
    device: str = "cpu",
    settings: dict[str, list[str]] | None = None,
    nll_samples: int = 50,
    say=print,
    features: str | Path | None = None,
) -> Comparison:
    """Train (or reuse) each model, evaluate them alike, write compare.json and
    compare.html into `out`."""
    data = load_dataset(data_cfg)
    for name in names:  # every model must fit the data before any of them trains
        plan_check(name, data, (settings or {}).get(name, []))
    n = n or len(data.x_test)
    out.mkdir(parents=True, exist_ok=True)
    entries, shared = [], {}
    for i, name in enumerate(names, 1):
        say(f"[{i}/{len(names)}] {name}: training for {budget:g} s of steps on {data.name}")
        mine = (settings or {}).get(name, [])
        run, reused = train_one(name, out, data, budget, points, seed, device, mine)
        if reused:
            say(f"  {run} is already trained: reused")
        say(f"  evaluating {name} on {n} samples")
        entries.append(
            evaluate_one(
                name, run, data, n, seed, device, shared, nll_samples, reused, say, features
            )
        )
    meta = {
        "data": data.name, "kind": data.kind, "budget_seconds": budget, "n": n, "seed": seed,
        "nll_samples": nll_samples, "settings": settings or {},
    }  # fmt: skip
    atomic_write_text(
        out / "compare.json",
        json.dumps({**meta, "models": [_entry_json(e) for e in entries]}, indent=2),
    )
    report = write_compare_report(entries, data, meta, out / "compare.html")
    return Comparison(entries, data.kind, meta, report)


def _entry_json(e: Entry) -> dict[str, Any]:
    s = e.summary
    return {
        "model": e.name,
        "run": str(e.run),
        "steps": s.get("steps"),
        "train_seconds": s.get("step_seconds"),
        "sample_seconds": round(e.sample_seconds, 3),
        "parameters": s.get("parameters"),
        "metrics": {k: r["values"] for k, r in e.results.items()},
        "curve": e.curve,
        "reused": e.reused,
    }
