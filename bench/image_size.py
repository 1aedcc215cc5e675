"""What a training step costs as images grow: every image model with its defaults, on
generated images of 1x28x28, 3x32x32 and 3x64x64, its seconds per step and peak memory.

    python bench/image_size.py [--models ae,ddpm,...] [--sizes 1x28,3x32,3x64] [--label L]

Each (model, size) runs in a fresh process of its own (so the peak memory is that pair's
alone): the model is built with its defaults for the shape, a `Trainer` is set up with the
model's own train defaults on 1,000 random images of 10 classes (a translation model gets a
paired input domain of the same shape), and the steps are timed after a warm-up: at least 3
and up to 20 steps, or 20 s. A growing model (ProGAN) is timed at the end of its schedule,
where it runs at the data's size. The peak memory is the process's largest resident set
(`ru_maxrss`), and "train MB" the part of it above what the process held before the model was
built (the interpreter, torch and the data).

Results go to bench/results/image_size.json under the label (default "now"), so a "before"
and an "after" sit side by side; the table printed gives the ratio of each size's step to the
1x28x28 step.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).parent / "results" / "image_size.json"
SIZES = ("1x28", "3x32", "3x64")
WARM_SECONDS, TIME_SECONDS, MIN_STEPS, MAX_STEPS = 1.0, 20.0, 3, 20


def image_models() -> list[str]:
    import genzoo

    return [e.name for e in genzoo.MODELS if "image" in e.obj.data_kinds]


def synthetic(shape: tuple[int, int, int], translation: bool, n: int = 1000):
    """n random 8-bit images of `shape`, 10 classes, split 80/20; with a paired input domain
    of the same shape for translation models."""
    from genzoo.data.dataset import Dataset

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, *shape), dtype=np.uint8).astype(np.float32)
    y = np.arange(n) % 10
    cut = int(0.8 * n)

    def make(name, images):
        return Dataset(
            name, "image", images[:cut], y[:cut], images[cut:], y[cut:], (0.0, 255.0),
            [str(i) for i in range(10)],
        )  # fmt: skip

    ds = make(f"random-{'x'.join(map(str, shape))}", x)
    if translation:
        ds.input = make(ds.name + ":input", rng.permutation(x))
        ds.paired = True
    return ds


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(name: str, size: str) -> dict:
    """One (model, size) in this process: seconds per step and memory."""
    import genzoo

    torch.set_num_threads(2)
    c, s = (int(v) for v in size.split("x"))
    cls = genzoo.MODELS.get(name)
    ds = synthetic((c, s, s), cls.translation)
    before = rss_mb()
    model = genzoo.build_model(name, ds.info(), None, seed=0)
    quiet = {"log_every": 0, "eval_every": 0, "sample_every": 0, "tensorboard": False}
    cfg = genzoo.TrainConfig(**{**model.train_defaults, **quiet, "final_eval": False})
    trainer = genzoo.Trainer(model, ds, cfg, console=False)
    trainer._setup()  # what fit() does before its loop of train_step()
    # growing models: time the end of the schedule, where every layer runs at the data's size
    trainer.step = max(0, cfg.steps - MAX_STEPS - 10)
    t0 = time.perf_counter()
    warm = 0
    while warm < 2 or (time.perf_counter() - t0 < WARM_SECONDS and warm < 10):
        trainer.train_step()
        warm += 1
    times = []
    t_all = time.perf_counter()
    while len(times) < MAX_STEPS and (
        len(times) < MIN_STEPS or time.perf_counter() - t_all < TIME_SECONDS
    ):
        t = time.perf_counter()
        trainer.train_step()
        times.append(time.perf_counter() - t)
    return {
        "model": name,
        "size": size,
        "parameters": sum(p.numel() for p in model.parameters()),
        "batch_size": trainer.cfg.batch_size,
        "steps_timed": len(times),
        "seconds_per_step": float(np.median(times)),
        "peak_mb": round(rss_mb(), 1),
        "train_mb": round(rss_mb() - before, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", help="comma-separated (default: every image model)")
    p.add_argument("--sizes", default=",".join(SIZES))
    p.add_argument("--label", default="now", help="the key the results are kept under")
    p.add_argument("--one", nargs=2, metavar=("MODEL", "SIZE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(measure(*args.one)))
        return
    models = args.models.split(",") if args.models else image_models()
    sizes = args.sizes.split(",")
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    rows = results.setdefault(args.label, {})
    for name in models:
        for size in sizes:
            proc = subprocess.run(
                [sys.executable, __file__, "--one", name, size],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                err = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "?"
                rows[f"{name}@{size}"] = {"model": name, "size": size, "error": err}
                print(f"{name} {size}: failed: {err}", flush=True)
            else:
                rows[f"{name}@{size}"] = json.loads(proc.stdout.strip().splitlines()[-1])
                r = rows[f"{name}@{size}"]
                print(
                    f"{name:18} {size:5} {r['seconds_per_step']:8.4f} s/step "
                    f"{r['train_mb']:8.0f} MB  ({r['parameters']:,} parameters)",
                    flush=True,
                )
            OUT.parent.mkdir(exist_ok=True)
            OUT.write_text(json.dumps(results, indent=2) + "\n")
    print_ratios(rows, models, sizes)


def print_ratios(rows: dict, models: list[str], sizes: list[str]) -> None:
    base = sizes[0]
    head = f"{'model':18}" + "".join(f"{s + ' s/step':>14}{'MB':>7}" for s in sizes)
    head += "".join(f"{s + '/' + base:>12}" for s in sizes[1:])
    print("\n" + head)
    for name in models:
        cells, ratios = "", ""
        b = rows.get(f"{name}@{base}", {})
        for s in sizes:
            r = rows.get(f"{name}@{s}", {})
            if "seconds_per_step" in r:
                cells += f"{r['seconds_per_step']:14.4f}{r['train_mb']:7.0f}"
            else:
                cells += f"{'error':>14}{'':>7}"
            if s != base:
                ok = "seconds_per_step" in r and "seconds_per_step" in b
                ratios += (
                    f"{r['seconds_per_step'] / b['seconds_per_step']:12.2f}" if ok else " " * 12
                )
        print(f"{name:18}{cells}{ratios}")


if __name__ == "__main__":
    main()
