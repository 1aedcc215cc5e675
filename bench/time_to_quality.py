"""Time to quality: how good each family's samples are after a given number of seconds of
training on the two CPU cores, ours beside the peers' recipes, in one run; results go to
bench/results/time_to_quality.json.

    python bench/time_to_quality.py [diffusion] [--budgets 30,60,120,300,600]

- diffusion: on mnist5k, each entry trained for each budget from scratch, then FID of 1,000
  samples (the model as it samples: EMA weights, its own sampler) against the 1,000 test
  digits with the shipped mnist5k feature network (floor 0.69):
  - genzoo `ddpm` and `edm` with their defaults (and any variant in DIFFUSION);
  - diffusers' unconditional training example (`UNet2DModel` at our U-Net's parameter count,
    `DDPMScheduler`, AdamW 1e-4, cosine decay after 500 warm-up steps planned for the step
    count the budget allows, EMA with warm-up to 0.9999), sampled by their `DDIMScheduler`
    in 50 steps;
  - lucidrains' denoising-diffusion-pytorch README recipe (`Unet(dim=16, dim_mults=(1, 2,
    4))`, 0.72M parameters, `GaussianDiffusion` with its defaults: v-prediction, sigmoid
    schedule, T = 1000; batch 32 with 2 accumulation steps, Adam 8e-5 with betas (0.9, 0.99),
    gradients clipped at 1, EMA 0.995 every 10 steps; no horizontal flips, which digits do
    not have), sampled by its DDIM in 50 steps (the README uses 250).
  The seconds are those of the training steps alone: no evaluation, checkpoint or picture
  runs inside a budget. The headline table gives, per entry, the first budget at which FID
  falls to 50, 20, 10 and 5, and each peer's over ours.

Peers install through the bench extra (`make bench-setup`); each budget's row is written as it
is measured, and rows already in the results are kept (delete them to measure again).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import types
from pathlib import Path

import torch
from diffusion import their_samples, their_setup
from sections import print_table

import genzoo
from genzoo.metrics import evaluate
from genzoo.run import RunConfig, seconds_per_step

OUT = Path(__file__).parent / "results" / "time_to_quality.json"
BUDGETS = (30, 60, 120, 300, 600)
LEVELS = (50, 20, 10, 5)
N_FID = 1000
DRAW_BATCH = 100

# our entries: (name, model options, train options), each with the model's own train defaults
DIFFUSION = {
    "ddpm": ("ddpm", {}, {}),
    "edm": ("edm", {}, {}),
}


# ---------------------------------------------------------------- the results file
def results() -> dict:
    return json.loads(OUT.read_text()) if OUT.exists() else {}


def measured(section: str, entry: str, budget: int) -> dict | None:
    for row in results().get(section, []):
        if row["entry"] == entry and row["budget"] == budget:
            return row
    return None


def keep(section: str, row: dict) -> None:
    """Add (or replace) one row of a section and write the file at once."""
    res = results()
    rows = [
        r
        for r in res.get(section, [])
        if (r["entry"], r["budget"]) != (row["entry"], row["budget"])
    ]
    res[section] = [*rows, row]
    OUT.write_text(json.dumps(res, indent=2) + "\n")


def fid(ds, samples_raw: torch.Tensor) -> float:
    """FID of raw-unit samples against the test split, with the shipped feature network
    (the model `evaluate` takes only sets the data's range: any will do)."""
    holder = genzoo.build_model("ae", ds.info(), {"hidden": [8], "latent_dim": 2}, seed=0)
    res, _ = evaluate(holder, ds, ["fid"], samples=samples_raw)
    return round(res["fid"]["values"]["fid"], 2)


def timed_loop(step, seconds: float) -> tuple[int, float]:
    """Run step() until `seconds` have passed: (steps, seconds taken)."""
    t0, n = time.time(), 0
    while time.time() - t0 < seconds:
        step()
        n += 1
    return n, time.time() - t0


def steps_in(step, seconds: float, probe: int = 20) -> int:
    """How many steps fit in `seconds`, from the rate of `probe` steps (which train too): a
    recipe that plans its schedule for a step count needs it up front."""
    t0 = time.time()
    for _ in range(probe):
        step()
    return max(probe + 1, int(seconds * probe / (time.time() - t0)))


# ---------------------------------------------------------------- ours
def ours(ds, name: str, options: dict, train: dict, budget: float) -> dict:
    """`name` trained for `budget` seconds of steps, its step count and warm-up planned for
    the budget as `genzoo train --budget` plans them (from the time of 20 probe steps, which
    do not count), then sampled as it samples by default."""
    quiet = {"log_every": 0, "eval_every": 0, "sample_every": 0, "checkpoint_every": 0}
    quiet |= {"tensorboard": False, "final_eval": False}
    rc = RunConfig.from_dict({"model": {"name": name, **options}, "data": {"source": ds.name},
                              "train": {**quiet, **train}})  # fmt: skip
    steps = max(1, int(budget / seconds_per_step(rc, ds)))
    warmup = min(rc.train.warmup_steps, steps // 5)
    cfg = dataclasses.replace(rc.train, steps=steps, warmup_steps=warmup, max_step_seconds=budget)
    model = genzoo.build_model(name, ds.info(), rc.model, seed=0)
    trainer = genzoo.Trainer(model, ds, cfg, console=False)
    trainer.fit()
    sampler = trainer.eval_model().eval()
    g = torch.Generator().manual_seed(0)
    t0 = time.time()
    with torch.no_grad():
        x = torch.cat([sampler.sample(DRAW_BATCH, generator=g) for _ in range(N_FID // DRAW_BATCH)])
    took = time.time() - t0
    return {
        "planned_steps": steps,
        "warmup_steps": warmup,
        "steps": trainer.step,
        "train_seconds": round(trainer.step_seconds, 1),
        "parameters": sum(p.numel() for p in model.parameters()),
        "fid": fid(ds, torch.from_numpy(sampler.to_data(x))),
        "sample_seconds_per_1000": round(took * 1000 / N_FID, 1),
    }


# ---------------------------------------------------------------- peers
def diffusers_recipe(ds, budget: float) -> dict:
    from diffusers.optimization import get_scheduler

    x_train = torch.from_numpy(ds.x_train).float() / 127.5 - 1  # their [-1, 1]
    unet, _, opt, ema, step = their_setup(x_train, 64, 1e-4)
    probe = get_scheduler("constant", optimizer=opt)
    t0 = time.time()
    total = steps_in(lambda: step(probe), budget)
    sched = get_scheduler("cosine", optimizer=opt, num_warmup_steps=500, num_training_steps=total)
    for _ in range(20):  # the probe's steps count in the schedule
        sched.step()
    n, _ = timed_loop(lambda: step(sched), budget - (time.time() - t0))
    ema.copy_to(unet.parameters())
    unet.eval()
    with torch.no_grad():
        x, took = their_samples(lambda v, t: unet(v, t).sample, N_FID, 50)
    return {
        "steps": n + 20,
        "train_seconds": round(time.time() - t0 - took, 1),
        "parameters": sum(p.numel() for p in unet.parameters()),
        "fid": fid(ds, (x + 1) * 127.5),
        "sample_seconds_per_1000": round(took * 1000 / N_FID, 1),
    }


def _lucidrains():
    """Their package, imported without torchvision: its module imports torchvision for the
    image-folder Dataset and the sample grids of its Trainer, which this benchmark does not
    use, and torchvision's compiled operators do not load against this machine's torch."""
    if "torchvision" not in sys.modules:
        tv = types.ModuleType("torchvision")
        tv.transforms = types.ModuleType("torchvision.transforms")
        tv.utils = types.ModuleType("torchvision.utils")
        sys.modules.update(
            {
                "torchvision": tv,
                "torchvision.transforms": tv.transforms,
                "torchvision.utils": tv.utils,
            }
        )
    import denoising_diffusion_pytorch as ddp
    from ema_pytorch import EMA

    return ddp, EMA


def lucidrains_recipe(ds, budget: float) -> dict:
    ddp, EMA = _lucidrains()
    torch.manual_seed(0)
    net = ddp.Unet(dim=16, dim_mults=(1, 2, 4), channels=1)
    diffusion = ddp.GaussianDiffusion(net, image_size=28, timesteps=1000, sampling_timesteps=50)
    opt = torch.optim.Adam(diffusion.parameters(), lr=8e-5, betas=(0.9, 0.99))
    ema = EMA(diffusion, beta=0.995, update_every=10)
    x_train = torch.from_numpy(ds.x_train).float() / 255  # their [0, 1] (auto_normalize)
    g = torch.Generator().manual_seed(0)

    def step():
        for _ in range(2):  # gradient_accumulate_every = 2, batch 32
            batch = x_train[torch.randint(0, len(x_train), (32,), generator=g)]
            (diffusion(batch) / 2).backward()
        torch.nn.utils.clip_grad_norm_(diffusion.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        ema.update()

    n, took_train = timed_loop(step, budget)
    sampler = ema.ema_model.eval()
    t0 = time.time()
    with torch.no_grad():
        x = torch.cat([sampler.sample(batch_size=DRAW_BATCH) for _ in range(N_FID // DRAW_BATCH)])
    took = time.time() - t0
    return {
        "steps": n,
        "train_seconds": round(took_train, 1),
        "parameters": sum(p.numel() for p in net.parameters()),
        "fid": fid(ds, x * 255),
        "sample_seconds_per_1000": round(took * 1000 / N_FID, 1),
    }


PEERS = {
    "diffusion": {
        "diffusers": diffusers_recipe,
        "lucidrains": lucidrains_recipe,
    },
}


# ---------------------------------------------------------------- the tables
def first_budget(rows: list[dict], level: float) -> int | None:
    """The smallest budget whose FID is at most `level` (None: none reached it)."""
    hits = [r["budget"] for r in rows if r["fid"] <= level]
    return min(hits) if hits else None


def headline(rows: list[dict], ours_entry: str) -> list[dict]:
    """Per entry and FID level: the first budget that reached it, and (peers) that budget
    over ours; '>' where the largest budget measured did not reach it."""
    by_entry: dict[str, list[dict]] = {}
    for r in rows:
        by_entry.setdefault(r["entry"], []).append(r)
    largest = max(r["budget"] for r in rows)
    out = []
    for entry, mine in by_entry.items():
        row = {"entry": entry}
        for level in LEVELS:
            b = first_budget(mine, level)
            row[f"fid<={level}"] = b if b is not None else f">{largest}"
            base = first_budget(by_entry.get(ours_entry, []), level)
            if entry != ours_entry and b is not None and base is not None:
                row[f"ratio@{level}"] = round(b / base, 2)
        out.append(row)
    return out


def section(name: str, ds, budgets: list[int], entries: dict, peers: dict) -> list[dict]:
    for budget in budgets:
        for entry, (model, options, train) in entries.items():
            if measured(name, entry, budget) is None:
                print(f"{name}: {entry}, {budget} s", flush=True)
                row = {"entry": entry, "library": "genzoo", "budget": budget}
                keep(name, {**row, **ours(ds, model, options, train, budget)})
        for entry, recipe in peers.items():
            if measured(name, entry, budget) is None:
                print(f"{name}: {entry}, {budget} s", flush=True)
                keep(name, {"entry": entry, "library": entry, "budget": budget,
                            **recipe(ds, budget)})  # fmt: skip
    rows = [r for r in results()[name] if r["budget"] in budgets]
    print_table(name, sorted(rows, key=lambda r: (r["entry"], r["budget"])))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sections", nargs="*", default=["diffusion"])
    parser.add_argument("--budgets", default=",".join(map(str, BUDGETS)))
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    torch.set_num_threads(2)
    ds = genzoo.load_dataset("mnist5k")
    families = {"diffusion": (DIFFUSION, "edm")}
    for name in args.sections:
        if name not in families:
            sys.exit(f"unknown section {name}; choose from {', '.join(families)}")
        entries, best = families[name]
        rows = section(name, ds, budgets, entries, PEERS[name])
        table = headline(rows, best)
        print_table(f"{name}: first budget (s) at each FID level", table)
        res = results()
        res[f"{name}_headline"] = table
        OUT.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
