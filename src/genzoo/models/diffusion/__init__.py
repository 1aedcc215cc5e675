"""Diffusion models: noise schedules, the process's maths and the samplers as pure functions;
one file per model."""

from ...registry import import_package

import_package(__name__, __path__)  # each model file registers its models
