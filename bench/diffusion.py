"""Benchmarks of the diffusion family; results go to bench/results/diffusion.json.

    python bench/diffusion.py [toy] [samplers] [inversion] [bound] [strata] [guidance] [diffusers]

- toy: `ddpm` with its MLP denoiser on `moons`, `swissroll`, `ring8` and `grid25` (10,000
  training points each, 40,000 steps with cosine decay): k-NN KL and MMD^2 of 2,000 samples
  against the test split, beside the real-vs-real floor; on the two mixtures, PacGAN's mode
  metrics (modes captured, high-quality share, reverse KL). Samples from the EMA weights with
  each sampler: ancestral over all T = 1000 steps, DDIM in 50 and DPM-Solver++(2M) in 20.
- samplers: `ddpm` (the default U-Net, eps prediction, linear schedule, T = 1000) trained on
  mnist5k, then the shape of the DDIM paper's Table 1: FID of 1,000 samples against the
  1,000 test digits for DDIM (eta = 0), ancestral DDPM and DPM-Solver++(2M) at 10, 20, 50 and
  100 steps and (DDIM, DDPM) all T, with the wall time per 1,000 samples beside each.
- inversion: the same model's DDIM inversion, the shape of the DDIM paper's Table 2: 100 test
  digits encoded to x_T and decoded back in S steps; per-pixel MSE in [0, 1] units and PSNR.
- bound: the same model's variational bound on log p(x) of test digits (discretized decoder,
  8-bit pixels), in bits per dimension: exact (all 1,000 terms) on 100 digits (10 per
  class), and the stratified estimate `genzoo eval --metrics nll` makes by default (200
  terms) on the same 100 and on all 1,000, with seconds per 100 digits.
- strata: how much the stratified bound estimate moves from one seed to the next, with the
  strata genzoo uses (geometric, single steps first) and with equal ones, at 5, 10 and 20
  network passes per digit: a `ddpm` trained 500 steps with the demo's settings (v-prediction,
  batch 32, lr 2e-3, EMA 0.99), 250 test digits (25 per class), 8 seeds each.
- guidance: `cddpm` trained on mnist5k; for each classifier-free guidance scale, 1,000
  samples (100 of each class) with DPM-Solver++ in 20 steps: the share the feature network
  classifies as the class asked for, and FID.
- diffusers: Hugging Face diffusers' `UNet2DModel` (sized to our U-Net's parameter count)
  and `DDPMScheduler`, trained with the recipe of their unconditional training example (and
  with it at our learning rate) for the wall-clock seconds our `ddpm` trained in the samplers
  section; each sampled with DDIM in 50 steps by our sampler and by their `DDIMScheduler`; FID,
  and training images per second in the budget runs and back to back in one process. Needs
  `pip install -e .[bench]`.

Trained models are kept under bench/runs/ (ignored by git), so the sections that share one
train it once; rows already in the results are not measured again (delete them to re-run).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import torch
from sections import run_sections, timed_fit

import genzoo
from genzoo.metrics import evaluate
from genzoo.metrics.features import feature_network_for, to_unit
from genzoo.train.checkpoint import save_model_folder

OUT = Path(__file__).parent / "results" / "diffusion.json"
RUNS = Path(__file__).parent / "runs"

TOY_SETS = ("moons", "swissroll", "ring8", "grid25")
TOY_MODEL = {"width": 256, "blocks": 4}
TOY_TRAIN = {  # the mixtures' narrow modes need the long run and the decay
    "steps": 40_000,
    "batch_size": 256,
    "lr": 1e-3,
    "warmup_steps": 200,
    "schedule": "cosine",
}
TOY_SAMPLERS = (("ddpm", 1000), ("ddim", 50), ("dpm-solver", 20))

MNIST_TRAIN = {"steps": 5000, "batch_size": 64}  # with the models' own defaults (lr 1e-3, EMA)
N_FID = 1000  # samples per FID: the size of mnist5k's test split
DRAW_BATCH = 100  # samples drawn per call (the fastest batch on 2 CPU cores)
GRID = {
    "ddim": (10, 20, 50, 100, 1000),
    "ddpm": (10, 20, 50, 100, 1000),
    "dpm-solver": (10, 20, 50, 100),
}
INVERSION_STEPS = (10, 20, 50, 100, 1000)
N_INVERT = 100
SCALES = (0.0, 1.0, 1.5, 2.0, 3.0, 5.0)


def _results() -> dict:
    return json.loads(OUT.read_text()) if OUT.exists() else {}


def _keep(section: str, rows: list[dict]) -> None:
    """Write a section's rows so far (a long section that is stopped keeps them)."""
    results = _results()
    results[section] = rows
    OUT.write_text(json.dumps(results, indent=2) + "\n")


def _done(section: str, **key) -> dict | None:
    for row in _results().get(section, []):
        if all(row.get(k) == v for k, v in key.items()):
            return row
    return None


def using(model, **settings):
    """The model, set to sample with other config values (as `evaluate` draws)."""
    model.config = dataclasses.replace(model.config, **settings)
    return model


def trained(name: str, ds) -> tuple[genzoo.GenerativeModel, float]:
    """`name` trained on mnist5k with MNIST_TRAIN (its EMA weights), and the seconds it took;
    kept under bench/runs/ and loaded from there the next time."""
    folder = RUNS / f"diffusion-{name}-{ds.name}-{MNIST_TRAIN['steps']}"
    if (folder / "bench.json").is_file():
        return genzoo.load(folder), json.loads((folder / "bench.json").read_text())["seconds"]
    print(f"training {name} on {ds.name}: {MNIST_TRAIN}", flush=True)
    model, seconds = timed_fit(name, ds, {}, **MNIST_TRAIN, final_eval=False)
    save_model_folder(folder, model)
    (folder / "bench.json").write_text(json.dumps({"seconds": seconds, **MNIST_TRAIN}) + "\n")
    return model, seconds


@torch.no_grad()
def draw(model, n: int, seed: int = 0, **sampling) -> tuple[torch.Tensor, float]:
    """n samples in raw units, in batches of DRAW_BATCH, and the seconds they took."""
    g = torch.Generator().manual_seed(seed)
    t0 = time.time()
    chunks = [
        model.sample(min(DRAW_BATCH, n - i), generator=g, **sampling).float()
        for i in range(0, n, DRAW_BATCH)
    ]
    seconds = time.time() - t0
    return torch.from_numpy(model.to_data(torch.cat(chunks))), seconds


def fid_of(model, ds, samples: torch.Tensor) -> float:
    res, _ = evaluate(model, ds, ["fid"], samples=samples)
    return round(res["fid"]["values"]["fid"], 2)


# ---------------------------------------------------------------- toy 2-D
def bench_toy(_ds) -> list[dict]:
    rows = []
    for name in TOY_SETS:
        ds = genzoo.load_dataset(genzoo.DataConfig(source=name, n=10_000, seed=0))
        model, seconds = timed_fit("ddpm", ds, TOY_MODEL, **TOY_TRAIN)
        metrics = ["knn_kl", "mmd"] + (["modes"] if "means" in ds.meta else [])
        for sampler, steps in TOY_SAMPLERS:
            t0 = time.time()
            model = using(model, sampler=sampler, sample_steps=steps)
            res, _ = evaluate(model, ds, metrics, n=2000)
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


# ---------------------------------------------------------------- mnist5k: samplers
def bench_samplers(ds) -> list[dict]:
    model, train_seconds = trained("ddpm", ds)
    rows = []
    for sampler, steps_list in GRID.items():
        for steps in steps_list:
            row = _done("samplers", sampler=sampler, steps=steps)
            if row is None:
                x, seconds = draw(model, N_FID, sampler=sampler, steps=steps)
                row = {
                    "sampler": sampler,
                    "steps": steps,
                    "fid": fid_of(model, ds, x),
                    "seconds_per_1000": round(seconds * 1000 / N_FID, 1),
                    "train_seconds": round(train_seconds),
                }
                print(row, flush=True)
            rows.append(row)
            _keep("samplers", rows)
    return rows


def speedups(rows: list[dict], tolerance: float = 0.05) -> list[dict]:
    """For each full-T reference (the ODE that ddim solves at 1,000 steps, and ancestral
    sampling at 1,000 steps) and each sampler: the fewest steps whose FID is within
    `tolerance` of the reference's (or better), and how many times faster than the
    reference those samples are drawn."""
    out = []
    for ref in [r for r in rows if r["steps"] == 1000]:
        for sampler in dict.fromkeys(r["sampler"] for r in rows):
            fast = [
                r
                for r in rows
                if r["sampler"] == sampler and r["fid"] <= ref["fid"] * (1 + tolerance)
            ]
            best = min(fast, key=lambda r: r["seconds_per_1000"], default=None)
            out.append(
                {
                    "reference": f"{ref['sampler']}-1000",
                    "reference_fid": ref["fid"],
                    "sampler": sampler,
                    "steps": None if best is None else best["steps"],
                    "fid": None if best is None else best["fid"],
                    "seconds_per_1000": None if best is None else best["seconds_per_1000"],
                    "speedup": None
                    if best is None
                    else round(ref["seconds_per_1000"] / best["seconds_per_1000"], 1),
                }
            )
    return out


def bench_speedup(_ds) -> list[dict]:
    """The speed-up at equal FID, from the samplers section's figures (run it first)."""
    rows = _results().get("samplers")
    if not rows:
        sys.exit("run `python bench/diffusion.py samplers` first: speedup reads its figures")
    out = speedups(rows)
    for row in out:
        print(row)
    return out


def bench_inversion(ds) -> list[dict]:
    model, _ = trained("ddpm", ds)
    x = model.to_model(ds.x_test[:N_INVERT])
    rows = []
    for steps in INVERSION_STEPS:
        t0 = time.time()
        parts = [model.reconstruct(x[i : i + 50], steps=steps) for i in range(0, len(x), 50)]
        x_hat = torch.cat(parts)
        mse = (((x_hat - x) / 2) ** 2).mean().item()  # [-1, 1] -> [0, 1] units
        rows.append(
            {
                "steps": steps,
                "mse": round(mse, 6),
                "psnr": round(10 * math.log10(1 / mse), 2),
                "seconds": round(time.time() - t0, 1),
            }
        )
        print(rows[-1], flush=True)
    return rows


def bench_bound(ds) -> list[dict]:
    model, _ = trained("ddpm", ds)
    every = model.to_model(ds.x_test)
    dims = every[0].numel()
    rows = []
    # 100 digits are every 10th of the test split: it is sorted by class, so 10 of each
    for label, n, k in (("exact", 100, None), ("estimate", 100, 200), ("estimate", 1000, 200)):
        x = every[:: len(every) // n]
        g = torch.Generator().manual_seed(0)
        t0 = time.time()
        with torch.no_grad():
            log_px = torch.cat(
                [model.log_likelihood(x[i : i + 100], k, generator=g) for i in range(0, n, 100)]
            )
        bpd = -log_px / (dims * math.log(2))
        rows.append(
            {
                "bound": label,
                "terms": min(k or len(model.schedule), len(model.schedule)),
                "examples": n,
                "bits_per_dim": round(bpd.mean().item(), 4),
                "bits_per_dim_se": round((bpd.std() / math.sqrt(n)).item(), 4),
                "nats": round(-log_px.mean().item(), 2),
                "seconds_per_100": round((time.time() - t0) * 100 / n, 1),
            }
        )
        print(rows[-1], flush=True)
    return rows


STRATA_TRAIN = {"steps": 500, "batch_size": 32, "lr": 2e-3, "warmup_steps": 50, "ema_decay": 0.99}
STRATA_SEEDS = 8


def equal_strata_bound(model, x: torch.Tensor, k: int, g: torch.Generator) -> torch.Tensor:
    """The estimate with k - 1 strata of equal width, for comparison (nats, per example)."""
    from genzoo.models.diffusion import process as P

    n, T = len(x), len(model.schedule)
    total = P.prior_kl(model.schedule, x)
    total = total + model._vlb_at(x, torch.zeros(n, dtype=torch.long), None, g)
    edges = torch.linspace(1, T, k).round().long().tolist()
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        total = total + (hi - lo) * model._vlb_at(
            x, torch.randint(lo, hi, (n,), generator=g), None, g
        )
    return -total


def bench_strata(ds) -> list[dict]:
    print(f"training ddpm on {ds.name}: {STRATA_TRAIN}", flush=True)
    model, _ = timed_fit("ddpm", ds, {"prediction": "v"}, **STRATA_TRAIN, final_eval=False)
    x = model.to_model(ds.x_test)[::4]  # sorted by class: 25 of each
    to_bpd = 1 / (x[0].numel() * math.log(2))
    rows = []
    for k in (5, 10, 20):
        for strata, estimate in (
            ("geometric", lambda g, k=k: model.log_likelihood(x, k, generator=g)),
            ("equal", lambda g, k=k: equal_strata_bound(model, x, k, g)),
        ):
            t0 = time.time()
            with torch.no_grad():
                bpd = torch.tensor(
                    [
                        -estimate(torch.Generator().manual_seed(s)).mean().item() * to_bpd
                        for s in range(STRATA_SEEDS)
                    ]
                )
            rows.append(
                {
                    "strata": strata,
                    "passes": k,
                    "bits_per_dim": round(bpd.mean().item(), 4),
                    "sd_across_seeds": round(bpd.std().item(), 4),
                    "seconds_per_estimate": round((time.time() - t0) / STRATA_SEEDS, 1),
                }
            )
            print(rows[-1], flush=True)
    return rows


def bench_guidance(ds) -> list[dict]:
    model, train_seconds = trained("cddpm", ds)
    fn = feature_network_for(ds.info())
    labels = torch.arange(N_FID) % ds.info().num_classes
    rows = []
    for w in SCALES:
        x, seconds = draw(model, N_FID, sampler="dpm-solver", steps=20, guidance=w)
        pred = fn.probabilities(to_unit(x, ds.info())).argmax(1)
        rows.append(
            {
                "guidance": w,
                "class_accuracy": round((pred == labels).float().mean().item(), 4),
                "fid": fid_of(model, ds, x),
                "seconds_per_1000": round(seconds * 1000 / N_FID, 1),
                "train_seconds": round(train_seconds),
            }
        )
        print(rows[-1], flush=True)
    return rows


# ---------------------------------------------------------------- diffusers, same budget
DIFFUSERS_UNET = {  # their UNet2DModel at our U-Net's size: 3 levels, attention at the lowest
    "sample_size": 28,
    "in_channels": 1,
    "out_channels": 1,
    "layers_per_block": 1,
    "block_out_channels": (16, 32, 64),
    "down_block_types": ("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
    "up_block_types": ("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
    "norm_num_groups": 8,
    "attention_head_dim": 16,
}


THEIR_LRS = (1e-4, 1e-3)  # their example's learning rate, and ours


def their_setup(x_train: torch.Tensor, batch_size: int, lr: float):
    """Their train_unconditional.py recipe (AdamW at `lr`, 1e-4 in their example, betas
    (0.95, 0.999), weight decay 1e-6, cosine decay after 500 warm-up steps, EMA with warm-up to
    0.9999, the eps MSE on DDPMScheduler's linear schedule over 1000 steps, gradients clipped
    at norm 1): (unet, noise scheduler, optimizer, EMA, one training step(lr_schedule))."""
    from diffusers import DDPMScheduler, UNet2DModel
    from diffusers.training_utils import EMAModel

    torch.manual_seed(0)
    unet = UNet2DModel(**DIFFUSERS_UNET)
    noise_scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")
    opt = torch.optim.AdamW(unet.parameters(), lr=lr, betas=(0.95, 0.999), weight_decay=1e-6)
    ema = EMAModel(unet.parameters(), decay=0.9999, use_ema_warmup=True, inv_gamma=1.0, power=0.75)
    g = torch.Generator().manual_seed(0)

    def step(lr_sched):
        x0 = x_train[torch.randint(0, len(x_train), (batch_size,), generator=g)]
        noise = torch.randn_like(x0)
        t = torch.randint(0, 1000, (batch_size,))
        x_t = noise_scheduler.add_noise(x0, noise, t)
        loss = torch.nn.functional.mse_loss(unet(x_t, t).sample, noise)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        lr_sched.step()
        opt.zero_grad()
        ema.step(unet.parameters())

    return unet, noise_scheduler, opt, ema, step


def _their_training(seconds: float, x_train: torch.Tensor, batch_size: int, lr: float = 1e-4):
    """Their recipe (`their_setup`) for `seconds` of wall-clock time: (the EMA weights in
    their UNet2DModel, the steps taken, the seconds taken). Kept under bench/runs/ in their own
    format (`save_pretrained`) and loaded from there the next time."""
    from diffusers import UNet2DModel
    from diffusers.optimization import get_scheduler

    folder = RUNS / f"diffusers-unet2d-lr{lr:g}-{round(seconds)}s"
    if (folder / "bench.json").is_file():
        kept = json.loads((folder / "bench.json").read_text())
        return UNet2DModel.from_pretrained(folder).eval(), kept["steps"], kept["seconds"]
    print(f"training diffusers' UNet2DModel at lr {lr:g} for {seconds:.0f} s", flush=True)
    unet, _, opt, ema, step = their_setup(x_train, batch_size, lr)
    # the step count the budget allows, measured on the first steps (as their script needs the
    # total for its cosine schedule); then train until the budget is spent
    probe = get_scheduler("constant", optimizer=opt)
    t0 = time.time()
    for _ in range(30):
        step(probe)
    rate = 30 / (time.time() - t0)
    total = int(rate * seconds)
    lr_sched = get_scheduler(
        "cosine", optimizer=opt, num_warmup_steps=500, num_training_steps=total
    )
    for _ in range(30):
        lr_sched.step()
    steps = 30
    while time.time() - t0 < seconds:
        step(lr_sched)
        steps += 1
    took = time.time() - t0
    ema.copy_to(unet.parameters())
    unet.save_pretrained(folder)
    (folder / "bench.json").write_text(json.dumps({"steps": steps, "seconds": took}) + "\n")
    return unet.eval(), steps, took


class _TheirNet(torch.nn.Module):
    """Their UNet2DModel behind our denoiser's call, so our samplers can drive it (the
    timestep conventions agree: t = 0 .. 999 on the same linear schedule)."""

    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, x, t, y=None):
        return self.unet(x, t).sample


def _on_our_sampler(unet, ours) -> genzoo.GenerativeModel:
    """A `ddpm` like `ours` (its schedule and its data transform) with their network inside."""
    model = genzoo.build_model("ddpm", ours.info, {}, seed=0)
    model.transform = ours.transform
    model.net = _TheirNet(unet)
    return model.eval()


@torch.no_grad()
def their_samples(eps, n: int, steps: int, **step_kw) -> tuple[torch.Tensor, float]:
    """n samples by their DDIMScheduler (eta = 0) from the noise predictor eps(x, t). Their
    defaults clip the predicted x0 to [-1, 1] at every step but keep the unclipped eps in the
    update (`use_clipped_model_output=False`); ours re-derive eps from the clipped x0."""
    from diffusers import DDIMScheduler, DDPMScheduler

    sched = DDIMScheduler.from_config(DDPMScheduler(num_train_timesteps=1000).config)
    sched.set_timesteps(steps)
    g = torch.Generator().manual_seed(0)
    t0, chunks = time.time(), []
    for i in range(0, n, DRAW_BATCH):
        x = torch.randn(min(DRAW_BATCH, n - i), 1, 28, 28, generator=g)
        for t in sched.timesteps:
            x = sched.step(eps(x, t.expand(len(x))), t, x, eta=0.0, **step_kw).prev_sample
        chunks.append(x.clamp(-1, 1))
    return torch.cat(chunks), time.time() - t0


def steady_images_per_second(ds, batch: int, warm: int = 20, timed: int = 100, rounds: int = 3):
    """Training images per second of both in the same process: after `warm` steps each, they
    take turns of `timed` steps, `rounds` times; the median turn of each. Setup, data loading
    and the first slow steps do not count, and a slow spell on the machine hits both."""
    from diffusers.optimization import get_scheduler

    model = genzoo.build_model("ddpm", ds.info(), {}, seed=0)
    quiet = {"log_every": 0, "eval_every": 0, "tensorboard": False, "final_eval": False}
    cfg = genzoo.TrainConfig(
        **{**model.train_defaults, **quiet, "steps": 10**6, "batch_size": batch}
    )
    trainer = genzoo.Trainer(model, ds, cfg, console=False)
    trainer._setup()  # what fit() does before its loop of train_step()
    x_train = model.to_model(ds.x_train).float()
    _, _, opt, _, step = their_setup(x_train, batch, 1e-4)
    sched = get_scheduler("constant", optimizer=opt)
    libs = {"genzoo": trainer.train_step, "diffusers": lambda: step(sched)}
    for one in libs.values():
        for _ in range(warm):
            one()
    rates: dict[str, list[float]] = {name: [] for name in libs}
    for _ in range(rounds):
        for name, one in libs.items():
            t0 = time.time()
            for _ in range(timed):
                one()
            rates[name].append(timed * batch / (time.time() - t0))
    return {name: round(sorted(r)[len(r) // 2], 1) for name, r in rates.items()}


def bench_diffusers(ds) -> list[dict]:
    """Rows: training images per second of both, back to back; then ours, and theirs at each
    learning rate of THEIR_LRS, each sampled by DDIM in 50 steps: by our sampler, and by their
    DDIMScheduler with its defaults and with `use_clipped_model_output=True`."""
    import diffusers

    ours, seconds = trained("ddpm", ds)
    batch = MNIST_TRAIN["batch_size"]
    x_train = ours.to_model(ds.x_train).float()  # the same [-1, 1] digits for both
    rows = []

    def add(key: dict, measure) -> None:
        row = _done("diffusers", **key)
        if row is None:
            row = {**key, **measure()}
            print(row, flush=True)
        rows.append(row)
        _keep("diffusers", rows)

    def fids(model) -> dict:
        """FID by our DDIM and by theirs (50 steps), and our sampler's seconds per 1,000."""
        x, took = draw(model, N_FID, sampler="ddim", steps=50)
        theirs, _ = their_samples(model.denoise, N_FID, 50)
        clipped_eps, _ = their_samples(model.denoise, N_FID, 50, use_clipped_model_output=True)
        return {
            "fid_ddim50": fid_of(ours, ds, x),
            "fid_ddim50_their_sampler": fid_of(ours, ds, torch.from_numpy(ours.to_data(theirs))),
            "fid_ddim50_their_sampler_clipped_eps": fid_of(
                ours, ds, torch.from_numpy(ours.to_data(clipped_eps))
            ),
            "sample_seconds_per_1000": round(took * 1000 / N_FID, 1),
        }

    def our_row():
        return {
            "parameters": sum(p.numel() for p in ours.parameters()),
            "train_seconds": round(seconds),
            "steps": MNIST_TRAIN["steps"],
            "images_per_second": round(MNIST_TRAIN["steps"] * batch / seconds, 1),
            **fids(ours),
        }

    def their_row(lr: float):
        def measure():
            unet, steps, took = _their_training(seconds, x_train, batch, lr)
            return {
                "parameters": sum(p.numel() for p in unet.parameters()),
                "train_seconds": round(took),
                "steps": steps,
                "images_per_second": round(steps * batch / took, 1),
                **fids(_on_our_sampler(unet, ours)),
            }

        return measure

    add(
        {"library": "steady", "model": "training images per second"},
        lambda: {"images_per_second": steady_images_per_second(ds, batch)},
    )
    add({"library": "genzoo", "model": "ddpm (U-Net, EMA), lr 1e-3"}, our_row)
    for lr in THEIR_LRS:
        name = f"UNet2DModel + DDPMScheduler (EMA), lr {lr:g}"
        add({"library": f"diffusers {diffusers.__version__}", "model": name}, their_row(lr))
    return rows


if __name__ == "__main__":
    run_sections(
        OUT,
        {
            "toy": bench_toy,
            "samplers": bench_samplers,
            "speedup": bench_speedup,
            "inversion": bench_inversion,
            "bound": bench_bound,
            "strata": bench_strata,
            "guidance": bench_guidance,
            "diffusers": bench_diffusers,
        },
    )
