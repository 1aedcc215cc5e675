"""Building blocks shared by the models: no model logic lives here."""

from .conv import ConvDecoder, ConvEncoder
from .mlp import ACTIVATIONS, activation, mlp

__all__ = ["ACTIVATIONS", "ConvDecoder", "ConvEncoder", "activation", "mlp"]
