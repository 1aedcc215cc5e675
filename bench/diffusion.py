"""Benchmarks of the diffusion family; results go to bench/results/diffusion.json.

    python bench/diffusion.py [toy]

- toy: `ddpm` with its MLP denoiser on `moons`, `swissroll`, `ring8` and `grid25` (10,000
  training points each): k-NN KL and MMD^2 of 2,000 samples against the test split, beside
  the real-vs-real floor; on the two mixtures, PacGAN's mode metrics (modes captured,
  high-quality share, reverse KL). Samples from the EMA weights with each sampler: ancestral
  over all T = 1000 steps, DDIM in 50 and DPM-Solver++(2M) in 20.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from sections import run_sections, timed_fit

import genzoo
from genzoo.metrics import evaluate

OUT = Path(__file__).parent / "results" / "diffusion.json"

TOY_SETS = ("moons", "swissroll", "ring8", "grid25")
TOY_MODEL = {"width": 256, "blocks": 4}
TOY_TRAIN = {"steps": 6000, "batch_size": 256, "lr": 1e-3, "warmup_steps": 200}
SAMPLERS = (("ddpm", 1000), ("ddim", 50), ("dpm-solver", 20))


def using(model, sampler: str, steps: int):
    """The model, set to sample with `sampler` in `steps` steps (as `evaluate` draws)."""
    model.config = dataclasses.replace(model.config, sampler=sampler, sample_steps=steps)
    return model


def bench_toy(_ds) -> list[dict]:
    rows = []
    for name in TOY_SETS:
        ds = genzoo.load_dataset(genzoo.DataConfig(source=name, n=10_000, seed=0))
        model, seconds = timed_fit("ddpm", ds, TOY_MODEL, **TOY_TRAIN)
        metrics = ["knn_kl", "mmd"] + (["modes"] if "means" in ds.meta else [])
        for sampler, steps in SAMPLERS:
            t0 = time.time()
            res, _ = evaluate(using(model, sampler, steps), ds, metrics, n=2000)
            row = {
                "data": name,
                "sampler": sampler,
                "steps": steps,
                "train_seconds": round(seconds, 1),
                "eval_seconds": round(time.time() - t0, 1),
            }
            for r in res.values():
                row.update(r["values"])
                row.update({f"{k}_floor": v for k, v in (r.get("floor") or {}).items()})
            rows.append(row)
            print(row, flush=True)
    return rows


if __name__ == "__main__":
    run_sections(OUT, {"toy": bench_toy})
