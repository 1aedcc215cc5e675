"""Config: strict construction, dotted overrides, files, validation before anything happens."""

from __future__ import annotations

import pytest

from genzoo import GenzooError, build_run_config
from genzoo.config import from_dict, parse_overrides
from genzoo.errors import ConfigError
from genzoo.models.autoencoders.ae import AEConfig
from genzoo.train import TrainConfig


def test_types_are_parsed_from_strings_and_checked():
    cfg = from_dict(AEConfig, {"latent_dim": "16", "hidden": "64,32", "loss": "bce"})
    assert cfg.latent_dim == 16 and cfg.hidden == (64, 32) and cfg.loss == "bce"
    t = from_dict(
        TrainConfig, {"lr": "1e-3", "ema": "true", "grad_clip": "none", "betas": "[0.5, 0.9]"}
    )
    assert t.lr == 1e-3 and t.ema is True and t.grad_clip is None and t.betas == (0.5, 0.9)


@pytest.mark.parametrize(
    "values,field,allowed",
    [
        ({"latent_dim": "x"}, "model.latent_dim", "expected an integer"),
        ({"latent_dim": 0}, "model.latent_dim", "an integer >= 1"),
        ({"loss": "l1"}, "model.loss", "choose one of 'auto', 'mse', 'bce'"),
        ({"activation": "swish"}, "model.activation", "choose one of 'relu'"),
        ({"hidden": [64, "a"]}, "model.hidden[1]", "expected an integer"),
        ({"output_activation": "none", "loss": "bce"}, "model.loss", "needs sigmoid outputs"),
    ],
)
def test_errors_name_field_value_and_choices(values, field, allowed):
    with pytest.raises(ConfigError) as err:
        from_dict(AEConfig, values, prefix="model.")
    assert err.value.field == field and allowed in str(err.value)


def test_lists_of_names_stay_strings():
    from genzoo.data import DataConfig

    assert from_dict(DataConfig, {"classes": "3"}).classes == ("3",)
    assert from_dict(DataConfig, {"classes": "[3, 5]"}).classes == ("3", "5")
    assert from_dict(DataConfig, {"classes": ["a", "b"]}).classes == ("a", "b")
    with pytest.raises(ConfigError, match=r"hidden\[0\]=.a. is not allowed: expected an integer"):
        from_dict(AEConfig, {"hidden": "a,b"})


def test_unknown_fields_are_errors_not_ignored():
    with pytest.raises(
        GenzooError, match="unknown config field model.latnt_dim; fields of model: .*latent_dim"
    ):
        from_dict(AEConfig, {"latnt_dim": 3}, prefix="model.")
    with pytest.raises(GenzooError, match="unknown config section 'trian'"):
        build_run_config("ae", overrides=["trian.lr=1"])


def test_overrides_parse_into_sections():
    assert parse_overrides(["model.latent_dim=8", "train.lr=0.1"]) == {
        "model": {"latent_dim": "8"},
        "train": {"lr": "0.1"},
    }
    for bad in ["latent_dim", "model.=3", "=3"]:
        with pytest.raises(GenzooError, match="expected section.field=value"):
            parse_overrides([bad])


def test_file_then_overrides_then_flags(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("model:\n  name: ae\n  latent_dim: 8\ntrain:\n  lr: 0.01\n  steps: 10\n")
    rc = build_run_config("ae", config_file=f, overrides=["train.lr=0.02"], steps=20)
    assert rc.model.latent_dim == 8 and rc.train.lr == 0.02 and rc.train.steps == 20
    assert rc.data.source == "mnist5k"
    j = tmp_path / "c.json"
    j.write_text('{"model": {"name": "ae"}, "train": {"batch_size": 7}}')
    assert build_run_config(None, config_file=j).train.batch_size == 7


def test_config_file_for_another_model(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("model:\n  name: vae\n")
    with pytest.raises(GenzooError, match="config file is for model 'vae'"):
        build_run_config("ae", config_file=f)


def test_round_trip_through_dict():
    from genzoo.run import RunConfig

    rc = build_run_config("ae", overrides=["model.hidden=[10,20]", "train.betas=0.5,0.9"])
    again = RunConfig.from_dict(rc.to_dict())
    assert again == rc


def test_cuda_refused_without_a_gpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ConfigError, match="train.device='cuda'"):
        build_run_config("ae", device="cuda")
    with pytest.raises(ConfigError, match="train.precision='bf16'"):
        build_run_config("ae", device="cpu", overrides=["train.precision=bf16"])
