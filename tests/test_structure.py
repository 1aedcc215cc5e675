"""The shape of the code itself: the model contract is declared in one place, so no caller
finds out what a model can do by looking an attribute up by its name."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import genzoo
from genzoo.models.base import CAPABILITIES, GenerativeModel

from .conftest import cli_env

SRC = Path(genzoo.__file__).parent
# where the contract is declared, and may be inspected
CONTRACT = {SRC / "models" / "base.py", SRC / "registry.py"}


def model_members() -> set[str]:
    """Every attribute and method a registered model or the contract defines, beyond what any
    torch module has."""
    module = set(dir(torch_module()))
    names = set(dir(GenerativeModel))
    for proto in CAPABILITIES.values():
        names |= {n for n in dir(proto) if not n.startswith("_")}
    for entry in genzoo.MODELS:
        names |= set(dir(entry.obj))
    return {n for n in names - module if not n.startswith("__")}


def torch_module():
    from torch import nn

    return nn.Module


def name_probes(tree: ast.AST, members: set[str]) -> list[str]:
    """hasattr(obj, "name") / getattr(obj, "name", ...) calls whose name is a model's."""
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("hasattr", "getattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in members
        ):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_no_caller_probes_a_model_by_attribute_name():
    members = model_members()
    assert {"conditional", "sample_latent", "encode", "report_figures"} <= members
    probes = {}
    for path in sorted(SRC.rglob("*.py")):
        if path in CONTRACT:
            continue
        found = name_probes(ast.parse(path.read_text()), members)
        if found:
            probes[str(path.relative_to(SRC))] = found
    assert not probes, f"use the declared default or the capability protocol: {probes}"


def test_the_probe_check_finds_a_probe():
    members = model_members()
    code = 'if hasattr(model, "sample_latent") and getattr(m, "conditional", False): pass'
    assert len(name_probes(ast.parse(code), members)) == 2
    assert not name_probes(ast.parse('getattr(cfg, "nonesuch_field", 0)'), members)


NEW_MODEL = '''"""A model added in one file of its family folder, with no other edit."""

from dataclasses import dataclass

from torch import nn

from ..base import register_model
from ..code_density import CodePriorConfig
from .ae import CodeAutoencoder


@dataclass
class TinyConfig(CodePriorConfig):  # the code density every autoencoder samples from
    latent_dim: int | None = None


@register_model("one-file-ae", "a one-layer autoencoder that lives in a file of its own")
class OneFileAutoencoder(CodeAutoencoder):
    Config = TinyConfig

    def _resolve_output(self):
        return "none", "mse"  # linear outputs, mean squared error

    def build(self) -> None:
        d, k = self.info.dim, self.config.latent_dim
        self.enc, self.dec = nn.Linear(d, k), nn.Linear(k, d)

    def encode(self, x):
        return self.enc(x.flatten(1))

    def decode_logits(self, z):
        return self.dec(z).view(-1, *self.info.shape)
'''


@pytest.fixture(scope="module")
def package_with_a_new_model(tmp_path_factory):
    """A copy of genzoo whose autoencoder folder holds one more file, NEW_MODEL."""
    root = tmp_path_factory.mktemp("plugin")
    shutil.copytree(SRC, root / "genzoo", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "genzoo" / "models" / "autoencoders" / "one_file.py").write_text(NEW_MODEL)
    env = {**cli_env(), "PYTHONPATH": str(root)}
    return root, env


def test_a_model_in_a_new_file_is_listed_and_trained_with_no_other_edit(
    package_with_a_new_model, tmp_path
):
    root, env = package_with_a_new_model
    run = lambda *a: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "genzoo", *a], env=env, capture_output=True, text=True,
        timeout=300, cwd=tmp_path,
    )  # fmt: skip
    listed = run("list", "models")
    assert listed.returncode == 0 and "one-file-ae" in listed.stdout, listed.stderr
    out = tmp_path / "run"
    trained = run("train", "one-file-ae", "--data", "digits", "--steps", "30", "--out", str(out))
    assert trained.returncode == 0, trained.stderr
    assert (out / "model" / "model.safetensors").is_file()
    info = run("info", str(out), "--json")
    assert info.returncode == 0 and "one-file-ae" in info.stdout


def test_a_model_in_a_new_file_is_checked_by_the_contract_suite(package_with_a_new_model):
    root, env = package_with_a_new_model
    tests = Path(__file__).parent
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
         str(tests / "test_contract.py"), "-k", "one-file-ae"],
        env=env, capture_output=True, text=True, timeout=600, cwd=tests.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    passed = int(done.stdout.strip().splitlines()[-1].split(" passed")[0].split()[-1])
    assert passed >= 5, done.stdout[-500:]  # the contract's checks ran on the new model


def test_the_optimizer_choices_are_the_registered_optimizers():
    import typing

    from genzoo.registry import OPTIMIZERS
    from genzoo.train.config import TrainConfig

    hint = typing.get_type_hints(TrainConfig)["optimizer"]
    assert set(typing.get_args(hint)) == set(OPTIMIZERS.names()) == {"adam", "adamw", "rmsprop"}


def test_the_sampler_choices_are_the_sampler_table():
    import typing

    from genzoo.models.diffusion.ddpm import DDPMConfig
    from genzoo.models.diffusion.samplers import SAMPLERS

    hint = typing.get_type_hints(DDPMConfig)["sampler"]
    assert set(typing.get_args(hint)) == set(SAMPLERS) == {"ddpm", "ddim", "dpm-solver"}


# ---------------------------------------------------------------- layers point one way
# Each module may import from its own layer and those before it, never from a later one:
# models return data, viz draws it, the CLI is a thin adapter (DESIGN section 1).
LAYERS = [
    {"errors", "registry", "config", "atomic", "progress", "weights"},
    {"data", "nn"},
    {"models"},
    {"metrics"},
    {"train"},
    {"viz"},
    {"run"},
    {"apps", "theory"},
    {"cli"},
]


def layer_of(module: str) -> int | None:
    """The layer of a module ("models.gan.gan"); None for the package's own face (genzoo,
    genzoo.__main__), which may import anything."""
    top = module.split(".")[0]
    return next((i for i, names in enumerate(LAYERS) if top in names), None)


def imported_modules(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, module under genzoo) of every import of genzoo's own modules in a parsed module,
    those inside functions included."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = [*base, *(node.module.split(".") if node.module else [])]
                # `from . import x`: x may be a module of that package
                names = [".".join([*target, a.name]) for a in node.names] if not node.module else []
                names = names or [".".join(target)]
                names = ["genzoo." + n if n else "genzoo" for n in names]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            if name == "genzoo" or name.startswith("genzoo."):
                found.append((node.lineno, name.removeprefix("genzoo").removeprefix(".")))
    return found


def upward_imports(src: Path) -> list[str]:
    """Every import in the package at `src` that points to a later layer than its module's."""
    bad = []
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src).with_suffix("")
        is_package = rel.name == "__init__"
        parts = rel.parts[:-1] if is_package else rel.parts
        module = ".".join(parts)
        mine = layer_of(module) if module else None
        if mine is None:
            continue
        for line, target in imported_modules(ast.parse(path.read_text()), module, is_package):
            theirs = layer_of(target) if target else None
            if theirs is not None and theirs > mine:
                bad.append(f"{rel}.py:{line} imports {target}")
    return bad


def test_every_module_belongs_to_a_layer():
    tops = {p.stem if p.is_file() else p.name for p in SRC.iterdir()}
    tops -= {"__init__", "__main__", "__pycache__", "py"}
    tops = {t for t in tops if (SRC / t).is_dir() or (SRC / f"{t}.py").is_file()}
    assert not {t for t in tops if layer_of(t) is None}


def test_layers_point_one_way():
    assert not upward_imports(SRC), "an import points up the layers (see LAYERS)"


def test_the_layer_check_finds_an_upward_import(tmp_path):
    """A copy of the package with one function-local import of viz added to a model."""
    shutil.copytree(SRC, tmp_path / "genzoo", ignore=shutil.ignore_patterns("__pycache__"))
    base = tmp_path / "genzoo" / "models" / "base.py"
    base.write_text(base.read_text() + "\n\ndef _draw():\n    from ..viz import grid\n")
    found = upward_imports(tmp_path / "genzoo")
    assert len(found) == 1 and found[0].startswith("models/base.py:") and "viz" in found[0]
    absolute = tmp_path / "genzoo" / "data" / "toy.py"
    absolute.write_text(absolute.read_text() + "\nimport genzoo.train.trainer\n")
    assert len(upward_imports(tmp_path / "genzoo")) == 2


# ---------------------------------------------------------------- the data declares the batch
def test_a_model_with_a_new_batch_field_trains_with_no_trainer_edit(tmp_path):
    """A dataset that declares one more batch field (a per-example weight) and a model whose
    loss reads it: the trainer draws, evaluates and resumes it without knowing its name."""
    import dataclasses

    import numpy as np

    from genzoo.data.dataset import BatchField, Dataset
    from genzoo.models.autoencoders.ae import Autoencoder
    from genzoo.models.base import LossOutput
    from genzoo.train import TrainConfig, Trainer

    class WeightedDigits(Dataset):
        def batch_fields(self, target):
            fields = super().batch_fields(target)
            w = lambda n: np.linspace(0.5, 1.5, n).astype(np.float32)  # noqa: E731
            fields["w"] = BatchField("w", "labels", w(len(self.x_train)), w(len(self.x_test)),
                                     self.name)  # fmt: skip
            return fields

    seen = []

    class WeightedAE(Autoencoder):
        def loss(self, batch):
            seen.append(batch["w"].clone())
            err = (self.reconstruct(batch["x"]) - batch["x"]).pow(2).flatten(1).mean(1)
            loss = (batch["w"] * err).mean()
            return LossOutput(loss, {"weighted": loss})

    data = WeightedDigits(**{f.name: getattr(genzoo.load_dataset("digits"), f.name)
                             for f in dataclasses.fields(Dataset)})  # fmt: skip
    model = WeightedAE(WeightedAE.Config(hidden=(16,), latent_dim=2), data.info())
    cfg = TrainConfig(steps=6, batch_size=8, log_every=2, eval_every=3, sample_every=0,
                      checkpoint_every=3, tensorboard=False, final_eval=False)  # fmt: skip
    summary = Trainer(model, data, cfg, out=tmp_path / "run", console=False).fit()
    train_rows = [w for w in seen if len(w) == 8]
    assert len(train_rows) == 6 and summary["test"]["test/ae/weighted"] > 0
    # the field's values travel with their rows: weights of the drawn examples, not a copy
    assert all(float(w.min()) >= 0.5 and float(w.max()) <= 1.5 for w in train_rows)
    assert len({tuple(w.tolist()) for w in train_rows}) == 6
