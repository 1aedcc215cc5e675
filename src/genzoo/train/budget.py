"""When training stops: at train.steps, after train.max_step_seconds spent in optimizer steps,
or when train.max_seconds is so nearly spent that only the end of the run still fits."""

from __future__ import annotations

from ..progress import Deadline
from .config import TrainConfig


def end_reserve(cfg: TrainConfig, estimate: float | None = None) -> float:
    """Seconds of train.max_seconds kept for the end of the run: the final evaluation and
    report, and a tenth of the run for the last test losses, pictures, checkpoint and model
    folder. The evaluation keeps train.eval_seconds when set; else twice `estimate` (what the
    full evaluation was measured to cost, when known), at least 10 s; and at most a quarter of
    the run, which the evaluation then plans its counts to fit."""
    if cfg.max_seconds is None:
        return 0.0
    quarter = cfg.max_seconds / 4
    if not cfg.final_eval:
        evaluation = 0.0
    elif cfg.eval_seconds is not None:
        evaluation = cfg.eval_seconds
    else:
        evaluation = quarter if estimate is None else min(quarter, max(10.0, 2 * estimate))
    return evaluation + cfg.max_seconds / 10


class Budget:
    """The run's limits: steps, seconds of optimizer steps, and the command's deadline less
    `reserve` seconds kept for the end of the run."""

    def __init__(self, cfg: TrainConfig, deadline: Deadline, reserve: float):
        self.cfg, self.deadline, self.reserve = cfg, deadline, reserve

    def out_of_time(self, step: int, first_step: int, step_seconds: float) -> bool:
        """train.max_step_seconds spent in optimizer steps, or train.max_seconds so nearly
        spent that only the end of the run still fits (an attempt that began at `first_step`
        always takes at least one step)."""
        limit = self.cfg.max_step_seconds
        if limit is not None and step_seconds >= limit:
            return True
        return step > first_step and self.deadline.remaining() <= self.reserve

    def stopped_by(self, step: int, step_seconds: float) -> str:
        """What ended the training: "steps", "max_step_seconds" or "max_seconds"."""
        if step >= self.cfg.steps:
            return "steps"
        limit = self.cfg.max_step_seconds
        return "max_step_seconds" if limit is not None and step_seconds >= limit else "max_seconds"
