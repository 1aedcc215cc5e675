"""The runner the mnist5k benchmarks share: named sections, each a function of the dataset,
run in the order asked for and merged into one JSON results file after each section (so a
long run that is stopped keeps what it finished)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

import genzoo


def timed_fit(name: str, ds, model_options: dict, seed: int = 0, **train):
    """Build `name` on `ds` and train it quietly (no console, logging, evaluation or
    TensorBoard unless `train` asks), from the model's own train defaults: (the weights it
    ships, the EMA copy where EMA is on, seconds of training)."""
    model = genzoo.build_model(name, ds.info(), model_options, seed=seed)
    quiet = {"log_every": 0, "eval_every": 0, "tensorboard": False}
    cfg = genzoo.TrainConfig(**{**model.train_defaults, **quiet, **train, "seed": seed})
    t0 = time.time()
    trainer = genzoo.Trainer(model, ds, cfg, console=False)
    trainer.fit()
    return trainer.eval_model(), time.time() - t0


def _flat(row: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in row.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else str(v)


def print_table(title: str, value) -> None:
    """A section's results as an aligned text table: one row per entry of a list of
    records (or of a dict of them), nested fields as dotted columns."""
    if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
        value = [{"name": k, **v} for k, v in value.items()]
    if not (isinstance(value, list) and value and all(isinstance(r, dict) for r in value)):
        print(f"{title}: {json.dumps(value)}")
        return
    rows = [_flat(r) for r in value]
    cols = list(dict.fromkeys(k for r in rows for k in r))
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(cols)]
    print(f"\n{title}")
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))
    print(flush=True)


def run_sections(out: Path, sections: dict[str, Callable]) -> None:
    """`python bench/X.py [section ...]`: the named sections (default: all)."""
    torch.set_num_threads(2)
    wanted = sys.argv[1:] or list(sections)
    unknown = [w for w in wanted if w not in sections]
    if unknown:
        sys.exit(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(sections)}")
    ds = genzoo.load_dataset("mnist5k")
    results = json.loads(out.read_text()) if out.exists() else {}
    for name in wanted:
        t0 = time.time()
        results[name] = sections[name](ds)
        results[f"{name}_seconds"] = round(time.time() - t0)
        print_table(name, results[name])
        print(f"{name}: {time.time() - t0:.0f}s", flush=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
