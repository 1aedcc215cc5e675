"""The trainer: exact resume in a new process, atomic checkpoints, refusing unsafe state,
non-finite losses, TensorBoard output, schedules and EMA."""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import signal
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import genzoo
from genzoo.errors import CheckpointError, ConfigError, NonFiniteLossError
from genzoo.registry import SCHEDULES
from genzoo.train import TrainConfig, Trainer, checkpoint
from genzoo.train.ema import EMA
from genzoo.viz import training_preview

from .conftest import run_cli, run_python

TRAIN = [
    "train",
    "ae",
    "--data",
    "digits",
    "--steps",
    "90",
    "--set",
    "train.batch_size=64",
    "--set",
    "train.checkpoint_every=30",
    "--set",
    "train.log_every=10",
    "--set",
    "train.eval_every=30",
    "--set",
    "train.sample_every=45",
    "--set",
    "model.hidden=[64]",
    "--set",
    "model.latent_dim=8",
    "--set",
    "train.schedule=cosine",
    "--set",
    "train.warmup_steps=10",
    "--set",
    "train.ema=true",
    "--set",
    "train.grad_clip=1.0",
]

KILL_AT = """
import os, signal, sys
from genzoo.train.trainer import Trainer
step = Trainer.train_step
def killing_step(self):
    step(self)
    if self.step == {k}:
        os.kill(os.getpid(), signal.{sig})
Trainer.train_step = killing_step
from genzoo.cli.main import main
sys.exit(main({args!r}))
"""


def records(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [
        {k: v for k, v in json.loads(line).items() if k not in ("time", "train_time")}
        for line in lines
    ]


def assert_same_run(a: Path, b: Path) -> None:
    for f in ("model/model.safetensors", "checkpoints/step-000090/ema.safetensors"):
        ta, tb = load_file(a / f), load_file(b / f)
        assert ta.keys() == tb.keys()
        for k in ta:
            assert torch.equal(ta[k], tb[k]), f"{f}:{k} differs"
    sa = torch.load(a / "checkpoints/step-000090/trainer_state.pt", weights_only=True)
    sb = torch.load(b / "checkpoints/step-000090/trainer_state.pt", weights_only=True)
    assert_equal_nested(sa["optimizers"], sb["optimizers"])
    assert records(a) == records(b)


def assert_equal_nested(a, b) -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_equal_nested(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_equal_nested(x, y)
    else:
        assert a == b


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "run"
    run_cli(*TRAIN, "--out", str(out), check=True)
    return out


def test_resume_after_sigkill_is_bit_identical(reference, tmp_path):
    out = tmp_path / "run"
    args = [*TRAIN, "--out", str(out)]
    killed = run_python(KILL_AT.format(k=75, sig="SIGKILL", args=args))
    assert killed.returncode == -signal.SIGKILL
    assert (out / "checkpoints" / "latest").read_text().strip() == "step-000060"
    assert any(r["step"] == 70 for r in records(out))  # logged past the checkpoint
    resumed = run_cli(*args, "--resume", "auto", check=True)
    assert "resuming" in resumed.stderr and "from step 60" in resumed.stderr
    assert_same_run(reference, out)


def test_sigterm_checkpoints_exits_130_and_resumes_identically(reference, tmp_path):
    out = tmp_path / "run"
    args = [*TRAIN, "--out", str(out)]
    stopped = run_python(KILL_AT.format(k=55, sig="SIGTERM", args=args))
    assert stopped.returncode == 130, stopped.stderr
    assert "interrupted at step 55" in stopped.stderr
    assert checkpoint.latest_checkpoint(out).name == "step-000055"
    run_cli(*args, "--resume", "auto", check=True)
    assert_same_run(reference, out)


def test_resume_refuses_changed_settings(reference, tmp_path):
    proc = run_cli(
        *TRAIN, "--out", str(reference), "--resume", "auto", "--set", "model.latent_dim=4"
    )
    assert proc.returncode == 2
    assert "trained with model.latent_dim=8, this command asks for 4" in proc.stderr


def test_a_run_from_before_newer_settings_existed_still_resumes(reference, tmp_path):
    import yaml

    out = tmp_path / "run"
    shutil.copytree(reference, out)
    saved = yaml.safe_load((out / "config.yaml").read_text())
    for key in ("on_nan", "max_nan_skips", "compile", "channels_last", "data_on"):
        del saved["train"][key]  # as a run folder of an earlier version holds it
    (out / "config.yaml").write_text(yaml.safe_dump(saved))
    args = [a if a != "90" else "95" for a in TRAIN]
    proc = run_cli(*args, "--out", str(out), "--resume", "auto")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "summary.json").read_text())["steps"] == 95


# ---------------------------------------------------------------- in-process trainer tests
@pytest.fixture(scope="module")
def digits():
    return genzoo.load_dataset("digits")


def small_model(ds, seed=0):
    return genzoo.build_model("ae", ds.info(), {"hidden": [32], "latent_dim": 4}, seed=seed)


def cfg(**kw) -> TrainConfig:
    base = dict(
        steps=30,
        batch_size=32,
        log_every=5,
        eval_every=10,
        sample_every=0,
        checkpoint_every=10,
        tensorboard=False,
    )
    return TrainConfig(**{**base, **kw})


def test_crash_while_writing_a_checkpoint_keeps_the_previous_one(digits, tmp_path, monkeypatch):
    out = tmp_path / "run"
    real = checkpoint.save_state
    calls = {"n": 0}

    def crashing(path, state):
        calls["n"] += 1
        if calls["n"] == 2:  # the second checkpoint dies halfway: weights written, state not
            path.write_bytes(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, state)

    monkeypatch.setattr(checkpoint, "save_state", crashing)
    with pytest.raises(
        CheckpointError, match=r"step-000020: could not be written \(No space left on device\); "
        r"the last good checkpoint, .*step-000010, is intact",
    ):  # fmt: skip
        Trainer(small_model(digits), digits, cfg(), out=out, console=False).fit()
    monkeypatch.setattr(checkpoint, "save_state", real)
    latest = checkpoint.latest_checkpoint(out)
    assert latest.name == "step-000010"
    assert not (out / "checkpoints" / "step-000020").exists()
    genzoo.load(latest)  # loadable
    summary = Trainer(small_model(digits), digits, cfg(), out=out, console=False).fit(resume=True)
    assert summary["resumed_from"].endswith("step-000010") and summary["steps"] == 30
    assert not list((out / "checkpoints").glob(".step-*"))  # temporary leftovers cleaned


def test_pruning_keeps_the_last_k(digits, tmp_path):
    out = tmp_path / "run"
    Trainer(small_model(digits), digits, cfg(keep_checkpoints=2), out=out, console=False).fit()
    names = [p.name for p in checkpoint.complete_checkpoints(out)]
    assert names == ["step-000020", "step-000030"]


class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['EVIL_MARKER']}",))


def test_a_pickle_that_would_run_code_is_refused(digits, tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("EVIL_MARKER", str(marker))
    out = tmp_path / "run"
    Trainer(small_model(digits), digits, cfg(steps=10), out=out, console=False).fit()
    state_file = out / "checkpoints" / "step-000010" / "trainer_state.pt"
    torch.save({"step": 10, "payload": Evil()}, state_file)
    # the checksums forged to match as well: the refusal to unpickle code must hold alone
    folder = state_file.parent
    (folder / "COMPLETE").write_text("10\n" + checkpoint.checksum_lines(folder))
    with pytest.raises(CheckpointError, match="refused: it holds more than tensors"):
        checkpoint.load_state(state_file)
    assert not marker.exists()
    # and through the CLI, in a new process: one line, exit 2, the code never ran
    proc = run_cli(
        "train",
        "ae",
        "--data",
        "digits",
        "--steps",
        "20",
        "--out",
        str(out),
        "--resume",
        "auto",
        "--set",
        "train.batch_size=32",
        "--set",
        "model.hidden=[32]",
        "--set",
        "model.latent_dim=4",
        "--set",
        "train.log_every=5",
        "--set",
        "train.eval_every=10",
        "--set",
        "train.sample_every=0",
        "--set",
        "train.checkpoint_every=10",
        "--set",
        "train.tensorboard=false",
        "--set",
        "train.steps=20",
    )
    assert proc.returncode == 2 and "refused" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not marker.exists()


def test_strict_load_refuses_missing_and_extra_tensors(digits, tmp_path):
    model = small_model(digits)
    model.transform = digits.transform("unit")
    checkpoint.save_model_folder(tmp_path / "m", model)
    (tmp_path / "m" / "CHECKSUMS").unlink()  # a folder edited by hand: only the strict load
    state = load_file(tmp_path / "m" / "model.safetensors")
    state["extra.weight"] = torch.zeros(2)
    checkpoint.save_tensors(tmp_path / "m" / "model.safetensors", state)
    with pytest.raises(CheckpointError, match=r"unexpected tensors \['extra.weight'\]"):
        genzoo.load(tmp_path / "m")
    del state["extra.weight"], state["z_mean"]
    checkpoint.save_tensors(tmp_path / "m" / "model.safetensors", state)
    with pytest.raises(CheckpointError, match=r"missing tensors \['z_mean'\]"):
        genzoo.load(tmp_path / "m")


def test_non_finite_loss_stops_naming_step_and_term(digits, tmp_path, monkeypatch):
    from genzoo.models.autoencoders.ae import Autoencoder

    real_loss = Autoencoder.loss

    def loss(self, batch):
        out = real_loss(self, batch)
        if self.training:  # the 15th training step (step 14) goes wrong
            if self._calls == 14:
                out.terms["mse"] = out.terms["mse"] * float("nan")
                out.loss = out.terms["mse"]
            self._calls += 1
        return out

    monkeypatch.setattr(Autoencoder, "loss", loss)
    model = small_model(digits)
    model._calls = 0
    out = tmp_path / "run"
    with pytest.raises(
        NonFiniteLossError,
        match=r"step 14: loss term ae/mse is nan.*"
        r"last good checkpoint is .*step-000010",
    ):
        Trainer(model, digits, cfg(), out=out, console=False).fit()
    good = checkpoint.latest_checkpoint(out)
    assert good.name == "step-000010"
    weights = load_file(good / "model.safetensors")
    assert all(torch.isfinite(t).all() for t in weights.values())


def test_tensorboard_events_read_back(digits, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    Trainer(
        small_model(digits),
        digits,
        cfg(tensorboard=True, sample_every=30),
        out=out,
        console=False,
        preview=training_preview,
    ).fit()
    acc = EventAccumulator(str(out / "tb"))
    acc.Reload()
    tags = acc.Tags()
    assert {"ae/loss", "ae/mse", "test/ae/mse"} <= set(tags["scalars"])
    steps = [e.step for e in acc.Scalars("ae/loss")]
    assert steps == [5, 10, 15, 20, 25, 30]
    logged = [r for r in records(out) if "ae/loss" in r]
    values = [e.value for e in acc.Scalars("ae/loss")]
    assert values == pytest.approx([r["ae/loss"] for r in logged], rel=1e-6)
    assert "samples" in tags["images"]


def test_run_folder_layout(digits, tmp_path):
    out = tmp_path / "run"
    config = cfg(sample_every=10)
    Trainer(small_model(digits), digits, config, out, console=False, preview=training_preview).fit()
    for f in (
        "config.yaml",
        "metrics.jsonl",
        "summary.json",
        "model/config.json",
        "model/model.safetensors",
        "samples/step-000010.png",
        "samples/step-000030.png",
        "checkpoints/latest",
        "checkpoints/step-000030/COMPLETE",
    ):
        assert (out / f).is_file(), f
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 30 and "test/ae/mse" in summary["test"]
    assert summary["versions"]["torch"] == torch.__version__
    # without a `preview` to draw them, a run folder holds no pictures
    Trainer(small_model(digits), digits, config, tmp_path / "bare", console=False).fit()
    assert (tmp_path / "bare" / "model" / "model.safetensors").is_file()
    assert not (tmp_path / "bare" / "samples").exists()


@pytest.mark.parametrize(("source", "refs", "samples"), [("digits", 64, 32), ("ring8", 1000, 1000)])
def test_previews_show_enough_points(source, refs, samples, tmp_path, monkeypatch):
    """An image grid shows 64 references and 32 samples; a scatter plot, which is there to
    show where the mass lies, 1,000 of each."""
    import genzoo.viz.grid

    ds = genzoo.load_dataset(
        genzoo.DataConfig(source=source, n=5000 if source == "ring8" else None)
    )
    model = genzoo.build_model("vae", ds.info(), {"hidden": [16], "latent_dim": 2}, seed=0)
    seen = {}
    real_preview, real_sample = genzoo.viz.grid.preview, model.sample

    def preview(model, x_ref, **kw):
        seen["refs"] = len(x_ref)
        return real_preview(model, x_ref, **kw)

    def sample(n, **kw):
        seen["samples"] = n
        return real_sample(n, **kw)

    monkeypatch.setattr(genzoo.viz.grid, "preview", preview)
    monkeypatch.setattr(model, "sample", sample)
    config, out = cfg(steps=1, sample_every=1), tmp_path / "run"
    Trainer(model, ds, config, out, console=False, preview=training_preview).fit()
    assert (seen["refs"], seen["samples"]) == (refs, samples)
    assert (tmp_path / "run" / "samples" / "step-000001.png").is_file()


def test_batch_size_larger_than_data_is_refused(digits):
    with pytest.raises(genzoo.ConfigError, match="train.batch_size=5000"):
        Trainer(small_model(digits), digits, cfg(batch_size=5000))


def test_an_unset_batch_is_the_models_default_capped_by_the_data(digits):
    """edm asks for batches of 32 (more updates in a short run), the others for 128; neither
    can exceed the training examples there are, and a set train.batch_size wins."""
    edm = genzoo.build_model("edm", digits.info(), {}, seed=0)
    unset = cfg(batch_size=None)
    assert type(edm).default_batch == 32 and small_model(digits).default_batch is None
    assert Trainer(edm, digits, unset).cfg.batch_size == 32
    assert Trainer(small_model(digits), digits, unset).cfg.batch_size == 128
    assert Trainer(edm, digits, cfg(batch_size=64)).cfg.batch_size == 64
    few = genzoo.load_dataset(genzoo.DataConfig(source="moons", n=30))
    toy = genzoo.build_model("edm", few.info(), {}, seed=0)
    assert Trainer(toy, few, unset).cfg.batch_size == len(few.x_train) < 32


@pytest.mark.parametrize("name", ["constant", "cosine", "linear"])
def test_schedules_warm_up_then_decay(name):
    fn = SCHEDULES.get(name)
    assert fn(0, 100, 10) == pytest.approx(0.1) and fn(9, 100, 10) == pytest.approx(1.0)
    assert fn(10, 100, 10) == pytest.approx(1.0)
    end = fn(100, 100, 10)
    assert end == pytest.approx({"constant": 1.0, "cosine": 0.0, "linear": 0.0}[name])
    if name == "cosine":
        assert fn(55, 100, 10) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))


def test_ema_follows_its_formula():
    net = torch.nn.Linear(2, 1)
    ema = EMA(net, decay=0.9)
    start = net.weight.detach().clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update(net)
    expected = 0.9 * start + 0.1 * (start + 1.0)
    assert torch.allclose(ema.model.weight, expected)


def test_debiased_ema_is_the_weighted_average_of_the_iterates_alone():
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2)
    ema = EMA(net, decay=0.9)
    iterates = []
    for n in range(1, 8):
        with torch.no_grad():
            net.weight.copy_(torch.randn_like(net.weight))
        iterates.append(net.weight.detach().clone())
        ema.update(net, n)
        if n == 1:  # the first update copies: the random start gets no share
            assert torch.equal(ema.model.weight, iterates[0])
    w = torch.tensor([0.9 ** (len(iterates) - 1 - k) for k in range(len(iterates))])
    expected = (w[:, None, None] * torch.stack(iterates)).sum(0) / w.sum()
    assert torch.allclose(ema.model.weight, expected, atol=1e-6)


def test_an_ema_half_life_halves_an_images_weight_after_that_many_images():
    from genzoo.train.ema import halflife_decay

    d = halflife_decay(64, 6400)
    assert d**100 == pytest.approx(0.5)  # 100 steps of 64 images: one half-life
    # the ramp-up caps the half-life at a share of the images seen so far
    assert halflife_decay(64, 6400, images_seen=6400, rampup=0.05) == pytest.approx(0.5**0.2)
    assert halflife_decay(64, 6400, images_seen=10**7, rampup=0.05) == pytest.approx(d)


def test_a_half_life_ema_averages_the_last_stretch_of_a_short_run(tmp_path):
    """With the ramp-up, the average of a short run weighs its last few percent of images;
    with a fixed decay of 0.999 it spans the whole run."""
    net = torch.nn.Linear(1, 1, bias=False)
    fixed = EMA(net, decay=0.999)
    ramped = EMA(net, 0.999, halflife_images=10_000, rampup=0.05, images_per_step=32)
    for n in range(1, 301):  # the weight walks 1, 2, ..., 300
        with torch.no_grad():
            net.weight.fill_(float(n))
        fixed.update(net, n)
        ramped.update(net, n)
    assert float(fixed.model.weight) < 160  # about the run's mean
    # a half-life of 5% of the images seen lags 0.05 / ln 2 = 7% of the run behind: 278
    assert 270 < float(ramped.model.weight) < 290
    cfg = TrainConfig(ema=True, ema_halflife_images=500.0, ema_rampup=0.1, batch_size=50)
    built = EMA.of(net, cfg, processes=2)
    assert built.images_per_step == 100 and built.decay_at(1) == pytest.approx(0.5**10)


def test_ema_rampup_needs_a_half_life():
    with pytest.raises(ConfigError, match="ema_rampup"):
        TrainConfig(ema_rampup=0.05)
    with pytest.raises(ConfigError, match="ema_halflife_images"):
        TrainConfig(ema_halflife_images=0.0)


class FakeTerminal(__import__("io").StringIO):
    def isatty(self) -> bool:
        return True


def test_console_shows_a_bar_on_a_terminal_and_plain_lines_elsewhere():
    import io

    from genzoo.train.loggers import ConsoleLogger

    tty = FakeTerminal()
    bar = ConsoleLogger(10, 0, stream=tty)
    for _ in range(3):
        bar.advance()
    bar.log({"step": 3, "ae/loss": 0.25})
    bar.close()
    assert "3/10" in tty.getvalue() and "ae/loss 0.25" in tty.getvalue()
    plain = io.StringIO()
    lines = ConsoleLogger(10, 0, stream=plain)
    lines.advance()
    lines.log({"step": 5, "ae/loss": 0.5, "time": 1.0})
    assert plain.getvalue().startswith("step 5/10  ae/loss 0.5  (") and "\r" not in plain.getvalue()


def test_ctrl_c_from_outside_checkpoints_exits_130_and_resumes(tmp_path):
    import subprocess
    import sys
    import time

    from .conftest import cli_env

    out = tmp_path / "run"
    args = [
        "train",
        "ae",
        "--data",
        "digits",
        "--out",
        str(out),
        "--steps",
        "1000000",
        "--set",
        "train.log_every=10",
        "--set",
        "train.checkpoint_every=0",
        "--set",
        "model.hidden=[32]",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "genzoo", *args],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while not (out / "metrics.jsonl").exists() or not (out / "metrics.jsonl").read_text():
        assert time.time() < deadline and proc.poll() is None, "training never started"
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    step = checkpoint.latest_checkpoint(out)
    assert step is not None and f"interrupted at step {int(step.name[5:])}" in err
    target = int(step.name[5:]) + 20
    args[args.index("--steps") + 1] = str(target)
    resumed = run_cli(*args, "--resume", "auto")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "summary.json").read_text())["steps"] == target


def test_after_step_sees_every_step_outside_the_step_clock():
    """The hook runs once after each optimizer step, with the step counted, and the time it
    takes (a benchmark's evaluation) is not charged to train.max_step_seconds."""
    ds = genzoo.load_dataset("digits")
    model = genzoo.build_model("ae", ds.info(), {"hidden": [16], "latent_dim": 2}, seed=0)
    seen, slept = [], 0.0

    def after_step(trainer):
        nonlocal slept
        seen.append((trainer.step, trainer.step_seconds))
        time.sleep(0.05)
        slept += 0.05

    cfg = TrainConfig(
        steps=10**6, batch_size=32, max_step_seconds=0.3, log_every=0, eval_every=0,
        sample_every=0, checkpoint_every=0, tensorboard=False, final_eval=False,
    )  # fmt: skip
    trainer = Trainer(model, ds, cfg, console=False, after_step=after_step)
    summary = trainer.fit()
    assert [s for s, _ in seen] == list(range(1, summary["steps"] + 1))
    clocks = [c for _, c in seen]
    assert clocks == sorted(clocks) and clocks[-1] == trainer.step_seconds
    # the sleeps alone outlast the budget: had they counted, it would have ended sooner
    assert slept > 0.3 and trainer.step_seconds >= 0.3


def test_max_step_seconds_stops_at_the_budget_and_a_resume_keeps_its_clock(tmp_path):
    ds = genzoo.load_dataset("digits")

    def fit(resume=False, **train):
        model = genzoo.build_model("ae", ds.info(), {"hidden": [32], "latent_dim": 4}, seed=0)
        cfg = TrainConfig(
            steps=10**6, batch_size=32, log_every=5, eval_every=0, sample_every=0,
            checkpoint_every=0, tensorboard=False, final_eval=False, **train,
        )  # fmt: skip
        trainer = Trainer(model, ds, cfg, out=tmp_path / "run", console=False)
        return trainer.fit(resume=resume), trainer

    summary, trainer = fit(max_step_seconds=0.5)
    assert summary["stopped_by"] == "max_step_seconds" and 0 < summary["steps"] < 10**6
    assert summary["step_seconds"] >= 0.5 and trainer.step_seconds >= 0.5
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().split("\n")
               if x]  # fmt: skip
    times = [r["train_time"] for r in records]
    assert times == sorted(times) and times[-1] == round(trainer.step_seconds, 3)
    # resumed, the clock goes on from the checkpoint: the budget is spent, no step runs
    again, resumed = fit(resume=True, max_step_seconds=0.5)
    assert again["steps"] == summary["steps"] and resumed.step_seconds == trainer.step_seconds
    # a larger budget continues from there
    more, longer = fit(resume=True, max_step_seconds=1.0)
    assert more["steps"] > summary["steps"] and longer.step_seconds >= 1.0
