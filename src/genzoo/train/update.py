"""One phase's update: its loss (compiled and wrapped for DDP by the trainer), optimizer,
learning-rate schedule and gradient scaler, with the other phases' parameters frozen."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import nullcontext

import torch

from ..models.base import LossOutput, Phase
from ..registry import OPTIMIZERS, SCHEDULES
from .config import TrainConfig
from .guard import NonFiniteGuard


class PhaseUpdate:
    """`phase` trained by its optimizer (the phase's own choice of optimizer, lr and betas,
    else train's) on train.schedule over the phase's share of train.steps; `frozen`: the
    other phases' parameters, which get no gradient while this one runs (None: the only
    phase)."""

    def __init__(
        self,
        phase: Phase,
        cfg: TrainConfig,
        loss: Callable[[dict], LossOutput],
        frozen: list[torch.nn.Parameter] | None,
        fp16: bool,
    ):
        self.phase, self.loss, self.frozen, self.cfg = phase, loss, frozen, cfg
        make = OPTIMIZERS.get(phase.optimizer or cfg.optimizer)
        lr, betas = phase.lr or cfg.lr, phase.betas or cfg.betas
        self.optimizer = make(phase.params, lr, betas, cfg.weight_decay)
        fn, total, warmup = SCHEDULES.get(cfg.schedule), phase.updates(cfg.steps), cfg.warmup_steps
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: fn(s, total, warmup)
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=fp16)

    def __call__(
        self,
        batch: dict[str, torch.Tensor],
        step: int,
        guard: NonFiniteGuard,
        autocast: tuple[str, torch.dtype | None],
    ) -> tuple[dict[str, torch.Tensor], str | None]:
        """Loss, backward, finite check, clipping, optimizer and schedule step. Returns the
        terms to log ({"phase/term": value}, with the gradient norm when clipped or asked for)
        and None; or, for an update skipped for non-finite values, no terms and what was
        not finite."""
        phase, opt, scaler, clip = self.phase, self.optimizer, self.scaler, self.cfg.grad_clip
        opt.zero_grad(set_to_none=True)
        if self.frozen is not None:
            for q in self.frozen:
                q.requires_grad_(False)
            for q in phase.params:
                q.requires_grad_(True)
        device, dtype = autocast
        with torch.autocast(device, dtype=dtype) if dtype is not None else nullcontext():
            out = self.loss(batch)
        scaler.scale(out.loss).backward()
        fp16 = scaler.is_enabled()  # the scaler skips steps with inf gradients by itself
        norm = None
        if clip is not None or phase.log_grad_norm or not fp16:
            scaler.unscale_(opt)
            grads = [p.grad for p in phase.params if p.grad is not None]
            norm = torch.nn.utils.get_total_norm(grads) if grads else None
        skipped = guard.check(step, phase.name, out, None if fp16 else norm)
        terms = {}
        if skipped is not None:
            opt.zero_grad(set_to_none=True)  # no update from this phase
        else:
            if clip is not None:
                torch.nn.utils.clip_grads_with_norm_(phase.params, clip, norm)
            if norm is not None and (clip is not None or phase.log_grad_norm):
                terms[f"{phase.name}/grad_norm"] = norm
            scaler.step(opt)
            scaler.update()
            if phase.after_update is not None:
                phase.after_update()
            # (a skipped step's non-finite terms stay out of the logged means)
            terms.update({f"{phase.name}/{k}": v for k, v in out.terms.items()})
            terms[f"{phase.name}/loss"] = out.loss
        with warnings.catch_warnings():  # fp16: a step the scaler skipped still counts
            warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step", UserWarning)
            self.scheduler.step()
        return terms, skipped


def frozen_by_phase(phases: list[Phase]) -> dict[str, list[torch.nn.Parameter] | None]:
    """For each phase, the other phases' parameters it does not share (None with one phase):
    frozen while it runs, so that no gradient is computed for what its optimizer does not
    step (and a compiled loss sees no change)."""
    if len(phases) == 1:
        return {phases[0].name: None}
    frozen = {}
    for p in phases:
        mine = {id(q) for q in p.params}
        others = {id(q): q for o in phases if o is not p for q in o.params}
        frozen[p.name] = [q for k, q in others.items() if k not in mine]
    return frozen
