"""genzoo embed | denoise | score | pretrain | components: what people use autoencoders for."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
import torch

from .common import check_out, device_option, done, open_model, read_examples, run_dataset


@click.command("embed")
@click.argument("run", metavar="RUN")
@click.option("--out", required=True, help="the .png plot to write")
@click.option("--data", help="a dataset or file to embed [default: the run's data]")
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True)
@click.option("--codes", type=click.Path(dir_okay=False), help="also write the codes as .npy")
@click.option("--seed", type=int, default=0, show_default=True)
@device_option
def embed(run, out, data, split, codes, seed, device) -> None:
    """Plot the latent codes in 2-D, coloured by label, beside PCA of the raw data.

    Codes wider than 2 are reduced with t-SNE. RUN is a run folder whose model can encode.

    \b
    Examples:
      genzoo embed runs/ae --out codes.png
      genzoo embed runs/ae --data my_images/ --out mine.png --codes mine.npy
    """
    from ..apps.embed import embedding_plot
    from ..errors import GenzooError
    from ..models.base import Encoder, in_batches

    path = check_out(out, (".png",))
    codes_path = check_out(codes, (".npy",), "--codes") if codes else None
    model, run_config = open_model(run, device)
    if not isinstance(model, Encoder):
        raise GenzooError(f"model {model.name} has no encoder")
    ds = run_dataset(model, run_config, data)
    x_raw, y = ds.split(split)
    x = model.to_model(x_raw)
    with torch.no_grad():
        z = in_batches(model, "encode", x, None if y is None else torch.as_tensor(y))
    z = z.cpu().numpy()
    embedding_plot(z, x_raw, y, ds.classes, seed).save(path)
    if codes_path is not None:
        np.save(codes_path, z)
        done(codes_path, f"{len(z)} codes")
    done(path, f"the embedding of {len(z)} examples")


@click.command("denoise")
@click.argument("run", metavar="RUN")
@click.option("--input", "input_path", required=True, help="noisy examples: a file or folder")
@click.option(
    "--out",
    required=True,
    help=".npy (denoised, in the data's units) or .png (inputs above their denoised versions)",
)
@click.option(
    "--add-noise",
    type=click.FloatRange(0),
    help="first add Gaussian noise of this std (in [0, 1] image units), to try a clean input",
)
@click.option("--seed", type=int, default=0, show_default=True)
@device_option
def denoise(run, input_path, out, add_noise, seed, device) -> None:
    """Denoise images or arrays with a trained (denoising) autoencoder.

    \b
    Examples:
      genzoo denoise runs/dae --input noisy_scans/ --out clean.npy
      genzoo denoise runs/dae --input digits.npz --add-noise 0.3 --out before_after.png
    """
    from ..apps.denoise import add_gaussian_noise
    from ..apps.denoise import denoise as run_denoise
    from ..viz import picture

    path = check_out(out, (".npy", ".png"))
    model, run_config = open_model(run, device)
    x_raw, _ = read_examples(input_path, model, run_config)
    x_raw = torch.as_tensor(x_raw)
    if add_noise:
        lo, hi = model.info.value_range
        unit = (x_raw - lo) / (hi - lo)
        x_raw = add_gaussian_noise(unit, add_noise, seed) * (hi - lo) + lo
    x = model.to_model(x_raw)
    clean = run_denoise(model, x)
    if path.suffix == ".npy":
        np.save(path, model.to_data(clean))
    else:
        n = min(16, len(x))
        picture(model, [("data", x[:n]), ("reconstructions", clean[:n])], n).save(path)
    done(path, f"{len(x)} denoised examples")


@click.command("score")
@click.argument("run", metavar="RUN")
@click.option(
    "--data",
    help="examples to score: a dataset name or a file [default: the run's data, all classes]",
)
@click.option(
    "--split", type=click.Choice(["test", "train", "all"]), default="test", show_default=True
)
@click.option(
    "--fpr",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="share of training examples the threshold may flag",
)
@click.option(
    "--normal",
    "normal",
    help="comma-separated normal classes; the others are "
    "anomalies [default: the classes the run trained on, if it was restricted]",
)
@click.option("--out", help="write the scores: .npy (scores) or .csv (score, flagged, label)")
@click.option("--json", "as_json", is_flag=True)
@device_option
def score(run, data, split, fpr, normal, out, as_json, device) -> None:
    """Score examples for anomaly: reconstruction error, or negative log-likelihood.

    The threshold is set on the run's own training examples at --fpr. With labels that mark
    the anomalies (--normal, or a run trained on some classes only), AUROC and AUPRC are given.

    \b
    Examples:
      genzoo train conv-ae --data mnist5k --set data.classes=3 --out runs/three
      genzoo score runs/three                        # AUROC of "not a 3" on the test split
      genzoo score runs/tab --data new_rows.csv --out scores.csv --normal normal
    """
    import dataclasses

    from ..apps.anomaly import anomaly_scores, detection_metrics, threshold_at_fpr
    from ..data import DataConfig, load_dataset
    from ..errors import GenzooError

    model, run_config = open_model(run, device)
    own = run_dataset(model, run_config)
    train_scores, kind = anomaly_scores(model, model.to_model(own.x_train))
    threshold = threshold_at_fpr(train_scores, fpr)
    # the run's data settings carry over (a CSV's label column, the split), all classes
    cfg = own.config or DataConfig(source=own.name)
    cfg = dataclasses.replace(cfg, classes=None)
    if data is not None:
        cfg = dataclasses.replace(cfg, source=data, n=None, noise=None, labels=None)
    target = load_dataset(cfg)
    if target.shape != tuple(model.info.shape):
        raise GenzooError(
            f"{target.name}: examples of shape {target.shape} do not fit a model "
            f"trained on shape {tuple(model.info.shape)}"
        )
    if split == "all":
        x_raw = np.concatenate([target.x_train, target.x_test])
        y = None if target.y_train is None else np.concatenate([target.y_train, target.y_test])
    else:
        x_raw, y = target.split(split)
    scores, _ = anomaly_scores(model, model.to_model(x_raw))
    flagged = (scores > threshold).numpy()
    report = {
        "run": run,
        "scored": target.name,
        "split": split,
        "examples": len(scores),
        "score": kind,
        "threshold": threshold,
        "fpr_on_train": fpr,
        "flagged": int(flagged.sum()),
    }
    normal_classes = (
        normal.split(",") if normal else ((run_config or {}).get("data", {}).get("classes"))
    )
    if normal_classes and y is not None and target.classes:
        missing = [c for c in normal_classes if c not in target.classes]
        if missing:
            raise GenzooError(
                f"--normal: {missing[0]!r} is not a class of {target.name}; "
                f"classes: {', '.join(target.classes)}"
            )
        is_anomaly = ~np.isin(y, [target.classes.index(c) for c in normal_classes])
        report["normal_classes"] = list(normal_classes)
        report.update(detection_metrics(scores, is_anomaly))
    if out:
        path = check_out(out, (".npy", ".csv"))
        if path.suffix == ".npy":
            np.save(path, scores.numpy())
        else:
            labels = (
                [target.classes[i] if target.classes else str(i) for i in y]
                if y is not None
                else [""] * len(scores)
            )
            rows = ["index,score,flagged,label"] + [
                f"{i},{s:.6g},{int(f)},{lab}"
                for i, (s, f, lab) in enumerate(zip(scores.tolist(), flagged, labels, strict=True))
            ]
            path.write_text("\n".join(rows) + "\n")
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"scored {report['examples']} examples of {target.name} ({split}) by {kind}")
    click.echo(
        f"threshold {threshold:.5g} (flags {fpr:.1%} of training examples): "
        f"{report['flagged']} flagged"
    )
    if "auroc" in report:
        click.echo(
            f"anomalies = classes other than {', '.join(report['normal_classes'])} "
            f"({report['anomaly_share']:.1%}): AUROC {report['auroc']:.4f}, "
            f"AUPRC {report['auprc']:.4f}"
        )
    if out:
        done(Path(out), "the scores")


@click.command("pretrain")
@click.argument("run", metavar="RUN")
@click.option("--labels-per-class", type=click.IntRange(1), default=10, show_default=True)
@click.option(
    "--augment/--no-augment",
    default=True,
    show_default=True,
    help="random rotations, shifts and zooms of the labelled images while fine-tuning (both arms)",
)
@click.option("--data", help="labelled data [default: the run's own]")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@device_option
def pretrain(run, labels_per_class, augment, data, seed, as_json, device) -> None:
    """Reuse a trained encoder in a classifier fine-tuned on a few labels.

    Reports test error against the same classifier trained from scratch on the same labels,
    and against logistic regression on the raw inputs.

    \b
    Examples:
      genzoo pretrain runs/ae --labels-per-class 10
      genzoo pretrain runs/denoising-ae --no-augment
      genzoo pretrain runs/ae --data my_labelled/ --labels-per-class 5 --json
    """
    from ..apps.pretrain import (
        FineTuneConfig,
        error_rate,
        few_labels,
        fit_classifier,
        logistic_baseline,
    )
    from ..errors import GenzooError
    from ..models import build_model
    from ..models.base import Encoder

    model, run_config = open_model(run, device)
    if not isinstance(model, Encoder):
        raise GenzooError(f"model {model.name} has no encoder to reuse")
    ds = run_dataset(model, run_config, data)
    if ds.y_train is None:
        raise GenzooError(f"{ds.name} has no labels to fine-tune with")
    idx = few_labels(ds.y_train, labels_per_class, seed)
    x_few = model.to_model(ds.x_train[idx])
    y_few = torch.as_tensor(ds.y_train[idx], device=model.device)
    x_test = model.to_model(ds.x_test)
    y_test = torch.as_tensor(ds.y_test, device=model.device)
    k = ds.num_classes
    cfg = FineTuneConfig(seed=seed, augment=augment)
    pretrained = error_rate(fit_classifier(model, x_few, y_few, k, cfg), x_test, y_test)
    fresh = build_model(model.name, model.info, model.config, seed=seed + 1).to(model.device)
    fresh.transform = model.transform
    scratch = error_rate(fit_classifier(fresh, x_few, y_few, k, cfg), x_test, y_test)
    logistic = logistic_baseline(
        x_few.cpu().numpy(), ds.y_train[idx], x_test.cpu().numpy(), ds.y_test
    )
    report = {
        "run": run,
        "data": ds.name,
        "labels": len(idx),
        "augment": augment and ds.kind == "image",
        "test_examples": len(ds.x_test),
        "test_error": {
            "pretrained_encoder": pretrained,
            "same_classifier_from_scratch": scratch,
            "logistic_regression_raw": logistic,
        },
    }
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(
        f"{len(idx)} labels ({labels_per_class} per class), {len(ds.x_test)} test "
        f"examples of {ds.name}; test error:"
    )
    for name, err in report["test_error"].items():
        click.echo(f"  {name.replace('_', ' '):<32} {err:.2%}")


@click.command("components")
@click.argument("run", metavar="RUN")
@click.option("--out", help="also write the directions: .png (as images) or .npy")
@device_option
def components(run, out, device) -> None:
    """Print the principal directions a linear autoencoder recovered, with their variances.

    Compares them with scikit-learn's PCA on the same training data: the explained variance of
    each, and the principal angles between the two subspaces (0 when they are the same).

    \b
    Examples:
      genzoo train linear-ae --data mnist5k --set model.latent_dim=8 --out runs/lin
      genzoo components runs/lin --out directions.png
    """
    from scipy.linalg import subspace_angles
    from sklearn.decomposition import PCA

    from ..errors import GenzooError
    from ..viz import image_grid

    model, run_config = open_model(run, device)
    if not hasattr(model, "principal_directions"):
        raise GenzooError(f"model {model.name} is not a linear autoencoder (use linear-ae)")
    ds = run_dataset(model, run_config)
    x = model.to_model(ds.x_train).cpu()
    directions, variances = model.principal_directions(x)
    flat = x.flatten(1).numpy()
    pca = PCA(len(variances)).fit(flat)
    angles = np.degrees(subspace_angles(directions.double().numpy().T, pca.components_.T))
    total = float(flat.var(0, ddof=1).sum())
    click.echo(f"{len(variances)} directions from {run} (train split, {len(x)} examples)")
    click.echo(f"  {'#':>3} {'variance (AE)':>14} {'variance (PCA)':>15} {'|cos| to PCA':>13}")
    for i, (v, pv) in enumerate(zip(variances.tolist(), pca.explained_variance_, strict=True)):
        cos = abs(float(directions[i].double().numpy() @ pca.components_[i]))
        click.echo(f"  {i + 1:>3} {v:>14.5g} {pv:>15.5g} {cos:>13.4f}")
    click.echo(
        f"explained: {float(variances.sum()) / total:.2%} (PCA "
        f"{pca.explained_variance_ratio_.sum():.2%}); largest principal angle between "
        f"the subspaces {angles.max():.3f} degrees"
    )
    if out:
        path = check_out(out, (".png", ".npy"))
        if path.suffix == ".npy":
            np.save(path, directions.numpy())
        else:
            d = directions.view(-1, *model.info.shape)
            lo = d.flatten(1).min(1).values.view(-1, *[1] * (d.dim() - 1))
            hi = d.flatten(1).max(1).values.view(-1, *[1] * (d.dim() - 1))
            if model.info.kind != "image":
                raise GenzooError("directions are pictures only for image data; use .npy")
            image_grid(((d - lo) / (hi - lo)).numpy(), nrow=8).save(path)
        done(path, f"{len(directions)} directions")
