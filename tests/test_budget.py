"""The time asked is the time taken: evaluation planned to its deadline, training that leaves
room for the end of the run, progress lines off a terminal, and stops that act between steps."""

from __future__ import annotations

import json

import pytest
import torch

import genzoo
from genzoo import progress
from genzoo.errors import TrainingInterrupted
from genzoo.metrics import estimate_seconds, evaluate
from genzoo.metrics.plan import K_MIN, MIN_SAMPLES, SAFETY, Costs, Counts, fit_counts
from genzoo.progress import Deadline, StopRequested, deferred_stop, reporting, request_stop, tick
from genzoo.run import build_run_config, train
from genzoo.train import TrainConfig, Trainer
from genzoo.train.budget import end_reserve
from genzoo.viz import training_preview

WANTED = Counts(n=1000, k=200, nll_examples=1000, recon_examples=1000, loss_examples=1000)


@pytest.fixture(autouse=True)
def _no_stop_left_over():
    progress.clear_stop()
    yield
    progress.clear_stop()


# ---------------------------------------------------------------- planning an evaluation
def test_a_plan_with_time_to_spare_keeps_every_count():
    plan = fit_counts(WANTED, Costs(sample=1e-4, nll=1e-7, recon=1e-5, loss=1e-5), 60)
    assert plan.counts == WANTED and not plan.notes


def test_a_plan_cuts_the_likelihood_first_then_the_samples_and_says_so():
    costs = Costs(sample=0.01, nll=0.001, recon=0.001, loss=1e-4)  # the likelihood: 200 s
    plan = fit_counts(WANTED, costs, 40)
    c = plan.counts
    assert c.k < 200 and (c.n, c.nll_examples, c.recon_examples) == (1000, 1000, 1000)
    assert costs.total(c) <= 40 * SAFETY and plan.estimate == costs.total(c)
    assert plan.notes == [f"likelihood samples per example: {c.k} instead of 200, to fit the "
                          "40 s the evaluation has"]  # fmt: skip
    tight = fit_counts(WANTED, costs, 4).counts
    assert tight.k == K_MIN and tight.nll_examples < 1000 and tight.n == MIN_SAMPLES
    assert costs.total(tight) <= 4 * SAFETY or tight.nll_examples == 0


def test_what_cannot_fit_is_left_out_in_order_and_named():
    plan = fit_counts(WANTED, Costs(sample=1.0, nll=1.0, recon=1.0, loss=1.0), 1)
    assert plan.counts == Counts()
    said = " | ".join(plan.notes)
    for part in ("likelihood (nll)", "reconstruction metrics", "test losses", "sample metrics"):
        assert f"left out the {part}" in said
    # a feature network still to train goes before the samples that would use it
    wanted = Counts(n=1000, features=True)
    plan = fit_counts(wanted, Costs(sample=1e-3, features=100.0), 10)
    assert plan.counts.n == 1000 and not plan.counts.features
    assert "training one needs about 1 min 40 s" in plan.notes[-1]


def test_evaluation_fits_its_deadline_and_reports_its_cuts():
    ds = genzoo.load_dataset("digits")
    model = genzoo.build_model("vae", ds.info(), {"hidden": [16], "latent_dim": 2}, seed=0)
    model.transform = ds.transform(model.data_range())
    said = []
    results, notes = evaluate(model, ds, ["nll", "fid"], deadline=Deadline(0.3), say=said.append)
    assert "evaluating" in said[0] and "left" in said[0]
    assert any("instead of" in n or "left out" in n for n in notes), notes
    if "nll" in results:  # what ran says how much it covered
        assert results["nll"]["provenance"]["importance_samples"] < 200
    full, full_notes = evaluate(model, ds, ["nll"], nll_samples=5)  # no deadline: no cuts
    assert full["nll"]["provenance"]["examples"] == len(ds.x_test) and not full_notes


# ---------------------------------------------------------------- training within max_seconds
def test_max_seconds_stops_training_in_time_for_the_end_of_the_run(tmp_path):
    rc = build_run_config(
        "ae", data="digits", steps=10**6, max_seconds=6,
        overrides=["model.hidden=[16]", "model.latent_dim=2", "train.eval_every=0"],
    )  # fmt: skip
    summary = train(rc, out=tmp_path / "run", console=False)
    assert summary["stopped_by"] == "max_seconds" and 0 < summary["steps"] < 10**6
    assert summary["eval"] and (tmp_path / "run" / "report.html").is_file()


def test_the_time_kept_for_the_evaluation_follows_what_it_was_measured_to_cost():
    cfg = TrainConfig(max_seconds=100)
    assert end_reserve(cfg) == 25 + 10  # not measured: a quarter, and a tenth for the rest
    assert end_reserve(cfg, estimate=2) == 10 + 10  # twice the cost, at least 10 s
    assert end_reserve(cfg, estimate=8) == 16 + 10
    assert end_reserve(cfg, estimate=60) == 25 + 10  # never more than the quarter
    assert end_reserve(TrainConfig(max_seconds=100, eval_seconds=5), estimate=60) == 5 + 10
    assert end_reserve(TrainConfig(max_seconds=100, final_eval=False), estimate=60) == 10
    assert end_reserve(TrainConfig()) == 0


def test_the_cost_of_an_evaluation_is_measured_without_touching_the_run():
    ds = genzoo.load_dataset("digits")
    costs = {}
    for name, config in (("ae", {"hidden": [16], "latent_dim": 2}), ("ddpm", None)):
        model = genzoo.build_model(name, ds.info(), config, seed=0).train()
        state = torch.get_rng_state()
        costs[name] = estimate_seconds(model, ds)
        assert torch.equal(torch.get_rng_state(), state) and model.training
    # 1,000 samples of 1,000 denoising steps and a 200-stratum bound, against one pass
    assert 0 < costs["ae"] < costs["ddpm"] / 100, costs


def test_a_budget_too_short_for_the_evaluation_trains_one_step_and_says_what_it_left(tmp_path):
    rc = build_run_config("ddpm", data="digits", steps=10**6, max_seconds=0.01)
    summary = train(rc, out=tmp_path / "run", console=False)
    assert summary["steps"] == 1 and summary["stopped_by"] == "max_seconds"
    assert any(n.startswith("left out") for n in summary["eval_notes"]), summary["eval_notes"]
    page = (tmp_path / "run" / "report.html").read_text()
    assert "left out" in page and "Left out of this report" in page


def test_a_budget_plans_the_step_count_and_the_warm_up_it_leaves_time_for(monkeypatch):
    import genzoo.run as run

    monkeypatch.setattr(run, "seconds_per_step", lambda rc, data: 0.01)
    ds = genzoo.load_dataset("digits")
    rc = build_run_config("ddpm", data="digits", max_seconds=100)  # warm-up 200 by default
    planned = run.plan_steps(rc, ds, Deadline(100)).train
    left = 100 - end_reserve(rc.train)  # the time for training: 65 s
    assert planned.steps == pytest.approx(left / 0.01, abs=2)
    assert planned.warmup_steps == 200  # a fifth of the steps is more: kept
    short = run.plan_steps(build_run_config("ddpm", data="digits", max_seconds=4), ds, Deadline(4))
    assert short.train.steps == pytest.approx(260, abs=2)  # (4 - 1.4 s kept) / 10 ms
    assert short.train.warmup_steps == short.train.steps // 5  # at most a fifth
    # steps given are kept, and without a budget the default stands
    given = build_run_config("ddpm", data="digits", steps=7, max_seconds=100)
    assert run.plan_steps(given, ds, Deadline(100)).train.steps == 7
    assert (
        run.plan_steps(build_run_config("ae", data="digits"), ds, Deadline(None)).train.steps
        == 2000
    )


def test_a_budgeted_run_saves_the_steps_it_planned(tmp_path, capsys):
    rc = build_run_config(
        "ae", data="digits", max_seconds=8,
        overrides=["model.hidden=[16]", "model.latent_dim=2", "train.schedule=cosine"],
    )  # fmt: skip
    summary = train(rc, out=tmp_path / "run", console=True)
    saved = genzoo.config.read_file(tmp_path / "run" / "config.yaml")["train"]
    assert isinstance(saved["steps"], int) and saved["steps"] > 20
    assert 0 < summary["steps"] <= saved["steps"]
    assert f"planned {saved['steps']:,} steps for the budget" in capsys.readouterr().out


# ---------------------------------------------------------------- progress
def test_durations_read_as_people_write_them():
    cases = {0.04: "0.0 s", 0.4: "0.4 s", 1.2: "1 s", 59.6: "1 min 00 s", 185: "3 min 05 s"}
    for seconds, text in {**cases, 3720: "1 h 02 min", float("inf"): "?"}.items():
        assert progress.duration(seconds) == text, seconds


def test_progress_lines_off_a_terminal_carry_the_rate_and_the_time_left(monkeypatch, capsys):
    monkeypatch.setattr(progress, "LINE_SECONDS", 0.0)
    with reporting(4, "sampling", "samples") as bar:
        for _ in range(4):
            bar.update(1)
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("sampling: 1/4 samples (") and "left)" in err[0]
    assert err[-1].startswith("sampling: 4/4 samples in ")
    with reporting(3, "quiet", enabled=False) as bar:
        bar.update(3)
    assert capsys.readouterr().err == ""


def test_training_prints_a_line_at_least_every_few_seconds_whatever_log_every(monkeypatch, capsys):
    from genzoo.train import loggers

    monkeypatch.setattr(loggers, "LINE_SECONDS", 0.0)
    ds = genzoo.load_dataset("digits")
    model = genzoo.build_model("ae", ds.info(), {"hidden": [16], "latent_dim": 2}, seed=0)
    cfg = TrainConfig(steps=3, batch_size=32, log_every=0, tensorboard=False, final_eval=False)
    Trainer(model, ds, cfg).fit()
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("step ")]
    assert [ln.split()[1] for ln in lines[:3]] == ["1/3", "2/3", "3/3"]  # then the test losses
    assert all("steps/s" in ln for ln in lines) and "left" in lines[0]


# ---------------------------------------------------------------- stopping
def test_a_stop_acts_at_the_next_step_of_long_work_unless_deferred():
    tick()  # nothing asked: nothing happens
    request_stop()
    with deferred_stop():
        tick()  # one process's work that others wait for runs to its end
    with pytest.raises(StopRequested):
        tick()


def test_a_stop_during_sampling_stops_the_sampler_between_steps():
    ds = genzoo.load_dataset("digits")
    model = genzoo.build_model("ddpm", ds.info(), {"T": 50, "sample_steps": 50}, seed=0)
    calls = []
    denoise = model.denoise

    def counting(*args):
        calls.append(1)
        if len(calls) == 3:
            request_stop()  # Ctrl-C arrives during the third network pass
        return denoise(*args)

    model.denoise = counting
    with pytest.raises(StopRequested):
        model.sample(4, generator=torch.Generator().manual_seed(0))
    assert len(calls) == 3  # not the 50 steps


def test_a_stop_during_the_preview_writes_a_checkpoint_at_once(tmp_path):
    ds = genzoo.load_dataset("digits")
    small = {"T": 50, "channels": [8], "attention": [0], "heads": 2, "norm_groups": 4}
    model = genzoo.build_model("ddpm", ds.info(), small, seed=0)
    real = model.sample

    def stopping(n, **kw):
        request_stop()  # as if Ctrl-C came while the preview samples
        return real(n, **kw)

    model.sample = stopping
    cfg = TrainConfig(steps=100, batch_size=32, sample_every=5, log_every=0, tensorboard=False,
                      ema=False, final_eval=False)  # fmt: skip
    with pytest.raises(TrainingInterrupted) as e:
        Trainer(model, ds, cfg, tmp_path / "run", console=False, preview=training_preview).fit()
    written = tmp_path / "run" / "checkpoints" / "step-000005"
    assert e.value.step == 5 and json.loads((written / "config.json").read_text())["model"]
