"""Benchmark: how long datasets take to load, cold (first use) and cached, and trainer speed.

    python bench/data_load.py            # writes bench/results/data_load.json

Each load runs in a fresh process, so imports are included in the cold figure but the
numbers below are the load_dataset() call alone, which is what a user waits for.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from sections import print_table

TIMED_LOAD = """
import time, sys
from genzoo.data import load_dataset
t = time.perf_counter(); load_dataset(sys.argv[1]); print(time.perf_counter() - t)
"""

TIMED_TRAIN = """
import json, genzoo
s = genzoo.train(genzoo.build_run_config("ae", data="mnist5k", steps=1000, device="cpu",
                 overrides=["train.log_every=0", "train.eval_every=0", "train.tensorboard=false"]),
                 console=False)
print(json.dumps({"steps_per_second": s["steps_per_second"]}))
"""


def run(code: str, *args: str, env: dict) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, check=True, capture_output=True, text=True
    )
    return out.stdout.strip().splitlines()[-1]


def main() -> None:
    results: dict = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "processor": platform.machine(),
        }
    }
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "GENZOO_CACHE": cache}
        for name in ("mnist5k", "digits", "ring8"):
            cold = float(run(TIMED_LOAD, name, env=env))
            cached = sorted(float(run(TIMED_LOAD, name, env=env)) for _ in range(3))[1]
            results[name] = {"cold_s": round(cold, 3), "cached_s": round(cached, 3)}
        results["ae_mnist5k_train"] = json.loads(run(TIMED_TRAIN, env=env))
    out = Path(__file__).parent / "results" / "data_load.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(out.stem, results)


if __name__ == "__main__":
    main()
