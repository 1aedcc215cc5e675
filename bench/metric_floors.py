"""Benchmark: the sample-quality floors of the shipped feature networks.

    python bench/metric_floors.py        # writes bench/results/metric_floors.json

For each bundled image set: the feature network's held-out accuracy, then FID, KID,
precision/recall and density/coverage for real data alone (a random train subset against the
whole test split, same N), and for two broken "generators", blurred test images and uniform
noise, to show the scale between "perfect" and "useless".
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sections import print_table

import genzoo
from genzoo.metrics import sample_quality as sq
from genzoo.metrics.features import load_feature_net, shipped, to_unit


def scores(real: torch.Tensor, fake: torch.Tensor) -> dict[str, float]:
    p, r = sq.precision_recall(real, fake)
    d, c = sq.density_coverage(real, fake)
    kid, _ = sq.kid(real, fake)
    return {
        "fid": round(sq.fid(real, fake), 3),
        "kid": round(kid, 4),
        "precision": round(p, 3),
        "recall": round(r, 3),
        "density": round(d, 3),
        "coverage": round(c, 3),
    }


def main() -> None:
    results = {}
    for name in ("mnist5k", "digits"):
        ds = genzoo.load_dataset(name)
        fn = load_feature_net(shipped(name))
        info = ds.info()
        x_test = to_unit(ds.x_test, info)
        n = len(x_test)
        pick = np.sort(np.random.default_rng(1).choice(len(ds.x_train), n, replace=False))
        real = fn.features(x_test)
        side = x_test.shape[-1]
        blurred = F.interpolate(
            F.avg_pool2d(x_test, 4 if side >= 16 else 2), size=side, mode="bilinear"
        )
        noise = torch.rand(x_test.shape, generator=torch.Generator().manual_seed(0))
        results[name] = {
            "feature_network": {
                "sha256": fn.sha256,
                "test_accuracy": fn.meta["test_accuracy"],
                "test_examples": fn.meta["test_examples"],
            },
            "n": n,
            "real_vs_real": scores(real, fn.features(to_unit(ds.x_train[pick], info))),
            "blurred": scores(real, fn.features(blurred)),
            "noise": scores(real, fn.features(noise)),
        }
    out = Path(__file__).parent / "results" / "metric_floors.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(out.stem, results)


if __name__ == "__main__":
    main()
