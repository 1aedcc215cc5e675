"""Benchmarks of the GAN family; results go to bench/results/gan.json.

    python bench/gan.py [toy] [mnist] [--steps N] [--seeds S] [--configs LABEL ...]
                        [--sets ring8 grid25]

Toy runs are kept per (set, configuration, steps, seed) and saved one by one: a run already
in the results is not repeated, so an interrupted benchmark resumes, and a new budget or a new
row adds to the results instead of replacing them.

- toy: mode collapse on `ring8` and `grid25` with the PacGAN protocol (Lin et al. 2018,
  Table 1): 100,000 training points; after training, 2,500 samples; a sample is high quality
  within 3 std of a mode's mean; a mode is captured by at least one high-quality sample;
  reverse KL of the mode histogram to uniform; mean and standard error over the seeds. We add
  the spread of the high-quality samples around their modes (data: 0.97), which the three
  published numbers cannot see. Every row shares one network pair (G: 4 x 256 ReLU, no
  normalization, z in R^2; D: 3 x 128 LeakyReLU), batch 100 (100 packs of m for PacGAN, as in
  its code), the learning rate decayed linearly to 0, and the same number of steps; rows differ
  only in the loss, the stabiliser and, for wgan-gp, the optimizer and penalty of its authors'
  toy experiments. Samples come from the generator as trained (no weight average). PacGAN's own
  runs train 400 epochs (400,000 steps) on a GPU; ours train 40,000 steps on one CPU core
  each, two at a time.
- mnist: `dcgan`, `cgan` and `wgan-gp` on mnist5k with FID, precision/recall and class
  coverage from the shipped feature network.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).parent / "results" / "gan.json"

NETS = {
    "latent_dim": 2,
    "g_hidden": [256, 256, 256, 256],
    "g_norm": "none",
    "d_hidden": [128, 128, 128],
    "lr": 1e-3,
    "betas": [0.5, 0.999],
}
TRAIN = {"batch_size": 100, "schedule": "linear"}
TOY = {  # label -> (model, model options, train options)
    "gan (minimax)": ("gan", {"loss": "minimax"}, {}),
    "gan (non-saturating)": ("gan", {}, {}),
    "pacgan2": ("gan", {"pack": 2}, {"batch_size": 200}),
    "pacgan4": ("gan", {"pack": 4}, {"batch_size": 400}),
    # the settings of WGAN-GP's own toy experiments (its gan_toy.py): lambda 0.1, betas
    # (0.5, 0.9); with the image default lambda = 10, G never concentrates on these mixtures
    "wgan-gp": ("wgan-gp", {"lr": 1e-4, "betas": [0.5, 0.9], "gp_weight": 0.1}, {}),
    "gan + R1 (gamma 3)": ("gan", {"r1_weight": 3.0}, {}),
}
PUBLISHED = {  # PacGAN Table 1, best row (PacGAN4 on grid25, PacGAN2 on ring8)
    "grid25": {"modes": 24.8, "high_quality": 0.936, "reverse_kl": 0.04},
    "ring8": {"modes": 7.9, "high_quality": 0.956, "reverse_kl": 0.07},
}
METRICS = ("modes", "high_quality", "reverse_kl", "spread", "seconds")
MISSING = {"reverse_kl": math.inf}  # the value a null in the file stands for


def toy_run(job: tuple[str, str, int, int]) -> dict:
    """Train one configuration with one seed; its mode metrics on 2,500 samples."""
    import genzoo
    from genzoo.metrics.toy import mode_metrics

    torch.set_num_threads(1)
    data, label, seed, steps = job
    name, extra, train = TOY[label]
    ds = genzoo.load_dataset(genzoo.DataConfig(source=data, n=100_000, seed=seed))
    model = genzoo.build_model(name, ds.info(), {**NETS, **extra}, seed=seed)
    cfg = genzoo.TrainConfig(
        **{**TRAIN, **train},
        steps=steps,
        log_every=0,
        eval_every=0,
        tensorboard=False,
        final_eval=False,
        seed=seed,
    )
    t0 = time.time()
    genzoo.Trainer(model, ds, cfg, console=False).fit()
    seconds = time.time() - t0
    g = torch.Generator().manual_seed(10_000 + seed)
    samples = torch.as_tensor(model.to_data(model.eval().sample(2500, generator=g)))
    found = mode_metrics(samples, torch.tensor(ds.meta["means"]), ds.meta["std"])
    return {
        "data": data,
        "config": label,
        "options": options(label),
        "seed": seed,
        "steps": steps,
        "seconds": seconds,
        **found,
    }


def options(label: str) -> dict:
    """Everything a toy row's runs depend on: a run made with other options is stale."""
    name, extra, train = TOY[label]
    return {"model": name, **NETS, **extra, **TRAIN, **train}


def summarize(runs: list[dict]) -> list[dict]:
    """One row per (data, configuration, steps): mean and standard error over the seeds."""
    rows = []
    for data in PUBLISHED:
        for label, (name, extra, train) in TOY.items():
            for steps in sorted(
                {r["steps"] for r in runs if (r["data"], r["config"]) == (data, label)}
            ):
                mine = [
                    r for r in runs if (r["data"], r["config"], r["steps"]) == (data, label, steps)
                ]
                row = {
                    "data": data,
                    "config": label,
                    "steps": steps,
                    "model": name,
                    **extra,
                    **train,
                }
                for key in METRICS:
                    # a run with no high-quality sample has an infinite reverse KL and no
                    # spread (null in the file): the first makes the mean infinite, the
                    # second is averaged over the runs that have one
                    v = np.array(
                        [MISSING.get(key, np.nan) if r[key] is None else r[key] for r in mine],
                        dtype=float,
                    )
                    v = v[~np.isnan(v)]
                    row[key] = float(v.mean()) if len(v) else None
                    finite = len(v) > 1 and np.isfinite(v).all()
                    row[f"{key}_se"] = float(v.std(ddof=1) / math.sqrt(len(v))) if finite else None
                row["seeds"] = len(mine)
                rows.append(row)
    return rows


def bench_toy(
    results: dict, steps: int, seeds: int, labels: list[str], sets: list[str], workers: int = 2
) -> None:
    """Run every (set, label, seed) at `steps` that `results` does not hold yet, saving after
    each run: an interrupted benchmark resumes where it stopped, and rows can be added one
    configuration or one budget at a time."""
    toy = results.setdefault("toy", {})
    runs = [
        r
        for r in toy.get("runs", [])
        if r["config"] in TOY and r["options"] == options(r["config"])
    ]
    done = {(r["data"], r["config"], r["seed"], r["steps"]) for r in runs}
    jobs = [(d, label, s, steps) for d in sets for label in labels for s in range(seeds)]
    jobs = [j for j in jobs if j not in done]
    print(f"toy: {len(jobs)} runs to do, {len(done)} kept", flush=True)

    def store() -> None:
        toy.update(
            protocol="PacGAN Table 1: 2,500 samples, 3-std rule, mean and s.e. over seeds",
            networks=NETS,
            train=TRAIN,
            published_best=PUBLISHED,
            rows=summarize(runs),
            runs=runs,
        )
        save(results)

    store()  # stale runs dropped even when nothing is left to run
    with ProcessPoolExecutor(workers) as pool:
        for r in pool.map(toy_run, jobs):
            runs.append(r)
            print(json.dumps(r), flush=True)
            store()


def save(results: dict) -> None:
    """Write the results as strict JSON: infinities and NaNs become null."""

    def finite(x):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: finite(v) for k, v in x.items()}
        if isinstance(x, list):
            return [finite(v) for v in x]
        return x

    OUT.write_text(json.dumps(finite(results), indent=2, allow_nan=False) + "\n")


# ---------------------------------------------------------------- mnist5k
MNIST = {
    "dcgan": ("dcgan", {}),
    "cgan": ("cgan", {"architecture": "conv", "d_norm": "batch"}),
    "wgan-gp": ("wgan-gp", {"architecture": "conv"}),
}


def bench_mnist(steps: int) -> list[dict]:
    import genzoo
    from genzoo.metrics import evaluate

    torch.set_num_threads(2)
    ds = genzoo.load_dataset("mnist5k")
    rows = []
    for label, (name, extra) in MNIST.items():
        model = genzoo.build_model(name, ds.info(), extra, seed=0)
        cfg = genzoo.TrainConfig(
            steps=steps, batch_size=64, log_every=0, eval_every=0, tensorboard=False
        )
        t0 = time.time()
        genzoo.Trainer(model, ds, cfg, console=False).fit()
        seconds = time.time() - t0
        res, _ = evaluate(model.eval(), ds, ["fid", "precision_recall", "classes"])
        rows.append(
            {
                "model": label,
                "config": extra,
                "steps": steps,
                "train_seconds": round(seconds, 1),
                "fid": res["fid"]["values"]["fid"],
                "fid_floor": res["fid"]["floor"]["fid"],
                **res["precision_recall"]["values"],
                **res["classes"]["values"],
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="*", default=["toy", "mnist"])
    parser.add_argument("--steps", type=int, help="training steps per run")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--configs", nargs="+", choices=list(TOY), default=list(TOY), help="toy rows"
    )
    parser.add_argument(
        "--sets", nargs="+", choices=list(PUBLISHED), default=list(PUBLISHED), help="toy sets"
    )
    args = parser.parse_args()
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    for section in args.sections:
        t0 = time.time()
        if section == "toy":
            steps = args.steps or 40_000
            bench_toy(results, steps, args.seeds, args.configs, args.sets)
        elif section == "mnist":
            results["mnist"] = bench_mnist(args.steps or 5000)
            results["mnist_seconds"] = round(time.time() - t0)
        else:
            raise SystemExit(f"unknown section {section}; choose toy or mnist")
        save(results)
        print(f"{section}: {time.time() - t0:.0f}s", flush=True)
