"""Data-parallel training across processes and machines, launched by `torchrun`.

`torchrun --nproc_per_node N -m genzoo train ...` starts N copies of the same command with
RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous address in their environment; `World.from_env`
reads them, and a world of one (a plain `genzoo train`) changes nothing. Each process draws
the same global batch of `batch_size x world` indices from the shared seeded stream and trains
on its own slice (a distributed sampler whose epochs reshuffle with the stream), so N processes
at `batch_size` B see exactly the examples one process at N x B would.

Every phase is wrapped in its own DistributedDataParallel around a module that owns exactly
the phase's parameters: its gradients are averaged across processes during backward, and the
networks a phase only reads (a GAN's discriminator while the generator learns) are never
synchronised. The model itself is never wrapped, so its state dict, checkpoints and EMA are
the same as in a single process. Backend: gloo on CPU, NCCL on CUDA (one device per process,
`cuda:LOCAL_RANK`).
"""

from __future__ import annotations

import datetime
import inspect
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..errors import GenzooError
from ..models.base import Batch, LossOutput, Phase


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @classmethod
    def from_env(cls) -> World:
        """The process's place in a `torchrun` launch; a world of one without it."""
        size = int(os.environ.get("WORLD_SIZE", "1"))
        if size <= 1:
            return cls()
        return cls(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))


def timeout_seconds() -> float:
    """How long a collective waits for a silent process before failing (GENZOO_DIST_TIMEOUT,
    default 300 s): long enough for rank 0's evaluations and checkpoints, short enough that a
    dead process does not hang the others for half an hour."""
    return float(os.environ.get("GENZOO_DIST_TIMEOUT", "300"))


def init(world: World, device: torch.device) -> bool:
    """Join the process group; True when this call created it (and so should end it)."""
    if not world.distributed or dist.is_initialized():
        return False
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_seconds()))
    return True


def shutdown(finished: bool) -> None:
    """Leave the process group when training ends. After a finished run the processes first
    wait for each other, so none tears its connections down under one still using them."""
    if dist.is_initialized():
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def process_device(world: World, device: torch.device) -> torch.device:
    """One CUDA device per process on each machine: cuda:LOCAL_RANK."""
    if world.distributed and device.type == "cuda":
        return torch.device("cuda", world.local_rank)
    return device


class _PhaseModule(nn.Module):
    """The parameters of one phase and its loss, as one module for DDP to wrap."""

    def __init__(self, phase: Phase, loss=None):
        super().__init__()
        self.params = nn.ParameterList(phase.params)
        self.loss = phase.loss if loss is None else loss

    def forward(self, batch: Batch) -> LossOutput:
        return self.loss(batch)


def wrap_phase(phase: Phase, device: torch.device, loss=None):
    """The phase's loss through DDP: calling it averages the gradients of exactly the
    phase's parameters across processes at backward. A phase marked `partial` (parameters
    that sit out some updates, like a growing network's faded-out layers) makes DDP look for
    them at every step; the others spare that search. Buffers are never synchronised: the
    parameters alone are what the processes must agree on. `loss` replaces the phase's own
    (its compiled version)."""
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(
        _PhaseModule(phase, loss),
        device_ids=ids,
        find_unused_parameters=phase.partial,
        init_sync=False,  # sync_model has already made every process start from rank 0's
        **_NO_BUFFER_SYNC,
    )


# the name of "never synchronise buffers" changed in torch 2.13 (the old one still works there,
# with a warning)
_NO_BUFFER_SYNC = (
    {"forward_sync_buffers": False}
    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
    else {"broadcast_buffers": False}
)


def sync_model(model: nn.Module) -> None:
    """Start every process from rank 0's parameters and buffers."""
    for t in [*model.parameters(), *model.buffers()]:
        dist.broadcast(t.data, src=0)


def mean_across(values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each logged value averaged over the processes (one collective for all of them)."""
    if not values:
        return values
    keys = sorted(values)
    stacked = torch.stack([values[k].detach().float().reshape(()) for k in keys])
    dist.all_reduce(stacked)
    stacked /= dist.get_world_size()
    return dict(zip(keys, stacked, strict=True))


def any_across(flag: bool) -> bool:
    """True on every process when it is true on any: a stop signal that reached one process
    stops them all at the same step (one tiny collective a step)."""
    t = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def gather(value: Any) -> list[Any]:
    """Every process's `value` (plain values and CPU tensors), in rank order, on every process."""
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, value)
    return out


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def agree_on_resume(start: str | None) -> None:
    """Every process must resume from the checkpoint rank 0 resumes from (`start`, None for
    the start): on several machines, --out has to be a folder they all see."""
    seen = gather(start)
    for rank, path in enumerate(seen):
        if path != seen[0]:
            raise GenzooError(
                f"process {rank} would resume from {path or 'the start'} but process 0 "
                f"from {seen[0] or 'the start'}: --out must be one folder that every "
                "machine sees (a shared file system)"
            )
