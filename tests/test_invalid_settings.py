"""Table-driven: every field of every registered model's config, of the training and of the
data config, given a value of the wrong type, and unknown keys, is refused with an error that
names the field, before any data is loaded or folder made; a sample of the CLI's options with
bad values exits 2 in one line."""

from __future__ import annotations

import dataclasses
import json

import pytest

import genzoo
from genzoo.data import DataConfig
from genzoo.errors import GenzooError
from genzoo.run import build_run_config
from genzoo.train import TrainConfig

from .conftest import run_cli

WRONG = "{bogus: [1, 2]}"  # a mapping: no field of any config takes one


def fields():
    out = []
    for entry in genzoo.MODELS:
        for f in dataclasses.fields(genzoo.MODELS.get(entry.name).Config):
            out.append(pytest.param(entry.name, f"model.{f.name}", id=f"{entry.name}.{f.name}"))
    for section, cls in (("train", TrainConfig), ("data", DataConfig)):
        for f in dataclasses.fields(cls):
            out.append(pytest.param("ae", f"{section}.{f.name}", id=f"{section}.{f.name}"))
    return out


@pytest.mark.parametrize("model,field", fields())
def test_a_value_of_the_wrong_type_is_refused_naming_the_field(model, field, tmp_path):
    # through --set (a string field takes any text there, as a path may be any text) ...
    section, name = field.split(".")
    cls = {"model": genzoo.MODELS.get(model).Config, "train": TrainConfig, "data": DataConfig}
    kind = next(str(f.type) for f in dataclasses.fields(cls[section]) if f.name == name)
    if "str" not in kind:
        with pytest.raises(GenzooError) as e:
            build_run_config(model, overrides=[f"{field}={WRONG}"])
        assert field in str(e.value), str(e.value)
    # ... and through a config file, where a mapping arrives as one
    config = tmp_path / "run.json"
    config.write_text(json.dumps({section: {name: {"bogus": [1, 2]}}}))
    with pytest.raises(GenzooError) as e:
        build_run_config(model, config_file=str(config))
    assert field in str(e.value), str(e.value)


@pytest.mark.parametrize("section", ["model", "train", "data"])
def test_an_unknown_key_is_refused_naming_it(section):
    with pytest.raises(GenzooError, match=f"{section}.no_such_field"):
        build_run_config("ae", overrides=[f"{section}.no_such_field=1"])


@pytest.mark.parametrize(
    "args,names",
    [
        (["--steps", "0"], "train.steps"),
        (["--steps", "many"], "--steps"),
        (["--seed", "x"], "--seed"),
        (["--device", "tpu"], "train.device"),
        (["--data", "no/such/place"], "no/such/place"),
        (["--set", "model"], "model"),
        (["--set", "model.latent_dim=-3"], "model.latent_dim"),
        (["--set", "train.batch_size=100000"], "train.batch_size"),
        (["--on-nan", "maybe"], "--on-nan"),
        (["--config", "missing.yaml"], "missing.yaml"),
    ],
)
def test_bad_cli_options_exit_2_in_one_line_before_any_folder(tmp_path, args, names):
    out = tmp_path / "run"
    done = run_cli("train", "ae", "--data", "digits", "--out", str(out), *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = [x for x in done.stderr.strip().splitlines() if x.strip()]
    assert names in done.stderr and "Traceback" not in done.stderr
    assert len(lines) <= 3  # click's usage line + the message, or our one line
    assert not out.exists()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from genzoo.train.checkpoint import save_model_folder

    ds = genzoo.load_dataset("digits")
    model = genzoo.build_model("ae", ds.info(), {"hidden": [16], "latent_dim": 2}, seed=0)
    model.transform = ds.transform(model.data_range())
    folder = tmp_path_factory.mktemp("tiny") / "model"
    save_model_folder(folder, model)
    return folder


def test_many_samples_stream_to_disk_in_chunks_and_pictures_are_bounded(tiny_run, tmp_path):
    import numpy as np

    from genzoo.cli import sample_cmd

    out = tmp_path / "many.npy"
    n = 2 * sample_cmd.CHUNK + 7  # three chunks, the last one short
    run_cli("sample", str(tiny_run), "--n", str(n), "--out", str(out), check=True)
    x = np.load(out, mmap_mode="r")
    assert x.shape == (n, 1, 8, 8) and np.isfinite(x).all()
    assert not (x[-7:] == 0).all()  # the last chunk was written too
    assert not list(tmp_path.glob(".*partial"))
    big = run_cli("sample", str(tiny_run), "--n", "5000", "--out", str(tmp_path / "g.png"))
    assert big.returncode == 2 and ".npy" in big.stderr and not (tmp_path / "g.png").exists()
    huge = run_cli("sample", str(tiny_run), "--n", "100000000", "--out", str(out))
    assert huge.returncode == 2 and "--n" in huge.stderr
