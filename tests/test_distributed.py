"""Data-parallel training under torchrun, on CPU with gloo: two processes on loopback end
with the same parameters, and those of one process trained on the combined batch."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import genzoo

from .conftest import run_cli
from .test_contract import cases as contract_cases

WORKER = Path(__file__).with_name("ddp_worker.py")
AE = {"hidden": [32], "latent_dim": 4}  # as in ddp_worker.py


def torchrun(
    args: list[str], tmp_path: Path, ok: bool = True, **env: str
) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1", **env}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    done = subprocess.run(
        cmd + args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240
    )
    if ok:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


def single_process(name: str, steps: int, batch: int, tmp_path: Path) -> dict[str, torch.Tensor]:
    """The same worker as one plain process (one thread, like each of torchrun's)."""
    out = tmp_path / "single"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
    subprocess.run(
        [sys.executable, str(WORKER), name, str(steps), str(batch), str(out)],
        env={**env, "OMP_NUM_THREADS": "1"}, check=True, timeout=240,
    )  # fmt: skip
    return torch.load(out / "rank0.pt")


def test_two_processes_match_one_process_on_the_combined_batch(tmp_path):
    torchrun([str(WORKER), "ae", "30", "16", str(tmp_path)], tmp_path)
    r0, r1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    one = single_process("ae", 30, 32, tmp_path)
    assert r0.keys() == r1.keys() == one.keys()
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k  # gradients are averaged: the ranks never drift
        torch.testing.assert_close(r0[k], one[k], rtol=1e-4, atol=1e-5)
    init = genzoo.build_model("ae", genzoo.load_dataset("mnist5k").info(), AE, seed=0)
    moved = max((r0[k] - v.detach()).abs().max().item() for k, v in init.named_parameters())
    assert moved > 1e-3  # it trained: the match is not two untouched initializations


def test_a_gan_trains_its_two_phases_in_step_across_processes(tmp_path):
    torchrun([str(WORKER), "dcgan", "4", "8", str(tmp_path)], tmp_path)
    r0, r1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k


def test_every_registered_model_and_variant_trains_in_step_across_processes(tmp_path):
    torchrun([str(Path(__file__).with_name("ddp_contract_worker.py")), str(tmp_path)], tmp_path)
    r0, r1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert {case.id for case in contract_cases()} == set(r0) == set(r1)
    for case in r0:
        apart = (r0[case]["weights"] - r1[case]["weights"]).abs().max().item()
        assert apart == 0.0, f"{case}: the processes' weights drifted apart by {apart}"
        assert r0[case]["moved"] > 0.0, f"{case}: nothing trained"


def test_the_cli_under_torchrun_writes_one_run_folder_from_rank_0(tmp_path):
    args = ["-m", "genzoo", "train", "ae", "--data", "mnist5k", "--steps", "20", "--out", "run"]
    args += ["--set", "model.hidden=[32]", "--set", "train.batch_size=16"]
    done = torchrun(args, tmp_path)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["steps"] == 20
    assert done.stdout.count("run folder: run") == 1  # one console: rank 0's
    records = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    steps = [r["step"] for r in map(json.loads, records) if "ae/loss" in r]  # training lines
    assert steps == sorted(set(steps))  # one writer: no step logged twice
    assert (tmp_path / "run" / "report.html").is_file()


def test_a_process_that_dies_ends_the_run_instead_of_hanging_it(tmp_path):
    # rank 1 exits at step 3 of a run far too long to finish; rank 0 must not wait forever
    # (subprocess.run's timeout would fail the test)
    args = [str(WORKER), "ae", "1000000", "16", str(tmp_path)]
    done = torchrun(args, tmp_path, ok=False, DIE_RANK="1")
    assert done.returncode != 0
    assert "exitcode  : 3" in done.stderr and "rank      : 1" in done.stderr
    assert not (tmp_path / "rank0.pt").exists()


VAE_RUN = ["train", "vae", "--data", "mnist5k", "--steps", "30", "--out", "run"]
for _field in (
    "model.hidden=[32]", "train.batch_size=16", "train.checkpoint_every=10", "train.ema=true",
    "train.eval_every=0", "train.sample_every=0", "train.final_eval=false", "train.log_every=5",
    "train.tensorboard=false",
):  # fmt: skip
    VAE_RUN += ["--set", _field]


def weights(run: Path) -> dict[str, torch.Tensor]:
    out = load_file(run / "model" / "model.safetensors")
    ema = load_file(run / "checkpoints" / "step-000030" / "ema.safetensors")
    return {**out, **{f"ema.{k}": v for k, v in ema.items()}}


@pytest.fixture(scope="module")
def vae_reference(tmp_path_factory) -> tuple[Path, dict[str, torch.Tensor]]:
    """Two processes trained without a stop (the VAE draws its own noise in each)."""
    tmp = tmp_path_factory.mktemp("ddp-ref")
    torchrun([str(WORKER), "cli", *VAE_RUN], tmp)
    return tmp / "run", weights(tmp / "run")


def test_a_killed_process_resumes_bit_identically_under_torchrun(vae_reference, tmp_path):
    killed = torchrun(
        [str(WORKER), "cli", *VAE_RUN], tmp_path, ok=False, KILL_RANK="1", KILL_STEP="15"
    )
    assert killed.returncode != 0
    assert (tmp_path / "run" / "checkpoints" / "latest").read_text().strip() == "step-000010"
    resumed = torchrun([str(WORKER), "cli", *VAE_RUN, "--resume", "auto"], tmp_path)
    assert "from step 10" in resumed.stderr
    got = weights(tmp_path / "run")
    for k, v in vae_reference[1].items():
        assert torch.equal(got[k], v), k  # every process drew the noise it would have


def test_sigterm_to_the_launcher_stops_every_process_at_one_checkpoint(vae_reference, tmp_path):
    stopped = torchrun(
        [str(WORKER), "cli", *VAE_RUN],
        tmp_path, ok=False, KILL_RANK="0", KILL_STEP="14", KILL_SIG="SIGTERM",
    )  # fmt: skip
    assert stopped.returncode != 0
    latest = (tmp_path / "run" / "checkpoints" / "latest").read_text().strip()
    assert latest not in ("step-000010", "step-000030")  # written on the stop, not periodic
    assert "interrupted at step" in stopped.stderr
    torchrun([str(WORKER), "cli", *VAE_RUN, "--resume", "auto"], tmp_path)
    got = weights(tmp_path / "run")
    for k, v in vae_reference[1].items():
        assert torch.equal(got[k], v), k


def test_a_run_of_two_processes_resumes_in_one(vae_reference, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(vae_reference[0], run)
    args = [a if a != "30" else "40" for a in VAE_RUN]
    done = run_cli(*args, "--resume", "auto", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert summary["resumed_from"].endswith("step-000030") and summary["steps"] == 40
    assert "processes" not in summary
    after = load_file(run / "model" / "model.safetensors")
    assert any(not torch.equal(after[k], v) for k, v in vae_reference[1].items() if k in after)


def test_a_non_finite_loss_on_one_machine_stops_both_at_once(tmp_path):
    # two launchers (two machines): no agent kills the healthy process for us; it must learn
    # of the infinity in the same step and stop by itself, long before the 600 s timeout
    args = ["cli", "train", "ae", "--data", "mnist5k", "--steps", "1000", "--out", "run"]
    args += ["--set", "model.hidden=[32]", "--set", "train.batch_size=16"]
    env = {"NAN_RANK": "1", "GENZOO_DIST_TIMEOUT": "600"}
    (n0, err0), (n1, err1) = two_launchers([str(WORKER), *args], tmp_path, **env)
    assert n0 == n1 == 1  # torchrun's code for a failed worker
    assert "step 5: loss term ae/mse is inf" in err1  # named where it happened
    # the other stops at the same step: the averaged gradient carried the infinity over
    assert re.search(r"error: step 5: (the gradient of phase ae is nan|another process)", err0)


def two_launchers(cmd: list[str], tmp_path: Path, **env: str) -> list[tuple[int, str]]:
    """`--nnodes 2` on loopback: one torchrun per simulated machine, one process each."""
    with socket.socket() as s:  # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", **env}
    nodes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--nnodes",
                "2",
                "--node_rank",
                str(rank),
                "--nproc_per_node",
                "1",
                "--master_addr",
                "127.0.0.1",
                "--master_port",
                str(port),
                *cmd,
            ],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for rank in (0, 1)
    ]
    errs = [node.communicate(timeout=240)[1] for node in nodes]
    return [(node.returncode, err) for node, err in zip(nodes, errs, strict=True)]


def test_two_machines_simulated_by_two_launchers_on_loopback(tmp_path):
    for code, err in two_launchers([str(WORKER), "ae", "20", "16", str(tmp_path)], tmp_path):
        assert code == 0, err[-3000:]
    r0, r1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    one = single_process("ae", 20, 32, tmp_path)
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
        torch.testing.assert_close(r0[k], one[k], rtol=1e-4, atol=1e-5)
