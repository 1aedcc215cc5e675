"""Pretraining a classifier on unlabeled data: reuse a trained encoder, fine-tune with few
labels, and compare with the same classifier from scratch and with logistic regression on the
raw inputs.

The classifier is the encoder followed by a linear layer. Training has two stages: first the
head alone on the frozen encoder's codes, then everything together at a lower rate for the
encoder. Both stages see only the few labelled examples, with weight decay, and images are
augmented (small random rotations, shifts and zooms) in the second stage. The baseline from
scratch is trained the same way.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.augment import random_affine


def few_labels(y: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of `per_class` examples of every class, chosen at random."""
    rng = np.random.default_rng(seed)
    picks = []
    for k in np.unique(y):
        members = np.flatnonzero(y == k)
        picks.append(rng.choice(members, min(per_class, len(members)), replace=False))
    return np.sort(np.concatenate(picks))


class EncoderClassifier(nn.Module):
    def __init__(self, model, num_classes: int):
        super().__init__()
        self.model = model  # the autoencoder; only its encoder is used
        with torch.no_grad():
            k = model.encode(torch.zeros(1, *model.info.shape, device=model.device)).shape[1]
        self.head = nn.Linear(k, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.model.encode(x))


@dataclass
class FineTuneConfig:
    head_steps: int = 300  # stage 1: the head on frozen codes
    tune_steps: int = 600  # stage 2: everything
    lr: float = 1e-2  # head
    encoder_lr: float = 1e-3  # stage 2, the encoder
    weight_decay: float = 1e-3
    augment: bool = True  # images: random rotation, shift and zoom in stage 2
    seed: int = 0


def fit_classifier(
    model, x: Tensor, y: Tensor, num_classes: int, cfg: FineTuneConfig | None = None
) -> EncoderClassifier:
    """Train encoder + linear head on (x, y), model range; returns the classifier."""
    cfg = cfg or FineTuneConfig()
    torch.manual_seed(cfg.seed)
    clf = EncoderClassifier(copy.deepcopy(model).train(), num_classes).to(x.device)
    head = torch.optim.AdamW(clf.head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    with torch.no_grad():
        codes = clf.model.eval().encode(x)
    for _ in range(cfg.head_steps):
        head.zero_grad()
        F.cross_entropy(clf.head(codes), y).backward()
        head.step()
    clf.model.train()
    both = torch.optim.AdamW(
        [
            {"params": clf.head.parameters(), "lr": cfg.lr / 10},
            {"params": clf.model.parameters(), "lr": cfg.encoder_lr},
        ],
        weight_decay=cfg.weight_decay,
    )
    g = torch.Generator().manual_seed(cfg.seed)
    augment = cfg.augment and model.info.kind == "image"
    for _ in range(cfg.tune_steps):
        both.zero_grad()
        xb = _augment(x, g) if augment else x
        F.cross_entropy(clf(xb), y).backward()
        both.step()
    return clf.eval()


def _augment(x: Tensor, g: torch.Generator) -> Tensor:

    return random_affine(x.cpu(), generator=g).to(x.device)


@torch.no_grad()
def error_rate(clf: nn.Module, x: Tensor, y: Tensor, batch: int = 500) -> float:
    wrong = sum(
        int((clf(x[i : i + batch]).argmax(1) != y[i : i + batch]).sum())
        for i in range(0, len(x), batch)
    )
    return wrong / len(x)


def logistic_baseline(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray
) -> float:
    """Test error of logistic regression on the raw inputs (flattened)."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=2000)
    clf.fit(x_train.reshape(len(x_train), -1), y_train)
    return float((clf.predict(x_test.reshape(len(x_test), -1)) != y_test).mean())
