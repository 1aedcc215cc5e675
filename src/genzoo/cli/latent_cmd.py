"""genzoo interpolate | traverse | arithmetic | manipulate: pictures of a model's latent
space."""

from __future__ import annotations

import click
import numpy as np
import torch

from ..apps.augment import out_format, synthesize, write
from ..errors import GenzooError
from ..models.base import Decoder, Encoder, LatentPrior, StochasticCode, in_batches
from ..models.latent import (
    active_order,
    attribute_direction,
    class_means,
    class_transfer,
    traversal,
)
from ..models.latent import interpolate as walk
from ..models.latent import manipulate as move
from .common import check_out, done, open_model, picture, read_examples, run_dataset
from .options import device_option, seed_option

SPEC_HELP = (
    "a test example's index (e.g. 12), a class's mean code (class:7), or a file whose first "
    "example is used"
)


def _latent_model(run, device, what: str, encodes: bool = True):

    model, run_config = open_model(run, device)
    if not isinstance(model, Decoder) or (encodes and not isinstance(model, Encoder)):
        raise GenzooError(f"{what} needs a model that encodes and decodes; {model.name} does not")
    return model, run_config


def _class_index(text: str, classes: list[str] | None, where: str = "class") -> int:
    """The index of class `text`; `where` (the option and its value) starts any error."""
    if not classes:
        raise GenzooError(
            f"{where}: this run's data has no classes (it was trained without labels); "
            "name a test example's index or a file instead"
        )
    if text in classes:
        return classes.index(text)
    raise GenzooError(f"{where}: class {text!r} is not one of: {', '.join(classes)}")


class _Codes:
    """Codes (and labels) of the run's test split, computed once when first needed."""

    def __init__(self, model, run_config):
        self.model, self.run_config = model, run_config
        ds = run_dataset(model, run_config)
        self.x = model.to_model(ds.x_test)
        self.y = None if ds.y_test is None else torch.as_tensor(ds.y_test, device=model.device)
        self._means = None

    def means(self) -> torch.Tensor:

        if self.y is None:
            raise GenzooError("class means need labelled data; this run's data has no labels")
        if self._means is None:
            self._means = class_means(self.model, self.x, self.y, self.model.info.num_classes)
        return self._means

    def example(self, spec: str, option: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The example (1, *shape) and its label (1,) (or None) named by an index or a file."""
        model = self.model
        if spec.startswith("class:"):
            raise GenzooError(
                f"{option} {spec}: a class mean is a code, not an example; name a test "
                "example's index or a file"
            )
        if spec.isdigit():
            i = int(spec)
            if i >= len(self.x):
                raise GenzooError(f"{option} {spec}: the test split has {len(self.x)} examples")
            return self.x[i : i + 1], None if self.y is None else self.y[i : i + 1]
        raw, labels = read_examples(spec, model, self.run_config)
        y = None if labels is None else torch.as_tensor(labels[:1], device=model.device)
        return model.to_model(raw[:1]), y

    def code(
        self, spec: str, option: str
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """The code (k,), label (or None) and, for a model with a stochastic code, that code
        (x_T, or None for a class mean, which has none) named by `spec`."""
        model = self.model
        if spec.startswith("class:"):
            c = _class_index(spec[6:], model.info.classes, f"{option} {spec}")
            return self.means()[c], torch.tensor(c, device=model.device), None
        x, y = self.example(spec, option)
        z = in_batches(model.encode, x, model.labels_for(y, "encode"))
        noise = model.invert(x, z)[0] if isinstance(model, StochasticCode) else None
        return z[0], None if y is None else y[0], noise


@click.command("interpolate")
@click.argument("run", metavar="RUN")
@click.option(
    "--a",
    "a",
    help=f"the start: {SPEC_HELP} [default: a draw from the prior; a model without one (an "
    "autoencoder): the first test example]",
)
@click.option(
    "--b",
    "b",
    help="the end, like --a [default: a draw from the prior, or the middle test example]",
)
@click.option("--steps", type=click.IntRange(2, 64), default=10, show_default=True)
@click.option(
    "--mode",
    type=click.Choice(["linear", "spherical", "both"]),
    default="both",
    show_default=True,
    help="straight line, great circle (slerp), or one row of each",
)
@click.option("--out", required=True, help="a .png strip or a .npy array (data units)")
@seed_option("for prior draws")
@click.option("--label", help="conditional models: the class of the whole path [default: --a's]")
@device_option
def interpolate(run, a, b, steps, mode, out, seed, label, device) -> None:
    """Decode the path between two codes, as an image strip.

    The ends are test examples, class-mean codes, examples from a file, or draws from the
    model's prior (the only ends of a GAN, which has no encoder). An autoencoder has no prior:
    its default ends are the first and the middle test examples. A conditional model decodes
    the whole path with one label: --label, else that of --a, else the first class. A
    diffusion autoencoder (diffae) moves z_sem as --mode says and each example's inverted
    noise x_T along a great circle, so that the ends come back as they are.

    \b
    Examples:
      genzoo interpolate runs/vae --a 3 --b 250 --out path.png
      genzoo interpolate runs/vae --a class:1 --b class:7 --mode spherical --out 1to7.png
      genzoo interpolate runs/vae --out prior.png --seed 2
      genzoo interpolate runs/cgan --label 4 --out fours.png
      genzoo interpolate runs/ddpm --a 3 --b 250 --mode spherical --out path.png
      genzoo interpolate runs/diffae --a 3 --b 250 --mode linear --out path.png
    """
    path = check_out(out, (".png", ".npy"))
    model, run_config = _latent_model(run, device, "interpolate", encodes=False)
    if (a is not None or b is not None) and not isinstance(model, Encoder):
        option = "--a" if a is not None else "--b"
        raise GenzooError(
            f"{option}: model {model.name} has no encoder, so its ends are draws from the "
            "prior; leave --a and --b out (and vary --seed)"
        )
    if not isinstance(model, LatentPrior) and isinstance(model, Encoder):
        middle = max(0, len(run_dataset(model, run_config).x_test) // 2)
        a, b = a or "0", b or str(middle)  # no prior to draw from: two test examples
    codes = _Codes(model, run_config) if a is not None or b is not None else None
    g = torch.Generator(device=model.device).manual_seed(seed)
    ends, noises = [], []
    conditional = model.conditional
    if label is not None:
        if not conditional:
            raise GenzooError(f"--label: model {model.name} is not conditional")
        c = _class_index(label, model.info.classes, f"--label {label}")
        label = torch.tensor(c, device=model.device)
    for spec, option in ((a, "--a"), (b, "--b")):
        if spec is None:
            if not isinstance(model, LatentPrior):
                raise GenzooError(f"{option}: model {model.name} has no prior to draw from")
            ends.append(model.sample_latent(1, generator=g)[0])
            noises.append(None)
            continue
        z, y, noise = codes.code(spec, option)
        ends.append(z)
        noises.append(noise)
        label = y if label is None else label
    if conditional and label is None:
        label = torch.tensor(0, device=model.device)
    modes = ["linear", "spherical"] if mode == "both" else [mode]
    # a stochastic code (diffae's x_T) goes along a great circle; a class mean has none: the
    # path then decodes with the model's fixed noise throughout
    noise = None if None in noises else (noises[0], noises[1])
    rows = [walk(model, ends[0], ends[1], steps, m, label, noise) for m in modes]
    if path.suffix == ".npy":
        np.save(path, np.stack([model.to_data(r) for r in rows]))
    else:
        picture(model, [(m, r) for m, r in zip(modes, rows, strict=True)], steps).save(path)
    done(path, f"{' and '.join(modes)} interpolation in {steps} steps")


@click.command("traverse")
@click.argument("run", metavar="RUN")
@click.option("--input", "spec", help=f"the code to start from: {SPEC_HELP} [default: z = 0]")
@click.option(
    "--dims",
    help="latent dimensions, one row each, e.g. 0,3,5 [default: the 10 most active]",
)
@click.option("--span", type=click.FloatRange(0, min_open=True), default=3.0, show_default=True)
@click.option("--steps", type=click.IntRange(2, 32), default=9, show_default=True)
@click.option("--out", required=True, help="a .png grid")
@device_option
def traverse(run, spec, dims, span, steps, out, device) -> None:
    """Vary one latent dimension at a time: a grid, one row per dimension.

    Each row sweeps a dimension from -span to +span around the start (in prior standard
    deviations for a VAE; in standard deviations of the codes for other models), all other
    dimensions held. Rows are ordered by activity (the variance of the test codes).

    \b
    Examples:
      genzoo traverse runs/vae --out traversal.png
      genzoo traverse runs/beta-vae --dims 0,1,2,3 --span 2 --input 17 --out t.png
    """
    path = check_out(out, (".png",))
    model, run_config = _latent_model(run, device, "traverse")
    codes = _Codes(model, run_config)
    z_all = in_batches(model.encode, codes.x, model.labels_for(codes.y, "encode"))
    if z_all.dim() != 2:
        raise GenzooError(
            f"traverse varies one code dimension at a time; {model.name}'s codes have the "
            f"shape {tuple(z_all.shape[1:])} of the data (inverted noise): use interpolate"
        )
    k = z_all.shape[1]
    if dims:
        try:
            chosen = [int(d) for d in dims.split(",")]
        except ValueError:
            raise GenzooError(f"--dims {dims}: expected integers, e.g. 0,3,5") from None
        bad = [d for d in chosen if not 0 <= d < k]
        if bad:
            raise GenzooError(f"--dims: {bad} outside the {k} latent dimensions (0..{k - 1})")
    else:
        chosen = active_order(z_all)[:10]
    if spec is not None:
        z0, label, _ = codes.code(spec, "--input")
    else:
        z0, label = torch.zeros(k, device=model.device), None
        if not isinstance(model, LatentPrior):  # no unit prior: centre on the codes
            z0 = z_all.mean(0)
    if model.conditional and label is None:
        label = torch.tensor(0, device=model.device)
    scale = None if isinstance(model, LatentPrior) else z_all.std(0)
    grid = traversal(model, z0, chosen, span, steps, label, scale)
    rows = [(f"z{d}", grid[i * steps : (i + 1) * steps]) for i, d in enumerate(chosen)]
    picture(model, rows, steps).save(path)
    done(path, f"a traversal of dimensions {', '.join(map(str, chosen))}")


@click.command("arithmetic")
@click.argument("run", metavar="RUN")
@click.option("--n", "n", type=click.IntRange(1, 32), default=6, show_default=True)
@click.option("--out", required=True, help="a .png grid")
@device_option
def arithmetic(run, n, out, device) -> None:
    """Rewrite test examples as every class by class-mean latent arithmetic.

    Rows: n test examples. Columns: the example, its reconstruction, then the example moved to
    class c by z - mean(own class) + mean(c). A conditional model keeps the code (the "style")
    and decodes it with label c instead.

    \b
    Examples:
      genzoo arithmetic runs/vae --out classes.png
      genzoo arithmetic runs/cvae --n 10 --out styles.png
    """
    path = check_out(out, (".png",))
    model, run_config = _latent_model(run, device, "arithmetic")
    codes = _Codes(model, run_config)
    means = codes.means()
    idx = torch.linspace(0, len(codes.x) - 1, n).long().to(codes.x.device)
    grid = class_transfer(model, codes.x[idx], codes.y[idx], means)  # (n, 2 + K, *shape)
    picture(
        model, [(f"example {int(i)}", row) for i, row in zip(idx, grid, strict=True)], grid.shape[1]
    ).save(path)
    done(path, f"{n} examples rewritten as each of {len(means)} classes")


ATTRIBUTE_HELP = (
    "class:NAME (that class against the others, from the labels) or ink (images: the mean "
    "intensity, above its median against below: stroke thickness on digits)"
)
# codes the direction is fitted on: the training split's, at most this many
DIRECTION_EXAMPLES = 10_000


def _attribute(model, spec: str, x_raw: np.ndarray, y: np.ndarray | None) -> np.ndarray:
    """Whether each example (raw units) has the attribute `spec` names: (N,) booleans."""
    if spec.startswith("class:"):
        if y is None:
            raise GenzooError(f"--attribute {spec}: this run's data has no labels; try ink")
        return np.asarray(y) == _class_index(spec[6:], model.info.classes, f"--attribute {spec}")
    if spec == "ink":
        if model.info.kind != "image":
            raise GenzooError(
                f"--attribute ink: needs images; this run's data is {model.info.kind}: "
                "use class:NAME"
            )
        ink = x_raw.reshape(len(x_raw), -1).astype(np.float64).mean(1)
        return ink > np.median(ink)
    raise GenzooError(f"--attribute {spec}: choose {ATTRIBUTE_HELP}")


@click.command("manipulate")
@click.argument("run", metavar="RUN")
@click.option("--attribute", required=True, help=ATTRIBUTE_HELP)
@click.option(
    "--input",
    "spec",
    help="one example to edit: a test example's index (e.g. 12) or a file whose first example "
    "is used [default: --n test examples]",
)
@click.option("--n", "n", type=click.IntRange(1, 32), default=6, show_default=True)
@click.option(
    "--span",
    type=click.FloatRange(0, min_open=True),
    default=3.0,
    show_default=True,
    help="the farthest move, in standard deviations of the codes along the direction",
)
@click.option("--steps", type=click.IntRange(2, 32), default=7, show_default=True)
@click.option("--out", required=True, help="a .png grid")
@device_option
def manipulate(run, attribute, spec, n, span, steps, out, device) -> None:
    """Change one attribute of examples: move their codes along a linear classifier's normal.

    A logistic regression tells the attribute from the codes of the training split; each row
    is an example, then its code moved from -span to +span along the classifier's normal (the
    middle column: the code as it is). A diffusion autoencoder (diffae) decodes each row with
    the example's own inverted noise x_T, which keeps what the attribute does not touch.

    \b
    Examples:
      genzoo manipulate runs/diffae --attribute ink --out thickness.png
      genzoo manipulate runs/diffae --attribute class:7 --input 12 --span 4 --out to-7.png
      genzoo manipulate runs/vae --attribute class:1 --out ones.png
    """
    path = check_out(out, (".png",))
    model, run_config = _latent_model(run, device, "manipulate")
    if model.conditional:
        raise GenzooError(
            f"manipulate: model {model.name} is conditional, its label is the attribute: "
            "use genzoo arithmetic"
        )
    ds = run_dataset(model, run_config)
    x_raw = ds.x_train[:DIRECTION_EXAMPLES]
    y_raw = None if ds.y_train is None else ds.y_train[:DIRECTION_EXAMPLES]
    target = _attribute(model, attribute, x_raw, y_raw)
    if target.all() or not target.any():
        raise GenzooError(
            f"--attribute {attribute}: every training example is on one side of it; "
            "a classifier needs both"
        )
    z_train = in_batches(model.encode, model.to_model(x_raw), progress="encoding")
    if z_train.dim() != 2:
        raise GenzooError(
            f"manipulate moves vector codes; {model.name}'s codes have the shape "
            f"{tuple(z_train.shape[1:])} of the data (inverted noise)"
        )
    direction, accuracy = attribute_direction(z_train, target)
    codes = _Codes(model, run_config)
    if spec is not None:
        x = codes.example(spec, "--input")[0]
    else:
        x = codes.x[torch.linspace(0, len(codes.x) - 1, n).long().to(codes.x.device)]
    z = in_batches(model.encode, x)
    noise = model.invert(x, z) if isinstance(model, StochasticCode) else None
    scales = torch.linspace(-span, span, steps)
    grid = move(model, z, direction, scales, noise)  # (n, steps, *shape)
    rows = [(f"example {i}", torch.cat([x[i : i + 1], grid[i]])) for i in range(len(x))]
    picture(model, rows, steps + 1).save(path)
    done(
        path,
        f"{len(x)} examples moved along {attribute} (the classifier tells it from the codes "
        f"with {accuracy:.0%} accuracy on the training split)",
    )


@click.command("augment")
@click.argument("run", metavar="RUN")
@click.option("--n", "n", type=click.IntRange(1, 1_000_000), required=True, help="how many")
@click.option(
    "--out",
    required=True,
    help="a folder (images, one sub-folder per class), or a .npz, .npy or .csv file",
)
@click.option("--labels", help="classes to draw, e.g. 3,8 [default: all, in equal numbers]")
@seed_option()
@device_option
def augment(run, n, out, labels, seed, device) -> None:
    """Write synthetic (labelled) examples in formats `--data` reads back.

    A conditional model writes the same number of examples of each class, with labels; an
    unconditional one writes unlabelled examples (.npz, .npy, .csv or a flat folder).

    \b
    Examples:
      genzoo augment runs/cvae --n 1000 --out synthetic.npz
      genzoo augment runs/cvae --n 500 --labels 3,8 --out synthetic/
      genzoo train ae --data synthetic.npz --steps 1000 --out runs/on-synthetic
    """
    from pathlib import Path

    target = Path(out)
    if out_format(target) == "folder" and target.exists() and any(target.iterdir()):
        raise GenzooError(f"--out {out}: the folder exists and is not empty")
    model, _ = open_model(run, device)
    chosen = None
    if labels is not None:
        if not model.conditional:
            raise GenzooError(f"--labels: model {model.name} is not conditional")
        chosen = [
            _class_index(t.strip(), model.info.classes, f"--labels {labels}")
            for t in labels.split(",")
        ]
    x, y = synthesize(model, n, chosen, seed)
    if target.suffix and not target.parent.exists():
        target.parent.mkdir(parents=True)
    write(target, x, y, model.info)
    done(target, f"{n} {'labelled ' if y is not None else ''}examples")
