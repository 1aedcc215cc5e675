"""Where training reports go: metrics.jsonl (always), TensorBoard, and the console.

On a terminal the console shows a tqdm progress bar; elsewhere (CI, a log file) it prints one
plain line per logging interval, and at least one every `LINE_SECONDS` of wall time.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..progress import LINE_SECONDS, duration


class JsonlLogger:
    """One JSON object per line; on resume, records after the resumed step are dropped."""

    def __init__(self, path: Path, start_step: int):
        self.path = path
        if path.exists():
            kept = []
            for line in path.read_text().splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line cut off by a kill
                if record.get("step", 0) <= start_step:
                    kept.append(line)
            atomic_write_text(path, "".join(k + "\n" for k in kept))
        self.file = path.open("a")

    def log(self, record: dict[str, Any]) -> None:
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class TensorBoardLogger:
    def __init__(self, log_dir: Path, start_step: int):
        from torch.utils.tensorboard import SummaryWriter

        # purge_step drops events a killed attempt wrote after the step we start from
        self.writer = SummaryWriter(str(log_dir), purge_step=start_step + 1)

    def log(self, record: dict[str, Any]) -> None:
        step = record["step"]
        for k, v in record.items():
            if k not in ("step", "time") and isinstance(v, (int, float)):
                self.writer.add_scalar(k, v, step)
        self.writer.flush()

    def image(self, tag: str, image, step: int) -> None:
        import numpy as np

        self.writer.add_image(tag, np.asarray(image.convert("RGB")), step, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class ConsoleLogger:
    """A progress bar on a terminal; elsewhere a plain line per log record, and one at least
    every `LINE_SECONDS` of wall time whatever `log_every` is, with the rate and the time
    left (by the step count or by train.max_seconds, whichever ends first)."""

    def __init__(self, total: int, start: int, stream=None, deadline=None, reserve: float = 0.0):
        self.stream = stream or sys.stderr
        self.total, self.t0, self.start = total, time.time(), start
        self.deadline, self.reserve = deadline, reserve
        self.step = start
        self.last_line = time.time()
        self.bar = None
        if self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, initial=start, file=self.stream, unit="step", dynamic_ncols=True
            )

    def advance(self) -> None:
        self.step += 1
        if self.bar is not None:
            self.bar.update(1)
        elif time.time() - self.last_line >= LINE_SECONDS:
            self._print(f"step {self.step}/{self.total}")

    def log(self, record: dict[str, Any]) -> None:
        shown = {k: v for k, v in record.items() if k not in ("step", "time")}
        text = "  ".join(
            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items()
        )
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)
            return
        self._print(f"step {record['step']}/{self.total}  {text}")

    def _print(self, text: str) -> None:
        rate = (self.step - self.start) / max(time.time() - self.t0, 1e-9)
        print(f"{text}  ({rate:.3g} steps/s{self._left(rate)})", file=self.stream, flush=True)
        self.last_line = time.time()

    def _left(self, rate: float) -> str:
        """ ", about T left": the sooner of the steps left at this rate and the deadline."""
        left = (self.total - self.step) / rate if rate > 0 else math.inf
        if self.deadline is not None and self.deadline.bounded:
            left = min(left, max(0.0, self.deadline.remaining() - self.reserve))
        return f", about {duration(left)} left" if math.isfinite(left) else ""

    def message(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)
        self.last_line = time.time()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class NullConsole:
    """The console of a silent run (console=False)."""

    def advance(self) -> None: ...
    def log(self, record: dict[str, Any]) -> None: ...
    def message(self, text: str) -> None: ...
    def close(self) -> None: ...


class RunningMeans:
    """Sums of logged terms on the device since the last log line (no sync per step), averaged
    when the line is written; kept in checkpoints so that a resumed run logs the same means."""

    def __init__(self) -> None:
        self.sums: dict[str, Any] = {}
        self.counts: dict[str, int] = {}

    def add(self, terms: dict[str, Any]) -> None:
        for k, v in terms.items():
            v = v.detach().float().reshape(())
            self.sums[k] = self.sums[k] + v if k in self.sums else v.clone()
            self.counts[k] = self.counts.get(k, 0) + 1

    def take(self) -> dict[str, Any]:
        """The means since the last `take`, as tensors; the sums start again."""
        means = {k: v / self.counts[k] for k, v in self.sums.items()}
        self.sums, self.counts = {}, {}
        return means

    def state_dict(self) -> dict[str, Any]:
        return {
            "accumulated": {k: v.cpu() for k, v in self.sums.items()},
            "accumulated_count": dict(self.counts),
        }

    def load_state_dict(self, state: dict[str, Any], device) -> None:
        self.sums = {k: v.to(device) for k, v in state["accumulated"].items()}
        self.counts = {k: int(v) for k, v in state["accumulated_count"].items()}
