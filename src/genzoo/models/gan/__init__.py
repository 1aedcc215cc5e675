"""GANs: the two-phase game and its stabilisers; losses as pure functions in `losses.py`."""

from ...registry import import_package

import_package(__name__, __path__)  # each model file registers its models
