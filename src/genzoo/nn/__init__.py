"""Building blocks shared by the models: no model logic lives here."""

from .mlp import ACTIVATIONS, activation, mlp

__all__ = ["ACTIVATIONS", "activation", "mlp"]
