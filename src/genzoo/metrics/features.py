"""Feature networks for sample-quality metrics: small CNN classifiers trained on our own data.

FID, KID, precision/recall and density/coverage compare images in the feature space of a
pretrained network. Inception-v3 weights cannot be downloaded here, and Inception features
mean little on 28x28 digits anyway. So genzoo trains a small convolutional classifier on the
dataset's train split, with augmentation, and uses its 128-d penultimate activations. Every
metric result names the network and its SHA-256, so numbers are comparable only when computed
with the same network.

A feature network is one safetensors file: the weights, plus JSON metadata with its
architecture, the data it was trained on, its training config and its held-out accuracy.
Images enter in [0, 1] (the data's own value range mapped linearly).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import check
from ..data.augment import random_affine
from ..data.dataset import DataInfo, Dataset
from ..errors import GenzooError
from ..train.checkpoint import load_tensors, save_tensors

WEIGHTS = Path(__file__).parent / "weights"
FORMAT = "genzoo-features/1"


@dataclass
class FeatureTrainConfig:
    epochs: int = 30  # passes over the train split
    batch_size: int = 128
    lr: float = 2e-3  # Adam, cosine-decayed to 0
    width: int = 32  # channels of the first stage (the second has twice as many)
    feature_dim: int = 128  # size of the penultimate layer used as features
    rotation: float = 12.0  # augmentation: max rotation in degrees
    shift: float = 0.12  # augmentation: max translation, as a fraction of the image size
    scale: float = 0.12  # augmentation: max relative zoom
    seed: int = 0

    def __post_init__(self) -> None:
        check(self.epochs >= 1, "epochs", self.epochs, "an integer >= 1")
        check(self.feature_dim >= 8, "feature_dim", self.feature_dim, "an integer >= 8")


class FeatureNet(nn.Module):
    """Two conv stages (conv-BN-ReLU x2, max-pool), adaptive pooling, a 128-d feature layer.

    (B, C, H, W) in [0, 1] -> features (B, feature_dim) -> logits (B, classes).
    """

    def __init__(self, in_channels: int, num_classes: int, width: int = 32, feature_dim: int = 128):
        super().__init__()

        def block(a: int, b: int) -> list[nn.Module]:
            return [nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU()]

        w = width
        self.body = nn.Sequential(
            *block(in_channels, w),
            *block(w, w),
            nn.MaxPool2d(2),  # H/2
            *block(w, 2 * w),
            *block(2 * w, 2 * w),
            nn.MaxPool2d(2),  # H/4
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),  # (B, 2w * 4)
            nn.Linear(8 * w, feature_dim),
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(feature_dim, num_classes))
        self.num_features = feature_dim  # read by torchmetrics

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


def augment(x: Tensor, cfg: FeatureTrainConfig, g: torch.Generator) -> Tensor:
    """Random rotation, zoom and shift of a batch (B, C, H, W), one affine map per image."""
    return random_affine(x, cfg.rotation, cfg.shift, cfg.scale, g)


def to_unit(x, info: DataInfo) -> Tensor:
    """Raw data units -> [0, 1], the input range of feature networks."""
    lo, hi = info.value_range
    return ((torch.as_tensor(x, dtype=torch.float32) - lo) / (hi - lo)).clamp(0, 1)


@torch.no_grad()
def accuracy(net: FeatureNet, x: Tensor, y: Tensor, batch: int = 500) -> float:
    net.eval()
    hits = sum(
        int((net(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum())
        for i in range(0, len(x), batch)
    )
    return hits / len(x)


def train_feature_net(
    ds: Dataset, cfg: FeatureTrainConfig | None = None, progress=None
) -> tuple[FeatureNet, dict[str, Any]]:
    """Train a classifier on `ds`'s train split; returns it and its metadata."""
    cfg = cfg or FeatureTrainConfig()
    if ds.kind != "image" or ds.y_train is None:
        raise GenzooError(
            f"{ds.name}: a feature network needs labelled images "
            f"(this dataset is {ds.kind}, {'un' if ds.y_train is None else ''}"
            "labelled)"
        )
    info = ds.info()
    torch.manual_seed(cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed)
    net = FeatureNet(info.shape[0], info.num_classes, cfg.width, cfg.feature_dim)
    x, y = to_unit(ds.x_train, info), torch.as_tensor(ds.y_train)
    steps_per_epoch = max(1, len(x) // cfg.batch_size)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, cfg.lr, total_steps=cfg.epochs * steps_per_epoch, pct_start=0.15
    )
    for epoch in range(cfg.epochs):
        net.train()
        perm = torch.randperm(len(x), generator=g)
        for i in range(steps_per_epoch):
            idx = perm[i * cfg.batch_size : (i + 1) * cfg.batch_size]
            loss = F.cross_entropy(net(augment(x[idx], cfg, g)), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if progress is not None:
            progress(epoch + 1, cfg.epochs, float(loss.detach()))
    test_acc = accuracy(net, to_unit(ds.x_test, info), torch.as_tensor(ds.y_test))
    meta = {
        "format": FORMAT,
        "architecture": {
            "in_channels": info.shape[0],
            "num_classes": info.num_classes,
            "width": cfg.width,
            "feature_dim": cfg.feature_dim,
        },
        "data": info.to_dict(),
        "data_config": asdict(ds.config) if ds.config else {"source": ds.name},
        "train": asdict(cfg),
        "test_accuracy": round(test_acc, 4),
        "test_examples": len(ds.x_test),
        "torch": torch.__version__,
    }
    return net.eval(), meta


def save_feature_net(path: str | Path, net: FeatureNet, meta: dict[str, Any]) -> str:
    """Write the weights and metadata as one safetensors file; returns its SHA-256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_tensors(path, net.state_dict(), {"genzoo": json.dumps(meta)})
    return sha256(path)


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass
class FeatureNetwork:
    """A loaded feature network with what is known about it."""

    net: FeatureNet
    meta: dict[str, Any]
    path: Path
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name

    def provenance(self) -> dict[str, Any]:
        return {
            "file": self.name,
            "sha256": self.sha256,
            "trained_on": self.meta["data"]["source"],
            "test_accuracy": self.meta["test_accuracy"],
        }

    @torch.no_grad()
    def features(self, x_unit: Tensor, batch: int = 500) -> Tensor:
        return torch.cat(
            [self.net.features(x_unit[i : i + batch]) for i in range(0, len(x_unit), batch)]
        )

    @torch.no_grad()
    def probabilities(self, x_unit: Tensor, batch: int = 500) -> Tensor:
        return torch.cat(
            [self.net(x_unit[i : i + batch]).softmax(1) for i in range(0, len(x_unit), batch)]
        )

    def check_fits(self, info: DataInfo) -> None:
        shape = tuple(self.meta["data"]["shape"])
        if shape[0] != info.shape[0]:
            raise GenzooError(
                f"feature network {self.name} takes {shape[0]}-channel images, "
                f"the data has {info.shape[0]} channels"
            )
        if shape != tuple(info.shape):
            raise GenzooError(
                f"feature network {self.name} was trained on images of shape "
                f"{shape}, the data's are {tuple(info.shape)}; train one with "
                "genzoo features train"
            )


def load_feature_net(path: str | Path) -> FeatureNetwork:
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise GenzooError(f"{path}: no such feature network file")
    try:
        with safe_open(str(path), "pt") as f:
            meta = json.loads((f.metadata() or {}).get("genzoo", "{}"))
    except Exception as e:  # noqa: BLE001  (safetensors raises several types)
        raise GenzooError(f"{path}: not a safetensors file ({e})") from None
    if meta.get("format") != FORMAT:
        raise GenzooError(f"{path}: not a genzoo feature network (no {FORMAT} metadata)")
    arch = meta["architecture"]
    net = FeatureNet(arch["in_channels"], arch["num_classes"], arch["width"], arch["feature_dim"])
    net.load_state_dict(load_tensors(path), strict=True)
    return FeatureNetwork(net.eval(), meta, path, sha256(path))


def shipped(source: str, meta: dict | None = None) -> Path | None:
    """The feature network shipped for a bundled dataset, if any. A dataset made of another's
    images (a translation task's output domain) names it in meta["features"]."""
    path = WEIGHTS / f"{(meta or {}).get('features', source)}.safetensors"
    return path if path.is_file() else None


def feature_network_for(info: DataInfo, path: str | Path | None = None) -> FeatureNetwork:
    """`path` if given, else the shipped network for the data; checked against the data."""
    if path is None:
        path = shipped(info.source, info.meta)
        if path is None:
            raise GenzooError(
                f"no feature network ships for {info.source!r}; train one with "
                f"`genzoo features train --data {info.source} --out features.safetensors` "
                "and pass --features features.safetensors"
            )
    fn = load_feature_net(path)
    fn.check_fits(info)
    return fn
