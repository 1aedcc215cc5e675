"""Weights on disk: safetensors files written atomically and loaded strictly.

Every set of weights genzoo writes (a model folder, a checkpoint, a feature network) goes
through `save_tensors`, and every one it reads into a network goes through `load_strict`: the
file must hold exactly the network's tensors, each of its shape, or it is refused with a
`CheckpointError` that names the file and what differs. Weights are never pickled.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from .atomic import replace_synced, temporary_beside
from .errors import CheckpointError


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], meta: dict | None = None) -> None:
    """Write a safetensors file atomically (copies to contiguous CPU tensors first)."""
    tmp = temporary_beside(path)
    flat = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    save_file(flat, str(tmp), metadata=meta)
    replace_synced(tmp, path)


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: missing")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a valid safetensors file ({e})") from None


def read_metadata(path: Path, key: str) -> dict:
    """The JSON held under `key` in a safetensors file's metadata ({} when there is none)."""
    try:
        with safe_open(str(path), "pt") as f:
            return json.loads((f.metadata() or {}).get(key, "{}"))
    except Exception as e:  # noqa: BLE001  (safetensors raises several types)
        raise CheckpointError(f"{path}: not a safetensors file ({e})") from None


def load_strict(net: nn.Module, path: Path, what: str = "this network") -> None:
    """Load the file's tensors into `net`, which must have exactly these names and shapes;
    otherwise a CheckpointError names the file, `what` it should fit, and the difference."""
    state = load_tensors(path)
    ours = net.state_dict()
    missing, extra = sorted(set(ours) - set(state)), sorted(set(state) - set(ours))
    if missing or extra:
        raise CheckpointError(
            f"{path}: does not match {what}: missing tensors {missing[:5]}, "
            f"unexpected tensors {extra[:5]}"
        )
    shapes = [k for k in ours if tuple(ours[k].shape) != tuple(state[k].shape)]
    if shapes:
        k = shapes[0]
        raise CheckpointError(
            f"{path}: does not fit {what}: tensor {k} has shape {tuple(state[k].shape)}, "
            f"expected {tuple(ours[k].shape)} ({len(shapes)} tensor(s) differ)"
        )
    net.load_state_dict(state, strict=True)
