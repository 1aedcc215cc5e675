"""The variational autoencoder family: one file per variant, registered on import."""

from . import beta_vae, cvae, iwae, vae  # noqa: F401
