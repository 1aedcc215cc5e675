"""A run: a model, a dataset and training settings, resolved from a file, overrides and flags.

`build_run_config` validates everything before any data is loaded or any folder is made;
`train` then loads the data, builds the model, and hands both to the one `Trainer`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from .atomic import atomic_write_text
from .config import differing_fields, from_dict, merge, parse_overrides, read_file, to_dict
from .data import DataConfig, load_dataset
from .errors import ConfigError, GenzooError, Interrupted
from .metrics import estimate_seconds, evaluate
from .models import build_model
from .progress import Deadline, duration
from .registry import MODELS
from .train import TrainConfig, Trainer
from .train.budget import end_reserve
from .train.checkpoint import load
from .train.config import DEFAULT_STEPS
from .train.distributed import World
from .train.runtime import resolve_device, resolve_precision
from .viz import training_preview
from .viz.report import write_report

SECTIONS = ("model", "data", "train")
# Settings a resumed run may change: none of them alters the optimization trajectory.
RESUMABLE_CHANGES = {
    ("train", name)
    for name in (
        "steps",
        "max_seconds",
        "max_step_seconds",
        "eval_seconds",
        "device",
        "compile",
        "channels_last",
        "data_on",
        "log_every",
        "eval_every",
        "sample_every",
        "checkpoint_every",
        "keep_checkpoints",
        "tensorboard",
        "final_eval",
    )
}


@dataclass
class RunConfig:
    model_name: str
    model: Any  # the model's own config dataclass
    data: DataConfig
    train: TrainConfig

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": {"name": self.model_name, **to_dict(self.model)},
            "data": to_dict(self.data),
            "train": to_dict(self.train),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunConfig:
        unknown = sorted(set(raw) - set(SECTIONS))
        if unknown:
            raise GenzooError(
                f"unknown config section {unknown[0]!r}; sections: {', '.join(SECTIONS)}"
            )
        for section in SECTIONS:
            if not isinstance(raw.get(section, {}), dict):
                raise GenzooError(f"config section {section!r} must be a mapping of fields")
        model_raw = dict(raw.get("model", {}))
        name = model_raw.pop("name", None)
        if name is None:
            raise GenzooError(f"no model given; choose one of: {', '.join(MODELS.names())}")
        model_cls = MODELS.get(name)
        data = from_dict(DataConfig, raw.get("data"), prefix="data.")
        if data.input is not None and not model_cls.translation:
            translators = ", ".join(e.name for e in MODELS if e.obj.translation)
            raise ConfigError(
                "data.input",
                data.input,
                f"unset for {name}: an input domain is for the translation models ({translators})",
            )
        return cls(
            name,
            from_dict(model_cls.Config, model_raw, prefix="model."),
            data,
            from_dict(
                TrainConfig,
                merge(model_cls.train_defaults, raw.get("train") or {}),
                prefix="train.",
            ),
        )


def build_run_config(
    model: str | None = None,
    *,
    config_file: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    data: str | None = None,
    steps: int | None = None,
    seed: int | None = None,
    device: str | None = None,
    compile: bool | None = None,
    on_nan: str | None = None,
    max_seconds: float | None = None,
) -> RunConfig:
    """Resolve a run's config: file, then `--set` overrides, then explicit flags.

    Raises a `GenzooError` naming the field, value and choices for anything invalid.
    """
    raw = read_file(config_file) if config_file else {}
    raw = merge(raw, parse_overrides(list(overrides)))
    flags: dict[str, Any] = {}
    if model is not None:
        file_model = (
            raw.get("model", {}).get("name") if isinstance(raw.get("model"), dict) else None
        )
        if file_model is not None and file_model != model:
            raise GenzooError(
                f"the config file is for model {file_model!r}, the command asks for {model!r}"
            )
        flags["model"] = {"name": model}
    if data is not None:
        flags["data"] = {"source": data}
    given = (
        ("steps", steps), ("seed", seed), ("device", device), ("compile", compile),
        ("on_nan", on_nan), ("max_seconds", max_seconds),
    )  # fmt: skip
    train = {k: v for k, v in given if v is not None}
    if train:
        flags["train"] = train
    rc = RunConfig.from_dict(merge(raw, flags))
    resolve_precision(rc.train.precision, resolve_device(rc.train.device))
    return rc


def check_resumable(saved: dict[str, Any], new: dict[str, Any], run_dir: Path) -> None:
    """A resumed run must ask for the same thing as the run it continues (steps may grow).
    Settings the run's version of genzoo did not have yet count as their defaults."""
    try:
        saved = RunConfig.from_dict(saved).to_dict()
    except GenzooError:
        pass  # a field since removed or renamed: compared as written, and named below
    fields = [
        (section, key)
        for section in SECTIONS
        for key in sorted(set(saved.get(section, {})) | set(new.get(section, {})))
        if (section, key) not in RESUMABLE_CHANGES
    ]
    differ = differing_fields(saved, new, fields)
    if differ:
        name, theirs, ours = differ[0]
        raise GenzooError(
            f"{run_dir} was trained with {name}={theirs!r}, this command "
            f"asks for {ours!r}; resume with the same settings or use a new --out"
        )


def parse_duration(text: str, option: str = "--budget") -> float:
    """'90s', '10m', '1.5h' or a plain number of seconds -> seconds."""
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", str(text))
    if not m or float(m.group(1)) <= 0:
        raise GenzooError(f"{option} {text}: expected a duration such as 90s, 10m or 1.5h")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def train(
    rc: RunConfig,
    out: str | Path | None = None,
    resume: bool = False,
    console: bool = True,
    features: str | Path | None = None,
) -> dict[str, Any]:
    """Load the data, build the model (seeded) and train it, then (train.final_eval) evaluate
    it and write its report; returns the run summary. train.max_seconds bounds all of it."""
    deadline = Deadline(rc.train.max_seconds)  # the whole command's clock starts here
    main = World.from_env().is_main  # under torchrun, only rank 0 checks and writes the folder
    if out is not None and main:
        out = Path(out)
        saved = out / "config.yaml"
        if saved.exists():
            if not resume:
                raise GenzooError(
                    f"{out} already holds a run; pass --resume auto to continue "
                    "it, or choose another --out"
                )
            check_resumable(read_file(saved), rc.to_dict(), out)
        elif out.exists() and any(out.iterdir()):
            raise GenzooError(f"{out} exists and is not a genzoo run folder; choose another --out")
    data = load_dataset(rc.data)
    rc = plan_steps(rc, data, deadline, say=click.echo if console and main else None)
    model = build_model(rc.model_name, data.info(), rc.model, seed=rc.train.seed)
    trainer = Trainer(
        model,
        data,
        rc.train,
        out=out,
        run_config=rc.to_dict(),
        console=console,
        deadline=deadline,
        preview=training_preview,
    )
    if out is not None and rc.train.final_eval:
        trainer.eval_cost = lambda: estimate_seconds(model, data, features=features)
    summary = trainer.fit(resume=resume)
    if out is not None and rc.train.final_eval and main:
        time_left = eval_deadline(rc.train, deadline, summary)
        summary = finish_run(
            out, data, str(trainer.device), time_left, console=console, features=features
        )
    return summary


def seconds_per_step(rc: RunConfig, data, probe_steps: int = 20) -> float:
    """Time `probe_steps` optimizer steps of a fresh model (setup not counted)."""
    model = build_model(rc.model_name, data.info(), rc.model, seed=rc.train.seed)
    quiet = {"log_every": 0, "eval_every": 0, "tensorboard": False, "final_eval": False}
    cfg = replace(rc.train, steps=probe_steps, max_seconds=None, max_step_seconds=None, **quiet)
    trainer = Trainer(model, data, cfg, console=False)
    trainer.fit()
    return trainer.step_seconds / probe_steps


def plan_steps(rc: RunConfig, data, deadline: Deadline, say=None) -> RunConfig:
    """train.steps as given; else, under train.max_seconds, as many as fit in the time the
    budget leaves for training (from the time of a few probe steps, whose own time counts),
    with the warm-up at most a fifth of them, so that the learning-rate schedule and its
    warm-up end with the budget; else DEFAULT_STEPS. Under torchrun the processes would time
    themselves apart: they train DEFAULT_STEPS, and the budget still stops them."""
    cfg = rc.train
    if cfg.steps is not None:
        return rc
    if cfg.max_seconds is None or World.from_env().distributed:
        planned = {"steps": DEFAULT_STEPS}
    else:
        per_step = seconds_per_step(rc, data)
        left = deadline.remaining() - end_reserve(cfg)
        steps = max(1, int(left / per_step))
        planned = {"steps": steps, "warmup_steps": min(cfg.warmup_steps, steps // 5)}
        if say is not None:
            say(
                f"planned {steps:,} steps for the budget ({per_step * 1000:.0f} ms a step, "
                f"{duration(left)} of training); warm-up {planned['warmup_steps']} steps"
            )
    return RunConfig.from_dict(merge(rc.to_dict(), {"train": planned}))


def eval_deadline(cfg, deadline: Deadline, summary: dict[str, Any]) -> Deadline:
    """The time of the final evaluation and report: what train.max_seconds left, else
    train.eval_seconds, else a quarter of the training time and at least a minute."""
    if deadline.bounded:
        return deadline.sub(cfg.eval_seconds)
    return Deadline(cfg.eval_seconds or max(60.0, summary.get("train_seconds", 0.0) / 4))


def finish_run(
    out: Path,
    data,
    device: str = "cpu",
    deadline: Deadline | None = None,
    console: bool = True,
    features: str | Path | None = None,
) -> dict[str, Any]:
    """Evaluate the saved model with the default metrics in the time `deadline` leaves (the
    counts cut to fit, and said), then write report.html."""
    say = (lambda text: click.echo(text, err=True)) if console else None
    model = load(out, device=device)
    try:
        results, notes = evaluate(
            model, data, features=features, deadline=deadline, say=say, progress=console
        )
        return record_eval(out, results, notes, deadline, say)
    except KeyboardInterrupt:
        raise Interrupted(
            f"during the final evaluation; the model is saved in {out / 'model'} "
            f"(evaluate it with genzoo eval {out})"
        ) from None


def record_eval(
    out: Path,
    results: dict[str, Any],
    notes: list[str],
    deadline: Deadline | None = None,
    say=None,
) -> dict[str, Any]:
    """Write evaluation results into the run's summary.json (notes included), then its
    report.html in the time `deadline` leaves."""
    import json

    summary = json.loads((out / "summary.json").read_text())
    summary["eval"] = results
    summary["eval_notes"] = list(notes)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    if say is not None:
        say("writing the report")
    write_report([out], out / "report.html", deadline=deadline)
    return summary
