"""Dataclass config helpers: strict construction from dicts, dotted overrides, YAML/JSON I/O.

Configs are plain standard-library dataclasses with typed fields. `from_dict` builds one from a
dict (a YAML file, `--set a.b=c` overrides, a saved `config.json`) and refuses unknown keys and
values of the wrong type, naming the dotted field, the value and what is allowed. Each config
checks its own value ranges in `__post_init__` with `check`, so an invalid config never exists.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from .atomic import atomic_write_text
from .errors import ConfigError, GenzooError

T = TypeVar("T")


def check(ok: bool, field: str, value: object, allowed: str) -> None:
    """Raise `ConfigError(field, value, allowed)` unless `ok`."""
    if not ok:
        raise ConfigError(field, value, allowed)


def field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def from_dict(cls: type[T], data: dict[str, Any] | None, prefix: str = "") -> T:
    """Build dataclass `cls` from `data`, strictly: unknown keys and bad types are errors."""
    if data is not None and not isinstance(data, dict):
        raise ConfigError(prefix.rstrip(".") or "config", data, "a mapping of field: value")
    data = dict(data or {})
    names = field_names(cls)
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise GenzooError(
            f"unknown config field {prefix}{unknown[0]}; "
            f"fields of {prefix.rstrip('.') or cls.__name__}: {', '.join(names)}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {k: _coerce(hints[k], v, prefix + k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError as e:
        if prefix and not e.field.startswith(prefix):
            raise ConfigError(prefix + e.field, e.value, e.allowed) from None
        raise


def to_dict(obj: Any) -> Any:
    """A dataclass (nested) as plain JSON/YAML-ready values; tuples become lists."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin in (tuple, list):
        item = typing.get_args(tp)[0]
        return "a list of " + {int: "integers", float: "numbers", str: "strings"}.get(
            item, _type_name(item)
        )
    if tp is type(None):
        return "none"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _coerce(tp: Any, value: Any, field: str) -> Any:
    """Check `value` against type `tp`; strings (from --set) are parsed into that type."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    bad = ConfigError(field, value, f"expected {_type_name(tp)}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise bad
        return from_dict(tp, value, prefix=field + ".")
    if origin in (Union, types.UnionType):
        if type(None) in args and (value is None or value in ("none", "null", "None")):
            return None
        others = [a for a in args if a is not type(None)]
        if len(others) == 1:  # X | None: X's own error, naming the element at fault
            try:
                return _coerce(others[0], value, field)
            except ConfigError as e:
                if e.field != field:  # an element of a list: its own error
                    raise
                raise ConfigError(field, value, e.allowed + ", or none") from None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, field)
            except ConfigError:
                pass
        raise bad
    if origin is Literal:
        if value not in args:
            raise ConfigError(field, value, "choose one of " + ", ".join(map(repr, args)))
        return value
    if origin in (tuple, list):
        if isinstance(value, str):
            text = value.strip()
            if args[0] is str:  # names stay names: "3,5" is ["3", "5"], not numbers
                value = [t.strip().strip("'\"") for t in text.strip("[]").split(",") if t.strip()]
            else:
                value = yaml.safe_load(text if text.startswith("[") else f"[{text}]")
        if not isinstance(value, (list, tuple)):
            raise bad
        items = [_coerce(args[0], v, f"{field}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
            return value.lower() in ("true", "yes", "1")
        raise bad
    if tp is int:
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                raise bad from None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise bad
    if tp is float:
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise bad from None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise bad
    if tp is str:
        if not isinstance(value, str):
            raise bad
        return value
    if tp is Any:
        return value
    raise TypeError(f"config field {field} has an unsupported type {tp!r}")


def differing_fields(
    theirs: dict[str, Any], ours: dict[str, Any], fields: Iterable[tuple[str, str]]
) -> list[tuple[str, Any, Any]]:
    """The one "is this the same run?" comparison: of two configs as dicts of sections
    ({"model": {...}, "train": {...}}), each field (section, key) whose values differ, as
    ("section.key", theirs, ours) in the order given. A field one side lacks reads None, and
    a tuple equals the list of its items (YAML and JSON hold lists)."""

    def norm(v: Any) -> Any:
        return list(v) if isinstance(v, tuple) else v

    out = []
    for section, key in fields:
        a = (theirs.get(section) or {}).get(key)
        b = (ours.get(section) or {}).get(key)
        if norm(a) != norm(b):
            out.append((f"{section}.{key}", a, b))
    return out


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Turn ``["model.latent_dim=16", "train.lr=1e-3"]`` into a nested dict of strings."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise GenzooError(f"--set {item!r}: expected section.field=value, e.g. train.lr=1e-3")
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise GenzooError(f"--set {item!r}: {part} is both a value and a section")
        node[leaf] = value
    return out


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict update; `update` wins."""
    out = dict(base)
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def read_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON config file into a dict."""
    path = Path(path)
    if not path.is_file():
        raise GenzooError(f"config file {path} does not exist")
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as e:
        raise GenzooError(
            f"config file {path} could not be read: {str(e).splitlines()[0]}"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise GenzooError(
            f"config file {path}: expected a mapping of sections, got {type(data).__name__}"
        )
    return data


def write_yaml(path: str | Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, yaml.safe_dump(data, sort_keys=False))
