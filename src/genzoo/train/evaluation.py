"""What the trainer measures and shows at its intervals, on the test split's batch fields:
every phase's test losses, the model's own health checks, and the preview picture. Each runs
in eval mode on the weights we ship and leaves the training's random state untouched."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from ..metrics.health import health_checks
from ..models.base import GenerativeModel, mean_phase_losses

EVAL_EXAMPLES = 1000  # test examples the periodic losses and diagnoses use, at most

# what a run shows of itself at train.sample_every: (model, the test split's fields, seed)
# -> a picture (PIL), or None for none (genzoo.viz.training_preview draws genzoo's)
Preview = Callable[[GenerativeModel, dict[str, torch.Tensor], int], Any]


def test_rows(test: dict[str, torch.Tensor], count: int) -> dict[str, torch.Tensor]:
    """`count` rows of every test field (at most all of them), spread evenly over the split
    (which may be ordered by class)."""
    n = len(test["x"])
    idx = torch.linspace(0, n - 1, min(n, count)).long().to(test["x"].device)
    return {name: t[idx] for name, t in test.items()}


@contextmanager
def evaluating(model: GenerativeModel) -> Iterator[None]:
    """`model` in eval mode, the global random state forked (restored on leaving)."""
    was_training = model.training
    model.eval()
    cuda = [model.device] if model.device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=cuda):
            yield
    finally:
        model.train(was_training)


def test_losses(model: GenerativeModel, test: dict[str, torch.Tensor], seed: int) -> dict:
    """Every phase's loss terms averaged over (up to EVAL_EXAMPLES of) the test split."""
    losses = mean_phase_losses(model, **test_rows(test, EVAL_EXAMPLES), seed=seed)
    return {f"test/{k}": v for k, v in losses.items()}


def diagnosis(model: GenerativeModel, test: dict[str, torch.Tensor], seed: int):
    """The model's own health checks (`GenerativeModel.diagnose`) and those that apply to it
    (`genzoo.metrics.health`) on the test split."""
    with evaluating(model), torch.no_grad():
        torch.manual_seed(seed)
        return health_checks(model, test_rows(test, EVAL_EXAMPLES))


def track_warnings(
    seen: dict[str, Any], found: dict[str, str], step: int, say: Callable[[str], None]
) -> None:
    """Keep in `seen` (key -> first step and message) the warnings of a diagnosis: a new one
    (or one back after it cleared) is said once; one that went away is marked cleared."""
    for key, message in found.items():
        if key not in seen or "cleared_step" in seen[key]:
            seen[key] = {"step": step, "message": message}
            say(f"warning at step {step}: {message}")
    for key, entry in seen.items():
        if key not in found and "cleared_step" not in entry:
            entry["cleared_step"] = step
            say(f"step {step}: no longer the case: {entry['message']}")
