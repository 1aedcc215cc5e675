"""Models, one file each in a family folder, registered on import (every module of the
folders is imported, so a new file needs no import line); `build_model` builds any by name."""

from __future__ import annotations

from typing import Any

import torch

from ..config import from_dict
from ..data.dataset import DataInfo
from ..errors import ConfigError
from ..registry import MODELS, TASKS, import_package
from .base import (
    CAPABILITIES,
    GenerativeModel,
    LossOutput,
    Phase,
    capabilities,
    register_model,
)

import_package(__name__, __path__)  # the family folders, each importing its model files

__all__ = [
    "CAPABILITIES",
    "GenerativeModel",
    "LossOutput",
    "Phase",
    "build_model",
    "capabilities",
    "model_config",
    "register_model",
]


def model_config(name: str, values: dict[str, Any] | None = None):
    """The config dataclass of model `name`, built strictly from `values`."""
    return from_dict(MODELS.get(name).Config, values or {}, prefix="model.")


def check_translation(cls, info: DataInfo) -> None:
    """Translation models need two domains, and only they can use them."""
    translators = ", ".join(e.name for e in MODELS if e.obj.translation)
    if info.input is not None and not cls.translation:
        raise ConfigError(
            "data",
            f"{info.source} (with input domain {info.input.source})",
            f"one domain for {cls.name}; two domains are for the translation models "
            f"({translators})",
        )
    if cls.translation and info.input is None:
        raise ConfigError(
            "data",
            info.source,
            f"two image domains for {cls.name}: a task made from these images (data.task="
            f"{'|'.join(TASKS.names())}), data.input=FOLDER beside data.source=FOLDER, or a "
            "translation dataset (mnist5k-masked, mnist5k-lowres, digits2mnist)",
        )


def check_kind(cls, info: DataInfo) -> None:
    """Image-only models (convolutions, growing, styles) refuse points and tables."""
    if info.kind not in cls.data_kinds:
        able = ", ".join(e.name for e in MODELS if info.kind in e.obj.data_kinds)
        raise ConfigError(
            "data",
            info.source,
            f"{' or '.join(cls.data_kinds)} data for {cls.name}, which has {info.kind}; "
            f"for {info.kind}: {able}",
        )


def build_model(
    name: str, info: DataInfo, config: Any = None, seed: int | None = None
) -> GenerativeModel:
    """Build registered model `name` for data described by `info`.

    `config` is the model's config dataclass, a dict of its fields, or None for the defaults;
    with `seed`, initialization is seeded without touching the global generator.
    """
    cls = MODELS.get(name)
    if config is None or isinstance(config, dict):
        config = model_config(name, config)
    check_translation(cls, info)
    check_kind(cls, info)
    if seed is None:
        return cls(config, info)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(config, info)
