"""Diffusion models: noise schedules, the process's maths and the samplers as pure functions;
one file per model."""

from . import ddpm  # noqa: F401  (registers the models)
