"""genzoo: the classic deep generative models behind one trainer, one checkpoint format, one CLI.

>>> import genzoo
>>> data = genzoo.load_dataset("mnist5k")
>>> model = genzoo.build_model("ae", data.info(), {"latent_dim": 16}, seed=0)
>>> genzoo.Trainer(model, data, genzoo.TrainConfig(steps=500), out="runs/ae").fit()
>>> model = genzoo.load("runs/ae")
"""

__version__ = "0.1.0"

from .data import DataConfig, DataInfo, Dataset, load_dataset  # noqa: E402
from .errors import (  # noqa: E402
    CheckpointError,
    ConfigError,
    DataError,
    GenzooError,
    NonFiniteLossError,
    TrainingInterrupted,
)
from .models import GenerativeModel, LossOutput, Phase, build_model, capabilities  # noqa: E402
from .registry import DATASETS, METRICS, MODELS, SCHEDULES  # noqa: E402
from .run import RunConfig, build_run_config, train  # noqa: E402
from .train import TrainConfig, Trainer, load  # noqa: E402

__all__ = [
    "DATASETS",
    "METRICS",
    "MODELS",
    "SCHEDULES",
    "CheckpointError",
    "ConfigError",
    "DataConfig",
    "DataError",
    "DataInfo",
    "Dataset",
    "GenerativeModel",
    "GenzooError",
    "LossOutput",
    "NonFiniteLossError",
    "Phase",
    "RunConfig",
    "TrainConfig",
    "Trainer",
    "TrainingInterrupted",
    "build_model",
    "build_run_config",
    "capabilities",
    "load",
    "load_dataset",
    "train",
]
