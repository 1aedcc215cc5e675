"""Multilayer perceptrons and the activations configs may name."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def activation(name: str) -> nn.Module:
    return ACTIVATIONS[name]()


def mlp(sizes: Sequence[int], act: str = "relu", out_act: str | None = None) -> nn.Sequential:
    """Linear layers of `sizes` ([in, h1, ..., out]) with `act` between them.

    `out_act` (an ACTIVATIONS name or None) follows the last layer.
    """
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation(act))
    if out_act is not None:
        layers.append(activation(out_act))
    return nn.Sequential(*layers)
