"""Anomaly detection with a generative model: score, threshold, evaluate.

The score of an example is how badly the model explains it: the negative log-likelihood
(a bound, e.g. the negative ELBO) for models that have one, else the reconstruction error,
the mean squared error per dimension in the model's range. A threshold is the score that
flags a chosen share of the *training* examples (the false-positive rate on normal data).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..errors import GenzooError
from ..models.base import LikelihoodModel, Reconstructor


@torch.no_grad()
def anomaly_scores(model, x: Tensor, batch: int = 500) -> tuple[Tensor, str]:
    """Per-example scores for `x` (model range), higher = more anomalous, and their kind."""
    model.eval()
    if isinstance(model, LikelihoodModel):
        out = [-model.log_likelihood(x[i : i + batch]) for i in range(0, len(x), batch)]
        return torch.cat(out).cpu(), "negative log-likelihood (nats)"
    if not isinstance(model, Reconstructor):
        raise GenzooError(
            f"model {model.name} can neither reconstruct nor give a likelihood, "
            "so it cannot score anomalies"
        )
    out = [
        ((model.reconstruct(x[i : i + batch]) - x[i : i + batch]) ** 2).flatten(1).mean(1)
        for i in range(0, len(x), batch)
    ]
    return torch.cat(out).cpu(), "reconstruction MSE per dimension"


def threshold_at_fpr(normal_scores: Tensor, fpr: float) -> float:
    """The score above which a share `fpr` of the normal (training) examples lies."""
    return float(torch.quantile(normal_scores.double(), 1 - fpr))


def detection_metrics(scores: Tensor, is_anomaly: np.ndarray) -> dict[str, float]:
    """AUROC and AUPRC (average precision) of `scores` against known anomalies."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    if is_anomaly.all() or not is_anomaly.any():
        raise GenzooError("AUROC needs both normal and anomalous examples in the data")
    s = scores.numpy()
    return {
        "auroc": float(roc_auc_score(is_anomaly, s)),
        "auprc": float(average_precision_score(is_anomaly, s)),
        "anomaly_share": float(is_anomaly.mean()),
    }
