"""Time to quality: how good each family's samples are after a given number of seconds of
training on the two CPU cores, ours beside the peers' recipes, in one run; results go to
bench/results/time_to_quality.json.

    python bench/time_to_quality.py [diffusion] [gan] [autoencoders] [toy] [--marks 30,60,...]

Each entry is one training run, timed by the seconds of its training steps alone, and
evaluated when those seconds pass each mark (30, 60, 120, 300 and 600 s; 10, 25, 60 and 120 s
on the toy set). The evaluation stops the clock: no sampling, metric, checkpoint or picture is
counted. This is the time-to-quality curve of one run, as a person who watches their training
sees it; our runs plan their steps and warm-up for the largest mark, as `genzoo train --budget`
plans them.

- diffusion, gan, autoencoders: on mnist5k, FID of 1,000 samples (the model as it samples by
  default: EMA weights where it keeps them, its own sampler) against the 1,000 test digits with
  the shipped mnist5k feature network (floor 0.69). Peers, each at its own recipe with a
  network of our default's parameter count (within 10%):
  - diffusers' unconditional training example (`UNet2DModel`, `DDPMScheduler`, AdamW 1e-4,
    cosine decay after 500 warm-up steps planned for the largest mark, EMA with warm-up to
    0.9999), sampled by their `DDIMScheduler` in 50 steps;
  - lucidrains' denoising-diffusion-pytorch README recipe (`Unet(dim=16, dim_mults=(1, 2,
    4))`, `GaussianDiffusion` with its defaults: v-prediction, sigmoid schedule, T = 1000;
    batch 32 with 2 accumulation steps, Adam 8e-5 with betas (0.9, 0.99), gradients clipped
    at 1, EMA 0.995 every 10 steps; no horizontal flips, which digits do not have), sampled
    by its DDIM in 50 steps (the README uses 250); its sampling takes about 500 s per 1,000
    samples here, so it is evaluated at the marks in LUCIDRAINS_MARKS only;
  - PyTorch's DCGAN example (examples/dcgan: nz 100, transposed convolutions with batch norm
    and ReLU in G, strided convolutions with batch norm and leaky ReLU in D, N(0, 0.02)
    weights, BCE, Adam 2e-4 with beta1 0.5, batch 128), its three layers sized for 28x28;
  - pythae's VAE (its README's quick start: Adam 1e-3, batch 64, its default Gaussian
    reconstruction loss) on our default MLP.
- toy: on grid25 (the dataset's defaults), the modes found and the share of high-quality
  samples among 2,500 (within 3 standard deviations of a mode).

The headline table gives, per entry, the first mark at which FID falls to 50, 20, 10 and 5,
and each entry's over the best of ours. Peers install through the bench extra (`make
bench-setup`); an entry's rows are written as they are measured, and an entry with all its
marks in the results is not run again (delete its rows to measure it again).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import torch
from diffusion import their_samples, their_setup
from sections import print_table
from torch import nn
from vae import pythae_vae

import genzoo
from genzoo.metrics import evaluate
from genzoo.metrics.toy import mode_metrics
from genzoo.run import RunConfig, seconds_per_step

OUT = Path(__file__).parent / "results" / "time_to_quality.json"
MARKS = (30, 60, 120, 300, 600)
TOY_MARKS = (10, 25, 60, 120)
LUCIDRAINS_MARKS = (300, 600)
LEVELS = (50, 20, 10, 5)
N_FID = 1000
N_TOY = 2500
DRAW_BATCH = 100

HALF_LIFE = {"ema": True, "ema_halflife_images": 10_000, "ema_rampup": 0.05}

# our entries per section: label -> (model, model options, train options); the model's own
# train defaults apply under these
ENTRIES = {
    "diffusion": {
        "ddpm": ("ddpm", {}, {}),
        "edm": ("edm", {}, {}),
        # the short-run training of "edm" on ddpm's own network and loss, then each option
        "ddpm, batch 32, half-life EMA": ("ddpm", {}, {"batch_size": 32, **HALF_LIFE}),
        "ddpm, batch 32, half-life EMA, min-SNR 5": (
            "ddpm",
            {"min_snr_gamma": 5.0},
            {"batch_size": 32, **HALF_LIFE},
        ),
        # v-prediction with the short-run training of "edm small" on ddpm's own network
        "ddpm v": ("ddpm", {"prediction": "v"}, {"batch_size": 32, "lr": 2e-3, **HALF_LIFE}),
        "edm small": (
            "edm",
            {"patch": 2, "channels": [16, 32], "attention": [1]},
            {"batch_size": 32, "lr": 2e-3, **HALF_LIFE},
        ),
    },
    "gan": {
        "dcgan": ("dcgan", {}, {}),
        # before dcgan drew its weights from N(0, 0.02^2): PyTorch's default initialization
        "dcgan, PyTorch's init": ("dcgan", {"init_std": None}, {}),
        "dcgan, PyTorch's init, + DiffAugment + EMA": (
            "dcgan",
            {"init_std": None, "augment": ["translation", "cutout"]},
            HALF_LIFE,
        ),
        # each option of the game on its own, on the defaults
        "dcgan, spectral norm in D": ("dcgan", {"d_norm": "spectral"}, {}),
        "dcgan, hinge loss": ("dcgan", {"loss": "hinge"}, {}),
        "dcgan, D's lr 4e-4": ("dcgan", {"d_lr": 4e-4}, {}),
        "dcgan + ADA (translation, cutout)": (
            "dcgan",
            {"augment": ["translation", "cutout"], "ada_target": 0.6},
            {},
        ),
    },
    "autoencoders": {
        "ae": ("ae", {}, {}),
        "vae": ("vae", {}, {}),
    },
    "toy": {
        "gan": ("gan", {}, {}),
        "ddpm": ("ddpm", {}, {}),
        "edm": ("edm", {}, {}),
        # the settings of the PacGAN protocol's networks (bench/gan.py) and R1, the
        # configuration that found every mode there
        "gan + R1, toy networks": (
            "gan",
            {
                "latent_dim": 2,
                "g_hidden": [256] * 4,
                "g_norm": "none",
                "d_hidden": [128] * 3,
                "r1_weight": 3.0,
            },
            {"batch_size": 100, "lr": 1e-3, "betas": [0.5, 0.999]},
        ),  # fmt: skip
        "edm, 32 steps": ("edm", {"sample_steps": 32}, {}),
        "edm, churn": ("edm", {"churn": 10.0}, {}),
        "edm, batch 128": ("edm", {}, {"batch_size": 128}),  # its default before batch 32
    },
}
BEST = {"diffusion": "edm small", "gan": "dcgan", "autoencoders": "vae"}
DATA = {"diffusion": "mnist5k", "gan": "mnist5k", "autoencoders": "mnist5k", "toy": "grid25"}


# ---------------------------------------------------------------- the results file
def results() -> dict:
    return json.loads(OUT.read_text()) if OUT.exists() else {}


def done(section: str, entry: str, marks: list[int]) -> bool:
    have = {r["budget"] for r in results().get(section, []) if r["entry"] == entry}
    return set(marks) <= have


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


# ---------------------------------------------------------------- what a snapshot measures
def fid(ds, samples_raw: torch.Tensor) -> float:
    """FID of raw-unit samples against the test split, with the shipped feature network
    (the model `evaluate` takes only sets the data's range: any will do)."""
    holder = genzoo.build_model("ae", ds.info(), {"hidden": [8], "latent_dim": 2}, seed=0)
    res, _ = evaluate(holder, ds, ["fid"], samples=samples_raw)
    return round(res["fid"]["values"]["fid"], 2)


def image_score(ds, draw: Callable[[int, torch.Generator], torch.Tensor]) -> dict:
    """FID of N_FID samples drawn DRAW_BATCH at a time (draw returns raw units), and the
    seconds 1,000 of them take."""
    g = torch.Generator().manual_seed(0)
    t0 = time.time()
    with torch.no_grad():
        x = torch.cat([draw(DRAW_BATCH, g) for _ in range(N_FID // DRAW_BATCH)])
    took = time.time() - t0
    return {"fid": fid(ds, x), "sample_seconds_per_1000": round(took * 1000 / N_FID, 1)}


def toy_score(ds, draw: Callable[[int, torch.Generator], torch.Tensor]) -> dict:
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        x = draw(N_TOY, g)
    found = mode_metrics(x, torch.tensor(ds.meta["means"]), ds.meta["std"])
    return {k: found[k] for k in ("modes", "high_quality")}


# ---------------------------------------------------------------- one run, evaluated at marks
def curve(step: Callable[[], None], marks: list[int], snapshot: Callable[[], dict]):
    """step() until the largest mark's seconds of steps have passed; at each mark, the
    snapshot's measures (not timed) with the steps and seconds so far: yields rows."""
    spent, n = 0.0, 0
    for mark in marks:
        while spent < mark:
            t0 = time.perf_counter()
            step()
            spent += time.perf_counter() - t0
            n += 1
        yield {"budget": mark, "steps": n, "train_seconds": round(spent, 1), **snapshot()}


def ours(ds, name: str, options: dict, train: dict, marks: list[int], score, overrun: int = 10):
    """`name` trained by genzoo's Trainer, its steps and warm-up planned for the largest mark
    as `genzoo train --budget` plans them (from 20 probe steps, which do not count), and
    scored as it samples by default each time its steps' seconds pass a mark; what it fits
    after training (an autoencoder's code density) is fitted at each mark, untimed. The run
    is given `overrun` times the planned steps, so that the seconds end it (1: the plan's
    steps, for a model that stages its run by them)."""
    quiet = {"log_every": 0, "eval_every": 0, "sample_every": 0, "checkpoint_every": 0}
    quiet |= {"tensorboard": False, "final_eval": False}
    rc = RunConfig.from_dict({"model": {"name": name, **options}, "data": {"source": ds.name},
                              "train": {**quiet, **train}})  # fmt: skip
    last = max(marks)
    steps = max(1, int(last / seconds_per_step(rc, ds)))
    # the seconds end it (every entry's learning rate is constant after its warm-up)
    warmup = min(rc.train.warmup_steps, steps // 5)
    cfg = dataclasses.replace(
        rc.train, steps=overrun * steps, max_step_seconds=last, warmup_steps=warmup
    )
    model = genzoo.build_model(name, ds.info(), rc.model, seed=0)
    rows, todo = [], list(marks)

    def draw(n, g, **kw):
        return torch.as_tensor(sampler.to_data(sampler.sample(n, generator=g, **kw)))

    def after_step(trainer):
        nonlocal sampler
        last_step = trainer.step >= trainer.cfg.steps
        while todo and (trainer.step_seconds >= todo[0] or last_step):
            sampler = trainer.eval_model()
            was = sampler.training
            sampler.eval()
            sampler.after_training(trainer.train_data)
            draw.model = sampler  # for a score that measures more than samples
            row = {"budget": todo.pop(0), "steps": trainer.step,
                   "train_seconds": round(trainer.step_seconds, 1), **score(ds, draw)}  # fmt: skip
            sampler.train(was)
            rows.append(row)
            print(f"  {row}", flush=True)

    sampler = model
    trainer = genzoo.Trainer(model, ds, cfg, console=False, after_step=after_step)
    trainer.fit()
    params = sum(p.numel() for p in model.parameters())
    return [{**r, "parameters": params, "planned_steps": steps} for r in rows]


# ---------------------------------------------------------------- peers: diffusion
def diffusers_recipe(ds, marks: list[int], score):
    from diffusers.optimization import get_scheduler

    x_train = torch.from_numpy(ds.x_train).float() / 127.5 - 1  # their [-1, 1]
    unet, _, opt, ema, step = their_setup(x_train, 64, 1e-4)
    probe = get_scheduler("constant", optimizer=opt)
    t0 = time.time()
    for _ in range(20):  # the rate, to plan the cosine decay for the largest mark
        step(probe)
    total = max(21, int(max(marks) * 20 / (time.time() - t0)))
    sched = get_scheduler("cosine", optimizer=opt, num_warmup_steps=500, num_training_steps=total)
    for _ in range(20):  # the probe's steps count in the schedule
        sched.step()

    def draw(n, g):
        ema.store(unet.parameters())
        ema.copy_to(unet.parameters())
        unet.eval()
        x, _ = their_samples(lambda v, t: unet(v, t).sample, n, 50)
        ema.restore(unet.parameters())
        unet.train()
        return (x + 1) * 127.5

    params = sum(p.numel() for p in unet.parameters())
    for row in curve(lambda: step(sched), marks, lambda: score(ds, draw)):
        yield {**row, "parameters": params}


def _lucidrains():
    """Their package, imported without torchvision: its module imports torchvision for the
    image-folder Dataset and the sample grids of its Trainer, which this benchmark does not
    use, and torchvision's compiled operators do not load against this machine's torch. The
    stand-ins leave sys.modules after the import: a module without a spec there breaks every
    later importlib.util.find_spec("torchvision"), which torchmetrics calls."""
    stubs = {}
    if "torchvision" not in sys.modules:
        tv = types.ModuleType("torchvision")
        tv.transforms = types.ModuleType("torchvision.transforms")
        tv.utils = types.ModuleType("torchvision.utils")
        stubs = {
            "torchvision": tv,
            "torchvision.transforms": tv.transforms,
            "torchvision.utils": tv.utils,
        }
        sys.modules.update(stubs)
    try:
        import denoising_diffusion_pytorch as ddp
        from ema_pytorch import EMA
    finally:
        for name in stubs:
            sys.modules.pop(name, None)
    return ddp, EMA


def lucidrains_recipe(ds, marks: list[int], score):
    ddp, EMA = _lucidrains()
    marks = [m for m in marks if m in LUCIDRAINS_MARKS] or [max(marks)]
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

    def draw(n, _g):
        return ema.ema_model.eval().sample(batch_size=n) * 255

    params = sum(p.numel() for p in net.parameters())
    for row in curve(step, marks, lambda: score(ds, draw)):
        yield {**row, "parameters": params}


# ---------------------------------------------------------------- peers: GAN and VAE
def _dcgan_nets(nz: int = 100, width: int = 52):
    """PyTorch's DCGAN example (examples/dcgan/main.py) with three layers for 28x28 instead of
    five for 64x64; width 52 gives our dcgan's parameter count within 10%."""
    g = nn.Sequential(
        nn.ConvTranspose2d(nz, width * 2, 7, 1, 0, bias=False),
        nn.BatchNorm2d(width * 2),
        nn.ReLU(True),
        nn.ConvTranspose2d(width * 2, width, 4, 2, 1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(True),
        nn.ConvTranspose2d(width, 1, 4, 2, 1, bias=False),
        nn.Tanh(),
    )
    d = nn.Sequential(
        nn.Conv2d(1, width, 4, 2, 1, bias=False),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
        nn.BatchNorm2d(width * 2),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(width * 2, 1, 7, 1, 0, bias=False),
        nn.Sigmoid(),
    )

    def weights_init(m):  # theirs
        if "Conv" in type(m).__name__:
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif "BatchNorm" in type(m).__name__:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)

    g.apply(weights_init)
    d.apply(weights_init)
    return g, d


def pytorch_dcgan_recipe(ds, marks: list[int], score):
    torch.manual_seed(0)
    nz, batch = 100, 128
    net_g, net_d = _dcgan_nets(nz)
    opt_d = torch.optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCELoss()
    x_train = torch.from_numpy(ds.x_train).float() / 127.5 - 1  # their Normalize((0.5,), (0.5,))
    gen = torch.Generator().manual_seed(0)

    def step():  # their loop: D on a real and a fake batch, then G with real labels
        real = x_train[torch.randint(0, len(x_train), (batch,), generator=gen)]
        net_d.zero_grad()
        err_real = bce(net_d(real).view(-1), torch.ones(batch))
        fake = net_g(torch.randn(batch, nz, 1, 1))
        err_fake = bce(net_d(fake.detach()).view(-1), torch.zeros(batch))
        (err_real + err_fake).backward()
        opt_d.step()
        net_g.zero_grad()
        bce(net_d(fake).view(-1), torch.ones(batch)).backward()
        opt_g.step()

    def draw(n, g):  # their netG in its training mode, as their script draws fixed_noise
        return (net_g(torch.randn(n, nz, 1, 1, generator=g)) + 1) * 127.5

    params = sum(p.numel() for p in [*net_g.parameters(), *net_d.parameters()])
    for row in curve(step, marks, lambda: score(ds, draw)):
        yield {**row, "parameters": params}


def pythae_vae_recipe(ds, marks: list[int], score):
    from pythae.data.datasets import DatasetOutput

    ours_cfg = genzoo.build_model("vae", ds.info(), {}, seed=0).config
    latent = ours_cfg.latent_dim
    torch.manual_seed(0)  # our default MLP in their interface, their default loss
    model = pythae_vae(ds.shape, latent, list(ours_cfg.hidden), act=nn.ReLU, loss="mse")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x_train = torch.from_numpy(ds.x_train).float() / 255
    gen = torch.Generator().manual_seed(0)

    def step():
        batch = x_train[torch.randint(0, len(x_train), (64,), generator=gen)]
        model.train()
        loss = model(DatasetOutput(data=batch)).loss
        opt.zero_grad()
        loss.backward()
        opt.step()

    def draw(n, g):  # their samplers' default: z ~ N(0, I), the decoder's mean
        model.eval()
        return model.decoder(torch.randn(n, latent, generator=g)).reconstruction * 255

    params = sum(p.numel() for p in model.parameters())
    for row in curve(step, marks, lambda: score(ds, draw)):
        yield {**row, "parameters": params}


PEERS = {
    "diffusion": {"diffusers": diffusers_recipe, "lucidrains": lucidrains_recipe},
    "gan": {"pytorch dcgan": pytorch_dcgan_recipe},
    "autoencoders": {"pythae vae": pythae_vae_recipe},
    "toy": {},
}


# ---------------------------------------------------------------- the tables
def first_budget(rows: list[dict], level: float) -> int | None:
    """The smallest mark whose FID is at most `level` (None: none reached it)."""
    hits = [r["budget"] for r in rows if r["fid"] <= level]
    return min(hits) if hits else None


def headline(rows: list[dict], ours_entry: str) -> list[dict]:
    """Per entry and FID level: the first mark that reached it, and that mark over ours';
    '>' where the largest mark measured did not reach it."""
    by_entry: dict[str, list[dict]] = {}
    for r in rows:
        by_entry.setdefault(r["entry"], []).append(r)
    out = []
    for entry, mine in by_entry.items():
        row = {"entry": entry}
        largest = max(r["budget"] for r in mine)
        for level in LEVELS:
            b = first_budget(mine, level)
            row[f"fid<={level}"] = b if b is not None else f">{largest}"
            base = first_budget(by_entry.get(ours_entry, []), level)
            if entry != ours_entry and base is not None:
                ratio = round(b / base, 2) if b is not None else f">{largest / base:.2f}"
                row[f"ratio@{level}"] = ratio
        out.append(row)
    return out


def section(name: str, marks: list[int], only: list[str] | None) -> None:
    ds = genzoo.load_dataset(DATA[name])
    score = toy_score if name == "toy" else image_score
    for entry, (model, options, train) in ENTRIES[name].items():
        if (only and entry not in only) or done(name, entry, marks):
            continue
        print(f"{name}: {entry}", flush=True)
        for row in ours(ds, model, options, train, marks, score):
            keep(name, {"entry": entry, "library": "genzoo", "model": model,
                        "options": options, "train": train, **row})  # fmt: skip
    for entry, recipe in PEERS[name].items():
        wanted = [m for m in marks if entry != "lucidrains" or m in LUCIDRAINS_MARKS]
        if (only and entry not in only) or not wanted or done(name, entry, wanted):
            continue
        print(f"{name}: {entry}", flush=True)
        for row in recipe(ds, marks, score):
            print(f"  {row}", flush=True)
            keep(name, {"entry": entry, "library": entry, **row})
    rows = [r for r in results().get(name, []) if r["budget"] in marks]
    keys = ("entry", "budget", "steps", "train_seconds", "fid", "modes", "high_quality",
            "sample_seconds_per_1000", "parameters")  # fmt: skip
    table = [{k: r[k] for k in keys if k in r} for r in rows]
    print_table(name, sorted(table, key=lambda r: (r["entry"], r["budget"])))


def markdown(name: str) -> str:
    """A section as the Markdown table of bench/RESULTS.md: one row per entry, its FID (or
    modes and high-quality share) and steps at each mark, its sampling time."""
    rows = results().get(name, [])
    marks = sorted({r["budget"] for r in rows})
    entries = list(dict.fromkeys(r["entry"] for r in rows))
    head = (
        "| entry | parameters | " + " | ".join(f"{m} s" for m in marks) + " | s per 1,000 samples |"
    )
    lines = [head, "|" + "---|" * (len(marks) + 3)]
    for entry in entries:
        mine = {r["budget"]: r for r in rows if r["entry"] == entry}
        cells = []
        for m in marks:
            r = mine.get(m)
            if r is None:
                cells.append("")
            elif "fid" in r:
                cells.append(f"{r['fid']:,.1f} ({r['steps']:,})")
            else:
                cells.append(f"{r['modes']}, {100 * r['high_quality']:.1f}% ({r['steps']:,})")
        sample = [
            r["sample_seconds_per_1000"] for r in mine.values() if "sample_seconds_per_1000" in r
        ]
        some = next(iter(mine.values()))
        speed = f"{min(sample):.1f}" if sample else ""
        lines.append(
            f"| {entry} | {some.get('parameters', ''):,} | " + " | ".join(cells) + f" | {speed} |"
        )
    headline_rows = results().get(f"{name}_headline")
    if headline_rows:
        keys = list(dict.fromkeys(k for r in headline_rows for k in r if k != "entry"))
        lines += ["", "| entry | " + " | ".join(keys) + " |", "|" + "---|" * (len(keys) + 1)]
        for r in headline_rows:
            lines.append(f"| {r['entry']} | " + " | ".join(str(r.get(k, "")) for k in keys) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sections", nargs="*", default=["diffusion", "gan", "autoencoders", "toy"])
    parser.add_argument("--marks", help="seconds of training at which to evaluate")
    parser.add_argument("--only", nargs="*", help="entries to run (default: all)")
    parser.add_argument("--markdown", action="store_true", help="print the tables, run nothing")
    args = parser.parse_args()
    if args.markdown:
        for name in args.sections:
            print(f"{name}\n\n{markdown(name)}\n")
        return
    torch.set_num_threads(2)
    for name in args.sections:
        if name not in ENTRIES:
            sys.exit(f"unknown section {name}; choose from {', '.join(ENTRIES)}")
        default = TOY_MARKS if name == "toy" else MARKS
        marks = sorted(int(m) for m in args.marks.split(",")) if args.marks else list(default)
        section(name, marks, args.only)
        # the headline reads every entry's whole curve, whichever marks this call ran
        rows = [r for r in results().get(name, []) if r["budget"] in default]
        if name in BEST and rows:
            table = headline(rows, BEST[name])
            print_table(f"{name}: first mark (s) at each FID level", table)
            res = results()
            res[f"{name}_headline"] = table
            OUT.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
