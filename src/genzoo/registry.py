"""Registries: name -> object tables that replace `if/elif` dispatch.

A model, dataset, metric or schedule becomes available everywhere (CLI, `load`, the contract
tests) by registering itself with a decorator, e.g. ``@MODELS.register("ae", "one-line help")``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}

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
        try:
            return self._entries[name]
        except KeyError:
            raise GenzooError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        """Entries in registration order (related entries are registered together)."""
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)


MODELS = Registry("model")
DATASETS = Registry("dataset")
FILE_FORMATS = Registry("file format")
METRICS = Registry("metric")
SCHEDULES = Registry("learning-rate schedule")
NOISE_SCHEDULES = Registry("noise schedule")
TASKS = Registry("translation task")
