"""The registered metrics. Each takes an EvalContext and returns values, floor, provenance."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..models.base import CycleConsistent, in_batches, mean_phase_losses
from . import reconstruction as rec
from . import sample_quality as sq
from . import toy
from .evaluate import EvalContext, metric

TOY_SAMPLES = 2500  # the VEEGAN/PacGAN protocol


def result(values: dict, floor: dict | None, provenance: dict) -> dict[str, Any]:
    return {"values": values, "floor": floor, "provenance": provenance}


# ---------------------------------------------------------------- images, in feature space
def feature_metric(ctx: EvalContext, fn, names: tuple[str, ...], **provenance) -> dict:
    """`fn(real, other)` for the samples and for the floor set, as named values."""
    real = ctx.features("real")
    values = fn(real, ctx.features("fake"))
    floor = fn(real, ctx.features("floor"))
    as_dict = lambda v: dict(zip(names, v if isinstance(v, tuple) else (v,), strict=False))  # noqa: E731
    return result(as_dict(values), as_dict(floor), {**ctx.sample_provenance(), **provenance})


@metric(
    "fid",
    "Frechet distance of feature Gaussians (lower is better)",
    kinds=("image",),
    uses_features=True,
    cost="samples",
)
def fid(ctx: EvalContext) -> dict:
    return feature_metric(ctx, sq.fid, ("fid",))


@metric(
    "kid",
    "kernel distance, unbiased MMD^2 of features (lower is better)",
    kinds=("image",),
    uses_features=True,
    cost="samples",
)
def kid(ctx: EvalContext) -> dict:
    out = feature_metric(ctx, lambda a, b: sq.kid(a, b, seed=ctx.seed), ("kid", "kid_std"))
    del out["floor"]["kid_std"]  # the floor's spread is not reported
    return out


@metric(
    "precision_recall",
    "improved precision and recall, k=3 (fidelity, diversity)",
    kinds=("image",),
    uses_features=True,
    cost="samples",
)
def precision_recall(ctx: EvalContext) -> dict:
    fn = lambda a, b: sq.precision_recall(a, b, k=3)  # noqa: E731
    return feature_metric(ctx, fn, ("precision", "recall"), k=3)


@metric(
    "density_coverage",
    "density and coverage, k=5 (fidelity, diversity)",
    kinds=("image",),
    uses_features=True,
    cost="samples",
)
def density_coverage(ctx: EvalContext) -> dict:
    fn = lambda a, b: sq.density_coverage(a, b, k=5)  # noqa: E731
    return feature_metric(ctx, fn, ("density", "coverage"), k=5)


def _classified(ctx: EvalContext) -> str | None:
    if ctx.data.y_train is None:
        return f"{ctx.data.name} has no labels, so there are no classes to count"
    if not ctx.knows_classes():
        net = ctx.feature_net.name
        return f"the feature network {net} does not classify {ctx.data.name}'s classes"
    return None


@metric(
    "classes",
    "classes covered, KL of class histogram from uniform, Inception Score",
    kinds=("image",),
    uses_features=True,
    cost="samples",
    requires=_classified,
)
def classes(ctx: EvalContext) -> dict:
    fn = ctx.feature_net
    fake = sq.class_scores(fn.probabilities(ctx.unit(ctx.samples())))
    floor = sq.class_scores(fn.probabilities(ctx.unit(ctx.reference)))
    return result(
        fake,
        floor,
        {
            **ctx.sample_provenance(),
            "floor": "the reference itself",
            "classifier": "the feature network's own head",
        },
    )


# ---------------------------------------------------------------- points and tables
def _mixture(ctx: EvalContext) -> str | None:
    if "means" in ctx.data.meta and "std" in ctx.data.meta:
        return None
    return (
        f"it counts the modes of a mixture with known means (ring8, grid25); {ctx.data.name} "
        "has none (knn_kl and mmd measure any points)"
    )


@metric(
    "modes",
    "modes captured, high-quality share, reverse KL (ring8/grid25 protocol)",
    kinds=("points",),
    requires=_mixture,
    cost="samples",
)
def modes(ctx: EvalContext) -> dict:
    meta = ctx.data.meta
    means, std = torch.tensor(meta["means"]), float(meta["std"])
    fake = toy.mode_metrics(ctx.samples(ctx.n or TOY_SAMPLES), means, std)
    floor = toy.mode_metrics(torch.as_tensor(ctx.data.x_test), means, std)
    return result(
        fake,
        floor,
        {
            "generated": ctx.n or TOY_SAMPLES,
            "std": std,
            "n_std": 3,
            "floor": f"{len(ctx.data.x_test)} test-split points",
            "seed": ctx.seed,
        },
    )


@metric(
    "knn_kl",
    "k-NN estimate of KL(test data || samples), k=5, nats",
    kinds=("points", "table"),
    cost="samples",
)
def knn_kl(ctx: EvalContext) -> dict:
    ref = ctx.reference
    return result(
        {"knn_kl": toy.knn_kl(ref, ctx.samples(), k=5)},
        {"knn_kl": toy.knn_kl(ref, ctx.floor_set, k=5)},
        {
            "generated": ctx.n_gen,
            "reference": ctx.n_ref,
            "reference_split": "test",
            "k": 5,
            "seed": ctx.seed,
        },
    )


@metric(
    "mmd",
    "MMD^2, Gaussian kernel with the median bandwidth",
    kinds=("points", "table"),
    cost="samples",
)
def mmd(ctx: EvalContext) -> dict:
    ref = ctx.reference
    return result(
        {"mmd": toy.mmd(ref, ctx.samples())},
        {"mmd": toy.mmd(ref, ctx.floor_set)},
        {
            "generated": ctx.n_gen,
            "reference": ctx.n_ref,
            "reference_split": "test",
            "kernel": "gaussian, median heuristic",
            "seed": ctx.seed,
        },
    )


# ---------------------------------------------------------------- reconstruction, likelihood
@metric(
    "recon",
    "reconstruction MSE, PSNR, SSIM (images in [0, 1]) and BCE",
    needs="reconstruct",
    cost="recon",
)
@torch.no_grad()
def recon(ctx: EvalContext) -> dict:
    model = ctx.model
    x_np, y_np = ctx.test_examples("recon")
    x_raw = torch.as_tensor(x_np)
    x_model = model.to_model(x_raw)
    y = None if y_np is None else torch.as_tensor(y_np, device=model.device)
    show = "reconstructing" if ctx.progress else None
    x_hat = in_batches(
        model.reconstruct,
        x_model,
        model.labels_for(y, "reconstruct"),
        ctx.pass_batch,
        progress=show,
    )
    x_hat = x_hat.float().cpu()
    x_hat_raw = torch.from_numpy(model.to_data(x_hat))
    if ctx.kind != "image":
        return result(
            {"mse": float(((x_hat_raw - x_raw) ** 2).mean())},
            None,
            {"examples": len(x_raw), "split": "test", "units": "data"},
        )
    x, y = ctx.unit(x_raw), ctx.unit(x_hat_raw)
    per_dim, per_example = rec.bce(y, x)
    values = {
        "mse": float(((y - x) ** 2).mean()),
        "psnr": rec.psnr(y, x),
        "ssim": rec.ssim(y, x),
        "bce": per_dim,
        "bce_per_example": per_example,
    }
    return result(values, None, {"examples": len(x), "split": "test", "units": "[0, 1]"})


@metric(
    "nll",
    "negative log-likelihood (importance-sampled, or a diffusion model's variational bound) in "
    "nats and bits per dimension",
    needs="log_likelihood",
    cost="nll",
)
@torch.no_grad()
def nll(ctx: EvalContext) -> dict:
    model, k = ctx.model, ctx.nll_samples
    x_np, y_np = ctx.test_examples("nll")
    x = model.to_model(x_np)
    y = None if y_np is None else torch.as_tensor(y_np, device=model.device)
    g = torch.Generator(device=model.device).manual_seed(ctx.seed)
    show = "likelihood" if ctx.progress else None
    # small batches: k samples of each example go through the decoder together
    log_px = in_batches(
        model.log_likelihood,
        x,
        model.labels_for(y, "log_likelihood"),
        100,
        progress=show,
        k=k,
        generator=g,
    ).cpu()
    conditional = model.conditional
    provenance = model.likelihood_provenance(k)  # what the estimate is (and what k counts)
    binarized = bool(provenance.pop("binarized", False))
    return result(
        rec.likelihood_summary(log_px, ctx.data.info().dim),
        None,
        {
            "examples": len(x),
            "split": "test",
            "space": "model range",
            # a model whose log_likelihood is another estimator says what k counts
            **provenance,
            "density": "log p(x | y)" if conditional else "log p(x)",
            "binarized": binarized,
        },
    )


@metric("loss", "each phase's training loss terms, averaged over the test split", cost="loss")
def loss(ctx: EvalContext) -> dict:
    model = ctx.model
    x_np, y_np = ctx.test_examples("loss")
    y = None if y_np is None else torch.as_tensor(y_np, device=model.device)
    x = model.to_model(x_np)
    x_in = None
    if ctx.inputs is not None:  # the inputs row for row with the examples kept
        keep = np.linspace(0, len(ctx.inputs) - 1, len(x)).round().astype(int)
        x_in = ctx.inputs if len(x) == len(ctx.inputs) else ctx.inputs[torch.as_tensor(keep)]
    values = mean_phase_losses(model, x, y, ctx.batch_size, ctx.seed, x_in=x_in)
    return result(values, None, {"examples": len(x), "split": "test"})


@metric(
    "translation",
    "translations against their targets (PSNR, SSIM), class kept, cycle error",
    kinds=("image",),
    needs="translate",
    cost="samples",
)
@torch.no_grad()
def translation(ctx: EvalContext) -> dict:
    """Paired data: PSNR/SSIM of the translations against the targets, beside the input's own
    (the do-nothing baseline). Labelled input domain whose classes the output's feature network
    knows: the share of translations it classifies as their input's class (floor: its accuracy
    on the real test split). Models that translate back: the cycle errors, in [0, 1] units."""
    model, data = ctx.model, ctx.data
    inp = data.input
    out = ctx.samples(len(inp.x_test))  # the translations of the input test split, raw units
    values: dict[str, float] = {}
    floor: dict[str, float] | None = None
    prov: dict[str, Any] = {"examples": len(out), "split": "test", "units": "[0, 1]"}

    def unit(x, value_range) -> torch.Tensor:  # raw units -> [0, 1]
        lo, hi = value_range
        return (torch.as_tensor(x) - lo) / (hi - lo)

    if data.paired:
        target = unit(data.x_test, data.value_range)
        o01 = unit(out, data.value_range)
        values |= {"psnr": rec.psnr(o01, target), "ssim": rec.ssim(o01, target)}
        if inp.shape == data.shape:  # the input itself as the output: the baseline to beat
            i01 = unit(inp.x_test, inp.value_range)
            values |= {"psnr_input": rec.psnr(i01, target), "ssim_input": rec.ssim(i01, target)}
    if inp.y_test is not None and inp.classes == data.classes and ctx.knows_classes():
        fn = ctx.feature_net
        pred = fn.probabilities(ctx.unit(out)).argmax(1).cpu()
        values["class_agreement"] = float((pred == torch.as_tensor(inp.y_test)).float().mean())
        real = fn.probabilities(ctx.unit(torch.as_tensor(data.x_test))).argmax(1).cpu()
        floor = {"class_agreement": float((real == torch.as_tensor(data.y_test)).float().mean())}
        prov["class_agreement"] = "the output domain's feature network, against the input's label"
        prov["floor"] = "the feature network's accuracy on the output domain's real test split"
        prov["features"] = fn.provenance()
    if isinstance(model, CycleConsistent):
        x_in, x = model.to_model_input(inp.x_test), model.to_model(data.x_test)
        values |= model.cycle_errors(x_in[: len(x)], x[: len(x_in)])
    return result(values, floor, prov)
