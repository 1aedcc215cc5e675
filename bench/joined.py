"""The joined families and the autoencoders that generate, on mnist5k and the two CPU cores;
results go to bench/results/joined.json.

    python bench/joined.py [densities] [ldm] [diffae] [two-stage]

- densities: each autoencoder trained for SECONDS of steps (as bench/time_to_quality.py
  times them: the steps alone), then FID of 1,000 samples (shipped mnist5k feature network,
  floor 0.69) decoded from each code density it has: one Gaussian with the codes' running
  mean and covariance (what `ae` sampled from before), the Gaussian mixture fitted to the
  training codes with K chosen on held-out codes, and the model's own prior where it has one
  (the VAE's and WAE's N(0, I); the two-stage VAE's second stage); and the PSNR of each
  one's reconstructions of the test digits. The VAE-GAN runs beside them.
- ldm: a `vae` trained for AE_SECONDS, then `ldm` on its codes, evaluated at LDM_MARKS seconds
  of the diffusion model's steps; the total is both trainings' seconds. Beside it, pixel-space
  `ddpm` and `edm` as bench/results/time_to_quality.json has them (same machine, same FID), and
  each one's seconds per 1,000 samples.
- diffae: `diffae`, `ae` and `vae` with 16-number codes, each trained for SECONDS of steps;
  the PSNR of their reconstructions of RECON_N test digits (diffae's from (z_sem, x_T) after
  inversion in 20, 50 and 100 steps, and from z_sem alone with fresh x_T), the test accuracy
  of a logistic regression on the codes of the 5,000 training digits (standardized), and the
  FID of 1,000 samples (the ae's from its mixture).
- two-stage: `vae` with `second_stage=0.5` for TWO_STAGE_STEPS steps, with its second stage's
  KL warm-up (`second_warmup`) off and on: FID of samples through the second stage and from
  N(0, I).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from sections import print_table
from time_to_quality import N_FID, fid, image_score, ours

import genzoo

OUT = Path(__file__).parent / "results" / "joined.json"
TTQ = Path(__file__).parent / "results" / "time_to_quality.json"
SECONDS = 300
AE_SECONDS = 120
LDM_MARKS = (30, 60, 120, 300)
RECON_N = 200
INVERT_STEPS = (20, 50, 100)

# code densities: label -> the options of `sample` that draw from it
FIT = {"gaussian": {"prior": "gaussian"}, "mixture": {"prior": "mixture"}}
PRIOR = {"normal": {}}  # the model's own prior, N(0, I)
# label -> (model, options, train options, code densities to sample from, overrun)
DENSITIES = {
    "ae": ("ae", {}, {}, FIT, 10),
    "conv-ae": ("conv-ae", {}, {}, FIT, 10),
    "rae": ("rae", {}, {}, FIT, 10),
    "wae": ("wae", {"prior": "mixture"}, {}, {"normal": {"prior": "normal"}, **FIT}, 10),
    "vae": ("vae", {}, {}, PRIOR, 10),
    # the second stage takes the last 20% of the planned steps: the plan must be the run
    "vae, two-stage": ("vae", {"second_stage": 0.2}, {}, {"two-stage": {}}, 1),
    "vae-gan": ("vae-gan", {}, {}, PRIOR, 10),
}


def reconstruction_psnr(ds, model, n: int | None = None, rebuild=None) -> float:
    """PSNR (dB, images in [0, 1]) of the model's reconstructions of the first n (default:
    all 1,000) test digits, by `rebuild(x)` (default: model.reconstruct)."""
    raw_x = ds.x_test[:n]
    x = model.to_model(raw_x)
    rebuild = rebuild or model.reconstruct
    with torch.no_grad():
        x_hat = torch.cat([rebuild(x[i : i + 100]) for i in range(0, len(x), 100)])
    raw = torch.as_tensor(model.to_data(x_hat)).float() / 255
    mse = (raw - torch.as_tensor(raw_x).float() / 255).pow(2).mean()
    return round(float(10 * torch.log10(1 / mse)), 2)


def probe_accuracy(ds, model) -> float:
    """Test accuracy of a logistic regression on the model's codes of the training digits."""
    from genzoo.models.base import in_batches
    from genzoo.models.latent import linear_probe

    with torch.no_grad():
        z_train = in_batches(model.encode, model.to_model(ds.x_train))
        z_test = in_batches(model.encode, model.to_model(ds.x_test))
    return round(linear_probe(z_train, ds.y_train, z_test, ds.y_test), 4)


def results() -> dict:
    return json.loads(OUT.read_text()) if OUT.exists() else {}


def keep(section: str, row: dict) -> None:
    res = results()
    res[section] = [r for r in res.get(section, []) if r["entry"] != row["entry"]] + [row]
    OUT.write_text(json.dumps(res, indent=2) + "\n")


def densities(ds, only: list[str] | None) -> None:
    for entry, (model, options, train, priors, overrun) in DENSITIES.items():
        if only and entry not in only:
            continue
        print(f"densities: {entry}", flush=True)

        def score(ds, draw, priors=priors):
            out = {}
            for prior, kw in priors.items():
                g = torch.Generator().manual_seed(0)
                with torch.no_grad():
                    x = torch.cat([draw(100, g, **kw) for _ in range(N_FID // 100)])
                out[f"fid_{prior}"] = fid(ds, x)
            out["recon_psnr"] = reconstruction_psnr(ds, draw.model)
            return out

        (row,) = ours(ds, model, options, train, [SECONDS], score, overrun=overrun)
        print(f"  {row}", flush=True)
        keep("densities", {"entry": entry, "model": model, "options": options, **row})
    rows = results().get("densities", [])
    print_table("densities: FID after 300 s", rows)


def ldm(ds, only: list[str] | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        rc = {"log_every": 0, "eval_every": 0, "sample_every": 0, "checkpoint_every": 0}
        cfg = genzoo.TrainConfig(
            steps=10**7, max_step_seconds=AE_SECONDS, tensorboard=False, final_eval=False, **rc
        )
        vae = genzoo.build_model("vae", ds.info(), {}, seed=0)
        trainer = genzoo.Trainer(vae, ds, cfg, out=Path(tmp) / "vae", console=False)
        trainer.fit()
        ae_seconds = round(trainer.step_seconds, 1)
        print(f"vae: {trainer.step} steps in {ae_seconds} s ({time.time() - t0:.0f} s)")
        vae_row = {"entry": "vae (the autoencoder)", "train_seconds": ae_seconds,
                   "steps": trainer.step,
                   **image_score(ds, lambda n, g: torch.as_tensor(
                       vae.to_data(vae.eval().sample(n, generator=g))))}  # fmt: skip
        keep("ldm", vae_row)
        print(f"  {vae_row}", flush=True)
        options = {"autoencoder": str(Path(tmp) / "vae")}
        for row in ours(ds, "ldm", options, {}, list(LDM_MARKS), image_score):
            row = {**row, "entry": f"ldm {row['budget']} s", "ae_seconds": ae_seconds,
                   "total_seconds": round(ae_seconds + row["train_seconds"], 1)}  # fmt: skip
            keep("ldm", row)
    pixel = json.loads(TTQ.read_text())["diffusion"]
    for r in pixel:
        if r["entry"] in ("ddpm", "edm") and r["budget"] in (300, 600):
            keep("ldm", {"entry": f"{r['entry']} {r['budget']} s (time_to_quality.json)",
                         **{k: r[k] for k in ("budget", "steps", "train_seconds", "fid",
                                              "sample_seconds_per_1000")},
                         "total_seconds": r["train_seconds"]})  # fmt: skip
    print_table("ldm against pixel-space diffusion", results().get("ldm", []))


# label -> (model, options, the code density its samples come from)
DIFFAE = {
    "diffae": ("diffae", {"latent_dim": 16}, {}),
    "ae": ("ae", {"latent_dim": 16}, {"prior": "mixture"}),
    "vae": ("vae", {"latent_dim": 16}, {}),
}


def diffae(ds, only: list[str] | None) -> None:
    for entry, (model, options, sample_kw) in DIFFAE.items():
        if only and entry not in only:
            continue
        print(f"diffae: {entry}", flush=True)

        def score(ds, draw, sample_kw=sample_kw, model=model):
            m = draw.model
            out = {"probe_accuracy": probe_accuracy(ds, m)}
            if model == "diffae":
                for steps in INVERT_STEPS:
                    out[f"psnr_{steps}_steps"] = reconstruction_psnr(
                        ds, m, RECON_N, lambda x, s=steps: m.reconstruct(x, steps=s)
                    )
                out["psnr_z_sem_alone"] = reconstruction_psnr(
                    ds, m, RECON_N, lambda x: m.decode(m.encode(x), torch.randn_like(x))
                )
            else:
                out["psnr"] = reconstruction_psnr(ds, m, RECON_N)
            t0 = time.time()
            g = torch.Generator().manual_seed(0)
            with torch.no_grad():
                x = torch.cat([draw(100, g, **sample_kw) for _ in range(N_FID // 100)])
            out["sample_seconds_per_1000"] = round((time.time() - t0) * 1000 / N_FID, 1)
            out["fid"] = fid(ds, x)
            return out

        (row,) = ours(ds, model, options, {}, [SECONDS], score)
        keep("diffae", {"entry": entry, "model": model, "options": options, **row})
    print_table("diffae against same-size ae and vae codes", results().get("diffae", []))


TWO_STAGE_STEPS = 6000  # steps, not seconds: the second stage is the last share of the plan
TWO_STAGE_WARMUPS = (0.0, 0.5)  # second_warmup: none, and the default


def two_stage(ds, only: list[str] | None) -> None:
    """The two-stage VAE with and without its KL warm-up, trained for TWO_STAGE_STEPS steps
    with the second stage on the last half: FID of 1,000 samples from the second stage and
    from the first stage's N(0, I)."""
    for warmup in TWO_STAGE_WARMUPS:
        entry = f"vae, second_stage=0.5, second_warmup={warmup}"
        if only and entry not in only:
            continue
        print(f"two-stage: {entry}", flush=True)
        options = {"second_stage": 0.5, "second_warmup": warmup}
        model = genzoo.build_model("vae", ds.info(), options, seed=0)
        quiet = {"log_every": 0, "eval_every": 0, "sample_every": 0, "checkpoint_every": 0}
        cfg = genzoo.TrainConfig(
            steps=TWO_STAGE_STEPS, tensorboard=False, final_eval=False, **quiet
        )
        trainer = genzoo.Trainer(model, ds, cfg, console=False)
        trainer.fit()
        model.eval()
        row = {"entry": entry, "options": options, "steps": trainer.step,
               "train_seconds": round(trainer.step_seconds, 1)}  # fmt: skip
        for label, stage2 in (("fid_two_stage", model.stage2), ("fid_normal", None)):
            kept, model.stage2 = model.stage2, stage2
            g = torch.Generator().manual_seed(0)
            with torch.no_grad():
                x = torch.cat(
                    [torch.as_tensor(model.to_data(model.sample(100, generator=g)))
                     for _ in range(N_FID // 100)]
                )  # fmt: skip
            model.stage2 = kept
            row[label] = fid(ds, x)
        print(f"  {row}", flush=True)
        keep("two_stage", row)
    print_table("the two-stage VAE's second stage", results().get("two_stage", []))


SECTIONS = {"densities": densities, "ldm": ldm, "diffae": diffae, "two-stage": two_stage}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sections", nargs="*", default=list(SECTIONS))
    parser.add_argument("--only", nargs="*", help="entries to run (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    ds = genzoo.load_dataset("mnist5k")
    for name in args.sections:
        if name not in SECTIONS:
            sys.exit(f"unknown section {name}; choose from {', '.join(SECTIONS)}")
        SECTIONS[name](ds, args.only)


if __name__ == "__main__":
    main()
