"""Pictures: image grids (Pillow only) and 2-D point plots (matplotlib)."""

from .grid import (
    image_grid,
    picture,
    points_plot,
    preview,
    save_image,
    to_display,
    training_preview,
)

__all__ = [
    "image_grid",
    "picture",
    "points_plot",
    "preview",
    "save_image",
    "to_display",
    "training_preview",
]
