"""What a checkpoint keeps of a run besides its weights, so that a resumed run is bit-identical
on CPU to one never stopped (trainer_state.pt, tensors and plain values only):

- step, planned_steps (the run's length as first planned: schedules that are a share of the
  run keep their shape when a resumed run asks for more steps) and step_seconds;
- per phase, its optimizer's, learning-rate schedule's and gradient scaler's states;
- the batch streams' positions (`stream`, and `stream_NAME` for a field drawn on its own);
- the running sums of logged terms since the last log line;
- every global random generator (`rng`; under torchrun each process's, `rng_ranks`);
- the warnings seen so far, and what the model keeps for training only (a replay buffer).
"""

from __future__ import annotations

from typing import Any

from ..errors import GenzooError
from .runtime import rng_state, seed_everything, set_rng_state

STATE_FORMAT = 1
PHASE_PARTS = {"optimizers": "optimizer", "schedulers": "scheduler", "scalers": "scaler"}


def capture(trainer) -> dict[str, Any]:
    """The trainer's state now (this process's random generators only)."""
    updates = trainer.updates
    return {
        "format": STATE_FORMAT,
        "step": trainer.step,
        "planned_steps": trainer.planned_steps,
        "step_seconds": trainer.step_seconds,
        **{
            key: {k: getattr(u, part).state_dict() for k, u in updates.items()}
            for key, part in PHASE_PARTS.items()
        },
        "stream": trainer.stream.state_dict(),
        **{f"stream_{k}": s.state_dict() for k, s in trainer.streams.items()},
        **trainer.means.state_dict(),
        "rng": rng_state(trainer.device),
        "warnings": dict(trainer.warnings),
        "model_state": {k: v.cpu() for k, v in trainer.model.training_state().items()},
    }


def restore(trainer, state: dict[str, Any]) -> None:
    """Put `state` (from `capture`) back into a trainer set up for the same run."""
    if state.get("format") != STATE_FORMAT:
        raise GenzooError(f"trainer state format {state.get('format')} is not supported")
    device, world = trainer.device, trainer.world
    trainer.step = int(state["step"])
    trainer.step_seconds = float(state.get("step_seconds", 0.0))
    for key, part in PHASE_PARTS.items():
        for k, u in trainer.updates.items():
            getattr(u, part).load_state_dict(state[key][k])
    trainer.stream.load_state_dict(state["stream"])
    for k, s in trainer.streams.items():
        s.load_state_dict(state[f"stream_{k}"])
    trainer.means.load_state_dict(state, device)
    ranks = state.get("rng_ranks")
    if world.distributed and ranks is not None and len(ranks) == world.size:
        set_rng_state(ranks[world.rank], device)
    else:
        set_rng_state(state["rng"], device)
        if world.rank > 0:  # resumed on more processes than wrote it: fresh noise
            seed_everything(trainer.cfg.seed + 7919 * world.rank + trainer.step)
    trainer.warnings = dict(state.get("warnings", {}))
    trainer.model.load_training_state(
        {k: v.to(device) for k, v in state.get("model_state", {}).items()}
    )
