"""Training: the one trainer, its config, checkpoints and loggers."""

from .checkpoint import latest_checkpoint, load
from .config import TrainConfig
from .trainer import Trainer

__all__ = ["TrainConfig", "Trainer", "latest_checkpoint", "load"]
