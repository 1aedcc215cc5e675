"""How long `genzoo train MODEL --data DATA` takes with no other flag, for every registered
model, on the two CPU cores; results go to bench/results/default_runs.json.

    python bench/default_runs.py [--data mnist5k]

A default run is config.DEFAULT_STEPS optimizer steps at the model's own train defaults.
Each model's seconds per step is the median of three timings of 20 steps of a fresh model,
after 5 untimed steps (setup, first-call costs); the default run's training time is that
times DEFAULT_STEPS. The final evaluation and report come after it (`genzoo train` prints
their time). Models that cannot train on the data (the translation models need two image
domains) are listed with the reason.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from sections import print_table

import genzoo
from genzoo.errors import GenzooError
from genzoo.registry import MODELS
from genzoo.train.config import DEFAULT_STEPS

OUT = Path(__file__).parent / "results" / "default_runs.json"
QUIET = {"log_every": 0, "eval_every": 0, "sample_every": 0, "checkpoint_every": 0}
QUIET |= {"tensorboard": False, "final_eval": False}


def seconds_per_step(name: str, ds, warm: int = 5, timed: int = 20, rounds: int = 3) -> dict:
    model = genzoo.build_model(name, ds.info(), {}, seed=0)
    steps = warm + timed * rounds
    cfg = genzoo.TrainConfig(**{**model.train_defaults, **QUIET, "steps": steps})
    marks = [warm + timed * (r + 1) for r in range(rounds)]
    times: list[float] = []
    t0 = 0.0

    def after_step(tr):
        nonlocal t0
        if tr.step == warm:
            t0 = tr.step_seconds
        elif tr.step in marks:
            times.append((tr.step_seconds - t0) / timed)
            t0 = tr.step_seconds

    trainer = genzoo.Trainer(model, ds, cfg, console=False, after_step=after_step)
    trainer.fit()
    per_step = statistics.median(times)
    return {
        "batch_size": trainer.cfg.batch_size,
        "seconds_per_step": round(per_step, 4),
        "default_run_seconds": round(per_step * DEFAULT_STEPS),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="mnist5k")
    args = parser.parse_args()
    torch.set_num_threads(2)
    ds = genzoo.load_dataset(args.data)
    rows = []
    for name in sorted(e.name for e in MODELS):
        t0 = time.time()
        try:
            row = seconds_per_step(name, ds)
        except GenzooError as e:
            rows.append({"model": name, "skipped": str(e)})
            print(f"{name}: skipped: {e}", flush=True)
            continue
        rows.append({"model": name, **row})
        print(f"{name}: {row} ({time.time() - t0:.0f} s)", flush=True)
    res = json.loads(OUT.read_text()) if OUT.exists() else {}
    res[args.data] = {"default_steps": DEFAULT_STEPS, "rows": rows}
    OUT.write_text(json.dumps(res, indent=2) + "\n")
    print_table(f"default runs on {args.data}", rows)


if __name__ == "__main__":
    main()
