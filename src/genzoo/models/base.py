"""The interface every model implements, and what the trainer needs to drive it.

A `GenerativeModel` owns its config and networks and says what to optimize as a list of
`Phase`s (one for an autoencoder, a discriminator and a generator phase for a GAN). Each phase's
loss maps a batch ``{"x": (B, *shape), "y": (B,)?}`` to a `LossOutput`. Everything beyond
training and sampling is either a default declared on `GenerativeModel` that a model overrides
(`conditional`, `default_labels`, `report_figures`, ...) or a capability it has or lacks, a
runtime protocol listed in `CAPABILITIES` (`encode`, `decode`, `reconstruct`, `log_likelihood`,
`sample_latent`, `trajectory`, ...). Callers use the default or `isinstance` with the protocol:
never a model's name, and never an attribute looked up by a string.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor, nn

from ..data.dataset import BatchField, DataInfo, DataTransform, Range
from ..errors import ConfigError, GenzooError
from ..progress import reporting
from ..registry import MODELS

Batch = dict[str, Tensor]


@dataclass
class LossOutput:
    """The scalar to minimize plus named terms (detached floats are taken for logging)."""

    loss: Tensor
    terms: dict[str, Tensor] = field(default_factory=dict)


@dataclass
class Diagnosis:
    """What a model says about its own health: values to log and warnings by key."""

    values: dict[str, float]
    warnings: dict[str, str] = field(default_factory=dict)


@dataclass
class Fitted:
    """What a model fitted once training ended (`after_training`): a line for the console and
    values for the run's log and summary."""

    message: str
    values: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------- a model's own figures
# Models return what to draw as data; genzoo.viz draws it (`viz.grid.draw_figure`).
@dataclass
class Figure:
    """One figure of a model's own report: its title and caption; the subclass says what to
    draw."""

    title: str
    caption: str


@dataclass
class SampleSets(Figure):
    """Sets of examples (name, (n, *shape) in the model's range), in order: one image grid
    `columns` wide for images; one scatter plot of the first two columns, a colour per set,
    for points and tables."""

    sets: list[tuple[str, Tensor]]
    columns: int = 10


@dataclass
class Frames(Figure):
    """A process frame by frame, left to right, each frame (title, (n, *shape)): images as a
    row per example and a column per frame; points as a row of titled scatter plots."""

    frames: list[tuple[str, Tensor]]


@dataclass
class ImageRows(Figure):
    """Rows of n images each, which may come from different domains (a translation's A and
    B): (images in that domain's model range, its DataInfo, its transform) per row."""

    rows: list[tuple[Tensor, DataInfo, DataTransform | None]]


@dataclass
class StageSchedule(Figure):
    """A staged training schedule: (step, stage, fade-in alpha) points, and the stages'
    names (progressive growing's resolutions)."""

    points: list[tuple[int, int, float]]
    stages: list[str]


@dataclass
class TrainingGrids(Figure):
    """The last preview grid the run wrote inside each window of steps (name, start, stop
    or None for the end), side by side; drawn only when the run wrote one."""

    windows: list[tuple[str, int, int | None]]


@dataclass
class Phase:
    """One optimization phase: its parameters, its loss, how often it runs, its optimizer."""

    name: str
    params: list[nn.Parameter]
    loss: Callable[[Batch], LossOutput]
    every: int = 1  # run on steps where step % every == 0 (e.g. n_critic for a GAN generator)
    lr: float | None = None  # overrides train.lr
    betas: tuple[float, float] | None = None  # overrides train.betas
    start: int = 0  # first step it runs at (greedy stages, growth schedules)
    stop: int | None = None  # the step it stops before; None = to the end
    optimizer: str | None = None  # "adam", "adamw" or "rmsprop"; overrides train.optimizer
    log_grad_norm: bool = False  # log the gradient norm of its parameters at every update
    # some parameters sit out some of its updates (a growing network's faded-out layers)
    partial: bool = False
    # called after each of its optimizer steps, outside the loss and its autograd graph (a
    # WGAN critic's weight clipping); what it changes must be the same on every process
    after_update: Callable[[], None] | None = None

    def runs_at(self, step: int) -> bool:
        active = self.start <= step and (self.stop is None or step < self.stop)
        return active and (step - self.start) % self.every == 0

    def updates(self, total_steps: int) -> int:
        """How many times this phase runs in a training of `total_steps` steps."""
        end = total_steps if self.stop is None else min(self.stop, total_steps)
        return max(0, -(-(end - self.start) // self.every))


class GenerativeModel(nn.Module):
    """Base class: a config dataclass, the data it was built for, phases and sampling."""

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""  # set by register_model: the folder it is in (FAMILIES)
    Config: ClassVar[type]
    data_kinds: ClassVar[tuple[str, ...]] = ("image", "points", "table")  # what it can model
    translation: ClassVar[bool] = False  # trains on two domains: an input beside the data
    # needs each example's label y to train, sample, encode, ... (cvae, cgan, cddpm)
    conditional: ClassVar[bool] = False
    # each evaluation counts the modes or classes its samples cover and warns of collapse
    # (genzoo.metrics.health.sample_coverage): the failure GANs are known for
    watch_coverage: ClassVar[bool] = False
    # how many test codes the report's latent plot encodes (None: all; a model whose encoder
    # is costly plots a subset)
    report_latent_points: ClassVar[int | None] = None
    # train settings this model's runs start from (a file or --set still overrides them)
    train_defaults: ClassVar[dict] = {}
    # train.batch_size when it is unset, capped by the training examples the data has (None:
    # the trainer's default, 128)
    default_batch: ClassVar[int | None] = None
    # config fields of earlier versions that model folders may still hold, with where their
    # setting went: dropped when such a folder is loaded (they only shaped training)
    retired: ClassVar[dict[str, str]] = {}

    def __init__(self, config, info: DataInfo):
        super().__init__()
        try:
            self.config = type(self).sized(config, info)  # what it builds is what it saves
        except ConfigError as e:  # a setting that does not fit this data's size
            if e.field.startswith("model."):
                raise
            shape = "x".join(map(str, info.shape))
            raise ConfigError(
                f"model.{e.field}", e.value, f"{e.allowed} for data of shape {shape}"
            ) from None
        self.info = info
        # raw data units -> model range; set by the trainer and by `load`, saved with the model
        self.transform: DataTransform | None = None
        # translation models: the same for the input domain
        self.input_transform: DataTransform | None = None
        # the trainer's step, set before each training step: for schedules inside a loss
        # (KL warm-up, growth); a plain attribute, not saved with the weights
        self.step = 0
        # the steps the run is planned for, set by the trainer before it asks for the phases
        # (a growth schedule that is a share of the run); None outside training
        self.total_steps: int | None = None

    @classmethod
    def sized(cls, config, info: DataInfo):
        """`config` with the fields left unset (none) that depend on the data's size filled in
        by the rules of `nn.sizing` (depth, widths, attention): the model keeps and saves the
        resolved config, so a loaded model is built exactly as it was trained."""
        return config

    def data_range(self) -> Range:
        """The value range this model wants its inputs in (see genzoo.data.dataset)."""
        return "unit"

    def to_model(self, x_raw, device: torch.device | str | None = None) -> Tensor:
        """Examples in the data's own units -> this model's range, on its device (or on
        `device`)."""
        x = (
            x_raw.float()
            if isinstance(x_raw, Tensor)
            else torch.as_tensor(np.asarray(x_raw, dtype=np.float32))
        )
        x = self.transform.forward(x) if self.transform is not None else x
        return x.to(self.device if device is None else device)

    def set_units(self, fields: Mapping[str, BatchField]) -> None:
        """Take the maps from the data's own units to this model's range from the batch fields
        its dataset declares (`Dataset.batch_fields`): `x`'s as `transform` and, for
        translation, the input domain's (`x_in`) as `input_transform`."""
        self.transform = fields["x"].transform
        if "x_in" in fields:
            self.input_transform = fields["x_in"].transform

    def to_data(self, x: Tensor) -> np.ndarray:
        """This model's range -> the data's own units, as a NumPy array."""
        x = x.detach().float().cpu()
        return (self.transform.inverse(x) if self.transform is not None else x).numpy()

    def to_model_input(self, x_raw, device: torch.device | str | None = None) -> Tensor:
        """Input-domain examples in their own units -> this model's range (translation)."""
        x = torch.as_tensor(np.asarray(x_raw, dtype=np.float32))
        t = self.input_transform
        x = t.forward(x) if t is not None else x
        return x.to(self.device if device is None else device)

    def input_to_data(self, x: Tensor) -> np.ndarray:
        """This model's range -> the input domain's own units (translation)."""
        x = x.detach().float().cpu()
        t = self.input_transform
        return (t.inverse(x) if t is not None else x).numpy()

    def phases(self) -> list[Phase]:
        raise NotImplementedError

    def training_state(self) -> dict[str, Tensor]:
        """Tensors a model keeps for training only (e.g. a GAN's replay buffer): saved in the
        trainer's checkpoint for exact resume, not with the weights."""
        return {}

    def load_training_state(self, state: dict[str, Tensor]) -> None:
        """Restore what `training_state` returned."""

    def before_training(self, data: Batch) -> Fitted | None:
        """Fit what the model takes from the data before its first step (a latent diffusion's
        code statistics), from the training split's batch fields `data` (model range, on any
        device). The trainer calls it once, on a run that starts rather than resumes (a resumed
        run has it in its checkpoint). None by default: nothing to fit."""
        return None

    def after_training(self, data: Batch) -> Fitted | None:
        """Fit what is fitted to the trained networks rather than trained with them (an
        autoencoder's density on its codes), from the training split's batch fields `data`
        (model range, on any device). The trainer calls it on the weights it ships, once the
        last step is taken and before the last evaluation, pictures and checkpoint. None by
        default: nothing to fit."""
        return None

    def diagnose(self, x: Tensor, y: Tensor | None = None, **fields: Tensor) -> Diagnosis | None:
        """Health checks on held-out examples x (model range), run at each evaluation:
        values to log (e.g. KL per latent dimension) and warnings (e.g. posterior collapse).
        It receives the test split's batch fields by name (`y`, a translation's `x_in`, any
        field a dataset adds); a model reads those it knows."""
        return None

    def sample(
        self, n: int, *, generator: torch.Generator | None = None, labels: Tensor | None = None
    ) -> Tensor:
        """n new examples, (n, *info.shape), in the model's range."""
        raise NotImplementedError

    def fast_options(self, method: str) -> dict:
        """Keyword arguments that make `method` ("sample", "reconstruct") quick enough for
        pictures (training previews, reports): a model whose sampler is costly (diffusion)
        names a fast one here. None by default: the method is quick as it is."""
        return {}

    def default_labels(self, n: int, labels: Tensor | None) -> Tensor | None:
        """The labels `sample` uses for n samples when given `labels` (or none): an
        unconditional model takes none; a conditional one cycles through the classes."""
        return None

    def labels_for(self, y: Tensor | None, what: str) -> Tensor | None:
        """The labels to pass with examples to `what` (encode, reconstruct, ...): y for a
        conditional model, which refuses examples without them; None for any other."""
        if not self.conditional:
            return None
        if y is None:
            raise GenzooError(
                f"model {self.name} is conditional: {what} needs the examples' labels, "
                "and these examples have none"
            )
        return y

    def report_figures(self, data) -> Iterable[Figure]:
        """What is particular to this model for its report (growth, mixing, samplers), as
        `Figure` data for viz to draw, one at a time so a report short of time can stop
        between them (`data`: the run's dataset). None by default (`has_report_figures` says
        whether a model has its own)."""
        return []

    @classmethod
    def has_report_figures(cls) -> bool:
        """Whether this model has figures of its own for the report."""
        return cls.report_figures is not GenerativeModel.report_figures

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device


@torch.no_grad()
def set_trainable(net: nn.Module, on: bool) -> None:
    """Freeze or unfreeze `net`, touching only the parameters whose state changes. The trainer
    sets each phase's parameters trainable and the others frozen before the phase's loss runs,
    so inside a (compiled) loss this finds nothing to change and breaks no graph."""
    for p in net.parameters():
        if p.requires_grad != on:
            p.requires_grad_(on)


def mean_phase_losses(
    model: GenerativeModel,
    x: Tensor,
    y: Tensor | None = None,
    batch_size: int = 500,
    seed: int = 0,
    **fields: Tensor | None,
) -> dict[str, float]:
    """Every phase's loss and terms, {"phase/term": value}, averaged over the examples (x, y)
    and any other batch fields row for row with them (`x_in`: a translation's inputs), in
    eval mode. Random draws inside the losses use a seeded generator and leave the caller's
    random state untouched."""
    was_training = model.training
    model.eval()
    columns = {k: v for k, v in {"x": x, "y": y, **fields}.items() if v is not None}
    sums: dict[str, float] = {}
    with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
        torch.manual_seed(seed)
        for i in range(0, len(x), batch_size):
            batch = {k: v[i : i + batch_size] for k, v in columns.items()}
            for phase in model.phases():
                out = phase.loss(batch)
                for k, v in {"loss": out.loss, **out.terms}.items():
                    key = f"{phase.name}/{k}"
                    sums[key] = sums.get(key, 0.0) + float(v.detach()) * len(batch["x"])
    model.train(was_training)
    return {k: v / len(x) for k, v in sums.items()}


@torch.no_grad()
def in_batches(
    fn: Callable[..., Tensor],
    x: Tensor,
    y: Tensor | None = None,
    size: int = 500,
    progress: str | None = None,
    **kw,
) -> Tensor:
    """`fn(x)` (a model's encode, reconstruct, log_likelihood, ...) over x in batches of
    `size`, concatenated; with labels y (a conditional model's: `model.labels_for`), each
    batch's go with it as `y`. With `progress`, a progress bar (or line) of that description
    counts the examples."""
    out = []
    what = progress or getattr(fn, "__name__", "examples")
    with reporting(len(x), what, "examples", enabled=progress is not None) as bar:
        for i in range(0, len(x), size):
            labels = {} if y is None else {"y": y[i : i + size].to(x.device)}
            out.append(fn(x[i : i + size], **labels, **kw))
            bar.update(len(out[-1]))
    return torch.cat(out)


def sampling_batch(device: torch.device | str) -> int:
    """How many samples to draw at once: 100 on a CPU, where a batch whose activations fit in
    the caches draws convolutional models 1.6 times as fast as 500 (DDPM on 28x28, two
    cores) and the MLPs as fast; 500 on an accelerator, which wants large batches."""
    return 100 if torch.device(device).type == "cpu" else 500


@torch.no_grad()
def sample_in_batches(
    model: GenerativeModel,
    n: int,
    seed: int,
    size: int | None = None,
    labels: Tensor | None = None,
    progress: str | None = None,
    **options,
) -> Tensor:
    """n samples (model range, float, on the CPU) drawn `size` at a time (default: the
    device's `sampling_batch`) from one generator seeded with `seed`: the same seed and size
    give the same samples; a conditional model gets `labels` (n class indices) batch by
    batch; `options` go to `sample` (a sampler and its steps). With `progress`, a progress
    bar (or line) of that description counts the samples."""
    size = size or sampling_batch(model.device)
    g = torch.Generator(device=model.device).manual_seed(seed)
    out = []
    with reporting(n, progress or "sampling", "samples", enabled=progress is not None) as bar:
        for i in range(0, n, size):
            kw = {} if labels is None else {"labels": labels[i : i + size]}
            out.append(model.sample(min(size, n - i), generator=g, **kw, **options).float().cpu())
            bar.update(len(out[-1]))
    return torch.cat(out)


@runtime_checkable
class Encoder(Protocol):
    def encode(self, x: Tensor) -> Tensor: ...


@runtime_checkable
class Decoder(Protocol):
    def decode(self, z: Tensor) -> Tensor: ...


@runtime_checkable
class Reconstructor(Protocol):
    def reconstruct(self, x: Tensor) -> Tensor: ...


@runtime_checkable
class LikelihoodModel(Protocol):
    def log_likelihood(self, x: Tensor, k: int = ...) -> Tensor: ...

    def likelihood_provenance(self, k: int | None) -> dict:
        """What the estimate of `log_likelihood(x, k)` is (the estimator, what k counts)."""
        ...


@runtime_checkable
class Translator(Protocol):
    def translate(self, x_in: Tensor) -> Tensor: ...


@runtime_checkable
class BackTranslator(Protocol):
    """A translation both ways (CycleGAN): output domain back to the input domain."""

    def translate_back(self, x: Tensor) -> Tensor: ...


@runtime_checkable
class CycleConsistent(Protocol):
    """Round trips a -> b -> a and b -> a -> b, measured per domain."""

    def cycle_errors(self, a: Tensor, b: Tensor) -> dict[str, float]: ...


@runtime_checkable
class LatentPrior(Protocol):
    """Codes z from the model's prior p(z), which `decode` maps to data."""

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor: ...


@runtime_checkable
class StochasticCode(Protocol):
    """A second code beside `encode`'s: the noise x_T from which the decoder maps (z, x_T)
    back to x (a diffusion autoencoder's DDIM inversion); `decode(z, x_T)` takes it."""

    def invert(self, x: Tensor, z: Tensor) -> Tensor: ...


@runtime_checkable
class Trajectory(Protocol):
    """The states a sampler passes through, noise to sample: [(title, (n, *shape))]."""

    def trajectory(self, n: int, frames: int = ..., **kw) -> list[tuple[str, Tensor]]: ...


@runtime_checkable
class StyleMixing(Protocol):
    """Samples whose coarse and fine styles come from different codes."""

    def mixing_grid(self, n_a: int, n_b: int, layers: range, **kw) -> Tensor: ...


@runtime_checkable
class PrincipalDirections(Protocol):
    """A linear model's directions in data space and the variance along each."""

    def principal_directions(self, x: Tensor) -> tuple[Tensor, Tensor]: ...


# every optional capability, by the name `genzoo info` lists it under
CAPABILITIES = {
    "encode": Encoder,
    "decode": Decoder,
    "reconstruct": Reconstructor,
    "log_likelihood": LikelihoodModel,
    "translate": Translator,
    "translate_back": BackTranslator,
    "cycle_errors": CycleConsistent,
    "sample_latent": LatentPrior,
    "invert": StochasticCode,
    "trajectory": Trajectory,
    "mixing_grid": StyleMixing,
    "principal_directions": PrincipalDirections,
}


def capabilities(model: GenerativeModel) -> list[str]:
    """The names of the optional capabilities `model` has."""
    return [name for name, proto in CAPABILITIES.items() if isinstance(model, proto)]


# the family folders of genzoo.models, as `genzoo list models` heads their models, in the
# order the guides take them
FAMILIES = {
    "autoencoders": "autoencoders",
    "vae": "variational autoencoders",
    "gan": "GANs",
    "diffusion": "diffusion models",
    "joined": "joined families",
}


def register_model(name: str, description: str):
    """Class decorator: ``@register_model("ae", "plain autoencoder")``. The model's family is
    the folder its file is in (a model defined elsewhere is in a family of its own name)."""

    def deco(cls: type[GenerativeModel]) -> type[GenerativeModel]:
        cls.name = name
        parts = cls.__module__.split(".")
        folder = parts[-2] if len(parts) >= 2 else parts[0]
        cls.family = FAMILIES.get(folder, folder)
        return MODELS.register(name, description)(cls)

    return deco
