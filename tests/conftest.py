"""Shared fixtures: an isolated cache, tiny model configs, and CLI runners."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

DDPM_TINY = {
    "T": 20,
    "channels": [8, 8],
    "res_blocks": 1,
    "attention": [1],
    "heads": 2,
    "norm_groups": 4,
    "width": 16,
    "blocks": 1,
    "sample_steps": 5,
}

EDM_TINY = {k: v for k, v in DDPM_TINY.items() if k != "T"}

# Small configs for the contract suite, per data kind ("any" for every kind); a model without
# an entry is tested with its defaults.
TINY: dict[str, dict[str, dict]] = {
    "ae": {"image": {"hidden": [32], "latent_dim": 4}, "points": {"hidden": [16], "latent_dim": 1}},
    "linear-ae": {"image": {"latent_dim": 4}, "points": {"latent_dim": 1}},
    "conv-ae": {"any": {"latent_dim": 4, "channels": [4, 8]}},
    "denoising-ae": {"any": {"hidden": [16], "latent_dim": 4}},
    "conv-denoising-ae": {"any": {"latent_dim": 4, "channels": [4, 8]}},
    "sparse-ae": {"any": {"hidden": [16], "latent_dim": 4}},
    "contractive-ae": {"image": {"latent_dim": 4}, "points": {"hidden": [8], "latent_dim": 4}},
    "vae": {"any": {"hidden": [16], "latent_dim": 2}},
    "beta-vae": {"any": {"hidden": [16], "latent_dim": 2, "warmup_steps": 10}},
    "cvae": {"any": {"hidden": [16], "latent_dim": 2}},
    "iwae": {"any": {"hidden": [16], "latent_dim": 2, "k": 3}},
    "gan": {"any": {"g_hidden": [16], "d_hidden": [16], "latent_dim": 4}},
    "dcgan": {"any": {"channels": [4, 8], "latent_dim": 4}},
    "cgan": {"any": {"g_hidden": [16], "d_hidden": [16], "latent_dim": 4}},
    "wgan": {"any": {"g_hidden": [16], "d_hidden": [16], "latent_dim": 4}},
    "wgan-gp": {"any": {"g_hidden": [16], "d_hidden": [16], "latent_dim": 4}},
    "progan": {"any": {"channels": [8, 4], "latent_dim": 4}},
    "stylegan": {"any": {"channels": [8, 4], "latent_dim": 8, "mapping_layers": 2}},
    "pix2pix": {"any": {"channels": [4, 8, 8], "d_width": 4}},
    "ddpm": {"any": DDPM_TINY},
    "cddpm": {"any": DDPM_TINY},
    "edm": {"any": EDM_TINY},
    "cedm": {"any": EDM_TINY},
    "cyclegan": {"any": {"width": 4, "n_blocks": 1, "d_width": 4, "pool_size": 8}},
    "rae": {"any": {"hidden": [16], "latent_dim": 2}},
    "wae": {"any": {"hidden": [16], "latent_dim": 2}},
    "vae-gan": {"any": {"channels": [4, 8], "latent_dim": 4}},
    "ldm": {"any": EDM_TINY},
    "cldm": {"any": EDM_TINY},
    "diffae": {
        "any": {
            **EDM_TINY,
            "latent_dim": 3,
            "encoder_channels": [4],
            "encoder_hidden": [8],
            "latent_width": 8,
            "latent_blocks": 1,
            "sample_steps": 3,
            "invert_steps": 3,
            "latent_steps": 2,
        }
    },
}
# models trained on another model's folder: the config field that names it
ON_AUTOENCODER = {"ldm", "cldm"}

# Options that change what a model computes, each run through the contract suite as a case of
# its own: "model+option" -> (model, extra config).
VARIANTS: dict[str, tuple[str, dict]] = {
    "gan+replay": ("gan", {"replay_size": 64}),
    "gan+minibatch-disc": ("gan", {"minibatch_disc": 4, "minibatch_disc_dim": 3}),
    "gan+minibatch-std": ("gan", {"minibatch_std": 4}),
    "gan+pack": ("gan", {"pack": 2}),
    "gan+minimax-smoothing": ("gan", {"loss": "minimax", "label_smoothing": 0.1}),
    "gan+maxout-r1-hinge": ("gan", {"d_unit": "maxout", "r1_weight": 1.0, "loss": "hinge"}),
    "dcgan+stabilisers": (
        "dcgan",
        {"minibatch_std": 4, "minibatch_disc": 4, "pack": 2, "replay_size": 64},
    ),
    "dcgan+diffaugment-resize": (
        "dcgan",
        {"augment": ["color", "translation", "cutout"], "g_upsample": "nearest"},
    ),
    "stylegan+diffaugment": ("stylegan", {"augment": ["translation", "cutout"]}),
    "dcgan+ada": ("dcgan", {"augment": ["translation", "cutout"], "ada_target": 0.6}),
    "gan+spectral-hinge": ("gan", {"d_norm": "spectral", "loss": "hinge"}),
    "cgan+conv-spectral-projection": (
        "cgan",
        {
            "architecture": "conv",
            "channels": [4, 8],
            "d_norm": "spectral",
            "conditioning": "projection",
        },
    ),
    "cgan+projection": ("cgan", {"conditioning": "projection"}),
    "cgan+conv": ("cgan", {"architecture": "conv", "channels": [4, 8]}),
    "wgan-gp+conv": ("wgan-gp", {"architecture": "conv", "channels": [4, 8]}),
    "denoising-ae+affine": ("denoising-ae", {"corruption": "affine"}),
    "pix2pix+l1-only": ("pix2pix", {"adv_weight": 0.0}),
    "cyclegan+bce-no-identity": ("cyclegan", {"loss": "non-saturating", "identity_weight": 0.0}),
    "ddpm+v-learned-cosine": (
        "ddpm",
        {"prediction": "v", "learn_variance": True, "schedule": "cosine", "sampler": "ddpm"},
    ),
    "ddpm+ddim-eta1": ("ddpm", {"eta": 1.0}),
    "ddpm+dpm-solver": ("ddpm", {"sampler": "dpm-solver"}),
    "ddpm+lognormal-min-snr": ("ddpm", {"timesteps": "lognormal", "min_snr_gamma": 5.0}),
    "cddpm+guided-learned": ("cddpm", {"guidance": 3.0, "learn_variance": True}),
    "ae+gaussian-prior": ("ae", {"prior": "gaussian"}),
    "rae+gradient": ("rae", {"decoder_reg": "gradient"}),
    "rae+spectral": ("rae", {"decoder_reg": "spectral"}),
    "wae+mixture": ("wae", {"prior": "mixture"}),
    "vae-gan+minimax": ("vae-gan", {"loss": "minimax", "init_std": None}),
    "vae+two-stage": ("vae", {"second_stage": 0.5, "second_hidden": [8]}),
    "diffae+heun": ("diffae", {"solver": "heun"}),
    "progan+r1-pack": (
        "progan",
        {"loss": "non-saturating", "gp_weight": 0.0, "drift": 0.0, "r1_weight": 1.0, "pack": 2},
    ),
}
# variants that need images
IMAGE_ONLY = {"cgan+conv", "wgan-gp+conv", "denoising-ae+affine", "cgan+conv-spectral-projection"}


def tiny(name: str, kind: str, autoencoder: bool = True) -> dict:
    """The tiny config of a model (or of a "model+option" variant) for data of `kind`; a model
    trained on an autoencoder gets a tiny one's folder (`tiny_autoencoder`) unless told not
    to (`autoencoder=False`: the caller trains one on its own data)."""
    name, extra = VARIANTS.get(name, (name, {}))
    entry = TINY.get(name, {})
    wanted = autoencoder and name in ON_AUTOENCODER
    base = {"autoencoder": str(tiny_autoencoder(kind))} if wanted else {}
    return {**base, **entry.get(kind, entry.get("any", {})), **extra}


_AUTOENCODERS: dict[str, Path] = {}
TINY_AE_DATA = {"image": ("digits", {}), "points": ("ring8", {"n": 600})}


def tiny_autoencoder(kind: str, data: str | None = None) -> Path:
    """The model folder of a tiny, untrained `ae` for the contract suite's data of `kind`
    (or for bundled dataset `data`), made once per process in a temporary folder."""
    import tempfile

    import genzoo
    from genzoo.train.checkpoint import save_model_folder

    key = data or kind
    if key not in _AUTOENCODERS:
        name, kw = (data, {}) if data else TINY_AE_DATA[kind]
        ds = genzoo.load_dataset(name, **kw)
        model = genzoo.build_model("ae", ds.info(), tiny("ae", ds.kind), seed=0)
        model.transform = ds.transform(model.data_range())
        folder = Path(tempfile.mkdtemp(prefix=f"genzoo-ae-{key}-")) / "model"
        save_model_folder(folder, model)
        _AUTOENCODERS[key] = folder
    return _AUTOENCODERS[key]


# Tests must not depend on the number of cores; results within a process are deterministic.
torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    os.environ["GENZOO_CACHE"] = str(cache)
    yield cache
    import shutil

    for folder in _AUTOENCODERS.values():
        shutil.rmtree(folder.parent, ignore_errors=True)


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"})
    return env


def run_cli(
    *args: str, cwd: Path | None = None, timeout: int = 300, check: bool = False
) -> subprocess.CompletedProcess:
    """Run `python -m genzoo ARGS` in a new process."""
    proc = subprocess.run(
        [sys.executable, "-m", "genzoo", *args],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"genzoo {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def run_python(code: str, cwd: Path | None = None, timeout: int = 300):
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
