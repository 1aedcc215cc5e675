"""The autoencoder family: one file per variant, registered on import."""

from . import ae  # noqa: F401
