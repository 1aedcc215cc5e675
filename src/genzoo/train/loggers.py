"""Where training reports go: metrics.jsonl (always), TensorBoard, and the console.

On a terminal the console shows a tqdm progress bar; elsewhere (CI, a log file) it prints one
plain line per logging interval.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


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
            path.write_text("".join(k + "\n" for k in kept))
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
    """A progress bar on a terminal, else a plain line per log record."""

    def __init__(self, total: int, start: int, stream=None):
        self.stream = stream or sys.stderr
        self.total, self.t0, self.start = total, time.time(), start
        self.bar = None
        if self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, initial=start, file=self.stream, unit="step", dynamic_ncols=True
            )

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def log(self, record: dict[str, Any]) -> None:
        shown = {k: v for k, v in record.items() if k not in ("step", "time")}
        text = "  ".join(
            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items()
        )
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)
            return
        step = record["step"]
        rate = (step - self.start) / max(time.time() - self.t0, 1e-9)
        print(
            f"step {step}/{self.total}  {text}  ({rate:.1f} steps/s)", file=self.stream, flush=True
        )

    def message(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class NullConsole:
    """The console of a silent run (console=False)."""

    def advance(self) -> None: ...
    def log(self, record: dict[str, Any]) -> None: ...
    def message(self, text: str) -> None: ...
    def close(self) -> None: ...
