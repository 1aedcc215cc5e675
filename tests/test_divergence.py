"""Divergence: a NaN or infinite loss term or gradient stops the run (default) naming the step
and the culprit, or, with train.on_nan=skip, skips that update up to train.max_nan_skips in a
row; the last good checkpoint always stays intact."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

import genzoo
from genzoo.errors import NonFiniteLossError
from genzoo.models.autoencoders.ae import Autoencoder
from genzoo.train import TrainConfig, Trainer
from genzoo.train import checkpoint as ckpt

from .conftest import run_cli


class NanGrad(torch.autograd.Function):
    """Identity forward, NaN backward: a finite loss whose gradient is not."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return g * float("nan")


@pytest.fixture(scope="module")
def digits():
    return genzoo.load_dataset("digits")


def poison(monkeypatch, steps: set[int], where: str) -> None:
    """Make the AE's training loss (where='loss') or its gradient (where='grad') non-finite at
    the given steps."""
    real = Autoencoder.loss

    def loss(self, batch):
        out = real(self, batch)
        if self.training and self.step in steps:
            if where == "loss":
                out.terms["mse"] = out.terms["mse"] * float("inf")
                out.loss = out.terms["mse"]
            else:
                out.loss = NanGrad.apply(out.loss)
        return out

    monkeypatch.setattr(Autoencoder, "loss", loss)


def fit(digits, out, **train):
    model = genzoo.build_model("ae", digits.info(), {"hidden": [32], "latent_dim": 4}, seed=0)
    base = dict(steps=30, batch_size=32, log_every=5, eval_every=0, checkpoint_every=10)
    cfg = TrainConfig(**{**base, "sample_every": 0, "tensorboard": False, **train})
    return Trainer(model, digits, cfg, out=out, console=False).fit(), model


def test_a_non_finite_gradient_stops_naming_the_phase(digits, tmp_path, monkeypatch):
    poison(monkeypatch, {14}, "grad")
    out = tmp_path / "run"
    with pytest.raises(
        NonFiniteLossError,
        match=r"step 14: the gradient of phase ae is nan \(its loss is finite\).*step-000010",
    ):
        fit(digits, out)
    good = load_file(ckpt.latest_checkpoint(out) / "model.safetensors")
    assert all(torch.isfinite(t).all() for t in good.values())


@pytest.mark.parametrize("where", ["loss", "grad"])
def test_skip_leaves_out_the_bad_updates_and_finishes(digits, tmp_path, monkeypatch, where):
    bad = {14, 15, 22}
    poison(monkeypatch, bad, where)
    summary, model = fit(digits, tmp_path / "run", on_nan="skip")
    assert summary["steps"] == 30
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert any("skipped for non-finite" in w for w in summary["warnings"])
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert sorted(r["step"] for r in lines if "ae/skipped" in r) == sorted(bad)
    logged = [r["ae/loss"] for r in lines if "ae/loss" in r]
    assert all(v == v and abs(v) != float("inf") for v in logged)  # no NaN reached the means
    # the updates really were skipped: Adam took 27 steps, not 30
    state = torch.load(tmp_path / "run" / "checkpoints" / "step-000030" / "trainer_state.pt")
    steps = {float(s["step"]) for s in state["optimizers"]["ae"]["state"].values()}
    assert steps == {27.0}


def test_skip_stops_after_too_many_in_a_row(digits, tmp_path, monkeypatch):
    poison(monkeypatch, set(range(12, 30)), "loss")
    with pytest.raises(
        NonFiniteLossError,
        match=r"step 15: loss term ae/mse is inf; training stopped after 3 steps skipped in a row",
    ):
        fit(digits, tmp_path / "run", on_nan="skip", max_nan_skips=3)
    assert ckpt.latest_checkpoint(tmp_path / "run").name == "step-000010"


def test_the_on_nan_flag_and_a_bad_value(tmp_path):
    done = run_cli("train", "ae", "--on-nan", "skip", "--print-config", check=True)
    assert "on_nan: skip" in done.stdout
    bad = run_cli("train", "ae", "--set", "train.on_nan=ignore", "--print-config")
    assert bad.returncode == 2 and "train.on_nan" in bad.stderr
