"""SIGKILL at any moment, then `resume`: for one model of each family (an autoencoder, a VAE,
a GAN with its two optimizers, a DDPM with its EMA), killed mid-step, mid-checkpoint-write
and between checkpoints, the resumed run ends with weights, EMA and optimizer state
bit-identical to a run never stopped (on CPU). The same under two processes is in
test_distributed.py."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from .conftest import cli_env

WORKER = Path(__file__).with_name("kill_worker.py")
FAMILIES = {"ae": "ae", "vae": "vae", "gan": "dcgan", "diffusion": "ddpm"}
# where each dies, and the checkpoint its resume must start from
POINTS = {
    "mid-step:6": "step-000004",
    "mid-checkpoint:8": "step-000004",
    "between:10": "step-000008",
}


def work(name: str, out: Path, point: str = "none") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(WORKER), name, str(out), point],
        env=cli_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def final(out: Path) -> dict[str, torch.Tensor]:
    last = out / "checkpoints" / "step-000012"
    weights = load_file(last / "model.safetensors")
    ema = {f"ema.{k}": v for k, v in load_file(last / "ema.safetensors").items()}
    state = torch.load(last / "trainer_state.pt", weights_only=True)
    opt = {
        f"opt.{phase}.{i}.{k}": v
        for phase, o in state["optimizers"].items()
        for i, s in o["state"].items()
        for k, v in s.items()
    }
    return {**weights, **ema, **opt}


@pytest.fixture(scope="module", params=list(FAMILIES.values()), ids=list(FAMILIES))
def reference(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param) / "run"
    done = work(request.param, out)
    assert done.returncode == 0, done.stderr[-2000:]
    return request.param, final(out)


@pytest.mark.parametrize("point", POINTS)
def test_killed_at_any_moment_then_resumed_is_bit_identical(reference, point, tmp_path):
    name, expected = reference
    out = tmp_path / "run"
    killed = work(name, out, point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not (out / "checkpoints" / "step-000012").exists()
    done = work(name, out)  # resumes from the newest complete checkpoint
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith(POINTS[point])  # resumed, not trained again from 0
    got = final(out)
    assert got.keys() == expected.keys()
    for k, v in expected.items():
        assert torch.equal(got[k], v), f"{name} killed {point}: {k} differs"
