"""Metrics, registered by name; each says which capability it needs."""

from . import basic  # noqa: F401  (registers the metrics)
from .basic import Metric, applicable, evaluate

__all__ = ["Metric", "applicable", "evaluate"]
