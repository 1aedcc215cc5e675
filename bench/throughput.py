"""Training throughput and model FLOP utilization; results go to bench/results/throughput.json.

    python bench/throughput.py [mfu] [--device cpu|cuda]

- mfu: for `ae`, `vae`, `dcgan` and `ddpm` with their defaults on mnist5k at batch 128: the
  model FLOPs of one training step (every phase, forward and backward, as PyTorch's
  `FlopCounterMode` counts the matrix multiplies and convolutions), the examples per second
  over `TIMED` steps after `WARM`, and the model FLOP utilization: achieved FLOP/s over the
  machine's measured peak, the best of dense float32 matrix multiplies (2n^3 FLOPs each, n of
  1,024 and 2,048, measured before and after the models). On a CPU the peak is measured with
  the threads training uses. Convolutional models can pass 1: oneDNN's convolution kernels
  beat the matrix multiply on this CPU, and for 3x3 convolutions may use algorithms
  (Winograd's) that do fewer multiplies than the FLOPs the counter credits.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from sections import run_sections
from torch.utils.flop_counter import FlopCounterMode

import genzoo

OUT = Path(__file__).parent / "results" / "throughput.json"
MODELS = ("ae", "vae", "dcgan", "ddpm")
BATCH = 128
WARM, TIMED = 10, 50
DEVICE = "cpu"  # --device cuda measures on the GPU


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, sizes=(1024, 2048), repeats: int = 20) -> float:
    """The best FLOP/s of float32 (n, n) @ (n, n) products on `device` over `sizes`, after a
    warm-up: a slow spell on a shared machine lowers the mean, not the best."""
    best = 0.0
    for n in sizes:
        a = torch.randn(n, n, device=device)
        b = torch.randn(n, n, device=device)
        for _ in range(3):
            a @ b
        for _ in range(repeats):
            _sync(device)
            t0 = time.perf_counter()
            a @ b
            _sync(device)
            best = max(best, 2 * n**3 / (time.perf_counter() - t0))
    return best


def _trainer(name: str, ds, device: str) -> genzoo.Trainer:
    model = genzoo.build_model(name, ds.info(), {}, seed=0)
    quiet = {"log_every": 0, "eval_every": 0, "tensorboard": False, "final_eval": False}
    cfg = genzoo.TrainConfig(
        **{
            **model.train_defaults,
            **quiet,
            "steps": 10**6,
            "batch_size": BATCH,
            "device": device,
            "precision": "fp32",
        }
    )
    trainer = genzoo.Trainer(model, ds, cfg, console=False)
    trainer._setup()  # what fit() does before its loop of train_step()
    return trainer


def bench_mfu(ds) -> list[dict]:
    device = DEVICE
    dev = torch.device(device)
    peak = matmul_peak(dev)
    rows = []
    for name in MODELS:
        trainer = _trainer(name, ds, device)
        for _ in range(WARM):
            trainer.train_step()
        counter = FlopCounterMode(display=False)
        with counter:
            trainer.train_step()
        flops = counter.get_total_flops()
        _sync(dev)
        t0 = time.perf_counter()
        for _ in range(TIMED):
            trainer.train_step()
        _sync(dev)
        seconds = time.perf_counter() - t0
        achieved = flops * TIMED / seconds
        rows.append(
            {
                "model": name,
                "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
                "threads": torch.get_num_threads(),
                "parameters": sum(p.numel() for p in trainer.model.parameters()),
                "batch_size": BATCH,
                "gflop_per_step": round(flops / 1e9, 3),
                "examples_per_second": round(TIMED * BATCH / seconds, 1),
                "achieved_gflops": round(achieved / 1e9, 2),
                "peak_gflops": round(peak / 1e9, 1),
                "mfu": round(achieved / peak, 4),
            }
        )
        print(rows[-1], flush=True)
    later = matmul_peak(dev)
    if later > peak:  # the machine was slower at the start: rescale to the better peak
        for row in rows:
            row["mfu"] = round(row["mfu"] * peak / later, 4)
            row["peak_gflops"] = round(later / 1e9, 1)
    return rows


if __name__ == "__main__":
    if "--device" in sys.argv:  # --device NAME is an option, not a section
        i = sys.argv.index("--device")
        DEVICE = sys.argv[i + 1] if i + 1 < len(sys.argv) else sys.exit("--device needs a value")
        del sys.argv[i : i + 2]
    run_sections(OUT, {"mfu": bench_mfu})
