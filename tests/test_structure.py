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
from .ae import CodeAutoencoder


@dataclass
class TinyConfig:
    latent_dim: int | None = None
    prior_momentum: float = 0.01


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
