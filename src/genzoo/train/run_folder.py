"""What a run writes while it trains, and at its end.

A run folder holds config.yaml (the resolved settings), metrics.jsonl (one record per log,
evaluation and skipped step), TensorBoard events (train.tensorboard), samples/step-N.png (the
previews), checkpoints/ (see checkpoint.py), and at the end model/ (the weights we ship) and
summary.json. Only the main process writes; every file is written whole or not at all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text, replace_synced, temporary_beside
from ..config import from_dict, read_file, write_yaml
from ..data import DataConfig, load_dataset
from ..errors import GenzooError
from .checkpoint import load, save_model_folder
from .loggers import ConsoleLogger, JsonlLogger, NullConsole, TensorBoardLogger
from .runtime import versions


class RunFolder:
    """The run folder `out` (None: nothing is written) and the console.

    `open` starts the logs from step `start` (records a cut-off attempt wrote past it are
    dropped), `log` adds a record to every log, `preview` keeps a picture, `finish` writes the
    model folder and summary.json, and `close` closes the logs."""

    def __init__(self, out: Path | None, console: ConsoleLogger | NullConsole):
        self.out, self.console = out, console
        self.jsonl: JsonlLogger | None = None
        self.tb: TensorBoardLogger | None = None
        self.t_start = time.time()

    def open(
        self, start: int, resumed: bool, config: Callable[[], dict[str, Any]], tensorboard: bool
    ) -> None:
        self.t_start = time.time()
        if self.out is None:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        if not resumed or not (self.out / "config.yaml").exists():
            write_yaml(self.out / "config.yaml", config())
        self.jsonl = JsonlLogger(self.out / "metrics.jsonl", start)
        if tensorboard:
            self.tb = TensorBoardLogger(self.out / "tb", start)

    def log(self, record: dict[str, Any], train_seconds: float) -> None:
        """`record` (with its "step") in metrics.jsonl and TensorBoard, stamped with the
        seconds since the run started and those spent in optimizer steps; on the console
        without learning rates and per-dimension details (diag/kl/z03)."""
        record["time"] = round(time.time() - self.t_start, 3)
        record["train_time"] = round(train_seconds, 3)
        for logger in (self.jsonl, self.tb):
            if logger is not None:
                logger.log(record)
        self.console.log(
            {k: v for k, v in record.items() if not k.endswith("/lr") and k.count("/") < 2}
        )

    def preview(self, image, step: int) -> None:
        """A preview picture (PIL) as samples/step-N.png, and in TensorBoard."""
        if self.out is None:
            return
        path = self.out / "samples" / f"step-{step:06d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temporary_beside(path)
        image.save(tmp, format="PNG")
        replace_synced(tmp, path)
        if self.tb is not None:
            self.tb.image("samples", image, step)

    def finish(self, model, summary: dict[str, Any]) -> None:
        """The weights we ship (model/) and summary.json."""
        if self.out is None:
            return
        save_model_folder(self.out / "model", model)
        atomic_write_text(self.out / "summary.json", json.dumps(summary, indent=2))
        self.console.message(f"done: {self.out}")

    def close(self) -> None:
        for logger in (self.jsonl, self.tb, self.console):
            if logger is not None:
                logger.close()


def run_summary(trainer, seconds: float, steps_run: int, start: Path | None) -> dict[str, Any]:
    """summary.json: what was trained on what, how long and how fast (`seconds` and
    `steps_run` of this attempt), the last test losses, warnings and notes, what stopped it,
    and the versions it ran with."""
    t = trainer
    return {
        "model": t.model.name,
        "data": t.data.name,
        "steps": t.step,
        "seed": t.cfg.seed,
        "batch_size": t.cfg.batch_size,
        "device": str(t.device),
        "parameters": sum(p.numel() for p in t.model.parameters()),
        "test": t.last_eval,
        "warnings": list(t.warnings.values()),
        "notes": t.notes,
        "train_seconds": round(seconds, 2),
        "step_seconds": round(t.step_seconds, 2),
        "stopped_by": t.stopped_by(),
        "steps_per_second": round(steps_run / seconds, 2) if seconds > 0 else None,
        "resumed_from": str(start) if start else None,
        "versions": versions(),
        **({"processes": t.world.size} if t.world.distributed else {}),
    }


# ---------------------------------------------------------------- reading a run folder back
def open_run(run: str | Path, device: str = "cpu"):
    """Load the model of `run`, strictly; returns (model, the run's config dict or None)."""
    model = load(run, device=device)
    cfg_path = next(
        (p / "config.yaml" for p in _run_roots(Path(run)) if (p / "config.yaml").is_file()), None
    )
    return model, (read_file(cfg_path) if cfg_path else None)


def _run_roots(path: Path) -> list[Path]:
    # run/, run/model/, run/checkpoints/step-N/ all lead back to the run folder
    return [path, path.parent, path.parent.parent]


def run_dataset(model, run_config: dict[str, Any] | None, data: str | None = None):
    """The dataset a run was trained on (same split), or `data` if given."""
    if data is not None:
        cfg = DataConfig(source=data)
    elif run_config is not None and "data" in run_config:
        cfg = from_dict(DataConfig, run_config["data"], prefix="data.")
    else:
        cfg = DataConfig(source=model.info.source)
    ds = load_dataset(cfg)
    if ds.shape != tuple(model.info.shape):
        raise GenzooError(
            f"{cfg.source}: examples of shape {ds.shape} do not fit a model "
            f"trained on shape {tuple(model.info.shape)}"
        )
    return ds
