"""A model folder: config.json (the model's name, resolved config, data description and
units) + model.safetensors + CHECKSUMS, enough to rebuild the model through the registry with
nothing else (DESIGN section 5). Checkpoints (`train.checkpoint`) hold the same two files
beside the trainer's state.

Here, below the trainer, so that a model built on another model's folder (a latent diffusion
on a trained autoencoder) can load it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..atomic import atomic_write_text
from ..config import from_dict, to_dict
from ..data.dataset import DataInfo, DataTransform
from ..errors import CheckpointError
from ..registry import MODELS
from ..weights import load_strict, save_tensors

MODEL_FORMAT = "genzoo-model/1"


def model_meta(model) -> dict[str, Any]:

    return {
        "format": MODEL_FORMAT,
        "model": model.name,
        "config": to_dict(model.config),
        "data": model.info.to_dict(),
        "transform": model.transform.to_dict() if model.transform is not None else None,
        **(
            {"input_transform": model.input_transform.to_dict()}
            if model.input_transform is not None
            else {}
        ),
        "genzoo_version": __version__,
    }


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def checksum_lines(folder: Path) -> str:
    """'<sha256>  <name>' for every file of `folder` but the checksum files themselves."""
    names = sorted(
        p.name for p in folder.iterdir() if p.is_file() and p.name not in ("COMPLETE", "CHECKSUMS")
    )
    return "".join(f"{file_sha256(folder / n)}  {n}\n" for n in names)


def verify_folder(folder: Path) -> None:
    """Check the files of a checkpoint or model folder against the checksums written with them
    (folders without any, written by hand or by older versions, are taken as they are)."""
    for marker in ("COMPLETE", "CHECKSUMS"):
        listing = folder / marker
        if not listing.is_file():
            continue
        for line in listing.read_text(errors="replace").splitlines():
            digest, sep, name = line.partition("  ")
            if not sep:
                continue  # COMPLETE's first line: the step
            file = folder / name
            if "/" in name or not file.is_file():
                raise CheckpointError(f"{file}: missing (listed in {listing.name})")
            if file_sha256(file) != digest:
                raise CheckpointError(
                    f"{file}: damaged: its contents differ from what was written "
                    f"(SHA-256 in {listing.name}); it was truncated, altered or replaced"
                )


def save_model_folder(folder: Path, model, state: dict[str, torch.Tensor] | None = None) -> None:
    """config.json + model.safetensors (+ CHECKSUMS), enough for `load` to rebuild the model."""
    folder.mkdir(parents=True, exist_ok=True)
    save_tensors(
        folder / "model.safetensors",
        state if state is not None else model.state_dict(),
        {"format": MODEL_FORMAT, "model": model.name},
    )
    atomic_write_text(folder / "config.json", json.dumps(model_meta(model), indent=2))
    atomic_write_text(folder / "CHECKSUMS", checksum_lines(folder))


def load_model_folder(folder: Path, *, weights: str = "model", device: str | torch.device = "cpu"):
    """The model of `folder` (holding config.json), its files checked against their checksums,
    built through the registry and loaded strictly; in eval mode on `device`."""
    folder = Path(folder)
    verify_folder(folder)
    try:
        meta = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{folder / 'config.json'}: unreadable ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT:
        raise CheckpointError(
            f"{folder / 'config.json'}: not a genzoo model config (expected format {MODEL_FORMAT})"
        )
    try:
        cls = MODELS.get(meta["model"])
        fields = {k: v for k, v in meta["config"].items() if k not in cls.retired}
        config = from_dict(cls.Config, fields, prefix="model.")
        model = cls(config, DataInfo.from_dict(meta["data"]))
    except (KeyError, TypeError) as e:
        raise CheckpointError(f"{folder / 'config.json'}: incomplete ({e})") from None
    if meta.get("transform"):
        model.transform = DataTransform.from_dict(meta["transform"])
    if meta.get("input_transform"):
        model.input_transform = DataTransform.from_dict(meta["input_transform"])
    file = folder / ("ema.safetensors" if weights == "ema" else "model.safetensors")
    load_strict(model, file, f"model {meta['model']!r} as its config.json builds it")
    return model.to(device).eval()
