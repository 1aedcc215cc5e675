"""The one training loop: it runs a model's phases and never asks what kind of model it is.

Each step (1) draws a minibatch of the fields the dataset declares, (2) runs every phase due
at that step: loss, finite check, backward, optional clipping, optimizer and schedule step,
then (3) updates the EMA weights, and (4) logs, evaluates, draws previews and checkpoints at
their intervals. Everything random in training comes from the seeded global generators plus
seeded batch streams, all saved in checkpoints, so a resumed run is bit-identical on CPU to
one never stopped.
"""

from __future__ import annotations

import dataclasses
import gc
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch

from ..config import to_dict
from ..data.dataset import Dataset
from ..errors import TrainingInterrupted
from ..models.base import GenerativeModel, Phase
from ..progress import (
    Deadline,
    StopRequested,
    clear_stop,
    deferred_stop,
    stop_requested,
    stop_signals,
)
from ..weights import load_strict
from . import checkpoint as ckpt
from . import distributed, state
from .budget import Budget, end_reserve
from .config import TrainConfig, resolve_batch_size, resolve_steps
from .ema import EMA
from .evaluation import Preview, diagnosis, evaluating, test_losses, track_warnings
from .guard import NonFiniteGuard
from .loggers import ConsoleLogger, NullConsole, RunningMeans
from .run_folder import RunFolder, run_summary
from .runtime import configure_compile, resolve_device, resolve_precision, seed_everything
from .staging import RowTaker, keep_on_host
from .stream import BatchStream
from .update import PhaseUpdate, frozen_by_phase


class Trainer:
    """Train `model` on `data` with `config`, writing a run folder under `out` (if given),
    with pictures of training drawn by `preview` (if given)."""

    def __init__(
        self,
        model: GenerativeModel,
        data: Dataset,
        config: TrainConfig | None = None,
        out: str | Path | None = None,
        run_config: dict[str, Any] | None = None,
        console: bool = True,
        deadline: Deadline | None = None,
        preview: Preview | None = None,
        after_step: Callable[[Trainer], None] | None = None,
    ):
        self.model, self.data, self.preview = model, data, preview
        # called after each optimizer step, outside the step's clock (a benchmark's snapshots)
        self.after_step = after_step
        self.fields = data.batch_fields(model.data_range())  # what a batch holds, by name
        self.cfg = config or TrainConfig()
        self.world = distributed.World.from_env()  # one process unless launched by torchrun
        self.out = Path(out) if out is not None else None
        self.run_config, self.console_enabled = run_config, console
        self._deadline = deadline  # the end of the whole command, if the caller started it
        # Everything that can be refused is refused here, before any folder is made.
        self.device = distributed.process_device(self.world, resolve_device(self.cfg.device))
        self.amp_dtype = resolve_precision(self.cfg.precision, self.device)
        batch = resolve_batch_size(
            self.cfg.batch_size, self.fields, self.world, model.default_batch
        )
        self.cfg = resolve_steps(dataclasses.replace(self.cfg, batch_size=batch))
        self.step = 0
        self.planned_steps = self.cfg.steps  # the run's length as first planned (see fit)
        self.step_seconds = 0.0  # time spent in optimizer steps, over every attempt
        self.guard = NonFiniteGuard(
            self.cfg.on_nan, self.cfg.max_nan_skips, self.world, self._last_checkpoint
        )
        self.folder: RunFolder | None = None
        # what the final evaluation will cost, in seconds, measured once the model is on its
        # device (run.train sets it); under train.max_seconds it sizes the time kept for it
        self.eval_cost: Callable[[], float] | None = None

    # ---------------------------------------------------------------- setup
    def _setup(self) -> None:
        """Everything the first step needs, in this order."""
        self._own_group = distributed.init(self.world, self.device)
        # each process draws its own noise inside the losses; rank 0 draws a single run's
        seed_everything(self.cfg.seed + 7919 * self.world.rank)
        self._place_model()
        self._place_data()
        self._build_phases()
        self.ema = EMA.of(self.model, self.cfg, self.world.size) if self.cfg.ema else None
        self._build_streams()
        self.means = RunningMeans()  # of the logged terms since the last log line
        self.warnings: dict[str, Any] = {}  # key -> first step seen, message

    def _place_model(self) -> None:
        model = self.model.to(self.device).train()
        if self.cfg.channels_last:  # NHWC convolution weights; the batches follow in batch()
            model.to(memory_format=torch.channels_last)
        model.set_units(self.fields)

    def _place_data(self) -> None:
        """Every field of both splits as tensors in model range: the test split on the device;
        the training split's examples on the device, or pinned in host memory (staging.py)."""
        examples = [f.train for f in self.fields.values() if f.kind == "examples"]
        self.host_data = keep_on_host(self.cfg.data_on, self.device, examples)
        self.train_data, self.test_data = {}, {}
        for name, f in self.fields.items():
            on_host = self.host_data and f.kind == "examples"
            t = f.values("train", "cpu" if on_host else self.device)
            self.train_data[name] = t.pin_memory() if on_host else t
            self.test_data[name] = f.values("test", self.device)
        self.rows = RowTaker(self.device, self.cfg.channels_last)

    def _build_phases(self) -> None:
        """The model's phases, each with its loss (compiled if asked, and under torchrun each
        through its own DDP), optimizer, learning-rate schedule and scaler (update.py)."""
        cfg = self.cfg
        self.model.total_steps = self.planned_steps  # a schedule that is a share of the run
        self.phases = self.model.phases()
        self.model.total_steps = None
        self.idle_phases = [p for p in self.phases if p.updates(cfg.steps) == 0]
        names = [p.name for p in self.phases]
        if len(set(names)) != len(names) or any(not p.params for p in self.phases):
            raise RuntimeError(f"{self.model.name}: phases need unique names and parameters")
        if cfg.compile:
            configure_compile()
        losses = {p.name: torch.compile(p.loss) if cfg.compile else p.loss for p in self.phases}
        if self.world.distributed:
            distributed.sync_model(self.model)
            losses = {
                p.name: distributed.wrap_phase(p, self.device, losses[p.name]) for p in self.phases
            }
        frozen, fp16 = frozen_by_phase(self.phases), self.amp_dtype == torch.float16
        self.updates = {
            p.name: PhaseUpdate(p, cfg, losses[p.name], frozen[p.name], fp16) for p in self.phases
        }

    def _build_streams(self) -> None:
        """One global batch of batch_size per process, drawn alike everywhere (each process
        takes its own slice); a field with a stream of its own (an unpaired domain) is drawn
        by a stream of that name, seeded apart."""
        size = self.cfg.batch_size * self.world.size
        self.stream = BatchStream(len(self.train_data["x"]), size, self.cfg.seed)
        own = {f.stream: f for f in self.fields.values() if f.stream is not None}
        self.streams = {
            name: BatchStream(len(f.train), size, self.cfg.seed + 1 + i)
            for i, (name, f) in enumerate(own.items())
        }

    # ---------------------------------------------------------------- one step
    def batch(self, idx: torch.Tensor, split: str = "train") -> dict[str, torch.Tensor]:
        """Rows `idx` of every field of `split`; in training, a field with a stream of its own
        takes its next rows from that stream."""
        data = self.train_data if split == "train" else self.test_data
        out = {}
        for name, t in data.items():
            own = self.fields[name].stream if split == "train" else None
            rows = self._mine(self.streams[own].next()) if own is not None else idx
            out[name] = self.rows.take(name, t, rows)
        return out

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
        if self.ema is not None:  # 3. average the weights
            self.ema.update(self.model, self.step + 1)
        self.step += 1

    def _run_phase(self, phase: Phase, batch: dict[str, torch.Tensor]) -> None:
        autocast = (self.device.type, self.amp_dtype)
        terms, skipped = self.updates[phase.name](batch, self.step, self.guard, autocast)
        if skipped is not None:
            self.warnings["nan"] = f"steps skipped for non-finite values (last: step {self.step})"
            self._log({"step": self.step, f"{phase.name}/skipped": 1})
            self.console.message(f"step {self.step}: {skipped}; update skipped")
        self.means.add(terms)

    def _fit_model(self, fit: Callable, ema_too: bool = False) -> None:
        """What the model fits from the training data rather than learns by steps, `fit(model,
        data)`: before the first step (`GenerativeModel.before_training`, on the trained weights
        and, `ema_too`, their EMA copy) or after the last (`after_training`, on the weights we
        ship, before the last evaluation, pictures and checkpoint). Every process fits the same
        thing from the same data."""
        models = [self.eval_model()]
        if ema_too and self.ema is not None:
            models.append(self.model)
        for model in models:
            with evaluating(model):
                fitted = fit(model, self.train_data)
        if fitted is not None:
            self.console.message(fitted.message)
            self._log({"step": self.step, **fitted.values})

    # ---------------------------------------------------------------- evaluation
    def eval_model(self) -> GenerativeModel:
        """The weights we ship and sample from: the EMA copy when EMA is on."""
        return self.ema.model if self.ema is not None else self.model

    def diagnose(self) -> dict[str, float]:
        """The model's own health checks; its warnings are said once and kept."""
        found = diagnosis(self.eval_model(), self.test_data, self.cfg.seed + 2)
        if found is None:
            return {}
        track_warnings(self.warnings, found.warnings, self.step, self.console.message)
        return {f"diag/{k}": v for k, v in found.values.items()}

    def write_preview(self) -> None:
        """This step's preview picture, drawn by `preview`."""
        model = self.eval_model()
        with evaluating(model):
            image = self.preview(model, self.test_data, self.cfg.seed)
        if image is not None:
            self.folder.preview(image, self.step)

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        return state.capture(self)

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        state.restore(self, saved)

    def save_checkpoint(self) -> Path | None:
        """Rank 0 writes; every process can resume from what it wrote. Under torchrun every
        process calls this at the same step: the random states of all of them are kept, so
        that a resumed run draws the same noise on each as an uninterrupted one."""
        saved = self.state_dict()
        if self.world.distributed:
            saved["rng_ranks"] = distributed.gather(saved["rng"])
        if not self.world.is_main:
            return None
        ema_model = self.ema.model if self.ema is not None else None
        path = ckpt.write_checkpoint(self.out, self.step, self.model, ema_model, saved)
        ckpt.prune_checkpoints(self.out, self.cfg.keep_checkpoints)
        return path

    def _last_checkpoint(self) -> Path | None:
        return ckpt.latest_checkpoint(self.out) if self.out is not None else None

    def _resume_from(self, path: Path) -> None:
        """Continue from checkpoint `path`: its files checked against their checksums, its
        model and config against this run's (what differs is named), then loaded strictly."""
        ckpt.verify_folder(path)
        ckpt.check_same_model(path, self.model)
        for file, net in (("model", self.model), ("ema", self.ema.model if self.ema else None)):
            if net is not None:
                load_strict(net, path / f"{file}.safetensors", "this run's model")
        self.load_state_dict(ckpt.load_state(path / "trainer_state.pt"))

    # ---------------------------------------------------------------- the loop
    def fit(self, resume: bool = False) -> dict[str, Any]:
        """Train to `config.steps`; with `resume`, continue from the newest checkpoint."""
        start_ckpt = self._last_checkpoint() if resume else None
        # the run's length as first planned (a resumed run that asks for more steps trains
        # them at the end, on the schedules of the run it continues)
        self.planned_steps = self.cfg.steps
        if start_ckpt is not None:
            saved = ckpt.load_state(start_ckpt / "trainer_state.pt")
            self.planned_steps = int(saved.get("planned_steps", self.cfg.steps))
        self._setup()
        if self.world.distributed and resume and self.out is not None:
            distributed.agree_on_resume(None if start_ckpt is None else str(start_ckpt))
        if start_ckpt is not None:
            self._resume_from(start_ckpt)
        self._open_run(resumed=start_ckpt is not None)
        if start_ckpt is None:
            self._fit_model(lambda m, data: m.before_training(data), ema_too=True)
        t0, step0 = time.time(), self.step
        finished = False
        clear_stop()
        try:
            with stop_signals():
                done = self._done(step0)
                while not done:
                    began = time.perf_counter()
                    self.train_step()
                    self.step_seconds += time.perf_counter() - began
                    if self.after_step is not None:
                        self.after_step(self)
                    self.console.advance()
                    done = self._done(step0)
                    if done:
                        self._fit_model(lambda m, data: m.after_training(data))
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
            if self.folder is not None:
                self.folder.close()
            for p in self.phases:  # nothing left frozen by the last phase
                for q in p.params:
                    q.requires_grad_(True)
            if self.world.distributed:
                # The DDP wrappers go now, before the process group they hold: left to the
                # interpreter's exit, their group's threads die there and abort the process.
                for u in self.updates.values():
                    u.loss = u.phase.loss
                gc.collect()
            if self._own_group:
                distributed.shutdown(finished)

    def _done(self, step0: int) -> bool:
        """train.steps reached, or out of time (by any process: all stop together)."""
        if self.step >= self.cfg.steps:
            return True
        late = self.budget.out_of_time(self.step, step0, self.step_seconds)
        return distributed.any_across(late) if self.world.distributed else late

    def stopped_by(self) -> str:
        """What ended the training: "steps", "max_step_seconds" or "max_seconds"."""
        return self.budget.stopped_by(self.step, self.step_seconds)

    def _stop_requested(self) -> bool:
        """A signal to any process stops every process, at the same step."""
        asked = stop_requested()  # SIGINT or SIGTERM, under stop_signals
        return distributed.any_across(asked) if self.world.distributed else asked

    def _periodic(self, final: bool) -> None:
        cfg = self.cfg

        def due(every: int) -> bool:
            return final or (every > 0 and self.step % every == 0)

        if cfg.log_every and due(cfg.log_every):
            self._log_train()
        # Work only rank 0 does cannot stop midway under torchrun (the others would wait for
        # it at the next collective): there a stop is taken up after it, at the same step.
        with deferred_stop() if self.world.distributed else nullcontext():
            if due(cfg.eval_every) and self.world.is_main:
                self.last_eval = test_losses(self.eval_model(), self.test_data, cfg.seed + 1)
                self._log({"step": self.step, **self.last_eval, **self.diagnose()})
            pictures = self.out is not None and self.preview is not None
            if pictures and due(cfg.sample_every) and self.world.is_main:
                self.write_preview()
        if self.out is not None and due(cfg.checkpoint_every):
            self.save_checkpoint()

    def _log_train(self) -> None:
        means = self.means.take()
        if self.world.distributed:  # every process logs at the same steps: average them
            means = distributed.mean_across(means)
        record: dict[str, Any] = {"step": self.step, **{k: float(v) for k, v in means.items()}}
        for p in self.phases:
            record[f"{p.name}/lr"] = self.updates[p.name].optimizer.param_groups[0]["lr"]
        self._log(record)

    def _log(self, record: dict[str, Any]) -> None:
        self.folder.log(record, self.step_seconds)

    # ---------------------------------------------------------------- run folder
    def _open_run(self, resumed: bool) -> None:
        """The budget, the console and the run folder (records past the step we start from
        belong to an attempt that was cut off: they are dropped)."""
        cfg = self.cfg
        deadline = self._deadline or Deadline(cfg.max_seconds)
        estimate = None  # measured only when it sizes the time kept for the evaluation
        if self.eval_cost is not None and cfg.max_seconds is not None and cfg.final_eval:
            estimate = self.eval_cost() if cfg.eval_seconds is None else None
        self.end_reserve = end_reserve(cfg, estimate)
        self.budget = Budget(cfg, deadline, self.end_reserve)
        main = self.world.is_main
        self.console = (
            ConsoleLogger(cfg.steps, self.step, deadline=deadline, reserve=self.end_reserve)
            if self.console_enabled and main
            else NullConsole()
        )
        self.folder = RunFolder(self.out if main else None, self.console)
        self.folder.open(self.step, resumed, self.resolved_config, cfg.tensorboard)
        self.last_eval: dict[str, float] = {}
        if resumed:
            self.console.message(f"resuming {self.out} from step {self.step}")
        self.notes = [
            f"phase {p.name} of {self.model.name} does not run in a run of {cfg.steps} "
            f"steps (it would start at step {p.start}); a longer run trains it"
            for p in self.idle_phases
        ]
        for note in self.notes:
            self.console.message(f"note: {note}")

    def resolved_config(self) -> dict[str, Any]:
        if self.run_config is not None:
            return self.run_config
        data = to_dict(self.data.config) if self.data.config else {"source": self.data.name}
        model = {"name": self.model.name, **to_dict(self.model.config)}
        return {"model": model, "data": data, "train": to_dict(self.cfg)}

    def _finish(self, seconds: float, steps_run: int, start_ckpt: Path | None) -> dict[str, Any]:
        summary = run_summary(self, seconds, steps_run, start_ckpt)
        if self.world.is_main:
            self.folder.finish(self.eval_model(), summary)
        return summary
