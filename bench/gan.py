"""Benchmarks of the GAN family; results go to bench/results/gan.json.

    python bench/gan.py [toy] [mnist] [--steps N] [--seeds S]

- toy: mode collapse on `ring8` and `grid25` with the PacGAN protocol (Lin et al. 2018,
  Table 1): PacGAN's networks (G: 4 x 400 ReLU + batch norm, z in R^2; D: 3 x 200 maxout with
  5 pieces), Adam(1e-4, beta1 0.8), batch 100, 100,000 training points; after training, 2,500
  samples; a sample is high quality within 3 std of a mode's mean; a mode is captured by at
  least one high-quality sample; reverse KL of the mode histogram to uniform. Mean and standard
  error over the seeds. The paper trains 400 epochs (400,000 steps) on a GPU; we train far
  fewer steps on two CPU cores and say how many.
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

PACGAN_NETS = {
    "latent_dim": 2,
    "g_hidden": [400, 400, 400, 400],
    "d_hidden": [200, 200, 200],
    "d_unit": "maxout",
    "maxout_pieces": 5,
    "lr": 1e-4,
    "betas": [0.8, 0.999],
}
TOY = {
    "gan (minimax)": ("gan", {"loss": "minimax"}),
    "gan (non-saturating)": ("gan", {}),
    "pacgan2": ("gan", {"pack": 2}),
    "pacgan4": ("gan", {"pack": 4}),
    "pacgan4 + minibatch std": ("gan", {"pack": 4, "minibatch_std": 4}),
}
PUBLISHED = {  # PacGAN Table 1, best row (PacGAN4 on grid25, PacGAN2 on ring8)
    "grid25": {"modes": 24.8, "high_quality": 0.936, "reverse_kl": 0.04},
    "ring8": {"modes": 7.9, "high_quality": 0.956, "reverse_kl": 0.07},
}


def toy_run(job: tuple[str, str, int, int]) -> dict:
    """Train one configuration with one seed; its mode metrics on 2,500 samples."""
    import genzoo
    from genzoo.metrics.toy import mode_metrics

    torch.set_num_threads(1)
    data, label, seed, steps = job
    name, extra = TOY[label]
    ds = genzoo.load_dataset(genzoo.DataConfig(source=data, n=100_000, seed=seed))
    model = genzoo.build_model(name, ds.info(), {**PACGAN_NETS, **extra}, seed=seed)
    cfg = genzoo.TrainConfig(
        steps=steps,
        batch_size=100,
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
    return {"data": data, "config": label, "seed": seed, "seconds": seconds, **found}


def summarize(runs: list[dict]) -> list[dict]:
    rows = []
    for data in PUBLISHED:
        for label in TOY:
            mine = [r for r in runs if r["data"] == data and r["config"] == label]
            if not mine:
                continue
            row = {"data": data, "config": label, "model": TOY[label][0], **TOY[label][1]}
            for key in ("modes", "high_quality", "reverse_kl", "seconds"):
                v = np.array([r[key] for r in mine], dtype=float)
                row[key] = float(v.mean())
                row[f"{key}_se"] = float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0
            row["seeds"] = len(mine)
            rows.append(row)
    return rows


def bench_toy(steps: int, seeds: int, workers: int = 2) -> dict:
    jobs = [(d, label, s, steps) for d in PUBLISHED for label in TOY for s in range(seeds)]
    with ProcessPoolExecutor(workers) as pool:
        runs = []
        for r in pool.map(toy_run, jobs):
            runs.append(r)
            print(json.dumps(r), flush=True)
    return {
        "protocol": "PacGAN Table 1: 2,500 samples, 3-std rule, mean and s.e. over seeds",
        "networks": PACGAN_NETS,
        "steps": steps,
        "batch_size": 100,
        "published_best": PUBLISHED,
        "rows": summarize(runs),
        "runs": runs,
    }


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
    args = parser.parse_args()
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    for section in args.sections:
        t0 = time.time()
        if section == "toy":
            results["toy"] = bench_toy(args.steps or 20_000, args.seeds)
        elif section == "mnist":
            results["mnist"] = bench_mnist(args.steps or 5000)
        else:
            raise SystemExit(f"unknown section {section}; choose toy or mnist")
        results[f"{section}_seconds"] = round(time.time() - t0)
        OUT.write_text(json.dumps(results, indent=2) + "\n")
        print(f"{section}: {time.time() - t0:.0f}s", flush=True)
