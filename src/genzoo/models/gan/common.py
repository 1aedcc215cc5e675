"""Pieces any GAN shares: the truncation trick and the experience-replay buffer.

- Truncation (Brock et al. 2019, "Large Scale GAN Training", section 3.1): sample z from a
  normal truncated to |z_i| <= psi by redrawing the components that fall outside, trading
  variety for fidelity as psi shrinks.
- Experience replay (Shrivastava et al. 2017, section 2.3; Pfau & Vinyals 2016): a buffer of
  past generator samples is mixed into the discriminator's fake batches, so D keeps rejecting
  what G used to produce and G cannot cycle back to old modes.
"""

from __future__ import annotations

import torch
from torch import Tensor


def truncated_normal(
    shape: tuple[int, ...],
    psi: float,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> Tensor:
    """N(0, I) restricted to [-psi, psi] per component, by redrawing the ones outside."""
    z = torch.randn(shape, generator=generator, device=device)
    while True:
        out = z.abs() > psi
        if not bool(out.any()):
            return z
        z = torch.where(out, torch.randn(shape, generator=generator, device=device), z)


class ReplayBuffer:
    """A fixed-size store of past fakes (and their labels), filled in order, then refreshed at
    random positions. Its tensors are training state, saved with the trainer's checkpoint and
    not with the model's weights."""

    def __init__(self, size: int, ratio: float):
        self.size, self.ratio = size, ratio
        self.x: Tensor | None = None  # (size, *shape)
        self.y: Tensor | None = None  # (size,) labels, for conditional models
        self.count = 0  # how many slots are filled

    def mix(self, fake: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """Replace a `ratio` share of the batch with stored fakes, then store the fresh ones.

        The returned batch has the same size; the replaced rows are drawn uniformly from the
        filled part of the buffer (none while it is empty).
        """
        fake, y = fake.detach(), None if y is None else y.detach()
        out_x, out_y = fake, y
        n_old = min(int(round(self.ratio * len(fake))), self.count)
        if n_old:
            pick = torch.randint(0, self.count, (n_old,), device=fake.device)
            out_x = torch.cat([fake[n_old:], self.x[pick]])
            out_y = None if y is None else torch.cat([y[n_old:], self.y[pick]])
        self.push(fake, y)
        return out_x, out_y

    def push(self, fake: Tensor, y: Tensor | None) -> None:
        if self.x is None:
            self.x = torch.zeros(self.size, *fake.shape[1:], dtype=fake.dtype, device=fake.device)
            self.y = torch.zeros(self.size, dtype=torch.long, device=fake.device)
        n = min(len(fake), self.size)
        free = self.size - self.count
        if free >= n:  # fill in order
            slots = torch.arange(self.count, self.count + n, device=fake.device)
            self.count += n
        else:  # fill what is left, then overwrite random slots
            rest = torch.randperm(self.count, device=fake.device)[: n - free]
            slots = torch.cat([torch.arange(self.count, self.size, device=fake.device), rest])
            self.count = self.size
        self.x[slots] = fake[:n]
        if y is not None:
            self.y[slots] = y[:n]

    def state_dict(self) -> dict[str, Tensor]:
        if self.x is None:
            return {}
        return {"x": self.x, "y": self.y, "count": torch.tensor(self.count)}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        if state:
            self.x, self.y, self.count = state["x"], state["y"], int(state["count"])
