"""The joined families: models built from two families at once (a diffusion model on an
autoencoder's codes, an autoencoder trained with a discriminator), registered on import."""

from ...registry import import_package

import_package(__name__, __path__)  # each model file registers its models
