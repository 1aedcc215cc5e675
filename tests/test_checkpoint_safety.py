"""Checkpoints never run code and never load damage, for one model of every family: an
autoencoder, a VAE, a GAN (two networks, two optimizers) and a DDPM (with its EMA). Each case
damages a copy of a finished run's newest checkpoint, then resumes it."""

from __future__ import annotations

import os
import shutil

import pytest
import torch

import genzoo
from genzoo import atomic
from genzoo.config import write_yaml
from genzoo.errors import CheckpointError
from genzoo.train import TrainConfig, Trainer
from genzoo.train import checkpoint as ckpt

from .conftest import tiny

FAMILIES = {"ae": "ae", "vae": "vae", "gan": "dcgan", "diffusion": "ddpm"}


class Evil:
    """Unpickling this runs a shell command that leaves a marker file."""

    def __reduce__(self):
        return (os.system, (f"touch {os.environ['EVIL_MARKER']}",))


@pytest.fixture(scope="module")
def digits():
    return genzoo.load_dataset("digits")


def build(name, ds, **options):
    return genzoo.build_model(name, ds.info(), {**tiny(name, ds.kind), **options}, seed=0)


def trainer(name, ds, out, steps=4, **options):
    cfg = TrainConfig(
        steps=steps, batch_size=16, checkpoint_every=2, log_every=0, eval_every=0,
        sample_every=0, tensorboard=False, ema=True,
    )  # fmt: skip
    return Trainer(build(name, ds, **options), ds, cfg, out=out, console=False)


@pytest.fixture(scope="module", params=list(FAMILIES.values()), ids=list(FAMILIES))
def finished(request, digits, tmp_path_factory):
    """A run of 4 steps with checkpoints at steps 2 and 4."""
    out = tmp_path_factory.mktemp(request.param) / "run"
    trainer(request.param, digits, out).fit()
    return request.param, out


@pytest.fixture
def run(finished, tmp_path, monkeypatch):
    name, out = finished
    monkeypatch.setenv("EVIL_MARKER", str(tmp_path / "pwned"))
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    return name, copy, copy / "checkpoints" / "step-000004"


def forge_checksums(folder):
    """What an attacker who can write the folder would do: make the checksums agree."""
    (folder / "COMPLETE").write_text("4\n" + ckpt.checksum_lines(folder))


def resume(name, digits, out, steps=6, **options):
    return trainer(name, digits, out, steps=steps, **options).fit(resume=True)


def test_a_trainer_state_that_would_run_code_is_refused(run, digits, tmp_path):
    name, out, last = run
    torch.save({"step": 4, "payload": Evil()}, last / "trainer_state.pt")
    forge_checksums(last)
    with pytest.raises(CheckpointError, match="refused: it holds more than tensors"):
        resume(name, digits, out)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("file", ["model.safetensors", "ema.safetensors"])
def test_weights_replaced_by_a_pickle_are_refused(run, digits, tmp_path, file):
    name, out, last = run
    torch.save({"weight": Evil()}, last / file)
    forge_checksums(last)
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        resume(name, digits, out)
    with pytest.raises(CheckpointError):
        genzoo.load(last, weights="ema" if file.startswith("ema") else "model")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("forged", [False, True], ids=["checksums", "forged-checksums"])
@pytest.mark.parametrize("damage", ["truncated", "header", "bit-flip"])
def test_damaged_weights_give_a_clean_error(run, digits, damage, forged):
    name, out, last = run
    file = last / "model.safetensors"
    data = bytearray(file.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "header":
        data[:8] = (2**62).to_bytes(8, "little")  # a header length far past the file
    else:
        data[-5] ^= 0x10  # one bit of the last tensor's data
    file.write_bytes(bytes(data))
    if forged:
        forge_checksums(last)
    if forged and damage == "bit-flip":
        # with the checksum forged too, a flipped bit is a valid file of other weights: it
        # loads (nothing can tell), and nothing but tensors is read
        resume(name, digits, out)
        return
    match = "damaged" if not forged else "not a valid safetensors file"
    with pytest.raises(CheckpointError, match=match):
        resume(name, digits, out)
    with pytest.raises(CheckpointError, match=match):
        genzoo.load(last)


def test_a_checkpoint_without_complete_is_skipped_by_resume(run, digits):
    name, out, last = run
    (last / "COMPLETE").unlink()  # as if killed before the marker: resume from step 2
    summary = resume(name, digits, out)
    assert summary["resumed_from"].endswith("step-000002") and summary["steps"] == 6


def test_a_checkpoint_of_other_settings_is_refused_naming_them(run, digits):
    name, out, last = run
    other = {"ae": {"latent_dim": 3}, "vae": {"latent_dim": 3}, "dcgan": {"latent_dim": 3}}
    options = other.get(name, {"T": 30})
    field = next(iter(options))
    with pytest.raises(CheckpointError, match=rf"model\.{field}: .* there, .* here"):
        resume(name, digits, out, **options)


def test_a_checkpoint_of_another_model_is_refused(run, digits, tmp_path):
    name, out, last = run
    stranger = "vae" if name != "vae" else "ae"
    with pytest.raises(CheckpointError, match=f"a checkpoint of model '{name}', not '{stranger}'"):
        resume(stranger, digits, out)


# ---------------------------------------------------------------- atomic writes
def _failing_replace(monkeypatch):
    """Every rename into place fails, as a crash between writing and renaming would."""

    def fail(src, dst):
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(atomic.os, "replace", fail)


@pytest.mark.parametrize(
    "write",
    [
        lambda path: atomic.atomic_write_text(path, "new text\n"),
        lambda path: write_yaml(path, {"train": {"steps": 5}}),  # config.yaml
    ],
    ids=["atomic_write_text", "write_yaml"],
)
def test_a_write_that_fails_leaves_the_old_file_whole_and_no_temporary(
    tmp_path, monkeypatch, write
):
    path = tmp_path / "config.yaml"
    path.write_text("old: 1\n")
    _failing_replace(monkeypatch)
    with pytest.raises(OSError, match="simulated crash"):
        write(path)
    assert path.read_text() == "old: 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]
    monkeypatch.undo()
    write(path)
    assert path.read_text() != "old: 1\n"


def test_resuming_rewrites_the_metrics_log_atomically(tmp_path, monkeypatch):
    from genzoo.train.loggers import JsonlLogger

    log = tmp_path / "metrics.jsonl"
    log.write_text('{"step": 1}\n{"step": 2}\n{"step": 3}\n')
    _failing_replace(monkeypatch)
    with pytest.raises(OSError, match="simulated crash"):
        JsonlLogger(log, start_step=2)  # keeps steps <= 2, through a rename
    assert log.read_text().count("\n") == 3  # the whole log survives the failed rewrite
