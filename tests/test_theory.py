"""genzoo theory: the registry of experiments, the command, and the forward process's closed form.
Each topic's experiments have their own closed-form tests in tests/test_theory_*.py; the
commands of docs/theory.md run in tests/test_docs.py."""

from __future__ import annotations

import json
import math

import pytest
import torch

import genzoo.theory.diffusion as diffusion_theory
from genzoo import registry
from genzoo.cli.main import main
from genzoo.models.diffusion.schedules import make_schedule
from genzoo.theory import TOPICS, Check, run_experiment


def test_every_experiment_is_described_derived_and_under_a_topic():
    assert len(registry.EXPERIMENTS) >= 1
    for entry in registry.EXPERIMENTS:
        assert entry.description and len(entry.description) < 100, entry.name
        assert entry.obj.__doc__ and len(entry.obj.__doc__) > 80, entry.name
        module = entry.obj.__module__
        assert module.rsplit(".", 1)[-1] in TOPICS, entry.name
        assert len(__import__(module, fromlist=["_"]).__doc__) > 200, module  # the derivation


def test_a_check_holds_within_its_tolerance_and_fails_outside_it():
    assert Check("x", 1.04, 1.0, 0.05).ok and not Check("x", 1.06, 1.0, 0.05).ok
    assert Check("x", 10.4, 10.0, 0.05, relative=True).ok
    assert not Check("x", 10.6, 10.0, 0.05, relative=True).ok
    assert not Check("x", math.nan, 0.0, 1.0).ok
    # numpy and torch scalars are stored as floats, so --json can write any check
    import numpy as np
    import torch

    check = Check("x", np.float64(1.0), torch.tensor(1.0), np.float32(0.1))
    assert json.loads(json.dumps(check.to_dict()))["ok"] is True


def test_theory_list_shows_every_experiment_under_its_topic(capsys):
    assert main(["theory", "list"]) == 0
    out = capsys.readouterr().out
    for entry in registry.EXPERIMENTS:
        assert f"  {entry.name}  " in out.replace(" " * 3, "  ")
    assert "Diffusion:" in out


@pytest.mark.parametrize(
    "args,message",
    [
        (["theory", "no-such-thing"], "unknown experiment"),
        (["theory", "forward-marginal", "--out", "fig.jpg"], "ending in .png"),
        (["theory", "list", "--json"], "takes no --out or --json"),
    ],
)
def test_a_users_mistake_is_one_line_and_exit_code_2(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not list(tmp_path.iterdir())  # nothing written


def test_an_experiment_writes_its_figure_and_its_numbers(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["theory", "game-value", "--json", "--seed", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["checks"] and all(c["ok"] for c in report["checks"])
    assert report["experiment"] == "game-value" and report["numbers"]
    assert (tmp_path / "theory-game-value.png").stat().st_size > 10_000


def test_broken_maths_fails_the_check_and_the_command(tmp_path, monkeypatch, capsys):
    """alpha_t written where alpha_bar_t is meant: the chain no longer matches, and the
    command says so with exit code 1."""

    def slip(betas, x0):
        alpha = 1 - betas.double()
        return alpha.sqrt() * x0, 1 - alpha

    monkeypatch.setattr(diffusion_theory, "marginal", slip)
    assert not run_experiment("forward-marginal").ok
    assert main(["theory", "forward-marginal", "--out", str(tmp_path / "f.png")]) == 1
    captured = capsys.readouterr()
    assert "FAIL" in captured.out and "check(s) of forward-marginal failed" in captured.err


# ---------------------------------------------------------------- the forward process
def test_the_closed_form_marginal_composes_two_steps():
    """Two steps of (1) are one Gaussian with variance 1 - alpha_t alpha_{t-1}."""
    betas = torch.tensor([0.1, 0.3], dtype=torch.float64)
    mean, var = diffusion_theory.marginal(betas, 2.0)
    a1, a2 = 0.9, 0.7
    assert math.isclose(float(mean[1]), math.sqrt(a1 * a2) * 2.0)
    assert math.isclose(float(var[1]), a2 * (1 - a1) + (1 - a2))


def test_the_chain_matches_the_marginal_and_the_std_slip_does_not():
    betas = make_schedule("linear", 200).betas
    g = torch.Generator().manual_seed(0)
    xs = diffusion_theory.run_chain(betas, torch.zeros(40_000), g)
    _, var = diffusion_theory.marginal(betas, 0.0)
    assert abs(float(xs[-1].var()) / float(var[-1]) - 1) < 5 * math.sqrt(2 / 40_000)
    slip = diffusion_theory.run_chain(betas, torch.zeros(40_000), g, beta_is_std=True)
    assert float(slip[-1].var()) < 0.5 * float(var[-1])
