"""Benchmark of the autoencoder family on mnist5k: four tables, written to
results/autoencoders.json and printed as Markdown for RESULTS.md.

    python bench/autoencoders.py                  # all four (about 10 minutes on 2 cores)
    python bench/autoencoders.py pca oneclass     # some of them

- pca: linear-ae test MSE / scikit-learn PCA test MSE, k in {2, 8, 32}, and the largest
  principal angle between the decoder's column space and PCA's subspace.
- denoise: PSNR on the test split at three Gaussian noise levels, before and after a
  denoising-ae and a conv-denoising-ae trained at that level, against a 3x3 median filter and
  a Gaussian blur.
- oneclass: train on one digit's train split, score the whole test split (reconstruction
  error), AUROC per digit.
- fewlabel: 10 labels per class; test error of the pretrained encoder fine-tuned, the same
  classifier from scratch, and logistic regression on raw pixels.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from sections import run_sections

import genzoo
from genzoo.apps import anomaly, denoise, pretrain

OUT = Path(__file__).parent / "results" / "autoencoders.json"


def fit(model_name: str, data, steps: int, config: dict, **train) -> genzoo.GenerativeModel:
    model = genzoo.build_model(model_name, data.info(), config, seed=0)
    cfg = genzoo.TrainConfig(steps=steps, log_every=0, eval_every=0, tensorboard=False, **train)
    genzoo.Trainer(model, data, cfg, console=False).fit()
    return model.eval()


def unit(ds, x):
    return torch.as_tensor(ds.transform("unit").forward(x))


def bench_pca(ds) -> list[dict]:
    from scipy.linalg import subspace_angles
    from sklearn.decomposition import PCA

    xtr, xte = unit(ds, ds.x_train).flatten(1).numpy(), unit(ds, ds.x_test)
    rows = []
    for k in (2, 8, 32):
        row: dict = {"k": k}
        t0 = time.time()
        pca = PCA(k).fit(xtr)
        row["pca_seconds"] = round(time.time() - t0, 3)
        flat = xte.flatten(1).numpy()
        pe = float(((pca.inverse_transform(pca.transform(flat)) - flat) ** 2).mean())
        for steps in (1000, 10000):  # a short run, and the one that reaches PCA
            t0 = time.time()
            model = fit(
                "linear-ae", ds, steps, {"latent_dim": k}, lr=1e-2, schedule="cosine",
                batch_size=256,
            )  # fmt: skip
            seconds = round(time.time() - t0, 1)
            with torch.no_grad():
                ae = float(((model.reconstruct(xte) - xte) ** 2).mean())
            row[f"ratio_{steps}"], row[f"ae_seconds_{steps}"] = ae / pe, seconds
        w = model.dec[0].weight.detach().double().numpy()
        angle = float(np.degrees(subspace_angles(w, pca.components_.T)).max())
        rows.append({**row, "ae_mse": ae, "pca_mse": pe, "ratio": ae / pe, "max_angle_deg": angle})
        print(rows[-1], flush=True)
    return rows


def bench_denoise(ds) -> list[dict]:
    x = unit(ds, ds.x_test)
    rows = []
    for std in (0.1, 0.3, 0.5):
        t0 = time.time()
        mlp = fit("denoising-ae", ds, 3000, {"latent_dim": 64, "noise_std": std})
        conv = fit("conv-denoising-ae", ds, 2000, {"latent_dim": 128, "noise_std": std})
        noisy = denoise.add_gaussian_noise(x, std, seed=1)
        rows.append(
            {
                "noise_std": std,
                "noisy": denoise.psnr(noisy, x),
                "median_3x3": denoise.psnr(denoise.median_filter(noisy), x),
                "gaussian_blur": denoise.psnr(denoise.gaussian_blur(noisy), x),
                "denoising_ae": denoise.psnr(denoise.denoise(mlp, noisy), x),
                "conv_denoising_ae": denoise.psnr(denoise.denoise(conv, noisy), x),
                "seconds": round(time.time() - t0, 1),
            }
        )
    return rows


def bench_oneclass(ds) -> list[dict]:
    rows = []
    x_test = unit(ds, ds.x_test)
    for digit in range(10):
        t0 = time.time()
        one = genzoo.load_dataset("mnist5k", classes=(str(digit),))
        model = fit("ae", one, 1500, {"latent_dim": 16}, batch_size=64)
        scores, _ = anomaly.anomaly_scores(model, x_test)
        auc = anomaly.detection_metrics(scores, ds.y_test != digit)["auroc"]
        rows.append({"digit": digit, "auroc": auc, "seconds": round(time.time() - t0, 1)})
    return rows


def bench_fewlabel(ds) -> list[dict]:
    """For each encoder and each fine-tuning protocol (with and without image augmentation):
    the mean (and each) test error over three draws of the labels."""
    xt, yt = unit(ds, ds.x_test), torch.as_tensor(ds.y_test)
    rows = []
    encoders = [
        ("ae", {"latent_dim": 32}),
        ("denoising-ae", {"latent_dim": 32, "corruption": "masking", "drop_prob": 0.3}),
        ("denoising-ae", {"latent_dim": 32, "corruption": "affine"}),
        ("conv-denoising-ae", {"latent_dim": 32, "corruption": "affine"}),
    ]
    for name, config in encoders:
        t0 = time.time()
        model = fit(name, ds, 4000, config)
        model.transform = ds.transform(model.data_range())
        for augment in (True, False):
            errors: dict[str, list[float]] = {"pretrained": [], "scratch": [], "logistic": []}
            for seed in range(3):
                idx = pretrain.few_labels(ds.y_train, 10, seed)
                x, y = unit(ds, ds.x_train[idx]), torch.as_tensor(ds.y_train[idx])
                cfg = pretrain.FineTuneConfig(seed=seed, augment=augment)
                clf = pretrain.fit_classifier(model, x, y, 10, cfg)
                errors["pretrained"].append(pretrain.error_rate(clf, xt, yt))
                fresh = genzoo.build_model(name, ds.info(), config, seed=100 + seed)
                fresh.transform = model.transform
                clf = pretrain.fit_classifier(fresh, x, y, 10, cfg)
                errors["scratch"].append(pretrain.error_rate(clf, xt, yt))
                errors["logistic"].append(
                    pretrain.logistic_baseline(x.numpy(), y.numpy(), xt.numpy(), yt.numpy())
                )
            rows.append(
                {
                    "encoder": name,
                    "config": config,
                    "augment": augment,
                    "labels_per_class": 10,
                    **{f"{k}_mean": float(np.mean(v)) for k, v in errors.items()},
                    "errors": errors,
                    "seconds": round(time.time() - t0, 1),
                }
            )
            print(rows[-1], flush=True)
    return rows


if __name__ == "__main__":
    run_sections(
        OUT,
        {
            "pca": bench_pca,
            "denoise": bench_denoise,
            "oneclass": bench_oneclass,
            "fewlabel": bench_fewlabel,
        },
    )
