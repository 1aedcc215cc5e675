"""Benchmarks of the GAN family; results go to bench/results/gan.json.

    python bench/gan.py [toy] [mnist] [budget] [stylegan] [translation] [--steps N]
                        [--seconds S] [--seeds S] [--configs LABEL ...] [--sets ring8 grid25]
                        [--device cpu|cuda] [--workers N]

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
- budget: `dcgan`, `progan` (its WGAN-GP default, and the non-saturating loss with R1) and
  `stylegan` on mnist5k at the same wall-clock budget (`--seconds`, 480 by default): each
  model's speed is measured on a short run first and sets its steps; progan's schedule is
  scaled to fit (equal stable and fade phases, a fifth of the steps each). The same metrics;
  figures of samples, StyleGAN's style mixing and its truncation sweep.
- stylegan: StyleGAN's mapping depth (8, the paper's, or 2) against its R1 weight (1 or 10)
  on mnist5k, `--seeds` seeds each at `--steps` (1,500 by default), fp32, `--workers` runs at
  once (on a GPU, many: they are small). Mean, median and worst FID, recall and class coverage
  over the seeds: single runs of a small StyleGAN swing from good to collapsed with the seed.
- translation: `pix2pix` against its own L1-only U-Net (`adv_weight=0`) on `mnist5k-masked`
  and `mnist5k-lowres` (PSNR and SSIM against the targets, beside the input's own, and the
  class the feature network reads), and `cyclegan` on the unpaired `digits2mnist` (class kept,
  against 10% for chance; cycle errors).
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
from sections import print_table, timed_fit

OUT = Path(__file__).parent / "results" / "gan.json"

NETS = {
    "latent_dim": 2,
    "g_hidden": [256, 256, 256, 256],
    "g_norm": "none",
    "d_hidden": [128, 128, 128],
}
TRAIN = {"batch_size": 100, "schedule": "linear", "lr": 1e-3, "betas": [0.5, 0.999]}
TOY = {  # label -> (model, model options, train options)
    "gan (minimax)": ("gan", {"loss": "minimax"}, {}),
    "gan (non-saturating)": ("gan", {}, {}),
    "pacgan2": ("gan", {"pack": 2}, {"batch_size": 200}),
    "pacgan4": ("gan", {"pack": 4}, {"batch_size": 400}),
    # the settings of WGAN-GP's own toy experiments (its gan_toy.py): lambda 0.1, betas
    # (0.5, 0.9); with the image default lambda = 10, G never concentrates on these mixtures
    "wgan-gp": ("wgan-gp", {"gp_weight": 0.1}, {"lr": 1e-4, "betas": [0.5, 0.9]}),
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
    model, seconds = timed_fit(
        name, ds, {**NETS, **extra}, seed, **{**TRAIN, **train}, steps=steps, final_eval=False
    )
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

    torch.set_num_threads(2)
    ds = genzoo.load_dataset("mnist5k")
    rows = []
    for label, (name, extra) in MNIST.items():
        model, seconds = _fit(name, extra, ds, steps, 64, final_eval=True)
        rows.append(
            {
                "model": label,
                "config": extra,
                "steps": steps,
                "train_seconds": round(seconds, 1),
                **_sample_metrics(model, ds),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def _sample_metrics(model, ds) -> dict:
    """FID (with its floor), precision/recall and class coverage of a model's samples."""
    from genzoo.metrics import evaluate

    res, _ = evaluate(model.eval(), ds, ["fid", "precision_recall", "classes"])
    return {
        "fid": res["fid"]["values"]["fid"],
        "fid_floor": res["fid"]["floor"]["fid"],
        **res["precision_recall"]["values"],
        **res["classes"]["values"],
    }


# ---------------------------------------------------------------- stylegan's defaults
STYLE_GRID = {  # label -> stylegan options: the mapping depth against the R1 weight
    "8-layer mapping, gamma 1": {"mapping_layers": 8, "r1_weight": 1.0},
    "8-layer mapping, gamma 10": {"mapping_layers": 8, "r1_weight": 10.0},
    "2-layer mapping, gamma 1": {"mapping_layers": 2, "r1_weight": 1.0},
    "2-layer mapping, gamma 10 (default)": {"mapping_layers": 2, "r1_weight": 10.0},
}


def style_run(job: tuple[str, int, int, str]) -> dict:
    """One stylegan configuration, one seed, on mnist5k in fp32: its sample metrics."""
    import genzoo

    torch.set_num_threads(1)
    label, seed, steps, device = job
    ds = genzoo.load_dataset("mnist5k")
    model, seconds = timed_fit(
        "stylegan", ds, STYLE_GRID[label], seed, steps=steps, batch_size=64,
        final_eval=False, device=device, precision="fp32",
    )  # fmt: skip
    return {
        "config": label,
        "options": STYLE_GRID[label],
        "seed": seed,
        "steps": steps,
        "device": device,
        "seconds": round(seconds, 1),
        **_sample_metrics(model, ds),
    }


def bench_stylegan(results: dict, steps: int, seeds: int, device: str, workers: int) -> None:
    """Every STYLE_GRID configuration for `seeds` seeds at `steps`; runs already held (same
    configuration, seed, steps and device) are kept, so a second budget adds rows."""
    style = results.setdefault("stylegan", {})
    runs = [r for r in style.get("runs", []) if r["options"] == STYLE_GRID.get(r["config"])]
    done = {(r["config"], r["seed"], r["steps"], r["device"]) for r in runs}
    jobs = [(c, s, steps, device) for c in STYLE_GRID for s in range(seeds)]
    jobs = [j for j in jobs if j not in done]
    print(f"stylegan: {len(jobs)} runs to do, {len(done)} kept", flush=True)
    with ProcessPoolExecutor(workers) as pool:
        for r in pool.map(style_run, jobs):
            runs.append(r)
            print(json.dumps(r), flush=True)
    rows = []
    for key in sorted({(r["steps"], r["device"]) for r in runs}):
        for label in STYLE_GRID:
            mine = [r for r in runs if r["config"] == label and (r["steps"], r["device"]) == key]
            if not mine:
                continue
            fid = np.array([r["fid"] for r in mine])
            classes = [r["classes_covered"] for r in mine]
            rows.append(
                {
                    "config": label,
                    "steps": key[0],
                    "device": key[1],
                    "seeds": len(mine),
                    "fid_mean": float(fid.mean()),
                    "fid_median": float(np.median(fid)),
                    "fid_max": float(fid.max()),
                    "recall_mean": float(np.mean([r["recall"] for r in mine])),
                    "classes_min": min(classes),
                    "classes_mean": float(np.mean(classes)),
                }
            )
    style.update(protocol="mnist5k, batch 64, fp32; metrics from the shipped feature network",
                 rows=rows, runs=runs)  # fmt: skip


# ---------------------------------------------------------------- one budget
BUDGET = {  # label -> (model, options)
    "dcgan": ("dcgan", {}),
    "progan": ("progan", {}),
    "progan (ns + r1)": (
        "progan",
        {"loss": "non-saturating", "gp_weight": 0.0, "drift": 0.0, "r1_weight": 1.0},
    ),
    "stylegan": ("stylegan", {}),
}
RESULTS = OUT.parent


def _scaled(name: str, extra: dict, steps: int) -> tuple[dict, int]:
    """A model's options and steps for a run of about `steps`: progan grows over the first
    four fifths (three resolutions: stable, fade, stable, fade, then stable to the end)."""
    if name != "progan":
        return extra, steps
    return {**extra, "growth": 0.8}, steps


def _fit(name: str, extra: dict, ds, steps: int, batch_size: int, final_eval: bool):
    return timed_fit(name, ds, extra, steps=steps, batch_size=batch_size, final_eval=final_eval)


def steps_per_second(name: str, extra: dict, ds, batch_size: int) -> float:
    """A model's training speed: the difference of a 20-step and a 120-step run (after one to
    warm up), which cancels what a run spends outside its steps (setup, the final validation)."""
    seconds = {}
    for n in (20, 20, 120):
        opts, n = _scaled(name, extra, n)
        seconds[n] = _fit(name, opts, ds, n, batch_size, final_eval=False)[1]
    (n1, t1), (n2, t2) = sorted(seconds.items())
    return (n2 - n1) / (t2 - t1)


def bench_budget(seconds: float) -> list[dict]:
    import genzoo
    from genzoo.viz.grid import picture

    torch.set_num_threads(2)
    ds = genzoo.load_dataset("mnist5k")
    rows, panels = [], []
    for label, (name, extra) in BUDGET.items():
        rate = steps_per_second(name, extra, ds, 64)
        opts, steps = _scaled(name, extra, int(rate * seconds))
        model, took = _fit(name, opts, ds, steps, 64, final_eval=False)
        rows.append(
            {
                "model": label,
                "config": opts,
                "budget_seconds": seconds,
                "steps_per_second": round(rate, 2),
                "steps": steps,
                "train_seconds": round(took, 1),
                **_sample_metrics(model, ds),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
        g = torch.Generator().manual_seed(0)
        samples = model.sample(40, generator=g)
        panels.append((f"{label}: FID {rows[-1]['fid']:.1f}", picture(model, [("", samples)], 8)))
        if name == "stylegan":
            for title, image, _ in model.report_figures(None, ds):
                slug = title.lower().replace(":", "").replace(" ", "_")
                image.save(RESULTS / f"{slug}.png")
    _panels(panels, RESULTS / "budget_samples.png", ncols=2)
    return rows


def _panels(panels: list, path: Path, ncols: int) -> None:
    """Titled images in one figure, `ncols` per row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nrows = math.ceil(len(panels) / ncols)
    w, h = panels[0][1].size
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * w / 80, nrows * (h / 80 + 0.4)))
    for ax in np.ravel(axes)[len(panels) :]:
        ax.axis("off")
    for ax, (title, image) in zip(np.ravel(axes), panels, strict=False):
        ax.imshow(image, cmap="gray")
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------- translation
TRANSLATION = [  # (data, label, model, options, steps, batch size)
    ("mnist5k-masked", "pix2pix", "pix2pix", {}, 1000, 64),
    ("mnist5k-masked", "L1-only U-Net", "pix2pix", {"adv_weight": 0.0}, 1000, 64),
    ("mnist5k-lowres", "pix2pix", "pix2pix", {}, 1000, 64),
    ("mnist5k-lowres", "L1-only U-Net", "pix2pix", {"adv_weight": 0.0}, 1000, 64),
    ("digits2mnist", "cyclegan", "cyclegan", {}, 1000, 8),
]


def bench_translation(steps_override: int | None = None) -> list[dict]:
    import genzoo
    from genzoo.metrics import evaluate
    from genzoo.viz.grid import translation_pairs

    torch.set_num_threads(2)
    rows, panels = [], []
    for data, label, name, extra, steps, batch in TRANSLATION:
        ds = genzoo.load_dataset(data)
        steps = steps_override or steps
        model, took = _fit(name, extra, ds, steps, batch, final_eval=False)
        res, _ = evaluate(model.eval(), ds, ["translation", "fid"])
        tr = res["translation"]
        rows.append(
            {
                "data": data,
                "model": label,
                "config": {"model": name, **extra},
                "steps": steps,
                "batch_size": batch,
                "train_seconds": round(took, 1),
                **tr["values"],
                **{f"{k}_floor": v for k, v in (tr["floor"] or {}).items()},
                "fid": res["fid"]["values"]["fid"],
            }
        )
        print(json.dumps(rows[-1]), flush=True)
        pick = np.linspace(0, len(ds.input.x_test) - 1, 12).astype(int)  # the test split is
        x_in = model.to_model_input(ds.input.x_test[pick])  # ordered by class
        target = model.to_model(ds.x_test[pick]) if ds.paired else None
        panels.append((f"{data}: {label}", translation_pairs(model, x_in, target)))
    _panels(panels, RESULTS / "translation.png", ncols=1)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="*", default=["toy", "mnist"])
    parser.add_argument("--steps", type=int, help="training steps per run")
    parser.add_argument("--seconds", type=float, default=480.0, help="budget: per model")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--device", default="cpu", help="stylegan: cpu or cuda")
    parser.add_argument("--workers", type=int, default=2, help="toy, stylegan: runs at once")
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
            bench_toy(results, steps, args.seeds, args.configs, args.sets, args.workers)
        elif section == "mnist":
            results["mnist"] = bench_mnist(args.steps or 5000)
            results["mnist_seconds"] = round(time.time() - t0)
        elif section == "budget":
            results["budget"] = bench_budget(args.seconds)
            results["budget_seconds"] = round(time.time() - t0)
        elif section == "stylegan":
            bench_stylegan(results, args.steps or 1500, args.seeds, args.device, args.workers)
        elif section == "translation":
            results["translation"] = bench_translation(args.steps)
            results["translation_seconds"] = round(time.time() - t0)
        else:
            raise SystemExit(
                f"unknown section {section}; choose toy, mnist, budget, stylegan or translation"
            )
        save(results)
        print_table(section, results.get(section))
        print(f"{section}: {time.time() - t0:.0f}s", flush=True)
