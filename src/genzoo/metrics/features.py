"""Feature networks for sample-quality metrics: small CNNs trained on our own data.

FID, KID, precision/recall and density/coverage compare images in the feature space of a
pretrained network. Inception-v3 weights cannot be downloaded here, and Inception features
mean little on 28x28 digits anyway. So genzoo trains a small convolutional network on the
dataset's train split, with augmentation, and uses its 128-d penultimate activations:

- labelled images: a classifier of the data's classes (its head also gives the class metrics);
- unlabelled images: the same network trained to tell which of four rotations (or, for images
  that are not square, flips) an image was given, a self-supervised task (Gidaris et al. 2018,
  "Unsupervised Representation Learning by Predicting Image Rotations") whose features see
  shapes without any label.

genzoo ships the networks of its bundled image sets (mnist5k, mnist5k-color, digits). For a
user's images, `network_for` trains one the first time (a fixed recipe, so every run on the
same data gets the same network) and caches it under $GENZOO_CACHE/features, keyed by the
SHA-256 of the training split: later runs on the same data reuse it. Every metric result names
the network ("FID (mnist5k-cnn features)") and carries its SHA-256, so numbers are comparable
only when computed with the same network, and never beside Inception FIDs.

A feature network is one safetensors file: the weights, plus JSON metadata with its name,
task, architecture, the data it was trained on, its training config and its held-out
accuracy. Images enter in [0, 1] (the data's own value range mapped linearly).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import check
from ..data.augment import random_affine
from ..data.bundled import cache_dir
from ..data.dataset import DataInfo, Dataset
from ..errors import GenzooError
from ..progress import reporting
from ..registry import DATASETS
from ..weights import load_strict, read_metadata, save_tensors
from .plan import per_unit

WEIGHTS = Path(__file__).parent / "weights"
FORMAT = "genzoo-features/1"
AUTO_STEPS = 1500  # the most training steps of a network genzoo trains by itself
DATA_SUFFIXES = {".npz", ".npy", ".csv", ".gz", ".idx", ".ubyte"}  # dropped from names


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

    (B, C, H, W) in [0, 1] -> features (B, feature_dim) -> logits (B, classes). Images larger
    than 32 pixels a side enter through a stride-2 first convolution (`stem_stride`), so the
    network's cost follows the pixels of a 32x32 image rather than of the data's.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        width: int = 32,
        feature_dim: int = 128,
        stem_stride: int = 1,
    ):
        super().__init__()

        def block(a: int, b: int, stride: int = 1) -> list[nn.Module]:
            conv = nn.Conv2d(a, b, 3, stride=stride, padding=1, bias=False)
            return [conv, nn.BatchNorm2d(b), nn.ReLU()]

        w = width
        self.body = nn.Sequential(
            *block(in_channels, w, stem_stride),
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


def stem_stride(shape) -> int:
    """2 for images larger than 32 pixels a side (see FeatureNet), else 1."""
    return 2 if max(shape[1:]) > 32 else 1


def pretext(x: Tensor, square: bool, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """The rotation task: each image turned by k quarter turns (k in 0..3, drawn with `g`),
    or, when not square, flipped (k: none, left-right, up-down, both), and its k."""
    k = torch.randint(0, 4, (len(x),), generator=g)
    return torch.stack([transform_k(im, int(j), square) for im, j in zip(x, k, strict=True)]), k


def transform_k(im: Tensor, k: int, square: bool) -> Tensor:
    """Image (C, H, W) under the k-th of the task's four transforms."""
    if square:
        return torch.rot90(im, k, (1, 2))
    dims = [(), (2,), (1,), (1, 2)][k]
    return im.flip(dims) if dims else im


def task_of(ds: Dataset) -> str:
    """ "classes" for labelled images, "rotation" (self-supervised) for unlabelled ones."""
    return "classes" if ds.y_train is not None and ds.num_classes else "rotation"


def default_name(ds: Dataset, task: str) -> str:
    """ "my_photos-cnn", "digits.npz" -> "digits-cnn", unlabelled: "my_photos-rotation-cnn"."""
    path = Path(ds.name.rstrip("/"))
    base = (path.stem if path.suffix.lower() in DATA_SUFFIXES else path.name) or "data"
    return f"{base}-cnn" if task == "classes" else f"{base}-rotation-cnn"


def train_feature_net(
    ds: Dataset,
    cfg: FeatureTrainConfig | None = None,
    progress=None,
    task: str | None = None,
    name: str | None = None,
) -> tuple[FeatureNet, dict[str, Any]]:
    """Train a feature network on `ds`'s train split; returns it and its metadata. `task`:
    "classes" (needs labels) or "rotation"; default: classes when the data has labels.
    `progress(step, total, loss)` is called after every step."""
    cfg = cfg or FeatureTrainConfig()
    task = task or task_of(ds)
    if ds.kind != "image":
        raise GenzooError(f"{ds.name}: a feature network is for images; this dataset is {ds.kind}")
    if task == "classes" and ds.y_train is None:
        raise GenzooError(f"{ds.name}: a classifier needs labels; this dataset has none")
    info = ds.info()
    square = info.shape[1] == info.shape[2]
    torch.manual_seed(cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed)
    classes = info.num_classes if task == "classes" else 4
    stride = stem_stride(info.shape)
    net = FeatureNet(info.shape[0], classes, cfg.width, cfg.feature_dim, stride)
    x = to_unit(ds.x_train, info)
    y = torch.as_tensor(ds.y_train) if task == "classes" else None
    steps_per_epoch = max(1, len(x) // cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=total, pct_start=0.15)
    step = 0
    for _ in range(cfg.epochs):
        net.train()
        perm = torch.randperm(len(x), generator=g)
        for i in range(steps_per_epoch):
            idx = perm[i * cfg.batch_size : (i + 1) * cfg.batch_size]
            batch = augment(x[idx], cfg, g)
            if task == "classes":
                target = y[idx]
            else:
                batch, target = pretext(batch, square, g)
            loss = F.cross_entropy(net(batch), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if progress is not None:
                progress(step, total, float(loss.detach()))
    x_test = to_unit(ds.x_test, info)
    if task == "classes":
        test_acc = accuracy(net, x_test, torch.as_tensor(ds.y_test))
    else:
        g_test = torch.Generator().manual_seed(cfg.seed + 1)
        test_acc = accuracy(net, *pretext(x_test, square, g_test))
    meta = {
        "format": FORMAT,
        "name": name or default_name(ds, task),
        "task": task,
        "architecture": {
            "in_channels": info.shape[0],
            "num_classes": classes,
            "width": cfg.width,
            "feature_dim": cfg.feature_dim,
            "stem_stride": stride,
        },
        "data": info.to_dict(),
        "data_config": asdict(ds.config) if ds.config else {"source": ds.name},
        "data_sha256": data_checksum(ds),
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
        """What results call it: "mnist5k-cnn", "my_photos-rotation-cnn"."""
        return self.meta.get("name") or f"{self.path.stem}-cnn"

    @property
    def task(self) -> str:
        return self.meta.get("task", "classes")

    def knows_classes(self, info: DataInfo) -> bool:
        """Whether its head classifies `info`'s classes (for the class metrics)."""
        n = self.meta["architecture"]["num_classes"]
        return self.task == "classes" and info.num_classes is not None and n == info.num_classes

    def provenance(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.path.name,
            "sha256": self.sha256,
            "task": self.task,
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
    path = Path(path)
    if not path.is_file():
        raise GenzooError(f"{path}: no such feature network file")
    meta = read_metadata(path, "genzoo")
    if meta.get("format") != FORMAT:
        raise GenzooError(f"{path}: not a genzoo feature network (no {FORMAT} metadata)")
    arch = meta["architecture"]
    net = FeatureNet(
        arch["in_channels"],
        arch["num_classes"],
        arch["width"],
        arch["feature_dim"],
        arch.get("stem_stride", 1),  # files written before it existed: 1
    )
    load_strict(net, path, "a feature network of this architecture")
    return FeatureNetwork(net.eval(), meta, path, sha256(path))


def data_checksum(ds: Dataset) -> str:
    """SHA-256 of a dataset's training split as a feature network sees it: the shape, the
    images (float32) and the labels: the key of the feature-network cache."""
    h = hashlib.sha256()
    h.update(repr((tuple(ds.x_train.shape), tuple(ds.value_range), ds.classes)).encode())
    h.update(np.ascontiguousarray(ds.x_train, dtype=np.float32).tobytes())
    if ds.y_train is not None:
        h.update(np.ascontiguousarray(ds.y_train, dtype=np.int64).tobytes())
    return h.hexdigest()


def cache_path(ds: Dataset) -> Path:
    """Where the feature network trained for `ds` is cached."""
    task = task_of(ds)
    return (
        cache_dir() / "features" / f"{default_name(ds, task)}-{data_checksum(ds)[:16]}.safetensors"
    )


def auto_config(ds: Dataset) -> FeatureTrainConfig:
    """The recipe of a network genzoo trains by itself: the shipped networks' (30 epochs),
    with the epochs cut so that large data sets take at most `AUTO_STEPS` steps."""
    cfg = FeatureTrainConfig()
    per_epoch = max(1, len(ds.x_train) // cfg.batch_size)
    return FeatureTrainConfig(epochs=max(1, min(cfg.epochs, AUTO_STEPS // per_epoch)))


def training_cost(ds: Dataset, cfg: FeatureTrainConfig | None = None) -> float:
    """Estimated seconds to train `auto_config(ds)` on `ds`: two timed steps, times the steps."""
    cfg = cfg or auto_config(ds)
    info = ds.info()
    classes = max(info.num_classes or 4, 4)
    net = FeatureNet(info.shape[0], classes, cfg.width, cfg.feature_dim, stem_stride(info.shape))
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    b = min(cfg.batch_size, len(ds.x_train))
    x = to_unit(ds.x_train[:b], info)
    y = torch.zeros(len(x), dtype=torch.long)

    def step():
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    steps = cfg.epochs * max(1, len(ds.x_train) // cfg.batch_size)
    return per_unit(step, 1, repeats=1) * steps


def ensure_feature_net(ds: Dataset, say=None) -> FeatureNetwork:
    """The network trained for `ds` by the fixed recipe: from the cache, or trained now (with
    progress) and cached for every later run on the same data."""
    path = cache_path(ds)
    if path.is_file():
        try:
            fn = load_feature_net(path)
            fn.check_fits(ds.info())
            return fn
        except GenzooError:
            path.unlink(missing_ok=True)  # damaged: trained again below
    task = task_of(ds)
    if say is not None:
        what = "a classifier of its classes" if task == "classes" else "the rotation task"
        say(
            f"no feature network ships for {ds.name}: training one on {what} "
            f"(once; cached as {path})"
        )
    cfg = auto_config(ds)
    total = cfg.epochs * max(1, len(ds.x_train) // cfg.batch_size)
    with reporting(total, "feature network", "steps", enabled=say is not None) as bar:
        net, meta = train_feature_net(ds, cfg, lambda *_: bar.update(1), task=task)
    save_feature_net(path, net, meta)
    if say is not None:
        acc = meta["test_accuracy"]
        say(f"feature network {meta['name']}: {acc:.1%} held-out accuracy ({task})")
    return load_feature_net(path)


def shipped(source: str, meta: dict | None = None) -> Path | None:
    """The feature network shipped for a bundled dataset, if any. A dataset made of another's
    images (a translation task's output domain) names it in meta["features"]; a user's files
    never match, even when they share a bundled set's name."""
    name = (meta or {}).get("features", source)
    if name not in DATASETS:
        return None
    path = WEIGHTS / f"{name}.safetensors"
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


def available(ds: Dataset, path: str | Path | None = None) -> Path | None:
    """The file of the network evaluation would use without training one: `path`, the
    shipped one, or the cached one; None when one must be trained first."""
    if path is not None:
        return Path(path)
    found = shipped(ds.name, ds.meta)
    if found is not None:
        return found
    cached = cache_path(ds)
    return cached if cached.is_file() else None
