"""The autoencoder family: one file per variant, registered on import."""

from . import ae, contractive, conv, denoising, linear, sparse  # noqa: F401
