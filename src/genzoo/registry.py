"""Registries: name -> object tables that replace `if/elif` dispatch.

A model, dataset, metric or schedule becomes available everywhere (CLI, `load`, the contract
tests) by registering itself with a decorator, e.g. ``@MODELS.register("ae", "one-line help")``.
Each registry knows the modules that fill it and imports them the first time it is read, so
after `import genzoo` every registry is full and nothing imports a module for its side effect.
A model file needs no import line either: `genzoo.models` imports every module of its family
folders (`import_package`), so a new file there registers its models.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .errors import GenzooError


@dataclass(frozen=True)
class Entry:
    name: str
    obj: Any
    description: str


class Registry:
    """A named table of objects, each with a one-line description."""

    def __init__(self, kind: str, filled_by: tuple[str, ...] = ()):
        self.kind = kind
        self._entries: dict[str, Entry] = {}
        self._filled_by, self._filled = filled_by, not filled_by

    def _fill(self) -> None:
        """Import the modules whose decorators register this registry's entries, once."""
        if not self._filled:
            self._filled = True  # first: an entry read while they import sees what is there
            for module in self._filled_by:
                importlib.import_module(module)

    def register(self, name: str, description: str = "") -> Callable[[Any], Any]:
        def deco(obj: Any) -> Any:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = Entry(name, obj, description)
            return obj

        return deco

    def get(self, name: str) -> Any:
        return self.entry(name).obj

    def entry(self, name: str) -> Entry:
        self._fill()
        try:
            return self._entries[name]
        except KeyError:
            raise GenzooError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        self._fill()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._fill()
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        """Entries in registration order (related entries are registered together)."""
        self._fill()
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        self._fill()
        return len(self._entries)


def import_package(package: str, path: Iterable[str]) -> None:
    """Import every module and sub-package of `package` (found at `path`, its __path__), in
    name order: a package of model files calls it so that each file registers its models."""
    for info in sorted(pkgutil.iter_modules(path), key=lambda m: m.name):
        importlib.import_module(f"{package}.{info.name}")


MODELS = Registry("model", ("genzoo.models",))
DATASETS = Registry("dataset", ("genzoo.data.bundled", "genzoo.data.toy"))
FILE_FORMATS = Registry("file format", ("genzoo.data.files",))
METRICS = Registry("metric", ("genzoo.metrics.library",))
SCHEDULES = Registry("learning-rate schedule", ("genzoo.train.schedules",))
OPTIMIZERS = Registry("optimizer", ("genzoo.train.optimizers",))
NOISE_SCHEDULES = Registry("noise schedule", ("genzoo.models.diffusion.schedules",))
TASKS = Registry("translation task", ("genzoo.data.tasks",))
EXPERIMENTS = Registry("experiment", ("genzoo.theory",))
