"""Anomaly detection with a generative model: score, threshold, evaluate.

The score of an example is how badly the model explains it: the negative log-likelihood
(a bound, e.g. the negative ELBO) for models that have one, else the reconstruction error,
the mean squared error per dimension in the model's range. A threshold is a fixed score, or
the score that flags a chosen share of the *training* examples of the normal classes (the
false-positive rate on normal data).

What is scored is either a split of the run's own data or every row of a new file
(`data.examples`: a CSV's columns matched by name, its label column optional). Each score keeps
its example's row in the source, and an id column where one is named, so results join back to
the user's rows.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..errors import GenzooError
from ..models.base import LikelihoodModel, Reconstructor, in_batches

SCORE_SAMPLES = 20  # importance samples (VAEs) or strata of the bound (diffusion) per example


@torch.no_grad()
def anomaly_scores(
    model,
    x: Tensor,
    y: Tensor | None = None,
    k: int = SCORE_SAMPLES,
    progress: str | None = None,
) -> tuple[Tensor, str]:
    """Per-example scores for `x` (model range), higher = more anomalous, and their kind. A
    likelihood is estimated with `k` importance samples or strata per example (seeded); a
    conditional model scores log p(x | y) and needs the labels y."""
    model.eval()
    if isinstance(model, LikelihoodModel):
        g = torch.Generator(device=model.device).manual_seed(0)
        log_px = in_batches(
            model.log_likelihood,
            x,
            model.labels_for(y, "log_likelihood"),
            100,
            progress,
            k=k,
            generator=g,
        )
        return -log_px.cpu(), f"negative log-likelihood (nats, {k} samples per example)"
    if not isinstance(model, Reconstructor):
        raise GenzooError(
            f"model {model.name} can neither reconstruct nor give a likelihood, "
            "so it cannot score anomalies"
        )
    x_hat = in_batches(model.reconstruct, x, model.labels_for(y, "reconstruct"), 500, progress)
    return ((x_hat - x) ** 2).flatten(1).mean(1).cpu(), "reconstruction MSE per dimension"


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
