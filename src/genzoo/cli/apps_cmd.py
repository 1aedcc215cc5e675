"""genzoo embed | denoise | score | pretrain | components: what people use autoencoders for."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
import torch

from ..apps.anomaly import anomaly_scores, detection_metrics, threshold_at_fpr
from ..apps.denoise import add_gaussian_noise
from ..apps.denoise import denoise as run_denoise
from ..apps.embed import embedding_plot
from ..apps.pretrain import (
    FineTuneConfig,
    error_rate,
    few_labels,
    fit_classifier,
    logistic_baseline,
)
from ..data import DataConfig, load_dataset
from ..data.examples import file_examples, split_examples
from ..errors import GenzooError
from ..models import build_model
from ..models.base import Encoder, PrincipalDirections, Reconstructor, in_batches
from ..registry import DATASETS
from ..viz import image_grid, picture
from .common import check_out, done, open_model, read_examples, run_dataset
from .options import device_option, input_option, json_option, seed_option, split_option


@click.command("embed")
@click.argument("run", metavar="RUN")
@click.option("--out", required=True, help="the .png plot to write")
@click.option("--data", help="a dataset or file to embed [default: the run's data]")
@split_option()
@click.option("--codes", type=click.Path(dir_okay=False), help="also write the codes as .npy")
@seed_option()
@device_option
def embed(run, out, data, split, codes, seed, device) -> None:
    """Plot the latent codes in 2-D, coloured by label, beside PCA of the raw data.

    Codes wider than 2 are reduced with t-SNE. RUN is a run folder whose model can encode.

    \b
    Examples:
      genzoo embed runs/ae --out codes.png
      genzoo embed runs/ae --data my_images/ --out mine.png --codes mine.npy
    """
    path = check_out(out, (".png",))
    codes_path = check_out(codes, (".npy",), "--codes") if codes else None
    model, run_config = open_model(run, device)
    if not isinstance(model, Encoder):
        raise GenzooError(f"model {model.name} has no encoder")
    ds = run_dataset(model, run_config, data)
    x_raw, y = ds.split(split)
    x = model.to_model(x_raw)
    with torch.no_grad():
        z = in_batches(
            model.encode, x, model.labels_for(None if y is None else torch.as_tensor(y), "encode")
        )
    z = z.cpu().flatten(1).numpy()  # codes shaped like the data (diffusion): flattened
    embedding_plot(z, x_raw, y, ds.classes, seed).save(path)
    if codes_path is not None:
        np.save(codes_path, z)
        done(codes_path, f"{len(z)} codes")
    done(path, f"the embedding of {len(z)} examples")


@click.command("denoise")
@click.argument("run", metavar="RUN")
@input_option("noisy examples: a file or folder", required=True)
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
@seed_option()
@device_option
def denoise(run, input_path, out, add_noise, seed, device) -> None:
    """Denoise images or arrays with a trained (denoising) autoencoder.

    \b
    Examples:
      genzoo denoise runs/dae --input noisy_scans/ --out clean.npy
      genzoo denoise runs/dae --input digits.npz --add-noise 0.3 --out before_after.png
    """
    path = check_out(out, (".npy", ".png"))
    model, run_config = open_model(run, device)
    if not isinstance(model, Reconstructor):
        raise GenzooError(
            f"model {model.name} cannot reconstruct, so it cannot denoise; use an autoencoder "
            "(denoising-ae, conv-denoising-ae) or a VAE"
        )
    x_raw, labels = read_examples(input_path, model, run_config)
    x_raw = torch.as_tensor(x_raw)
    y = None if labels is None else torch.as_tensor(labels, device=model.device)
    if add_noise:
        lo, hi = model.info.value_range
        unit = (x_raw - lo) / (hi - lo)
        x_raw = add_gaussian_noise(unit, add_noise, seed) * (hi - lo) + lo
    x = model.to_model(x_raw)
    clean = run_denoise(model, x, y)
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
    help="examples to score: a file or folder (every row of it), or a dataset name "
    "[default: the run's own data, all classes]",
)
@click.option(
    "--split",
    type=click.Choice(["test", "train", "all"]),
    help="which split to score [default: the test split of the run's own data; every row of "
    "a file given with --data]",
)
@click.option(
    "--fpr",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="the threshold flags this share of the training examples of the normal classes",
)
@click.option(
    "--threshold",
    type=float,
    help="flag scores above this fixed value instead of setting it with --fpr",
)
@click.option(
    "--normal",
    "normal",
    help="comma-separated normal classes; the others are "
    "anomalies [default: the classes the run trained on, if it was restricted]",
)
@click.option(
    "--id-column",
    help="CSV: a column that names each row, written beside its score [default: the run's "
    "data.id_column]",
)
@click.option(
    "--out", help="write the scores: .csv (row, id, score, flagged, label) or .npy (scores)"
)
@click.option(
    "--samples",
    type=click.IntRange(1, 100_000),
    default=20,
    show_default=True,
    help="likelihood models: importance samples (VAEs) or strata of the bound (diffusion) per "
    "example",
)
@json_option()
@device_option
def score(
    run, data, split, fpr, threshold, normal, id_column, samples, out, as_json, device
) -> None:
    """Score examples for anomaly: reconstruction error, or negative log-likelihood.

    A file given with --data is scored whole, every row in its own order: the output's `row`
    is the example's position in the file (0-based, a header not counted), so it joins back
    to the file; --id-column carries a column of names through. A CSV's columns are matched to
    the training columns by name, and its label column is optional (new rows rarely have one).

    The threshold is fixed (--threshold) or set on the run's training examples of the normal
    classes so that a share --fpr of them is flagged. With labels that mark the anomalies
    (--normal, or a run trained on some classes only), AUROC and AUPRC are given.

    \b
    Examples:
      genzoo train conv-ae --data mnist5k --set data.classes=3 --out runs/three
      genzoo score runs/three                        # AUROC of "not a 3" on the test split
      genzoo score runs/tab --data new_rows.csv --id-column tx_id --out scores.csv
      genzoo score runs/tab --data new_rows.csv --threshold 0.8 --json
    """
    import dataclasses

    model, run_config = open_model(run, device)
    own_cfg = (run_config or {}).get("data", {})
    own = run_dataset(model, run_config)
    trained_on = own_cfg.get("classes")
    notes: list[str] = []
    # 1. what to score: a file whole, a registered dataset's split, or the run's own split
    if data is not None and data not in DATASETS and split in (None, "all"):
        target = file_examples(Path(data), model.info, own_cfg, id_column)  # unsplit
        split = "all"
    else:
        split = split or "test"
        if id_column is not None:
            raise GenzooError("--id-column: only a CSV file given with --data is read for ids")
        cfg = dataclasses.replace(own.config or DataConfig(source=own.name), classes=None)
        if data is not None:
            cfg = dataclasses.replace(cfg, source=data, n=None, noise=None, labels=None)
            if data in DATASETS:
                cfg = dataclasses.replace(cfg, label_column=None, id_column=None)
        ds = load_dataset(cfg)
        if ds.shape != tuple(model.info.shape):
            raise GenzooError(
                f"{ds.name}: examples of shape {ds.shape} do not fit a model "
                f"trained on shape {tuple(model.info.shape)}"
            )
        target = split_examples(ds, split)
    notes += target.notes
    # 2. which classes are normal
    normal_classes = normal.split(",") if normal else trained_on
    others = sorted(set(own.classes or []) - set(normal_classes or []))
    if normal and not trained_on and others:
        notes.append(
            f"{run} was trained on every class of {own.name}, {', '.join(others)} included: "
            "its scores say how unlike all of them an example is, so --normal only labels "
            "the evaluation and sets the threshold (train on the normal classes with --set "
            "data.classes=... for a one-class model)"
        )
    if normal and target.classes:
        missing = [c for c in normal_classes if c not in target.classes]
        if missing:
            raise GenzooError(
                f"--normal: {missing[0]!r} is not a class of {target.source}; "
                f"classes: {', '.join(target.classes)}"
            )
    # 3. the threshold: fixed, or the (1 - fpr) quantile of the normal training examples
    if threshold is not None:
        how = "fixed (--threshold)"
    else:
        x_train, y_train = own.x_train, own.y_train
        if normal and not trained_on and own.classes and y_train is not None:
            known = [own.classes.index(c) for c in normal_classes if c in own.classes]
            keep = np.isin(y_train, known)
            x_train, y_train = x_train[keep], y_train[keep]
        if len(x_train) == 0:
            raise GenzooError("--normal: the run's training split holds none of those classes")
        y_normal = None if y_train is None else torch.as_tensor(y_train)
        train_scores, _ = anomaly_scores(model, model.to_model(x_train), y_normal, samples)
        threshold = threshold_at_fpr(train_scores, fpr)
        how = f"flags {fpr:.1%} of {len(x_train)} normal training examples (--fpr)"
    y = None if target.y is None else torch.as_tensor(target.y)
    scores, kind = anomaly_scores(model, model.to_model(target.x), y, samples, "scoring")
    flagged = (scores > threshold).numpy()
    report = {
        "run": run,
        "scored": target.source,
        "split": split,
        "examples": len(scores),
        "score": kind,
        "threshold": threshold,
        "threshold_from": how,
        "flagged": int(flagged.sum()),
        "flagged_share": float(flagged.mean()) if len(flagged) else 0.0,
        "notes": notes,
    }
    if normal_classes and target.y is not None and target.classes:
        is_anomaly = ~np.isin(target.y, [target.classes.index(c) for c in normal_classes])
        report["normal_classes"] = list(normal_classes)
        if is_anomaly.any() and not is_anomaly.all():
            report.update(detection_metrics(scores, is_anomaly))
        else:
            notes.append("no AUROC: the scored examples are all normal or all anomalies")
    if out:
        path = check_out(out, (".npy", ".csv"))
        if path.suffix == ".npy":
            np.save(path, scores.numpy())
        else:
            write_scores(path, target, scores.tolist(), flagged)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"scored {report['examples']} examples of {target.source} ({split}) by {kind}")
    click.echo(
        f"threshold {threshold:.5g}, {how}: {report['flagged']} flagged "
        f"({report['flagged_share']:.1%})"
    )
    if "auroc" in report:
        click.echo(
            f"anomalies = classes other than {', '.join(report['normal_classes'])} "
            f"({report['anomaly_share']:.1%}): AUROC {report['auroc']:.4f}, "
            f"AUPRC {report['auprc']:.4f}"
        )
    for note in notes:
        click.echo(f"note: {note}")
    if out:
        done(Path(out), "the scores")


def write_scores(path: Path, target, scores: list[float], flagged) -> None:
    """row, [id,] score, flagged[, label]: one line per example, in the source's order."""
    import csv

    with path.open("w", newline="") as f:
        w = csv.writer(f)
        ids = target.ids is not None
        labels = target.y is not None and target.classes
        w.writerow(
            ["row", *(["id"] if ids else []), "score", "flagged", *(["label"] if labels else [])]
        )
        for i, (row, s, flag) in enumerate(zip(target.rows.tolist(), scores, flagged, strict=True)):
            line = [row, *([target.ids[i]] if ids else []), f"{s:.6g}", int(flag)]
            if labels:
                line.append(target.classes[int(target.y[i])])
            w.writerow(line)


@click.command("pretrain")
@click.argument("run", metavar="RUN")
@click.option("--labels-per-class", type=click.IntRange(1), default=10, show_default=True)
@click.option(
    "--augment/--no-augment",
    default=True,
    show_default=True,
    help="random rotations, shifts and zooms of the labelled images while fine-tuning (both arms)",
)
@click.option(
    "--steps",
    type=click.IntRange(2, 100_000),
    default=900,
    show_default=True,
    help="fine-tuning steps of each classifier: a third on the head alone, then everything",
)
@click.option("--data", help="labelled data [default: the run's own]")
@seed_option()
@json_option()
@device_option
def pretrain(run, labels_per_class, augment, steps, data, seed, as_json, device) -> None:
    """Reuse a trained encoder in a classifier fine-tuned on a few labels.

    Reports test error against the same classifier trained from scratch on the same labels,
    and against logistic regression on the raw inputs.

    \b
    Examples:
      genzoo pretrain runs/ae --labels-per-class 10
      genzoo pretrain runs/denoising-ae --no-augment
      genzoo pretrain runs/ae --data my_labelled/ --labels-per-class 5 --json
    """
    model, run_config = open_model(run, device)
    if not isinstance(model, Encoder):
        raise GenzooError(f"model {model.name} has no encoder to reuse")
    if model.conditional:
        raise GenzooError(
            f"model {model.name}'s encoder takes the label as an input, so it cannot be reused "
            "to predict it; pretrain an unconditional one (vae, ae)"
        )
    ds = run_dataset(model, run_config, data)
    if ds.y_train is None:
        raise GenzooError(f"{ds.name} has no labels to fine-tune with")
    with torch.no_grad():
        codes = model.encode(model.to_model(ds.x_train[:1]))
    if codes.dim() != 2:
        raise GenzooError(
            f"model {model.name}'s codes have the shape {tuple(codes.shape[1:])} of the data "
            "(inverted noise), not a vector a classifier can be put on; pretrain an autoencoder"
        )
    idx = few_labels(ds.y_train, labels_per_class, seed)
    x_few = model.to_model(ds.x_train[idx])
    y_few = torch.as_tensor(ds.y_train[idx], device=model.device)
    x_test = model.to_model(ds.x_test)
    y_test = torch.as_tensor(ds.y_test, device=model.device)
    k = ds.num_classes
    head = steps // 3
    cfg = FineTuneConfig(seed=seed, augment=augment, head_steps=head, tune_steps=steps - head)
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

    model, run_config = open_model(run, device)
    if not isinstance(model, PrincipalDirections):
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
