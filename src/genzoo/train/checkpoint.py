"""Checkpoints and model folders: safetensors weights, tensor-only trainer state, atomic writes.

Layout (DESIGN section 5)::

    checkpoints/step-000500/   config.json  model.safetensors  [ema.safetensors]
                               trainer_state.pt  COMPLETE
    checkpoints/latest         the name of the newest complete checkpoint, written last
    model/                     config.json + model.safetensors: the final model

A checkpoint is written into a temporary folder, every file fsynced, `COMPLETE` last, then the
folder is renamed into place and `latest` replaced atomically: a crash at any moment leaves the
previous checkpoint intact and `latest` pointing at a complete one. Weights are never pickled, and
trainer state is read with ``torch.load(weights_only=True)``, which refuses to run code.

`COMPLETE` (and a model folder's `CHECKSUMS`) lists the SHA-256 of every file beside it, checked
before anything is loaded: a truncated, bit-flipped or replaced file is refused by name, where
safetensors alone would load flipped bits as other weights.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_write_text, fsync_dir, replace_synced, temporary_beside
from ..config import differing_fields
from ..errors import CheckpointError
from ..models.folder import (  # noqa: F401  (the model folder's I/O, re-exported here)
    MODEL_FORMAT,
    checksum_lines,
    load_model_folder,
    model_meta,
    save_model_folder,
    verify_folder,
)
from ..weights import save_tensors


def save_state(path: Path, state: dict[str, Any]) -> None:
    tmp = temporary_beside(path)
    torch.save(state, tmp)
    replace_synced(tmp, path)


def load_state(path: Path) -> dict[str, Any]:
    """Trainer state: tensors and plain values only; anything that would run code is refused."""
    if not path.is_file():
        raise CheckpointError(f"{path}: missing")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "unsafe content"
        raise CheckpointError(
            f"{path}: refused: it holds more than tensors and plain values "
            f"and loading it could run code ({first})"
        ) from None
    except (RuntimeError, OSError, EOFError, ValueError) as e:
        raise CheckpointError(f"{path}: damaged trainer state ({e})") from None


def check_same_model(path: Path, model) -> None:
    """Refuse to resume `model` from checkpoint `path` when it was written for another model
    or with other model settings (naming what differs)."""
    try:
        theirs = json.loads((path / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path / 'config.json'}: unreadable ({e})") from None
    ours = json.loads(json.dumps(model_meta(model)))  # as it would be written
    if not isinstance(theirs, dict) or theirs.get("model") != ours["model"]:
        got = theirs.get("model") if isinstance(theirs, dict) else None
        raise CheckpointError(
            f"{path}: a checkpoint of model {got!r}, not {ours['model']!r}; "
            "resume with the same model or use a new --out"
        )
    fields = [("model", k) for k in ours["config"]]
    differ = [
        f"{name}: {a!r} there, {b!r} here"
        for name, a, b in differing_fields(
            {"model": theirs.get("config")}, {"model": ours["config"]}, fields
        )
    ]
    if differ:
        raise CheckpointError(
            f"{path}: written with other settings ({'; '.join(differ[:4])}); "
            "resume with the same settings or use a new --out"
        )


def write_checkpoint(run_dir: Path, step: int, model, ema_model, state: dict[str, Any]) -> Path:
    """Write checkpoints/step-NNNNNN atomically, then point `latest` at it."""
    root = run_dir / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:06d}"
    final = root / name
    tmp = root / f".{name}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        save_model_folder(tmp, model)
        if ema_model is not None:
            save_tensors(tmp / "ema.safetensors", ema_model.state_dict())
        save_state(tmp / "trainer_state.pt", state)
        (tmp / "CHECKSUMS").unlink()  # COMPLETE lists them all, the model folder's included
        atomic_write_text(tmp / "COMPLETE", f"{step}\n" + checksum_lines(tmp))
        fsync_dir(tmp)
    except OSError as e:  # a full disk, a lost mount: the previous checkpoint stays as it was
        shutil.rmtree(tmp, ignore_errors=True)
        before = latest_checkpoint(run_dir)
        kept = f"the last good checkpoint, {before}, is intact" if before else "none was before"
        raise CheckpointError(
            f"{final}: could not be written ({e.strerror or e}); {kept}"
        ) from None
    if final.exists():  # a re-run of the same step after a resume
        shutil.rmtree(final)
    os.replace(tmp, final)
    fsync_dir(root)
    atomic_write_text(root / "latest", name + "\n")
    return final


def complete_checkpoints(run_dir: Path) -> list[Path]:
    root = run_dir / "checkpoints"
    if not root.is_dir():
        return []
    found = [p for p in root.glob("step-*") if p.is_dir() and (p / "COMPLETE").is_file()]
    return sorted(found, key=lambda p: p.name)


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint `latest` names if complete, else the newest complete one, else None."""
    pointer = run_dir / "checkpoints" / "latest"
    if pointer.is_file():
        named = run_dir / "checkpoints" / pointer.read_text().strip()
        if (named / "COMPLETE").is_file():
            return named
    found = complete_checkpoints(run_dir)
    return found[-1] if found else None


def prune_checkpoints(run_dir: Path, keep: int) -> None:
    """Delete all but the `keep` newest complete checkpoints, and stale temporary folders."""
    latest = latest_checkpoint(run_dir)
    for old in complete_checkpoints(run_dir)[:-keep]:
        if old != latest:
            shutil.rmtree(old, ignore_errors=True)
    for tmp in (run_dir / "checkpoints").glob(".step-*.tmp*"):
        shutil.rmtree(tmp, ignore_errors=True)


def resolve_model_folder(path: str | Path) -> Path:
    """A run folder, its model/ folder or a checkpoint folder -> the folder with config.json."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such run or model folder")
    for candidate in (path, path / "model"):
        if (candidate / "config.json").is_file() and (candidate / "model.safetensors").is_file():
            return candidate
    ckpt = latest_checkpoint(path)
    if ckpt is not None:
        return ckpt
    raise CheckpointError(
        f"{path}: not a model folder (no config.json + model.safetensors), "
        "not a finished run (no model/) and holds no complete checkpoint"
    )


def load(path: str | Path, *, weights: str = "model", device: str | torch.device = "cpu"):
    """Rebuild a model from its folder alone, strictly, through the registry.

    `path` is a run folder (its final model/, else its newest checkpoint), a model folder or a
    checkpoint folder. `weights="ema"` loads a checkpoint's EMA weights.
    """
    return load_model_folder(resolve_model_folder(path), weights=weights, device=device)
