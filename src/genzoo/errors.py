"""User-facing errors.

Every mistake a user can make (a bad argument, config value, data file or checkpoint) raises a
`GenzooError`. The CLI prints its message as one line and exits with code 2; anything else is a
bug in genzoo and exits with code 1 and a traceback.
"""

from __future__ import annotations


class GenzooError(Exception):
    """A user error: the message says what is wrong and what is allowed."""

    exit_code = 2


class ConfigError(GenzooError):
    """A config field holds a value that is not allowed."""

    def __init__(self, field: str, value: object, allowed: str):
        self.field, self.value, self.allowed = field, value, allowed
        super().__init__(f"{field}={value!r} is not allowed: {allowed}")


class DataError(GenzooError):
    """A dataset could not be loaded: names the file and what is wrong with it."""


class CheckpointError(GenzooError):
    """A checkpoint or model folder is missing, incomplete, or unsafe to load."""


class NonFiniteLossError(GenzooError):
    """Training produced a NaN or infinite loss term."""


class Interrupted(Exception):
    """SIGINT or SIGTERM stopped a command; the message says what was kept."""

    exit_code = 130


class TrainingInterrupted(Interrupted):
    """SIGINT or SIGTERM arrived; a checkpoint was written before this was raised."""

    def __init__(self, step: int, checkpoint: str | None):
        self.step, self.checkpoint = step, checkpoint
        where = f", checkpoint {checkpoint}" if checkpoint else ""
        super().__init__(f"interrupted at step {step}{where}")
