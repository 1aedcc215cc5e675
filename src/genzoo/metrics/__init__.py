"""Metrics: sample quality in feature space, toy 2-D modes, reconstruction and likelihood.

Each metric is registered by name (`genzoo list metrics`) and run through `evaluate`.
"""

from .evaluate import EvalContext, Metric, applies, default_metrics, estimate_seconds, evaluate

__all__ = [
    "EvalContext", "Metric", "applies", "default_metrics", "estimate_seconds", "evaluate",
]  # fmt: skip
