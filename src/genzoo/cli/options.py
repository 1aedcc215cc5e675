"""Click options that several commands share, each written once: the same flag means the same
thing, with the same default, in every command that takes it."""

from __future__ import annotations

from collections.abc import Callable

import click

from ..errors import GenzooError
from ..train.runtime import resolve_device

Decorator = Callable[[Callable], Callable]


def check_device(ctx, param, value: str) -> str:
    try:
        resolve_device(value)
    except GenzooError as e:
        raise click.BadParameter(f"{value!r}: {e.allowed}") from None
    return value


def device_option(fn: Callable) -> Callable:
    """--device: where the model runs."""
    return click.option(
        "--device",
        default="cpu",
        show_default=True,
        callback=check_device,
        help="cpu, cuda or cuda:N",
    )(fn)


def seed_option(help: str | None = None) -> Decorator:
    """--seed, 0 by default."""
    return click.option("--seed", type=int, default=0, show_default=True, help=help)


def json_option(help: str | None = None) -> Decorator:
    """--json, into the parameter `as_json`."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def split_option(*choices: str) -> Decorator:
    """--split of the run's data, the test split by default (choices: test, train[, all])."""
    return click.option(
        "--split", type=click.Choice(list(choices or ("test", "train"))), default="test",
        show_default=True,
    )  # fmt: skip


def input_option(help: str, required: bool = False) -> Decorator:
    """--input, a user's file or folder of examples, into the parameter `input_path`."""
    return click.option("--input", "input_path", required=required, help=help)


def count_option(help: str, default: int = 16) -> Decorator:
    """--n, how many examples a command shows or writes."""
    return click.option(
        "--n", "n", type=click.IntRange(1), default=default, show_default=True, help=help
    )
