"""The one training loop: it runs a model's phases and never asks what kind of model it is.

Each step (1) draws a minibatch, (2) runs every phase due at that step: loss,
finite check, backward, optional clipping, optimizer and schedule step, then (3) updates the
EMA weights, and (4) logs, evaluates, draws previews and checkpoints at their intervals.
Everything random in training comes from the seeded global generators plus a seeded batch
stream, all saved in checkpoints, so a resumed run is bit-identical on CPU to one never stopped.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import platform
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import differing_fields, to_dict, write_yaml
from ..data.dataset import Dataset
from ..errors import (
    CheckpointError,
    ConfigError,
    GenzooError,
    NonFiniteLossError,
    TrainingInterrupted,
)
from ..models.base import GenerativeModel, LossOutput, Phase, mean_phase_losses
from ..progress import (
    Deadline,
    StopRequested,
    clear_stop,
    deferred_stop,
    stop_requested,
    stop_signals,
)
from ..registry import OPTIMIZERS, SCHEDULES
from ..weights import load_strict
from . import checkpoint as ckpt
from . import distributed
from .config import BATCH, TrainConfig
from .ema import EMA
from .loggers import ConsoleLogger, JsonlLogger, NullConsole, TensorBoardLogger
from .runtime import resolve_device, resolve_precision, rng_state, seed_everything, set_rng_state
from .stream import BatchStream

STATE_FORMAT = 1


def default_batch(data: Dataset, world) -> int:
    """train.batch_size unset: BATCH examples per process, or as many as the smallest training
    split holds (a translation's two domains each count), shared among the processes."""
    smallest = min(len(d.x_train) for d in ((data, data.input) if data.input else (data,)))
    return max(1, min(BATCH, smallest // world.size))


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


class Trainer:
    """Train `model` on `data` with `config`, writing a run folder under `out` (if given)."""

    def __init__(
        self,
        model: GenerativeModel,
        data: Dataset,
        config: TrainConfig | None = None,
        out: str | Path | None = None,
        run_config: dict[str, Any] | None = None,
        console: bool = True,
        deadline: Deadline | None = None,
    ):
        self.model, self.data = model, data
        self.cfg = config or TrainConfig()
        self.world = distributed.World.from_env()  # one process unless launched by torchrun
        if self.cfg.batch_size is None:  # the default: 128, or as many as the data holds
            self.cfg = dataclasses.replace(self.cfg, batch_size=default_batch(data, self.world))
        self.out = Path(out) if out is not None else None
        self.run_config = run_config
        self.console_enabled = console
        # the end of the whole command (train.max_seconds), if the caller started its clock
        self._deadline = deadline
        # Everything that can be refused is refused here, before any folder is made.
        self.device = distributed.process_device(self.world, resolve_device(self.cfg.device))
        self.amp_dtype = resolve_precision(self.cfg.precision, self.device)
        for ds in (data, data.input) if data.input is not None else (data,):
            if self.cfg.batch_size * self.world.size > len(ds.x_train):
                per = f" / {self.world.size} processes" if self.world.distributed else ""
                raise ConfigError(
                    "train.batch_size",
                    self.cfg.batch_size,
                    f"at most the {len(ds.x_train)} training examples of {ds.name}{per}",
                )
        self.step = 0
        self.planned_steps = self.cfg.steps  # the run's length as first planned (see fit)
        self.step_seconds = 0.0  # time spent in optimizer steps, over every attempt
        self._nan_run = 0  # updates skipped in a row for non-finite values
        self._stop_signal: int | None = None
        # what the final evaluation will cost, in seconds, measured once the model is on its
        # device (run.train sets it); under train.max_seconds it sizes the time kept for it
        self.eval_cost: Callable[[], float] | None = None

    # ---------------------------------------------------------------- setup
    def _setup(self) -> None:
        cfg = self.cfg
        self._own_group = distributed.init(self.world, self.device)
        # each process draws its own noise inside the losses; rank 0 draws a single run's
        seed_everything(cfg.seed + 7919 * self.world.rank)
        model = self.model.to(self.device).train()
        if cfg.channels_last:  # NHWC convolution weights; the batches follow in batch()
            model.to(memory_format=torch.channels_last)
        model.transform = self.data.transform(model.data_range())
        # the training split on the device, or pinned in host memory (batch() copies it over)
        self.host_data = self._data_on_host()
        home = "cpu" if self.host_data else self.device
        self.x_train = self._pinned(model.to_model(self.data.x_train, home))
        self.y_train = (
            None
            if self.data.y_train is None
            else torch.as_tensor(self.data.y_train, device=self.device)
        )
        self.x_test = model.to_model(self.data.x_test)
        self.y_test = (
            None
            if self.data.y_test is None
            else torch.as_tensor(self.data.y_test, device=self.device)
        )
        self.x_in_train = self.x_in_test = None  # translation: the input domain
        inp = self.data.input
        if inp is not None:
            model.input_transform = inp.transform(model.data_range())
            self.x_in_train = self._pinned(model.to_model_input(inp.x_train, home))
            self.x_in_test = model.to_model_input(self.data.inputs_for("test"))
        model.total_steps = self.planned_steps  # a schedule that is a share of the run
        self.phases = model.phases()
        model.total_steps = None
        self.idle_phases = [p for p in self.phases if p.updates(self.cfg.steps) == 0]
        names = [p.name for p in self.phases]
        if len(set(names)) != len(names) or any(not p.params for p in self.phases):
            raise RuntimeError(f"{model.name}: phases need unique names and parameters: {names}")
        self.optimizers = {p.name: self._optimizer(p) for p in self.phases}
        self.schedulers = {p.name: self._scheduler(p) for p in self.phases}
        fp16 = self.amp_dtype == torch.float16
        self.scalers = {p.name: torch.amp.GradScaler("cuda", enabled=fp16) for p in self.phases}
        if cfg.compile:
            from torch._dynamo import config as dynamo
            from torch._inductor import config as inductor

            inductor.fallback_random = True  # the same noise as eager, from the same stream
            dynamo.allow_unspec_int_on_nn_module = True  # model.step: one graph, not one a step
            # Inductor's own switch of convolutions to NHWC mispredicts the strides of their
            # backward on CUDA (pytorch/pytorch#171622, #197514) and fails a transposed-
            # convolution GAN: the layout is train.channels_last's to choose.
            inductor.layout_optimization = False
            # graphs and shape guesses of an earlier run in this process (another model's
            # sizes) would make this one's shapes symbolic, which fallback_random cannot draw
            torch._dynamo.reset()
        # the phases' losses: compiled if asked, and under torchrun each through its own DDP
        self.losses = {
            p.name: torch.compile(p.loss) if cfg.compile else p.loss for p in self.phases
        }
        if self.world.distributed:
            distributed.sync_model(model)
            self.losses = {
                p.name: distributed.wrap_phase(p, self.device, self.losses[p.name])
                for p in self.phases
            }
        self._staging: dict[str, list] = {}  # pinned buffers batch() gathers host rows into
        # with several phases, each runs with the others' parameters frozen: no gradients are
        # computed for what its optimizer does not step (and a compiled loss sees no change)
        self._freeze = {}
        if len(self.phases) > 1:
            for p in self.phases:
                mine = {id(q) for q in p.params}
                others = {id(q): q for o in self.phases if o is not p for q in o.params}
                self._freeze[p.name] = [q for k, q in others.items() if k not in mine]
        self.ema = EMA(model, cfg.ema_decay) if cfg.ema else None
        # one global batch of batch_size per process, drawn alike everywhere; each takes its own
        global_batch = cfg.batch_size * self.world.size
        self.stream = BatchStream(len(self.x_train), global_batch, cfg.seed)
        # unpaired domains: input batches drawn on their own, from a stream of their own
        unpaired = self.x_in_train is not None and not self.data.paired
        self.stream_in = (
            BatchStream(len(self.x_in_train), global_batch, cfg.seed + 1) if unpaired else None
        )
        self.acc: dict[str, torch.Tensor] = {}  # running sums of logged terms since last log
        self.acc_count: dict[str, int] = {}
        self.warnings: dict[str, dict[str, Any]] = {}  # key -> first step seen, message

    def _optimizer(self, phase: Phase) -> torch.optim.Optimizer:
        make = OPTIMIZERS.get(phase.optimizer or self.cfg.optimizer)
        betas = phase.betas or self.cfg.betas
        return make(phase.params, phase.lr or self.cfg.lr, betas, self.cfg.weight_decay)

    def _scheduler(self, phase: Phase) -> torch.optim.lr_scheduler.LambdaLR:
        fn = SCHEDULES.get(self.cfg.schedule)
        total = phase.updates(self.cfg.steps)
        warmup = self.cfg.warmup_steps
        return torch.optim.lr_scheduler.LambdaLR(
            self.optimizers[phase.name], lambda s: fn(s, total, warmup)
        )

    def batch(self, idx: torch.Tensor, split: str = "train") -> dict[str, torch.Tensor]:
        x, y = (self.x_train, self.y_train) if split == "train" else (self.x_test, self.y_test)
        out = {"x": self._take("x", x, idx)}
        if y is not None:
            out["y"] = y[idx.to(y.device)]
        if self.x_in_train is not None:
            x_in = self.x_in_train if split == "train" else self.x_in_test
            if self.stream_in is not None and split == "train":
                idx = self._mine(self.stream_in.next())
            out["x_in"] = self._take("x_in", x_in, idx)
        return out

    # ---------------------------------------------------------------- where the data lives
    def _data_on_host(self) -> bool:
        """Whether the training split stays in host memory: only ever on CUDA, where asked,
        or (auto) where it would take more than a quarter of the device's memory."""
        if self.device.type != "cuda" or self.cfg.data_on == "device":
            return False
        if self.cfg.data_on == "host":
            return True
        splits = [self.data.x_train] + ([self.data.input.x_train] if self.data.input else [])
        size = sum(4 * int(np.prod(np.shape(s))) for s in splits)  # float32 in the model
        return size > torch.cuda.get_device_properties(self.device).total_memory / 4

    def _pinned(self, t: torch.Tensor) -> torch.Tensor:
        return t.pin_memory() if self.host_data else t

    def _take(self, key: str, t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Rows `idx` of `t` on the device, in the layout the model trains in. From pinned
        host memory the rows are gathered into one of two pinned buffers and copied over
        without blocking; a buffer is refilled only once its last copy has finished."""
        if t.device.type == "cpu" and self.device.type == "cuda":
            bufs = self._staging.setdefault(key, [])
            if len(bufs) < 2 or bufs[0][0].shape[0] != len(idx):
                shape = (len(idx), *t.shape[1:])
                bufs[:] = [
                    (torch.empty(shape, dtype=t.dtype).pin_memory(), torch.cuda.Event())
                    for _ in range(2)
                ]
            buf, done = bufs[0]
            done.synchronize()  # its previous copy is over: safe to overwrite
            torch.index_select(t, 0, idx.cpu(), out=buf)
            rows = buf.to(self.device, non_blocking=True)
            done.record()
            bufs.reverse()
        else:
            rows = t[idx.to(t.device)]
        if self.cfg.channels_last and rows.dim() == 4:
            rows = rows.contiguous(memory_format=torch.channels_last)
        return rows

    # ---------------------------------------------------------------- one step
    def _mine(self, idx: torch.Tensor) -> torch.Tensor:
        """This process's slice of a global batch."""
        b, r = self.cfg.batch_size, self.world.rank
        return idx[r * b : (r + 1) * b]

    def train_step(self) -> None:
        batch = self.batch(self._mine(self.stream.next()))  # 1. draw a minibatch
        self.model.step = self.eval_model().step = self.step  # for schedules inside losses
        for phase in self.phases:  # 2. run the phases due at this step
            if phase.runs_at(self.step):
                self._run_phase(phase, batch)
        if self.ema is not None:  # 3. average the weights (debiased: one update per step)
            self.ema.update(self.model, self.step + 1)
        self.step += 1

    def _run_phase(self, phase: Phase, batch: dict[str, torch.Tensor]) -> None:
        opt, scaler = self.optimizers[phase.name], self.scalers[phase.name]
        opt.zero_grad(set_to_none=True)
        if self._freeze:
            for q in self._freeze[phase.name]:
                q.requires_grad_(False)
            for q in phase.params:
                q.requires_grad_(True)
        autocast = (
            torch.autocast(self.device.type, dtype=self.amp_dtype)
            if self.amp_dtype is not None
            else nullcontext()
        )
        with autocast:
            out = self.losses[phase.name](batch)
        scaler.scale(out.loss).backward()
        fp16 = scaler.is_enabled()  # the scaler skips steps with inf gradients by itself
        norm = None
        if self.cfg.grad_clip is not None or phase.log_grad_norm or not fp16:
            scaler.unscale_(opt)
            grads = [p.grad for p in phase.params if p.grad is not None]
            norm = torch.nn.utils.get_total_norm(grads) if grads else None
        finite = self._finite(phase, out, None if fp16 else norm)
        if not finite:
            opt.zero_grad(set_to_none=True)  # skipped: no update from this phase
        else:
            if self.cfg.grad_clip is not None:
                torch.nn.utils.clip_grads_with_norm_(phase.params, self.cfg.grad_clip, norm)
            if norm is not None and (self.cfg.grad_clip is not None or phase.log_grad_norm):
                self._accumulate({f"{phase.name}/grad_norm": norm})
            scaler.step(opt)
            scaler.update()
            if phase.after_update is not None:
                phase.after_update()
        with warnings.catch_warnings():  # fp16: a step the scaler skipped still counts
            warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step", UserWarning)
            self.schedulers[phase.name].step()
        if not finite:
            return  # skipped: its non-finite terms stay out of the logged means
        terms = {f"{phase.name}/{k}": v for k, v in out.terms.items()}
        terms[f"{phase.name}/loss"] = out.loss
        self._accumulate(terms)

    def _finite(self, phase: Phase, out: LossOutput, grad_norm: torch.Tensor | None) -> bool:
        """Whether this phase's loss terms and gradient are finite (one sync for all, agreed
        across processes). If not: with train.on_nan "stop", stop naming the step and the
        culprit, before any update and with the last good checkpoint intact; with "skip", skip
        the update, up to train.max_nan_skips steps in a row."""
        values = {**out.terms, "loss": out.loss}  # name the culprit term first
        dev = out.loss.device  # a constant term may be a CPU tensor
        parts = [v.detach().float().reshape(()).to(dev) for v in values.values()]
        if grad_norm is not None:
            parts.append(grad_norm.detach().float().reshape(()).to(dev))
        bad = not bool(torch.isfinite(torch.stack(parts)).all())
        if self.world.distributed:  # every process skips or stops together
            bad = distributed.any_across(bad)
        if not bad:
            self._nan_run = 0
            return True
        culprit = next(
            (f"loss term {phase.name}/{k} is {float(v.detach())}"
             for k, v in values.items() if not torch.isfinite(v.detach()).all()),
            None,
        )  # fmt: skip
        if culprit is None and grad_norm is not None and not torch.isfinite(grad_norm):
            culprit = (
                f"the gradient of phase {phase.name} is {float(grad_norm)} (its loss is finite)"
            )
        culprit = culprit or "another process's loss or gradient is not finite"
        self._nan_run += 1
        limit = self.cfg.max_nan_skips
        if self.cfg.on_nan == "skip" and self._nan_run <= limit:
            self.warnings["nan"] = f"steps skipped for non-finite values (last: step {self.step})"
            self._log({"step": self.step, f"{phase.name}/skipped": 1})
            self.console.message(f"step {self.step}: {culprit}; update skipped")
            return False
        last = ckpt.latest_checkpoint(self.out) if self.out is not None else None
        keep = f"the last good checkpoint is {last}" if last else "no checkpoint was written"
        why = (
            f"after {limit} steps skipped in a row (train.max_nan_skips), "
            if self.cfg.on_nan == "skip"
            else ""
        )
        raise NonFiniteLossError(
            f"step {self.step}: {culprit}; training stopped {why}before the update, {keep} "
            "(try a lower train.lr or set train.grad_clip; train.on_nan=skip skips such steps)"
        )

    def _accumulate(self, terms: dict[str, torch.Tensor]) -> None:
        """Sum terms on the device (no sync per step); averaged when the next line is logged."""
        for k, v in terms.items():
            v = v.detach().float().reshape(())
            self.acc[k] = self.acc[k] + v if k in self.acc else v.clone()
            self.acc_count[k] = self.acc_count.get(k, 0) + 1

    # ---------------------------------------------------------------- evaluation
    def eval_model(self) -> GenerativeModel:
        """The weights we ship and sample from: the EMA copy when EMA is on."""
        return self.ema.model if self.ema is not None else self.model

    EVAL_EXAMPLES = 1000  # test examples the periodic losses are averaged over, at most

    def evaluate(self) -> dict[str, float]:
        """Every phase's loss terms averaged over the test split (up to EVAL_EXAMPLES of it,
        spread evenly, so that a large split does not slow training down)."""
        n = len(self.x_test)
        idx = torch.linspace(0, n - 1, min(n, self.EVAL_EXAMPLES)).long().to(self.device)
        y = None if self.y_test is None else self.y_test[idx]
        x_in = None if self.x_in_test is None else self.x_in_test[idx]
        losses = mean_phase_losses(
            self.eval_model(), self.x_test[idx], y, seed=self.cfg.seed + 1, x_in=x_in
        )
        return {f"test/{k}": v for k, v in losses.items()}

    def diagnose(self) -> dict[str, float]:
        """The model's own health checks on up to 1,000 test examples; new warnings are
        printed once and kept for summary.json."""
        model = self.eval_model()
        was_training = model.training
        model.eval()
        idx = torch.linspace(0, len(self.x_test) - 1, min(1000, len(self.x_test))).long()
        idx = idx.to(self.device)
        y = None if self.y_test is None else self.y_test[idx]
        extra = {} if self.x_in_test is None else {"x_in": self.x_in_test[idx]}
        with self._forked_rng(), torch.no_grad():
            torch.manual_seed(self.cfg.seed + 2)
            found = model.diagnose(self.x_test[idx], y, **extra)
        model.train(was_training)
        if found is None:
            return {}
        for key, message in found.warnings.items():
            if key not in self.warnings or "cleared_step" in self.warnings[key]:
                self.warnings[key] = {"step": self.step, "message": message}
                self.console.message(f"warning at step {self.step}: {message}")
        for key, seen in self.warnings.items():  # a condition that went away is marked so
            if key not in found.warnings and "cleared_step" not in seen:
                seen["cleared_step"] = self.step
                self.console.message(f"step {self.step}: no longer the case: {seen['message']}")
        return {f"diag/{k}": v for k, v in found.values.items()}

    @contextmanager
    def _forked_rng(self):
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            yield

    def write_preview(self) -> None:
        from ..viz import preview, save_image

        model = self.eval_model()
        was_training = model.training
        model.eval()
        with self._forked_rng():
            # references spread over the test split (which may be ordered by class); a scatter
            # plot needs many more points than an image grid to show where the mass is
            count = 64 if model.info.kind == "image" else 1000
            idx = torch.linspace(0, len(self.x_test) - 1, min(count, len(self.x_test))).long()
            idx = idx.to(self.device)
            y = None if self.y_test is None else self.y_test[idx]
            x_in = None if self.x_in_test is None else self.x_in_test[idx]
            image = preview(model, self.x_test[idx], seed=self.cfg.seed, y_ref=y, x_in_ref=x_in)
        model.train(was_training)
        if image is None:
            return
        save_image(image, self.out / "samples" / f"step-{self.step:06d}.png")
        if self.tb is not None:
            self.tb.image("samples", image, self.step)

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "step": self.step,
            "planned_steps": self.planned_steps,
            "step_seconds": self.step_seconds,
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "scalers": {k: s.state_dict() for k, s in self.scalers.items()},
            "stream": self.stream.state_dict(),
            **({"stream_in": self.stream_in.state_dict()} if self.stream_in is not None else {}),
            "accumulated": {k: v.cpu() for k, v in self.acc.items()},
            "accumulated_count": dict(self.acc_count),
            "rng": rng_state(self.device),
            "warnings": dict(self.warnings),
            "model_state": {k: v.cpu() for k, v in self.model.training_state().items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("format") != STATE_FORMAT:
            raise GenzooError(f"trainer state format {state.get('format')} is not supported")
        self.step = int(state["step"])
        self.step_seconds = float(state.get("step_seconds", 0.0))
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        for k, s in self.schedulers.items():
            s.load_state_dict(state["schedulers"][k])
        for k, s in self.scalers.items():
            s.load_state_dict(state["scalers"][k])
        self.stream.load_state_dict(state["stream"])
        if self.stream_in is not None:
            self.stream_in.load_state_dict(state["stream_in"])
        self.acc = {k: v.to(self.device) for k, v in state["accumulated"].items()}
        self.acc_count = {k: int(v) for k, v in state["accumulated_count"].items()}
        ranks = state.get("rng_ranks")
        if self.world.distributed and ranks is not None and len(ranks) == self.world.size:
            set_rng_state(ranks[self.world.rank], self.device)
        else:
            set_rng_state(state["rng"], self.device)
            if self.world.rank > 0:  # resumed on more processes than wrote it: fresh noise
                seed_everything(self.cfg.seed + 7919 * self.world.rank + self.step)
        self.warnings = dict(state.get("warnings", {}))
        self.model.load_training_state(
            {k: v.to(self.device) for k, v in state.get("model_state", {}).items()}
        )

    def save_checkpoint(self) -> Path | None:
        """Rank 0 writes; every process can resume from what it wrote. Under torchrun every
        process calls this at the same step: the random states of all of them are kept, so
        that a resumed run draws the same noise on each as an uninterrupted one."""
        state = self.state_dict()
        if self.world.distributed:
            state["rng_ranks"] = distributed.gather(state["rng"])
        if not self.world.is_main:
            return None
        ema_model = self.ema.model if self.ema is not None else None
        path = ckpt.write_checkpoint(self.out, self.step, self.model, ema_model, state)
        ckpt.prune_checkpoints(self.out, self.cfg.keep_checkpoints)
        return path

    def _resume_from(self, path: Path) -> None:
        """Continue from checkpoint `path`: its files checked against their checksums, its
        model and config against this run's (what differs is named), then loaded strictly."""
        ckpt.verify_folder(path)
        self._check_same_model(path)
        for file, net in (("model", self.model), ("ema", self.ema.model if self.ema else None)):
            if net is None:
                continue
            load_strict(net, path / f"{file}.safetensors", "this run's model")
        self.load_state_dict(ckpt.load_state(path / "trainer_state.pt"))

    def _check_same_model(self, path: Path) -> None:
        try:
            theirs = json.loads((path / "config.json").read_text())
        except (OSError, ValueError) as e:
            raise CheckpointError(f"{path / 'config.json'}: unreadable ({e})") from None
        ours = json.loads(json.dumps(ckpt.model_meta(self.model)))  # as it would be written
        if not isinstance(theirs, dict) or theirs.get("model") != ours["model"]:
            got = theirs.get("model") if isinstance(theirs, dict) else None
            raise CheckpointError(
                f"{path}: a checkpoint of model {got!r}, not {ours['model']!r}; "
                "resume with the same model or use a new --out"
            )
        fields = [("model", k) for k in ours["config"]]
        differ = [
            f"{name}: {a!r} there, {b!r} here"
            for name, a, b in differing_fields(
                {"model": theirs.get("config")}, {"model": ours["config"]}, fields
            )
        ]
        if differ:
            raise CheckpointError(
                f"{path}: written with other settings ({'; '.join(differ[:4])}); "
                "resume with the same settings or use a new --out"
            )

    # ---------------------------------------------------------------- the loop
    def fit(self, resume: bool = False) -> dict[str, Any]:
        """Train to `config.steps`; with `resume`, continue from the newest checkpoint."""
        start_ckpt = None
        if resume and self.out is not None:
            start_ckpt = ckpt.latest_checkpoint(self.out)
        # the run's length as first planned (a resumed run that asks for more steps trains
        # them at the end, on the schedules of the run it continues)
        self.planned_steps = self.cfg.steps
        if start_ckpt is not None:
            state = ckpt.load_state(start_ckpt / "trainer_state.pt")
            self.planned_steps = int(state.get("planned_steps", self.cfg.steps))
        self._setup()
        if self.world.distributed and resume and self.out is not None:
            self._agree_on(start_ckpt)
        if start_ckpt is not None:
            self._resume_from(start_ckpt)
        cfg = self.cfg
        self.deadline = self._deadline or Deadline(cfg.max_seconds)
        estimate = None
        if self.eval_cost is not None and cfg.max_seconds is not None and cfg.final_eval:
            if cfg.eval_seconds is None:
                estimate = self.eval_cost()
        self.end_reserve = end_reserve(cfg, estimate)
        self._open_run(resumed=start_ckpt is not None)
        t0, step0 = time.time(), self.step
        self._step0 = step0
        finished = False
        clear_stop()
        try:
            with stop_signals(self._request_stop):
                done = self.step >= cfg.steps or self._out_of_time()
                while not done:
                    began = time.perf_counter()
                    self.train_step()
                    self.step_seconds += time.perf_counter() - began
                    self.console.advance()
                    done = self.step >= cfg.steps or self._out_of_time()
                    try:
                        self._periodic(final=done)
                    except StopRequested:
                        pass  # asked during evaluation or pictures: the checkpoint comes now
                    if self._stop_requested():
                        path = self.save_checkpoint() if self.out is not None else None
                        raise TrainingInterrupted(self.step, str(path) if path else None)
            summary = self._finish(time.time() - t0, self.step - step0, start_ckpt)
            finished = True
            return summary
        finally:
            self._close_run()
            for p in self.phases:  # nothing left frozen by the last phase
                for q in p.params:
                    q.requires_grad_(True)
            if self.world.distributed:
                # The DDP wrappers go now, before the process group they hold: left to the
                # interpreter's exit, their group's threads die there and abort the process.
                self.losses = {p.name: p.loss for p in self.phases}
                gc.collect()
            if self._own_group:
                distributed.shutdown(finished)

    def _agree_on(self, start: Path | None) -> None:
        """Every process must resume from the checkpoint rank 0 resumes from: on several
        machines, --out has to be a folder they all see."""
        seen = distributed.gather(None if start is None else str(start))
        for rank, path in enumerate(seen):
            if path != seen[0]:
                raise GenzooError(
                    f"process {rank} would resume from {path or 'the start'} but process 0 "
                    f"from {seen[0] or 'the start'}: --out must be one folder that every "
                    "machine sees (a shared file system)"
                )

    def _out_of_time(self) -> bool:
        """train.max_step_seconds spent in optimizer steps, or train.max_seconds so nearly
        spent that only the end of the run still fits (after at least one step of this
        attempt); by any process: all stop together."""
        cfg = self.cfg
        spent = cfg.max_step_seconds is not None and self.step_seconds >= cfg.max_step_seconds
        late = self.step > self._step0 and self.deadline.remaining() <= self.end_reserve
        out = spent or late
        return distributed.any_across(out) if self.world.distributed else out

    def stopped_by(self) -> str:
        """What ended the training: "steps", "max_step_seconds", "max_seconds" or "signal"."""
        if self.step >= self.cfg.steps:
            return "steps"
        cfg = self.cfg
        if cfg.max_step_seconds is not None and self.step_seconds >= cfg.max_step_seconds:
            return "max_step_seconds"
        return "max_seconds"

    def _request_stop(self, signum: int) -> None:
        self._stop_signal = signum  # (progress.check_stop() sees it too, in long work)

    def _stop_requested(self) -> bool:
        """A signal to any process stops every process, at the same step."""
        asked = self._stop_signal is not None or stop_requested()
        if self.world.distributed:
            return distributed.any_across(asked)
        return asked

    def _due(self, every: int, final: bool) -> bool:
        return final or (every > 0 and self.step % every == 0)

    def _periodic(self, final: bool) -> None:
        cfg = self.cfg
        if cfg.log_every and (final or self.step % cfg.log_every == 0):
            self._log_train()
        # Work only rank 0 does cannot stop midway under torchrun (the others would wait for
        # it at the next collective): there a stop is taken up after it, at the same step.
        with deferred_stop() if self.world.distributed else nullcontext():
            if self._due(cfg.eval_every, final) and self.world.is_main:
                self.last_eval = self.evaluate()
                self._log({"step": self.step, **self.last_eval, **self.diagnose()})
            if self.out is not None and self._due(cfg.sample_every, final) and self.world.is_main:
                self.write_preview()
        if self.out is not None and self._due(cfg.checkpoint_every, final):
            self.save_checkpoint()

    def _log_train(self) -> None:
        record: dict[str, Any] = {"step": self.step}
        means = {k: v / self.acc_count[k] for k, v in self.acc.items()}
        if self.world.distributed:  # every process logs at the same steps: average them
            means = distributed.mean_across(means)
        for k, v in means.items():
            record[k] = float(v)
        for p in self.phases:
            record[f"{p.name}/lr"] = self.optimizers[p.name].param_groups[0]["lr"]
        self.acc, self.acc_count = {}, {}
        self._log(record)

    def _log(self, record: dict[str, Any]) -> None:
        record["time"] = round(time.time() - self.t_start, 3)
        record["train_time"] = round(self.step_seconds, 3)
        if self.jsonl is not None:
            self.jsonl.log(record)
        if self.tb is not None:
            self.tb.log(record)
        # the console skips learning rates and per-dimension details (diag/kl/z03)
        self.console.log(
            {k: v for k, v in record.items() if not k.endswith("/lr") and k.count("/") < 2}
        )

    # ---------------------------------------------------------------- run folder
    def _open_run(self, resumed: bool) -> None:
        self.t_start = time.time()
        self.last_eval: dict[str, float] = {}
        self.jsonl = self.tb = None
        # Records past the step we start from belong to an attempt that was cut off: drop them.
        start = self.step
        if self.out is not None and self.world.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            if not resumed or not (self.out / "config.yaml").exists():
                write_yaml(self.out / "config.yaml", self.resolved_config())
            self.jsonl = JsonlLogger(self.out / "metrics.jsonl", start)
            if self.cfg.tensorboard:
                self.tb = TensorBoardLogger(self.out / "tb", start)
        self.console = (
            ConsoleLogger(
                self.cfg.steps, self.step, deadline=self.deadline, reserve=self.end_reserve
            )
            if self.console_enabled and self.world.is_main
            else NullConsole()
        )
        if resumed:
            self.console.message(f"resuming {self.out} from step {self.step}")
        self.notes = [
            f"phase {p.name} of {self.model.name} does not run in a run of {self.cfg.steps} "
            f"steps (it would start at step {p.start}); a longer run trains it"
            for p in self.idle_phases
        ]
        for note in self.notes:
            self.console.message(f"note: {note}")

    def _close_run(self) -> None:
        for logger in (
            getattr(self, "jsonl", None),
            getattr(self, "tb", None),
            getattr(self, "console", None),
        ):
            if logger is not None:
                logger.close()

    def resolved_config(self) -> dict[str, Any]:
        if self.run_config is not None:
            return self.run_config
        data = to_dict(self.data.config) if self.data.config else {"source": self.data.name}
        return {
            "model": {"name": self.model.name, **to_dict(self.model.config)},
            "data": data,
            "train": to_dict(self.cfg),
        }

    def _finish(self, seconds: float, steps_run: int, start_ckpt: Path | None) -> dict[str, Any]:
        from .. import __version__

        final = self.eval_model()
        summary = {
            "model": self.model.name,
            "data": self.data.name,
            "steps": self.step,
            "seed": self.cfg.seed,
            "batch_size": self.cfg.batch_size,
            "device": str(self.device),
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "test": self.last_eval,
            "warnings": list(self.warnings.values()),
            "notes": self.notes,
            "train_seconds": round(seconds, 2),
            "step_seconds": round(self.step_seconds, 2),
            "stopped_by": self.stopped_by(),
            "steps_per_second": round(steps_run / seconds, 2) if seconds > 0 else None,
            "resumed_from": str(start_ckpt) if start_ckpt else None,
            "versions": {
                "genzoo": __version__,
                "torch": torch.__version__,
                "numpy": np.__version__,
                "python": platform.python_version(),
            },
        }
        if self.world.distributed:
            summary["processes"] = self.world.size
        if self.out is not None and self.world.is_main:
            ckpt.save_model_folder(self.out / "model", final)
            ckpt.atomic_write_text(self.out / "summary.json", json.dumps(summary, indent=2))
            self.console.message(f"done: {self.out}")
        return summary
