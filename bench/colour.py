"""Colour images: one model of each family on mnist5k-color (3x32x32), and the image-to-image
tasks made from the images themselves; results go to bench/results/colour.json and the
pictures to docs/figures/.

    python bench/colour.py [families] [ddpm] [tasks]

- families: an autoencoder, a VAE, a GAN and a diffusion model, each trained as
  `genzoo train MODEL --data mnist5k-color --budget 5m` trains it: five minutes of wall clock
  in all on the 2 cores, its final evaluation and report included. FID and the class metrics of
  1,000 samples in the shipped mnist5k-color-cnn features, and 64 samples of each side by side
  (docs/figures/colour-families.png).
- ddpm: what makes DDPM draw colour digits in the steps five minutes allow: the training
  timesteps (uniform, or EDM's lognormal noise levels at two means), Min-SNR-gamma weighting
  and the ancestral sampler's steps, each recipe trained for the same 1,100 steps
  (`genzoo train ddpm --data mnist5k-color --steps 1100`, the five-minute run's count) and
  scored by FID of 1,000 samples drawn in 20 and in 50 steps.
- tasks: pix2pix on each task of `genzoo list tasks` made from mnist5k-color (colorize,
  superres4, inpaint), each `--budget 5m` with batches of 32: PSNR and SSIM of the test
  translations against their targets, beside the input's own (the baseline to beat), and a
  figure of inputs, translations and targets (docs/figures/colour-tasks.png).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sections import run_sections

import genzoo
from genzoo.cli.main import main

OUT = Path(__file__).parent / "results" / "colour.json"
FIGURES = Path(__file__).parent.parent / "docs" / "figures"
BUDGET = "5m"
# one model per family, each with the settings its guide gives for a short run on colour
# (docs/gans.md, "DCGAN"; docs/diffusion.md, "A diffusion model in five minutes")
FAMILIES = {
    "conv-ae": [],
    "vae": ["model.architecture=conv"],
    "dcgan": [
        "model.g_upsample=nearest", "model.channels=[64,128,256]", "train.batch_size=32",
        "train.lr=5e-4", "train.ema=true", "train.ema_decay=0.995", "train.steps=8000",
    ],
    "ddpm": [
        "model.prediction=v", "train.batch_size=32", "train.lr=2e-3", "train.warmup_steps=50",
        "train.ema_decay=0.99", "model.sampler=ddpm", "model.sample_steps=50",
        "model.min_snr_gamma=5", "model.timesteps=lognormal", "model.lognormal_mean=-0.6",
    ],
}  # fmt: skip
# the DDPM recipes compared at equal steps: the short-run settings, then what each one varies
DDPM_STEPS = 1100
DDPM_BASE = [
    "model.prediction=v", "train.batch_size=32", "train.lr=2e-3", "train.warmup_steps=50",
    "train.ema_decay=0.99",
]  # fmt: skip
DDPM_RECIPES = {
    "uniform t, Min-SNR-gamma 5": ["model.min_snr_gamma=5"],
    "lognormal t (mean -1.2), unweighted": ["model.timesteps=lognormal"],
    "lognormal t (mean -1.2), Min-SNR-gamma 5": [
        "model.timesteps=lognormal", "model.min_snr_gamma=5",
    ],
    "lognormal t (mean -0.6), Min-SNR-gamma 5": [
        "model.timesteps=lognormal", "model.lognormal_mean=-0.6", "model.min_snr_gamma=5",
    ],
}  # fmt: skip
TASKS = ("colorize", "superres4", "inpaint")
# the GAN guide's pix2pix batch: many more updates in the time than the default's 128
TASK_SETTINGS = ["train.batch_size=32"]


def save_figure(image, name: str) -> None:
    """A figure for the guides, in 256 colours (committed pictures stay under 400 kB)."""
    FIGURES.mkdir(parents=True, exist_ok=True)
    image.convert("RGB").quantize(256, dither=0).save(FIGURES / name, optimize=True)


def train(name: str, folder: Path, settings: list[str], data: str = "mnist5k-color") -> dict:
    """`genzoo train NAME --data DATA --budget 5m` in this process; its summary and seconds."""
    out = folder / name
    args = ["train", name, "--data", data, "--budget", BUDGET, "--out", str(out)]
    t0 = time.time()
    code = main([*args, *[a for s in settings for a in ("--set", s)]])
    seconds = time.time() - t0
    if code != 0:
        raise SystemExit(f"genzoo {' '.join(args)} exited {code}")
    summary = json.loads((out / "summary.json").read_text())
    return {"summary": summary, "seconds": round(seconds, 1), "run": out}


def bench_families(ds) -> list[dict]:
    from genzoo.metrics import evaluate
    from genzoo.viz.compare import side_by_side
    from genzoo.viz.grid import picture

    rows, panels = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, settings in FAMILIES.items():
            done = train(name, Path(tmp), settings)
            model = genzoo.load(done["run"])
            data = genzoo.load_dataset("mnist5k-color")
            results, _ = evaluate(model, data, ["fid", "classes"], n=1000)
            s = done["summary"]
            fid = results["fid"]["values"]["fid"]
            rows.append(
                {
                    "model": name,
                    "settings": settings,
                    "command_seconds": done["seconds"],
                    "train_seconds": s["train_seconds"],
                    "steps": s["steps"],
                    "fid": round(fid, 2),
                    "fid_floor": round(results["fid"]["floor"]["fid"], 2),
                    "classes_covered": results["classes"]["values"]["classes_covered"],
                    "features": results["fid"]["provenance"]["features"]["name"],
                }
            )
            print(rows[-1], flush=True)
            g = torch.Generator().manual_seed(0)
            with torch.no_grad():
                x = model.sample(64, generator=g)
            panels.append((f"{name}: FID {fid:.0f}", picture(model, [("samples", x)], 8)))
    save_figure(side_by_side(panels), "colour-families.png")
    return rows


def bench_ddpm(ds) -> list[dict]:
    import dataclasses

    from genzoo.metrics import evaluate

    data = genzoo.load_dataset("mnist5k-color")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for recipe, settings in DDPM_RECIPES.items():
            out = Path(tmp) / str(len(rows))
            args = ["train", "ddpm", "--data", "mnist5k-color", "--steps", str(DDPM_STEPS)]
            args += ["--out", str(out), "--set", "train.final_eval=false"]
            t0 = time.time()
            if main([*args, *[a for s in DDPM_BASE + settings for a in ("--set", s)]]) != 0:
                raise SystemExit(f"genzoo {' '.join(args)} failed")
            row = {"recipe": recipe, "settings": settings, "steps": DDPM_STEPS}
            row["train_seconds"] = round(time.time() - t0, 1)
            model = genzoo.load(out)
            for steps in (20, 50):
                model.config = dataclasses.replace(model.config, sampler="ddpm", sample_steps=steps)
                results, _ = evaluate(model, data, ["fid"], n=1000)
                row[f"fid_ddpm{steps}"] = round(results["fid"]["values"]["fid"], 2)
            rows.append(row)
            print(row, flush=True)
    return rows


def bench_tasks(ds) -> list[dict]:
    from genzoo.metrics import evaluate
    from genzoo.viz.compare import side_by_side
    from genzoo.viz.grid import translation_pairs

    rows, panels = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for task in TASKS:
            done = train("pix2pix", Path(tmp) / task, [f"data.task={task}", *TASK_SETTINGS])
            model = genzoo.load(done["run"])
            data = genzoo.load_dataset(genzoo.DataConfig(source="mnist5k-color", task=task))
            results, _ = evaluate(model, data, ["translation"])
            v = results["translation"]["values"]
            rows.append(
                {
                    "task": task,
                    "settings": TASK_SETTINGS,
                    "command_seconds": done["seconds"],
                    "steps": done["summary"]["steps"],
                    "psnr": round(v["psnr"], 2),
                    "ssim": round(v["ssim"], 3),
                    "psnr_input": round(v.get("psnr_input", float("nan")), 2),
                    "ssim_input": round(v.get("ssim_input", float("nan")), 3),
                }
            )
            print(rows[-1], flush=True)
            x_in = data.inputs_for("test")
            pick = np.linspace(0, len(x_in) - 1, 6).round().astype(int)
            with torch.no_grad():
                strip = translation_pairs(
                    model, model.to_model_input(x_in[pick]), model.to_model(data.x_test[pick])
                )
            panels.append((f"{task}: PSNR {v['psnr']:.1f} dB", strip))
    save_figure(side_by_side(panels), "colour-tasks.png")
    return rows


SECTIONS = {"families": bench_families, "ddpm": bench_ddpm, "tasks": bench_tasks}


if __name__ == "__main__":
    run_sections(OUT, SECTIONS)
