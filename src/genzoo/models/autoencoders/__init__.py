"""The autoencoder family: one file per variant, registered on import."""

from ...registry import import_package

import_package(__name__, __path__)  # each model file registers its models
