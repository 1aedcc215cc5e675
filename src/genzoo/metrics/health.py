"""Health checks the trainer runs at each evaluation beside a model's own `diagnose`, chosen
by what the model declares or can do, never by its name:

- `sample_coverage`, for a model that declares `watch_coverage` (the GANs, whose failure is
  mode collapse): how many modes (toy mixtures, whose meta knows them) or classes (bundled
  images, by the shipped feature network) 2,500 or 1,000 fresh samples cover;
- `translation_scores`, for a `Translator` on paired data: PSNR and SSIM of its translations
  against their targets.

Each returns a `Diagnosis`: values to log under diag/ and warnings by key.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from ..errors import GenzooError
from ..models.base import Diagnosis, GenerativeModel, Translator
from . import toy
from .features import load_feature_net, shipped, to_unit
from .reconstruction import psnr, ssim
from .sample_quality import class_scores


@functools.lru_cache(maxsize=4)
def _feature_net(source: str):
    """The feature network shipped for a bundled image set, or None."""
    path = shipped(source)
    return None if path is None else load_feature_net(path)


@torch.no_grad()
def sample_coverage(model: GenerativeModel, seed: int = 0) -> Diagnosis:
    """Mode or class coverage of fresh samples, where the data says what to count (nothing
    otherwise); a warning when some are missing."""
    g = torch.Generator(device=model.device).manual_seed(seed)
    info = model.info
    meta = info.meta
    if "means" in meta and "std" in meta:
        s = torch.as_tensor(model.to_data(model.sample(2500, generator=g)))
        found = toy.mode_metrics(s, torch.tensor(meta["means"]), meta["std"])
        values = {k: found[k] for k in ("modes", "high_quality", "spread")}
        if found["modes"] == found["of_modes"]:
            return Diagnosis(values)
        return Diagnosis(values, {"mode_collapse": (
            f"mode collapse: {found['modes']} of {found['of_modes']} modes captured "
            f"({found['high_quality']:.0%} of samples within 3 std of a mode)"
        )})  # fmt: skip
    net = _feature_net(info.source) if info.kind == "image" and info.num_classes else None
    try:
        net is not None and net.check_fits(info)
    except GenzooError:  # e.g. a folder that shares a bundled set's name
        net = None
    if net is None:
        return Diagnosis({})
    s = model.sample(1000, generator=g)
    found = class_scores(net.probabilities(to_unit(model.to_data(s), info)))
    values = {"classes_covered": found["classes_covered"]}
    k = info.num_classes
    if found["classes_covered"] == k:
        return Diagnosis(values)
    return Diagnosis(values, {"mode_collapse": (
        f"mode collapse: samples cover {found['classes_covered']} of {k} classes "
        "(by the shipped feature network)"
    )})  # fmt: skip


@torch.no_grad()
def translation_scores(model: GenerativeModel, x: Tensor, x_in: Tensor) -> Diagnosis:
    """PSNR and SSIM (images in [0, 1]) of translate(x_in) against its targets x (both in
    the model's range [-1, 1])."""
    if not isinstance(model, Translator):
        raise TypeError(f"model {model.name} does not translate")
    out = (model.translate(x_in) + 1) / 2
    x = (x + 1) / 2
    return Diagnosis({"psnr": psnr(out, x), "ssim": ssim(out, x)})


def health_checks(model: GenerativeModel, fields: dict[str, Tensor]) -> Diagnosis | None:
    """The model's own `diagnose` on the batch fields `fields`, then the checks above that
    apply to it; None when nothing applies."""
    found = [model.diagnose(**fields)]
    if isinstance(model, Translator) and model.info.paired and "x_in" in fields:
        found.append(translation_scores(model, fields["x"], fields["x_in"]))
    if model.watch_coverage:
        found.append(sample_coverage(model))
    found = [d for d in found if d is not None]
    if not found:
        return None
    return Diagnosis(
        {k: v for d in found for k, v in d.values.items()},
        {k: v for d in found for k, v in d.warnings.items()},
    )
