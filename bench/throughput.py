"""Training throughput, model FLOP utilization, scaling over processes and the compiled path;
results go to bench/results/throughput.json.

    python bench/throughput.py [mfu] [scaling] [compile] [--device cpu|cuda] [--batch N]

- mfu: for `ae`, `vae`, `dcgan` and `ddpm` with their defaults on mnist5k at batch 128: the
  model FLOPs of one training step (every phase, forward and backward, as PyTorch's
  `FlopCounterMode` counts the matrix multiplies and convolutions), the examples per second
  over `TIMED` steps after `WARM`, and the model FLOP utilization: achieved FLOP/s over the
  machine's measured peak, the best of dense float32 matrix multiplies (2n^3 FLOPs each, n of
  1,024 and 2,048, measured before and after the models). On a CPU the peak is measured with
  the threads training uses. Convolutional models can pass 1: oneDNN's convolution kernels
  beat the matrix multiply on this CPU, and for 3x3 convolutions may use algorithms
  (Winograd's) that do fewer multiplies than the FLOPs the counter credits.
- scaling: the same models at one global batch of 128, trained by one process with every
  thread, then by `torchrun` with one process per thread (or per GPU) at 128 / N each
  (gradients averaged by DDP over gloo or NCCL): examples per second of each, and the ratio.
- compile: the same models eager and with `train.compile` (torch.compile of every phase's
  loss): examples per second after the compilation, medians of three alternating turns; the
  first three compiled steps are timed apart (they compile, or load inductor's cache).
"""

from __future__ import annotations

import json
import os
import subprocess
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


def _trainer(name: str, ds, device: str, batch: int | None = None, **train) -> genzoo.Trainer:
    model = genzoo.build_model(name, ds.info(), {}, seed=0)
    quiet = {"log_every": 0, "eval_every": 0, "tensorboard": False, "final_eval": False}
    cfg = genzoo.TrainConfig(
        **{
            **model.train_defaults,
            **quiet,
            "steps": 10**6,
            "batch_size": batch or BATCH,
            "device": device,
            "precision": "fp32",
            **train,
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


def _rate(trainer: genzoo.Trainer, warm: int = WARM, timed: int = TIMED) -> float:
    """Training steps per second over `timed` steps after `warm`, every process in step."""
    from genzoo.train import distributed

    for _ in range(warm):
        trainer.train_step()
    _sync(trainer.device)
    distributed.barrier()
    t0 = time.perf_counter()
    for _ in range(timed):
        trainer.train_step()
    _sync(trainer.device)
    distributed.barrier()
    return timed / (time.perf_counter() - t0)


def scaling_worker(name: str) -> None:
    """One process of a `torchrun` launch: steps per second at BATCH / world each."""
    world = int(os.environ["WORLD_SIZE"])
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    ds = genzoo.load_dataset("mnist5k")
    trainer = _trainer(name, ds, DEVICE, batch=BATCH // world)
    rate = _rate(trainer)
    # where a step's time goes: averaging a gradient the size of the model, alone
    import torch.distributed as dist

    flat = torch.zeros(sum(p.numel() for p in trainer.model.parameters()), device=trainer.device)
    for _ in range(3):
        dist.all_reduce(flat)
    _sync(trainer.device)
    t0 = time.perf_counter()
    for _ in range(20):
        dist.all_reduce(flat)
    _sync(trainer.device)
    allreduce = (time.perf_counter() - t0) / 20
    if trainer.world.is_main:
        out = {"steps_per_second": rate, "allreduce_ms": 1000 * allreduce}
        print("RATE", json.dumps(out), flush=True)
    from genzoo.train import distributed

    distributed.shutdown(finished=True)


def bench_scaling(ds) -> list[dict]:
    dev = torch.device(DEVICE)
    n = torch.cuda.device_count() if dev.type == "cuda" else torch.get_num_threads()
    rows = []
    for name in MODELS:
        one = _rate(_trainer(name, ds, DEVICE))
        env = {**os.environ, "OMP_NUM_THREADS": "1" if dev.type == "cpu" else "4"}
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        cmd += ["--nproc_per_node", str(n), __file__, "_scaling_worker", name, DEVICE]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        line = next((x for x in done.stdout.splitlines() if x.startswith("RATE ")), None)
        if done.returncode != 0 or line is None:
            sys.exit(f"{name}: the {n}-process run failed:\n{done.stderr[-3000:]}")
        measured = json.loads(line[5:])
        many = measured["steps_per_second"]
        # one process's share of the work alone: its batch with its threads, no averaging
        threads = torch.get_num_threads()
        if dev.type == "cpu":
            torch.set_num_threads(1)
        alone = _rate(_trainer(name, ds, DEVICE, batch=BATCH // n))
        torch.set_num_threads(threads)
        rows.append(
            {
                "model": name,
                "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
                "global_batch": BATCH,
                "one_process": {
                    "threads": torch.get_num_threads(),
                    "examples_per_second": round(one * BATCH, 1),
                },
                "processes": n,
                "many_processes": {
                    "threads_each": 1 if dev.type == "cpu" else None,
                    "examples_per_second": round(many * BATCH, 1),
                },
                "ratio": round(many / one, 3),
                "step_ms": {
                    "one_process": round(1000 / one, 2),
                    "many_processes": round(1000 / many, 2),
                    "share_alone": round(1000 / alone, 2),
                    "allreduce_alone": round(measured["allreduce_ms"], 2),
                },
            }
        )
        print(rows[-1], flush=True)
    return rows


def bench_compile(ds) -> list[dict]:
    dev = torch.device(DEVICE)
    rows = []
    for name in MODELS:
        eager = _trainer(name, ds, DEVICE)
        compiled = _trainer(name, ds, DEVICE, compile=True)
        t0 = time.perf_counter()
        for _ in range(3):  # the first steps compile every phase
            compiled.train_step()
        _sync(dev)
        first = time.perf_counter() - t0
        turns = {"eager": [], "compiled": []}
        for _ in range(3):  # alternating, so a slow spell of the machine hits both
            turns["eager"].append(_rate(eager))
            turns["compiled"].append(_rate(compiled))
        med = {k: sorted(v)[1] for k, v in turns.items()}
        rows.append(
            {
                "model": name,
                "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
                "threads": torch.get_num_threads(),
                "batch_size": BATCH,
                "eager_examples_per_second": round(med["eager"] * BATCH, 1),
                "compiled_examples_per_second": round(med["compiled"] * BATCH, 1),
                "speedup": round(med["compiled"] / med["eager"], 3),
                "first_three_steps_seconds": round(first, 1),
            }
        )
        print(rows[-1], flush=True)
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["_scaling_worker"]:  # one process of bench_scaling's torchrun
        DEVICE = sys.argv[3]
        scaling_worker(sys.argv[2])
        sys.exit(0)
    if "--device" in sys.argv:  # --device NAME is an option, not a section
        i = sys.argv.index("--device")
        DEVICE = sys.argv[i + 1] if i + 1 < len(sys.argv) else sys.exit("--device needs a value")
        del sys.argv[i : i + 2]
    if "--batch" in sys.argv:  # --batch N: another batch size, figures in a file of their own
        i = sys.argv.index("--batch")
        BATCH = int(sys.argv[i + 1]) if i + 1 < len(sys.argv) else sys.exit("--batch needs N")
        del sys.argv[i : i + 2]
    if DEVICE != "cpu":  # a GPU's figures go beside the CPU's, not over them
        OUT = OUT.with_name(f"throughput-{DEVICE.split(':')[0]}.json")
    if BATCH != 128:
        OUT = OUT.with_name(f"{OUT.stem}-batch{BATCH}.json")
    run_sections(OUT, {"mfu": bench_mfu, "scaling": bench_scaling, "compile": bench_compile})
