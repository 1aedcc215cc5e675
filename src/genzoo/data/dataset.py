"""The `Dataset` record, its config, the train/test split and the one mapping to model range.

Every source (bundled, toy 2-D, user files) returns a `RawData`: all examples in their own units
plus what is known about them. `load_dataset` splits it (stratified when there are labels) and
wraps it in a `Dataset`. Models never see raw units: `Dataset.transform(target)` builds the single
documented affine map from raw values to the range a model asks for:

- images:  ``unit`` -> [0, 1] and ``symmetric`` -> [-1, 1], from the dataset's declared value
  range (0..255 for 8-bit images, 0..16 for `digits`); ``standard`` is the same as ``unit``.
- points and tables, per feature, with statistics of the *train* split only:
  ``standard`` -> zero mean and unit variance; ``unit`` / ``symmetric`` -> min..max of the train
  split onto [0, 1] / [-1, 1] (test values may fall slightly outside).

The transform is saved with every model, so samples can be written back in the data's own units.

Translation data (pix2pix, CycleGAN) has two image domains: the input domain A (`input`, its
own `Dataset`) and the output domain B (the dataset itself). Paired data holds one input per
output, in the same order, split with the same indices; unpaired domains are split each on its
own and may differ in size.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from ..config import check
from ..errors import DataError
from ..registry import TASKS

Kind = Literal["image", "points", "table"]
Range = Literal["unit", "symmetric", "standard"]


@dataclass
class DataConfig:
    source: str = (
        "mnist5k"  # a registered dataset name (genzoo list datasets) or a file/folder path
    )
    n: int | None = None  # toy 2-D sets: number of points (default: the set's own)
    noise: float | None = None  # toy 2-D sets: noise standard deviation (default: the set's own)
    labels: str | None = None  # IDX image files: the labels file (default: paired by name)
    label_column: str | None = None  # CSV files: the column that holds class labels
    # CSV files: a column that names each row (a transaction id): kept for output, never a
    # feature
    id_column: str | None = None
    test_fraction: float = 0.2  # share of examples held out as the test split
    split_seed: int = 0  # seed of the (stratified) train/test split
    seed: int = 0  # seed of generated toy data
    classes: tuple[str, ...] | None = None  # keep only these classes (e.g. one-class training)
    # translation: the input domain (a dataset name or path); `source` is the output domain
    input: str | None = None
    paired: bool | None = None  # input and output examples pair up one to one (default: yes)
    # translation: make the input domain from the images themselves (genzoo list tasks):
    # colorize, superres2, superres4 or inpaint
    task: str | None = None

    def __post_init__(self) -> None:
        check(bool(self.source), "source", self.source, "a dataset name or a path")
        check(self.n is None or self.n >= 10, "n", self.n, "at least 10 points")
        check(self.noise is None or self.noise >= 0, "noise", self.noise, "a number >= 0")
        check(0 < self.test_fraction < 1, "test_fraction", self.test_fraction, "0 < x < 1")
        check(
            self.paired is None or self.input is not None,
            "paired",
            self.paired,
            "unset without data.input (it says how the input domain pairs with the source)",
        )

        check(
            self.task is None or self.task in TASKS,
            "task",
            self.task,
            "one of " + ", ".join(TASKS.names()) + " (or none)",
        )
        check(
            self.task is None or self.input is None,
            "task",
            self.task,
            "unset with data.input: a task makes the input domain from the source's images",
        )


@dataclass
class RawData:
    """What a source produces, before the split: x is (N, *shape), in the data's own units."""

    x: np.ndarray
    y: np.ndarray | None
    kind: Kind
    value_range: tuple[float, float]
    classes: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    input: RawData | None = None  # translation: the input domain
    paired: bool = False  # ... paired one to one with x
    names: list[str] | None = None  # file names, where read from a folder (to pair folders)
    ids: list[str] | None = None  # a CSV's id column (data.id_column), row for row


@dataclass
class DataInfo:
    """What a model needs to know about its data; saved with the model."""

    kind: Kind
    shape: tuple[int, ...]  # one example: (C, H, W) for images, (D,) for points and tables
    value_range: tuple[float, float]
    classes: list[str] | None = None
    source: str = ""
    # ground truth the data carries, raw units (toy mixtures: "means" and "std"); used by
    # models' health checks such as mode counting
    meta: dict[str, Any] = field(default_factory=dict)
    input: DataInfo | None = None  # translation: the input domain
    paired: bool = False

    @property
    def num_classes(self) -> int | None:
        return len(self.classes) if self.classes else None

    @property
    def dim(self) -> int:
        return int(np.prod(self.shape))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "shape": list(self.shape),
            "value_range": list(self.value_range),
            "classes": self.classes,
            "source": self.source,
            "meta": self.meta,
            **({"input": self.input.to_dict(), "paired": self.paired} if self.input else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataInfo:
        return cls(
            d["kind"],
            tuple(d["shape"]),
            tuple(d["value_range"]),
            d.get("classes"),
            d.get("source", ""),
            d.get("meta") or {},
            DataInfo.from_dict(d["input"]) if d.get("input") else None,
            bool(d.get("paired", False)),
        )


@dataclass
class DataTransform:
    """model = raw * scale + shift (scalar, or per feature for points and tables)."""

    target: Range
    scale: np.ndarray
    shift: np.ndarray

    def forward(self, x: np.ndarray | torch.Tensor) -> Any:
        return x * self._like(self.scale, x) + self._like(self.shift, x)

    def inverse(self, x: np.ndarray | torch.Tensor) -> Any:
        return (x - self._like(self.shift, x)) / self._like(self.scale, x)

    @staticmethod
    def _like(a: np.ndarray, x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            return torch.as_tensor(a, dtype=x.dtype, device=x.device)
        return a.astype(x.dtype, copy=False)

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "scale": self.scale.tolist(), "shift": self.shift.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataTransform:
        f32 = np.float32
        return cls(d["target"], np.asarray(d["scale"], f32), np.asarray(d["shift"], f32))


@dataclass(frozen=True)
class BatchField:
    """One field of a training batch, as the dataset declares it: the phases' losses receive
    `batch[name]`. `train` and `test` hold its values per split in the data's own units, the
    test values row for row with the dataset's test split. Examples (`kind` "examples") enter
    the model through `transform`; labels (`kind` "labels") are class indices, kept as they
    are. A field with a `stream` of its own (an unpaired domain) is drawn by a batch stream
    of that name; the others are drawn row for row with `x`."""

    name: str
    kind: Literal["examples", "labels"]
    train: np.ndarray
    test: np.ndarray
    source: str  # the data set it comes from, for messages
    transform: DataTransform | None = None
    stream: str | None = None

    def values(self, split: str, device: torch.device | str = "cpu") -> torch.Tensor:
        """The field's values of `split` as a tensor on `device`: examples in model range
        (float32), labels as the integers they are."""
        raw = self.train if split == "train" else self.test
        if self.kind == "labels":
            return torch.as_tensor(raw, device=device)
        x = torch.as_tensor(np.asarray(raw, dtype=np.float32))
        x = self.transform.forward(x) if self.transform is not None else x
        return x.to(device)


@dataclass
class Dataset:
    """A dataset split into train and test, in its own units, with what is known about it."""

    name: str
    kind: Kind
    x_train: np.ndarray
    y_train: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray | None
    value_range: tuple[float, float]
    classes: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    config: DataConfig | None = None  # how it was loaded: load_dataset(config) reproduces it
    input: Dataset | None = None  # translation: the input domain
    paired: bool = False  # ... paired one to one with this one, split with the same indices
    # each example's row in the source (its position in the file or array, 0-based), so that
    # results per example join back to the user's own rows
    rows_train: np.ndarray | None = None
    rows_test: np.ndarray | None = None
    ids: list[str] | None = None  # a CSV's id column (data.id_column), by source row

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int | None:
        return len(self.classes) if self.classes else None

    def info(self) -> DataInfo:
        return DataInfo(
            self.kind,
            self.shape,
            self.value_range,
            self.classes,
            self.name,
            dict(self.meta),
            None if self.input is None else self.input.info(),
            self.paired,
        )

    def batch_fields(self, target: Range) -> dict[str, BatchField]:
        """What a training batch holds, by name, for a model of range `target`: the examples
        `x`; their labels `y` when there are some; and for translation the input domain
        `x_in`, row for row with `x` when paired, else drawn on its own (stream "in")."""
        fields = {"x": BatchField("x", "examples", self.x_train, self.x_test, self.name,
                                  self.transform(target))}  # fmt: skip
        if self.y_train is not None:
            fields["y"] = BatchField("y", "labels", self.y_train, self.y_test, self.name)
        if self.input is not None:
            inp = self.input
            fields["x_in"] = BatchField(
                "x_in",
                "examples",
                inp.x_train,
                self.inputs_for("test"),
                inp.name,
                inp.transform(target),
                stream=None if self.paired else "in",
            )
        return fields

    def inputs_for(self, which: str) -> np.ndarray:
        """Translation data: the input domain's examples of split `which`, row for row with
        this dataset's: the pairs when paired, else the input split cycled to its length."""
        x_in = self.input.split(which)[0]
        if self.paired:
            return x_in
        return x_in[np.arange(len(self.split(which)[0])) % len(x_in)]

    def split(self, which: str) -> tuple[np.ndarray, np.ndarray | None]:
        if which == "train":
            return self.x_train, self.y_train
        if which == "test":
            return self.x_test, self.y_test
        raise DataError(f"split {which!r} does not exist; choose train or test")

    def rows(self, which: str) -> np.ndarray:
        """The source rows of split `which` (0-based positions in the file or array)."""
        rows = self.rows_train if which == "train" else self.rows_test
        if rows is None:  # built by hand: the examples' own order
            rows = np.arange(len(self.split(which)[0]))
        return rows

    def transform(self, target: Range) -> DataTransform:
        """The affine map from raw units to the model range `target` (see module docstring)."""
        f32 = np.float32
        if self.kind == "image":
            lo, hi = self.value_range
            lo_t, hi_t = (-1.0, 1.0) if target == "symmetric" else (0.0, 1.0)
            scale = (hi_t - lo_t) / (hi - lo)
            return DataTransform(target, np.asarray(scale, f32), np.asarray(lo_t - lo * scale, f32))
        x = self.x_train.astype(np.float64)
        if target == "standard":
            mean, std = x.mean(0), x.std(0)
            std = np.where(std > 0, std, 1.0)
            return DataTransform(target, (1 / std).astype(f32), (-mean / std).astype(f32))
        lo, hi = x.min(0), x.max(0)
        width = np.where(hi > lo, hi - lo, 1.0)
        lo_t, hi_t = (-1.0, 1.0) if target == "symmetric" else (0.0, 1.0)
        scale = (hi_t - lo_t) / width
        return DataTransform(target, scale.astype(f32), (lo_t - lo * scale).astype(f32))


def split_data(raw: RawData, cfg: DataConfig, source: str, input_name: str) -> Dataset:
    """Deterministic train/test split, stratified by label when labels exist. An input domain
    is split with the same indices when paired, on its own when not."""
    tr, te = split_indices(raw, cfg, source)
    ds = _take(raw, tr, te, cfg, source)
    if raw.input is None:
        return ds
    name = input_name
    if not raw.paired:
        inp = _take(raw.input, *split_indices(raw.input, cfg, name), cfg, name)
        return dataclasses.replace(ds, input=inp, paired=False)
    if len(raw.input.x) != len(raw.x):
        raise DataError(
            f"{name} has {len(raw.input.x)} examples and {source} {len(raw.x)}; paired data "
            "needs one input per output (set data.paired=false for unpaired domains)"
        )
    return dataclasses.replace(ds, input=_take(raw.input, tr, te, cfg, name), paired=True)


def split_indices(raw: RawData, cfg: DataConfig, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) indices of `raw`, checked to leave each class in both splits."""
    n = len(raw.x)
    n_test = int(round(n * cfg.test_fraction))
    if n_test < 1 or n - n_test < 1:
        raise DataError(
            f"{source}: {n} examples are too few to split with test_fraction {cfg.test_fraction}"
        )
    if raw.y is not None:
        counts = np.bincount(raw.y)
        present = counts[counts > 0]
        if present.min() < 2 or n_test < len(present) or n - n_test < len(present):
            rare = int(np.flatnonzero(counts == present.min())[0])
            name = raw.classes[rare] if raw.classes else rare
            raise DataError(
                f"{source}: class {name!r} has {present.min()} example(s); a stratified split "
                f"needs at least 2 per class and a test split with one of each of "
                f"{len(present)} classes"
            )
    tr, te = stratified_split(n, raw.y, n_test, cfg.split_seed)
    return np.sort(tr), np.sort(te)


def _take(raw: RawData, tr: np.ndarray, te: np.ndarray, cfg: DataConfig, source: str) -> Dataset:
    x = raw.x.astype(np.float32, copy=False)
    y = raw.y
    return Dataset(
        name=source,
        kind=raw.kind,
        x_train=x[tr],
        y_train=None if y is None else y[tr],
        x_test=x[te],
        y_test=None if y is None else y[te],
        value_range=raw.value_range,
        classes=raw.classes,
        meta=raw.meta,
        config=cfg,
        rows_train=tr,
        rows_test=te,
        ids=raw.ids,
    )


def stratified_split(n: int, y: np.ndarray | None, n_test: int, seed: int):
    """(train, test) index arrays; each class gets its share of the test split.

    Shares are n_test * n_k / n rounded by largest remainder, so they sum to n_test exactly.
    (Written here rather than taken from scikit-learn, whose import costs more than a cached
    load of mnist5k.)
    """
    rng = np.random.default_rng(seed)
    if y is None:
        perm = rng.permutation(n)
        return perm[n_test:], perm[:n_test]
    counts = np.bincount(y)
    exact = n_test * counts / len(y)
    share = np.floor(exact).astype(int)
    remainder = n_test - share.sum()
    share[np.argsort(-(exact - share), kind="stable")[:remainder]] += 1
    share = np.minimum(share, np.maximum(counts - 1, 0))  # every class keeps a train example
    test = [rng.permutation(np.flatnonzero(y == k))[: share[k]] for k in range(len(counts))]
    test_idx = np.concatenate(test)
    mask = np.ones(len(y), bool)
    mask[test_idx] = False
    return np.flatnonzero(mask), test_idx


def encode_labels(values: np.ndarray, where: str) -> tuple[np.ndarray, list[str]]:
    """Map arbitrary label values to 0..K-1 (sorted; integers numerically)."""
    values = np.asarray(values)
    if values.dtype.kind not in "biufUS":
        raise DataError(f"{where}: labels must be integers or names, found dtype {values.dtype}")
    if values.dtype.kind == "f":
        whole = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 2**53)
        if not np.all(whole):
            raise DataError(f"{where}: labels must be integers or names, found {values[:5]}...")
        values = values.astype(np.int64)
    uniq, inv = np.unique(values, return_inverse=True)
    return inv.astype(np.int64), [str(u) for u in uniq]


def image_range(x: np.ndarray) -> tuple[float, float]:
    """Declared value range of image data: 8-bit -> 0..255; floats in [0,1] or [-1,1] as such."""
    if x.dtype == np.uint8:
        return (0.0, 255.0)
    lo, hi = float(x.min()), float(x.max())
    if lo >= 0 and hi <= 1:
        return (0.0, 1.0)
    if lo >= -1 and hi <= 1:
        return (-1.0, 1.0)
    if np.issubdtype(x.dtype, np.integer) and lo >= 0 and hi <= 255:
        return (0.0, 255.0)
    return (lo, hi) if hi > lo else (lo, lo + 1.0)
