"""Training settings shared by every family."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from ..config import check
from ..errors import ConfigError

BATCH = 128  # the default batch, on data that has that many training examples


@dataclass
class TrainConfig:
    # optimizer steps, each running every phase whose `every` divides the step (none: 2,000;
    # with max_seconds, `genzoo train` plans as many as fit, from the time of a few steps)
    steps: int | None = None
    # the whole command in wall-clock seconds: training stops early enough for the final
    # evaluation, pictures, checkpoint and report to fit (none: no limit)
    max_seconds: float | None = None
    # or stop once the optimizer steps alone have taken this many seconds (equal training
    # budgets, as genzoo compare gives them; a resumed run counts its earlier steps' time too)
    max_step_seconds: float | None = None
    # seconds for the final evaluation and report (none: a quarter of max_seconds when it is
    # set, else a quarter of the training time and at least a minute); counts are cut to fit
    eval_seconds: float | None = None
    # examples per step and process (none: 128, or the training split's size when smaller)
    batch_size: int | None = None
    optimizer: Literal["adam", "adamw", "rmsprop"] = "adam"  # a phase may name its own
    lr: float = 1e-3  # base learning rate; a phase may override it
    betas: tuple[float, float] = (0.9, 0.999)  # Adam's (beta1, beta2); a phase may override them
    weight_decay: float = 0.0  # L2 for adam, decoupled for adamw
    schedule: Literal["constant", "cosine", "linear"] = "constant"  # decay after warm-up
    warmup_steps: int = 0  # linear warm-up from 0 to lr
    grad_clip: float | None = None  # max global gradient norm per phase; none = no clipping
    # a NaN or infinite loss term or gradient: stop (naming the step and term), or skip that
    # update, at most max_nan_skips steps in a row
    on_nan: Literal["stop", "skip"] = "stop"
    max_nan_skips: int = 10
    ema: bool = False  # keep an exponential moving average of the weights (used for sampling)
    ema_decay: float = 0.999
    # the average's half-life in training images instead of ema_decay (StyleGAN: 10,000), at
    # most ema_rampup times the images seen so far (StyleGAN: 0.05; none: no ramp-up)
    ema_halflife_images: float | None = None
    ema_rampup: float | None = None
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"  # auto: bf16 on CUDA, fp32 on CPU
    device: str = "auto"  # auto, cpu, cuda or cuda:N
    compile: bool = False  # torch.compile each phase's loss: slower first steps, faster after
    channels_last: bool = False  # image models in NHWC layout (faster convolutions on GPUs)
    # where the training split lives: on the device, or in pinned host memory with each batch
    # copied over asynchronously (auto: on the device when it takes at most a quarter of it)
    data_on: Literal["auto", "device", "host"] = "auto"
    seed: int = 0  # seeds initialization, batches and every random draw in training
    log_every: int = 50  # steps between log lines / metrics.jsonl records (0 = never)
    eval_every: int = 500  # steps between test-split evaluations (0 = only at the end)
    sample_every: int = 500  # steps between sample/reconstruction grids (0 = only at the end)
    checkpoint_every: int = 500  # steps between checkpoints (0 = only at the end)
    keep_checkpoints: int = 3  # how many recent checkpoints to keep
    tensorboard: bool = True  # also write TensorBoard event files under tb/
    final_eval: bool = True  # at the end: default metrics into summary.json, and report.html

    def __post_init__(self) -> None:
        check(self.steps is None or self.steps >= 1, "steps", self.steps, "an integer >= 1")
        check(
            self.batch_size is None or self.batch_size >= 1,
            "batch_size",
            self.batch_size,
            "an integer >= 1",
        )
        for name in ("max_seconds", "max_step_seconds", "eval_seconds"):
            value = getattr(self, name)
            check(value is None or value > 0, name, value, "a number of seconds > 0, or none")
        check(
            self.eval_seconds is None or self.max_seconds is None
            or self.eval_seconds < self.max_seconds,
            "eval_seconds",
            self.eval_seconds,
            f"less than max_seconds = {self.max_seconds} (the evaluation is part of the run)",
        )  # fmt: skip
        check(self.lr > 0, "lr", self.lr, "a number > 0")
        check(
            len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas),
            "betas",
            self.betas,
            "two numbers in [0, 1)",
        )
        check(self.weight_decay >= 0, "weight_decay", self.weight_decay, "a number >= 0")
        check(self.warmup_steps >= 0, "warmup_steps", self.warmup_steps, "an integer >= 0")
        check(
            self.grad_clip is None or self.grad_clip > 0,
            "grad_clip",
            self.grad_clip,
            "a number > 0, or none",
        )
        check(0 < self.ema_decay < 1, "ema_decay", self.ema_decay, "0 < decay < 1")
        check(
            self.ema_halflife_images is None or self.ema_halflife_images > 0,
            "ema_halflife_images",
            self.ema_halflife_images,
            "a number of images > 0, or none (ema_decay)",
        )
        check(
            self.ema_rampup is None
            or (self.ema_halflife_images is not None and 0 < self.ema_rampup <= 1),
            "ema_rampup",
            self.ema_rampup,
            "a share in (0, 1] of the images seen, with ema_halflife_images set; or none",
        )
        check(self.max_nan_skips >= 1, "max_nan_skips", self.max_nan_skips, "an integer >= 1")
        check(
            bool(re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device)),
            "device",
            self.device,
            "auto, cpu, cuda or cuda:N",
        )
        for name in ("log_every", "eval_every", "sample_every", "checkpoint_every"):
            check(getattr(self, name) >= 0, name, getattr(self, name), "an integer >= 0")
        check(
            self.keep_checkpoints >= 1, "keep_checkpoints", self.keep_checkpoints, "an integer >= 1"
        )


def resolve_batch_size(
    batch_size: int | None, fields: dict, world, default: int | None = None
) -> int:
    """train.batch_size, checked against the training examples of every batch field (a
    translation's two domains each count) shared among the processes of `world`; unset,
    `default` (else BATCH) per process or as many as the smallest split holds."""
    processes = world.size
    if batch_size is None:
        most = min(len(f.train) for f in fields.values()) // processes
        return max(1, min(default or BATCH, most))
    for f in fields.values():
        if batch_size * processes > len(f.train):
            per = f" / {processes} processes" if world.distributed else ""
            raise ConfigError(
                "train.batch_size",
                batch_size,
                f"at most the {len(f.train)} training examples of {f.source}{per}",
            )
    return batch_size


DEFAULT_STEPS = 2000


def resolve_steps(cfg: TrainConfig) -> TrainConfig:
    """train.steps as the trainer runs it: DEFAULT_STEPS when none was set or planned."""
    return cfg if cfg.steps is not None else replace(cfg, steps=DEFAULT_STEPS)
