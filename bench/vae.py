"""Benchmarks of the VAE family on mnist5k; results go to bench/results/vae.json.

    python bench/vae.py [nll] [pythae] [quality] [augment]

- nll: `vae` and `iwae` (k = 5) at equal architecture (Burda et al. 2016: 784-200-200-50,
  tanh), dynamically binarized, test NLL estimated with k = 5,000 importance samples on a fixed
  binarization of the test split.
- pythae: the same VAE in genzoo and in pythae 0.1.2 (`pip install -e .[bench]`), on the same
  statically binarized data, the same architecture, optimizer, batch size and epochs: seconds
  per epoch, and the test NLL of both with one estimator (k = 5,000).
- quality: FID and class coverage of samples (shipped mnist5k feature network) for `vae`,
  `beta-vae` and `cvae`.
- augment: a small classifier (an MLP on pixels) trained on few real labels, with and without
  2,000 synthetic examples from a `cvae` trained on those same labelled examples only.
"""

from __future__ import annotations

import copy
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sections import run_sections, timed_fit
from torch import nn

from genzoo.metrics import evaluate
from genzoo.models.vae.common import log_normal, log_standard_normal

OUT = Path(__file__).parent / "results" / "vae.json"
BURDA = {"hidden": [200, 200], "latent_dim": 50, "activation": "tanh"}
BATCH, LR = 128, 1e-3


def fit(name, ds, steps, config, seed=0):
    model, seconds = timed_fit(
        name, ds, config, seed, steps=steps, batch_size=min(BATCH, len(ds.x_train)), lr=LR
    )
    return model.eval(), seconds


def epochs(steps, ds):
    return steps * BATCH / len(ds.x_train)


def bench_nll(ds) -> list[dict]:
    rows, steps = [], 4000
    for name, extra in (("vae", {}), ("iwae", {"k": 5})):
        model, seconds = fit(name, ds, steps, {**BURDA, "binarize": True, **extra})
        t0 = time.time()
        res, _ = evaluate(model, ds, ["nll"], nll_samples=5000)
        rows.append(
            {
                "model": name,
                "config": {**BURDA, "binarize": True, **extra},
                "steps": steps,
                "epochs": round(epochs(steps, ds), 1),
                "train_seconds": round(seconds, 1),
                "nll_nats": res["nll"]["values"]["nll_nats"],
                "bits_per_dim": res["nll"]["values"]["bits_per_dim"],
                "nll_seconds": round(time.time() - t0, 1),
                "provenance": res["nll"]["provenance"],
            }
        )
        print(rows[-1], flush=True)
    return rows


# ---------------------------------------------------------------- genzoo vs pythae
def static_binarized(ds):
    """A copy of mnist5k with one fixed binarization of each split (raw units)."""
    lo, hi = ds.value_range
    g = np.random.default_rng(0)
    out = copy.copy(ds)
    for split in ("x_train", "x_test"):
        p = (getattr(ds, split) - lo) / (hi - lo)
        setattr(out, split, (g.random(p.shape) < p).astype(np.float32) * (hi - lo) + lo)
    return out


@torch.no_grad()
def iw_nll(encode, decode_probs, x: torch.Tensor, k: int = 5000, chunk: int = 500) -> float:
    """-mean log p(x) by importance sampling, one estimator for both libraries' models:
    encode(x) -> (mu, logvar); decode_probs(z) -> Bernoulli means (B, 1, 28, 28)."""
    torch.manual_seed(0)
    total = 0.0
    for i in range(0, len(x), 20):
        xb = x[i : i + 20]
        mu, logvar = encode(xb)
        parts = []
        for _ in range(0, k, chunk):
            z = mu + torch.exp(0.5 * logvar) * torch.randn(chunk, *mu.shape)
            p = decode_probs(z.flatten(0, 1)).clamp(1e-7, 1 - 1e-7).view(chunk, len(xb), -1)
            xs = xb.flatten(1)
            log_px = (xs * p.log() + (1 - xs) * (1 - p).log()).sum(-1)
            log_w = log_px + log_standard_normal(z) - log_normal(z, mu, logvar)
            parts.append(torch.logsumexp(log_w, 0))
        total += float((torch.logsumexp(torch.stack(parts), 0) - math.log(k)).sum())
    return -total / len(x)


def pythae_vae(input_shape, latent: int, hidden: list[int], act=nn.Tanh, loss: str = "bce"):
    """pythae's VAE on an MLP: `hidden` widths with `act` after each, mirrored in the decoder
    (sigmoid output); `loss` is its reconstruction loss ("bce" or its default "mse")."""
    from pythae.models import VAE, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    d = int(np.prod(input_shape))

    def mlp(widths):
        layers = []
        for a, b in zip(widths, widths[1:], strict=False):
            layers += [nn.Linear(a, b), act()]
        return layers

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(*mlp([d, *hidden]))
            self.mu, self.logvar = nn.Linear(hidden[-1], latent), nn.Linear(hidden[-1], latent)

        def forward(self, x):
            h = self.net(x.flatten(1))
            return ModelOutput(embedding=self.mu(h), log_covariance=self.logvar(h))

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            widths = [latent, *reversed(hidden)]
            self.net = nn.Sequential(*mlp(widths), nn.Linear(widths[-1], d), nn.Sigmoid())

        def forward(self, z):
            return ModelOutput(reconstruction=self.net(z).view(-1, *input_shape))

    cfg = VAEConfig(input_dim=tuple(input_shape), latent_dim=latent, reconstruction_loss=loss)
    return VAE(cfg, encoder=Encoder(), decoder=Decoder())


def bench_pythae(ds, repeats: int = 3) -> list[dict]:
    """Both libraries train `repeats` times, alternating, after one untimed warm-up each;
    seconds per epoch is the median over the repeats, the NLL that of the first models."""
    import contextlib
    import io
    import logging

    from pythae.pipelines import TrainingPipeline
    from pythae.trainers import BaseTrainerConfig

    logging.getLogger("pythae").setLevel(logging.WARNING)
    data = static_binarized(ds)
    n_epochs = 40
    config = {**BURDA, "binarize": False}
    to_unit = data.transform("unit").forward  # raw units -> [0, 1], what our VAE sees
    x_train = np.asarray(to_unit(data.x_train), dtype=np.float32)
    x_test = torch.as_tensor(to_unit(data.x_test))

    def ours(epochs, seed):
        steps = math.ceil(len(data.x_train) / BATCH) * epochs  # whole epochs, like pythae
        return fit("vae", data, steps, config, seed)

    def theirs(epochs, seed):
        torch.manual_seed(seed)
        model = pythae_vae(data.shape, BURDA["latent_dim"], BURDA["hidden"])
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stderr(io.StringIO()):
            cfg = BaseTrainerConfig(
                output_dir=tmp,
                num_epochs=epochs,
                learning_rate=LR,
                per_device_train_batch_size=BATCH,
                no_cuda=True,
                seed=seed,
            )
            t0 = time.time()
            with contextlib.redirect_stdout(io.StringIO()):
                TrainingPipeline(training_config=cfg, model=model)(train_data=x_train)
            return model.eval(), time.time() - t0

    ours(1, 0), theirs(1, 0)  # warm-up: imports and first-call costs, untimed
    runs = {"genzoo": [], "pythae 0.1.2": []}
    for seed in range(repeats):
        runs["genzoo"].append(ours(n_epochs, seed))
        runs["pythae 0.1.2"].append(theirs(n_epochs, seed))
    mine, other = runs["genzoo"][0][0], runs["pythae 0.1.2"][0][0]

    def their_encode(x):
        out = other.encoder(x)
        return out.embedding, out.log_covariance

    nll = {
        "genzoo": iw_nll(mine.posterior, mine.decode, x_test),
        "pythae 0.1.2": iw_nll(their_encode, lambda z: other.decoder(z).reconstruction, x_test),
    }
    rows = []
    for library, results in runs.items():
        per_epoch = [seconds / n_epochs for _, seconds in results]
        rows.append(
            {
                "library": library,
                "epochs": n_epochs,
                "seconds_per_epoch": round(float(np.median(per_epoch)), 3),
                "seconds_per_epoch_runs": [round(t, 3) for t in per_epoch],
                "nll_nats": nll[library],
            }
        )
        print(rows[-1], flush=True)
    return rows


# ---------------------------------------------------------------- sample quality
def bench_quality(ds) -> list[dict]:
    rows, steps = [], 4000
    for name, config in (
        ("vae", {"latent_dim": 16}),
        ("beta-vae", {"latent_dim": 16, "beta": 2.0, "warmup_steps": 1000}),
        ("cvae", {"latent_dim": 16}),
    ):
        model, seconds = fit(name, ds, steps, config)
        res, _ = evaluate(model, ds, ["fid", "classes"])
        rows.append(
            {
                "model": name,
                "config": config,
                "steps": steps,
                "train_seconds": round(seconds, 1),
                "fid": res["fid"]["values"]["fid"],
                "fid_floor": res["fid"]["floor"]["fid"],
                **res["classes"]["values"],
            }
        )
        print(rows[-1], flush=True)
    return rows


# ---------------------------------------------------------------- augmentation
def bench_augment(ds) -> list[dict]:
    from sklearn.neural_network import MLPClassifier

    from genzoo.apps.augment import synthesize
    from genzoo.apps.pretrain import few_labels

    lo, hi = ds.value_range
    flat = lambda x: ((x - lo) / (hi - lo)).reshape(len(x), -1)  # noqa: E731

    def error(x, y, seed):
        clf = MLPClassifier((256,), alpha=1e-3, max_iter=300, random_state=seed)
        clf.fit(flat(x), y)
        return float((clf.predict(flat(ds.x_test)) != ds.y_test).mean())

    rows = []
    for per_class in (10, 50):
        errs = {"real": [], "real+synthetic": []}
        for seed in range(2):
            idx = few_labels(ds.y_train, per_class, seed)
            small = copy.copy(ds)
            small.x_train, small.y_train = ds.x_train[idx], ds.y_train[idx]
            model, _ = fit("cvae", small, 2000, {"latent_dim": 8}, seed=seed)
            model.transform = small.transform(model.data_range())
            xs, ys = synthesize(model, 2000, seed=seed)
            errs["real"].append(error(small.x_train, small.y_train, seed))
            errs["real+synthetic"].append(
                error(
                    np.concatenate([small.x_train, xs]), np.concatenate([small.y_train, ys]), seed
                )
            )
        rows.append(
            {
                "labels_per_class": per_class,
                "synthetic": 2000,
                **{f"{k}_error_mean": float(np.mean(v)) for k, v in errs.items()},
                "errors": errs,
            }
        )
        print(rows[-1], flush=True)
    return rows


if __name__ == "__main__":
    run_sections(
        OUT,
        {
            "nll": bench_nll,
            "pythae": bench_pythae,
            "quality": bench_quality,
            "augment": bench_augment,
        },
    )
