"""Benchmark: how long each `genzoo theory` experiment takes, and whether its checks pass.

    python bench/theory.py                 # every experiment, writes bench/results/theory.json
    python bench/theory.py dirac-gan ...   # some of them (merged into the same file)

Each experiment runs as `genzoo theory NAME --out FIG --json` does, in a fresh process (so
imports and the first use of torch are counted, as a student pays them), timed wall-clock on
this machine. The target is under 60 s each on two CPU cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sections import print_table

from genzoo.registry import EXPERIMENTS

OUT = Path(__file__).parent / "results" / "theory.json"


def run(name: str, folder: Path) -> dict:
    cmd = [sys.executable, "-m", "genzoo", "theory", name, "--json",
           "--out", str(folder / f"{name}.png")]  # fmt: skip
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ})
    seconds = time.perf_counter() - t0
    if done.returncode not in (0, 1):
        raise SystemExit(f"genzoo theory {name} failed:\n{done.stderr[-2000:]}")
    finding = json.loads(done.stdout)
    checks = finding["checks"]
    return {
        "seconds": round(seconds, 1),
        "checks": len(checks),
        "passed": sum(c["ok"] for c in checks),
        "ok": finding["ok"],
    }


def main(names: list[str]) -> None:
    known = EXPERIMENTS.names()
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise SystemExit(f"unknown experiment(s) {unknown}; choices: {', '.join(known)}")
    results = json.loads(OUT.read_text()) if OUT.exists() and names else {}
    machine = {"cpus": os.cpu_count(), "torch_threads": __import__("torch").get_num_threads()}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names or known:
            print(f"{name} ...", flush=True)
            results.setdefault("experiments", {})[name] = run(name, Path(tmp))
    results["machine"] = machine
    results["experiments"] = dict(sorted(results["experiments"].items()))
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print_table(OUT.stem, results["experiments"])


if __name__ == "__main__":
    main(sys.argv[1:])
