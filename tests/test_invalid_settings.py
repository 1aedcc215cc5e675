"""Table-driven: every field of every registered model's config, of the training and of the
data config, given a value of the wrong type or out of its range, and unknown keys, is refused
with an error that names the field, before any data is loaded or folder made; so are settings
that cannot go together, the data a model cannot take, and sampling options a model has no use
for; the CLI's options with bad values exit 2 in one line; requests that would exhaust the
machine are refused or streamed."""

from __future__ import annotations

import dataclasses
import json
import types
import typing

import numpy as np
import pytest

import genzoo
from genzoo.cli.main import main
from genzoo.data import DataConfig
from genzoo.errors import GenzooError
from genzoo.run import build_run_config
from genzoo.train import TrainConfig

from .conftest import run_cli, tiny

WRONG = "{bogus: [1, 2]}"  # a mapping: no field of any config takes one


def config_fields():
    """(model, section, name, config class) of every field of every model's config, and of
    the train and data sections once (with ae)."""
    for entry in genzoo.MODELS:
        cls = genzoo.MODELS.get(entry.name).Config
        for f in dataclasses.fields(cls):
            yield entry.name, "model", f.name, cls
    for section, cls in (("train", TrainConfig), ("data", DataConfig)):
        for f in dataclasses.fields(cls):
            yield "ae", section, f.name, cls


def fields():
    return [
        pytest.param(model, section, name, cls,
                     id=f"{model if section == 'model' else section}.{name}")
        for model, section, name, cls in config_fields()
    ]  # fmt: skip


@pytest.mark.parametrize("model,section,name,cls", fields())
def test_a_value_of_the_wrong_type_is_refused_naming_the_field(model, section, name, cls, tmp_path):
    # through --set (a string field takes any text there, as a path may be any text) ...
    field = f"{section}.{name}"
    kind = next(str(f.type) for f in dataclasses.fields(cls) if f.name == name)
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


# Out of range: the values each numeric field refuses, by field name (the same name means the
# same thing in every config that has it). A field with choices gets one it does not have.
OUT_OF_RANGE = {
    "T": ["1"], "adv_weight": ["-1"], "attention": ["[-1]"], "augment": ["flip", "[color,blur]"],
    "batch_size": ["0"],
    "beta": ["-1"], "betas": ["[1.0, 0.9]", "[0.5, -0.1]"], "blocks": ["0"],
    "channels": ["[]", "[0]"], "checkpoint_every": ["-1"], "clip": ["-0.1"],
    "contraction_weight": ["-1"], "cycle_weight": ["-1"], "d_hidden": ["[]", "[-2]"],
    "d_layers": ["-1"], "d_lr": ["0"], "d_steps": ["0"], "d_width": ["0"], "drift": ["-1"],
    "downsample": ["0"], "min_snr_gamma": ["-1"], "lognormal_std": ["0", "-1", "inf"],
    "lognormal_mean": ["nan", "inf"],
    "drop_prob": ["1.0", "-0.1"], "dropout": ["1.0", "-0.1"], "dropout_layers": ["-1"],
    "ema_decay": ["1.0", "-0.5"], "eta": ["-0.1", "1.5"], "eval_every": ["-1"],
    "eval_seconds": ["0", "-1"], "g_hidden": ["[]"], "growth": ["0", "1"], "gp_weight": ["-1"],
    "grad_clip": ["0"],
    "greedy_steps": ["-1"], "guidance": ["-2"], "heads": ["0", "3"], "hidden": ["[0]"],
    "identity_weight": ["-1"], "k": ["0"], "keep_checkpoints": ["0"], "kl_weight": ["-1"],
    "l1_weight": ["-1"], "label_dropout": ["1.0", "-0.1"], "label_smoothing": ["0.5", "-0.1"],
    "latent_dim": ["0"], "log_every": ["-1"], "lr": ["0", "-1"], "mapping_layers": ["0"],
    "max_seconds": ["0", "-1"], "max_step_seconds": ["0", "-1"], "task": ["nonesuch"],
    "mapping_lr_mul": ["0"], "max_nan_skips": ["0"], "maxout_pieces": ["1"],
    "min_sigma": ["-1"], "minibatch_disc": ["-1"], "minibatch_disc_dim": ["0"],
    "minibatch_std": ["-1"], "mixing_prob": ["1.5", "-0.1"], "n": ["0"], "n_blocks": ["-1"],
    "noise": ["-0.1"], "noise_std": ["-0.1"], "norm_groups": ["0", "3"], "pack": ["0"],
    "pool_size": ["-1"], "prior_momentum": ["1.5", "-0.1"], "r1_weight": ["-1"],
    "replay_ratio": ["0", "1.5"], "replay_size": ["-1"], "res_blocks": ["0"],
    "rho": ["0", "1"], "rotation": ["-1"], "sample_every": ["-1"], "sample_steps": ["0"],
    "scale": ["-0.1"], "shift": ["-0.1"], "sigma": ["0"],
    "steps": ["0"], "test_fraction": ["0", "1"], "vlb_weight": ["-1"],
    "w_avg_beta": ["1.5", "-0.1"], "warmup_steps": ["-1"], "weight_decay": ["-1"],
    "width": ["0"], "schedule": ["nonesuch"], "device": ["tpu", "cuda:x"],
    "patch": ["0"], "sigma_data": ["0", "-1"], "p_mean": ["nan"], "p_std": ["0"],
    "sigma_min": ["0"], "sigma_max": ["inf", "0.001"], "sigma_rho": ["0"], "churn": ["-1"],
    "ada_target": ["0", "1"], "ada_kimg": ["0"], "ada_interval": ["0"],
    "init_std": ["0", "-0.02"],
    "prior_components": ["0", "101"], "z_weight": ["-1"], "reg_weight": ["-1"],
    "mmd_weight": ["-1"], "sigma_z": ["0"], "second_stage": ["1", "-0.1"],
    "second_warmup": ["-0.1", "1.5"],
    "second_hidden": ["[]", "[0]"], "autoencoder": ["", " "], "gamma": ["-0.1", "1.5"],
    "real_weight": ["0", "1"],
    "encoder_channels": ["[]", "[0]"], "encoder_hidden": ["[]", "[-1]"],
    "latent_width": ["0"], "latent_blocks": ["0"], "latent_steps": ["0"], "invert_steps": ["0"],
    "code_momentum": ["0", "1.5"],
    "ema_halflife_images": ["0"], "ema_rampup": ["0.5"],
}  # fmt: skip
# Fields that take every value of their type: seeds, switches, and names the data loader
# checks against the files (tested in test_data and test_cli).
ANY_VALUE = {
    "seed", "split_seed", "source", "input", "labels", "label_column", "id_column", "classes",
    "paired", "autoencoder_sha256",
}  # fmt: skip


def choices(cls, name):
    """A field's choices when its type is a Literal (optionally with None), else None."""
    hint = typing.get_type_hints(cls)[name]
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    for a in typing.get_args(hint) if union else [hint]:
        if typing.get_origin(a) is typing.Literal:
            return typing.get_args(a)
    return None


def range_cases():
    out = []
    for model, section, name, cls in config_fields():
        if name in ANY_VALUE or typing.get_type_hints(cls)[name] is bool:
            continue
        bad = ["nonesuch"] if choices(cls, name) else OUT_OF_RANGE[name]
        field = f"{section}.{name}"
        for value in bad:
            out.append(pytest.param(model, field, value, id=f"{model}.{field}={value}"))
    return out


@pytest.mark.parametrize(
    "settings,field",
    [
        (["model.attention=[7]"], "model.attention"),  # 28x28 has 3 levels
        (["model.channels=[16,32,48]", "model.heads=32"], "model.heads"),
        (["model.heads=16"], "model.heads"),  # 64x64 is sized down to widths of 8
    ],
)
def test_settings_that_depend_on_the_image_size_are_refused_before_any_folder(
    settings, field, tmp_path, capsys
):
    data = tmp_path / "big.npy"
    np.save(data, np.zeros((20, 3, 64, 64), np.uint8))
    source = "mnist5k" if "attention" in field else str(data)
    args = ["train", "ddpm", "--data", source, "--steps", "1", "--out", str(tmp_path / "r")]
    assert main([*args, *[a for o in settings for a in ("--set", o)]]) == 2
    err = capsys.readouterr().err
    assert field in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


def test_every_field_has_its_out_of_range_values_or_takes_any_value():
    missing = []
    for model, section, name, cls in config_fields():
        listed = name in OUT_OF_RANGE or name in ANY_VALUE or choices(cls, name)
        if not listed and typing.get_type_hints(cls)[name] is not bool:
            missing.append(f"{model}: {section}.{name}")
    assert not missing, missing  # a new field needs its row


@pytest.mark.parametrize("model,field,value", range_cases())
def test_an_out_of_range_value_is_refused_naming_the_field(model, field, value):
    with pytest.raises(GenzooError) as e:
        build_run_config(model, overrides=[f"{field}={value}"])
    assert field in str(e.value), str(e.value)


# Settings each valid alone that cannot go together: refused from the config alone, naming
# the field that has to change.
CLASHES = [
    ("ddpm", ["model.T=100", "model.sample_steps=200"], "model.sample_steps"),
    ("ddpm", ["model.channels=[12,24]", "model.norm_groups=8"], "model.norm_groups"),
    ("ddpm", ["model.channels=[12,24]", "model.norm_groups=4", "model.heads=8"], "model.heads"),
    ("ddpm", ["model.channels=[16,32]", "model.attention=[2]"], "model.attention"),
    ("ddpm", ["model.learn_variance=true", "model.timesteps=lognormal"], "model.timesteps"),
    ("sparse-ae", ["model.code_activation=relu", "model.sparsity=kl"], "model.sparsity"),
    ("ae", ["model.loss=bce", "model.output_activation=none"], "model.loss"),
    ("gan", ["model.loss=wasserstein", "model.label_smoothing=0.1"], "model.label_smoothing"),
    ("gan", ["model.loss=hinge", "model.label_smoothing=0.1"], "model.label_smoothing"),
    ("wgan-gp", ["model.d_norm=batch"], "model.d_norm"),
    ("gan", ["model.gp_weight=10", "model.d_norm=batch"], "model.d_norm"),
    ("wgan", ["model.clip=0"], "model.clip"),
    ("gan", ["model.g_upsample=nearest"], "model.g_upsample"),
    ("pix2pix", ["model.l1_weight=0", "model.adv_weight=0"], "model.l1_weight"),
    ("vae", ["model.binarize=true", "model.likelihood=gaussian"], "model.binarize"),
    ("ae", ["data.input=mnist5k"], "data.input"),
    ("ae", ["data.paired=false"], "data.paired"),
]


@pytest.mark.parametrize("model,settings,field", CLASHES, ids=[c[2] + "-" + c[0] for c in CLASHES])
def test_settings_that_cannot_go_together_are_refused_naming_the_field(model, settings, field):
    with pytest.raises(GenzooError) as e:
        build_run_config(model, overrides=settings)
    assert field in str(e.value), str(e.value)


# The data a model cannot take, and settings that do not fit the data: refused after the data
# is read (it says what the data is) and before the run folder exists.
MISFITS = [
    (["conv-ae", "--data", "ring8"], "image data for conv-ae"),
    (["dcgan", "--data", "moons"], "image data for dcgan"),
    (["progan", "--data", "ring8"], "image data for progan"),
    (["stylegan", "--data", "grid25"], "image data for stylegan"),
    (["gan", "--data", "ring8", "--set", "model.architecture=conv"], "model.architecture"),
    (["gan", "--data", "ring8", "--set", "model.augment=translation"], "model.augment"),
    (["cvae", "--data", "swissroll"], "labelled data"),
    (["cddpm", "--data", "swissroll"], "labelled data"),
    (["cgan", "--data", "swissroll"], "labelled data"),
    (["pix2pix", "--data", "digits"], "two image domains"),
    (["cyclegan", "--data", "mnist5k"], "two image domains"),
    (["ae", "--data", "ring8", "--set", "model.latent_dim=8"], "model.latent_dim"),
    (["ae", "--data", "digits", "--set", "train.batch_size=5000"], "train.batch_size"),
    (["ae", "--data", "digits", "--set", "data.noise=0.1"], "data.noise"),
    (["ae", "--data", "digits", "--set", "data.classes=[ten]"], "data.classes"),
    (["progan", "--data", "digits", "--set", "model.channels=[8,8,8,8,8,8]"], "model.channels"),
    (["denoising-ae", "--data", "ring8", "--set", "model.corruption=affine"], "model.corruption"),
    (["cgan", "--data", "digits", "--set", "model.conditioning=projection", "--set",
      "model.pack=2"], "model.pack"),
]  # fmt: skip


@pytest.mark.parametrize("args,message", MISFITS, ids=[" ".join(m[0][:3]) for m in MISFITS])
def test_data_a_model_cannot_take_exits_2_before_any_folder(
    args, message, capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert main(["train", *args, "--steps", "1", "--out", "run"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Untrained model folders: enough to ask them for things they cannot do."""
    from genzoo.train.checkpoint import save_model_folder

    root = tmp_path_factory.mktemp("models")
    out = {}
    for name in ("ae", "gan", "cvae", "ddpm", "cddpm"):
        ds = genzoo.load_dataset("digits")
        model = genzoo.build_model(name, ds.info(), tiny(name, ds.kind), seed=0)
        model.transform = ds.transform(model.data_range())
        save_model_folder(root / name / "model", model)
        out[name] = root / name / "model"
    return out


# Sampling and using a model: options the model has no use for, and values beyond what it has.
REQUESTS = [
    (["sample", "ddpm", "--steps", "21"], "--steps 21"),  # tiny() has T = 20
    (["sample", "ddpm", "--sampler", "dpm-solver", "--steps", "21"], "--steps 21"),
    (["sample", "ddpm", "--sampler", "dpm-solver", "--eta", "0.5"], "--eta"),
    (["sample", "ddpm", "--eta", "1.5"], "--eta"),
    (["sample", "ddpm", "--truncation", "0.5"], "--truncation"),
    (["sample", "ddpm", "--labels", "3"], "--labels"),
    (["sample", "ddpm", "--guidance", "3"], "--guidance"),
    (["sample", "ae", "--sampler", "ddim"], "--sampler"),
    (["sample", "gan", "--truncation", "0"], "truncation 0.0"),
    (["sample", "gan", "--mix", "coarse"], "--mix"),
    (["sample", "cddpm", "--labels", "10"], "--labels"),
    (["sample", "cvae", "--labels", "x"], "--labels"),
    (["sample", "gan", "--n", "5000"], "--n 5000"),  # a picture of 5,000
    (["sample", "gan", "--n", "100000000"], "--n"),
    (["reconstruct", "gan"], "cannot reconstruct"),
    (["translate", "ae"], "does not translate"),
    (["interpolate", "ddpm", "--steps", "100"], "--steps"),
]


@pytest.mark.parametrize("args,message", REQUESTS, ids=[" ".join(r[0]) for r in REQUESTS])
def test_requests_a_model_cannot_serve_exit_2_in_one_line(
    folders, args, message, capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    command, model, *rest = args
    assert main([command, str(folders[model]), *rest, "--out", "out.png"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) <= 2, err  # click: usage + error
    assert "Traceback" not in err and not (tmp_path / "out.png").exists()


def test_conditional_model_on_examples_without_labels_is_refused(folders, capsys, tmp_path):
    unlabelled = tmp_path / "x.npy"
    np.save(unlabelled, np.zeros((4, 1, 8, 8), np.float32))
    argv = ["reconstruct", str(folders["cvae"]), "--input", str(unlabelled)]
    assert main([*argv, "--out", str(tmp_path / "r.png")]) == 2
    assert "needs the examples' labels" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args", [["augment", "gan", "--n", "1000", "--out", "a.npz"], ["eval", "gan", "--n", "1000"]]
)
def test_requests_beyond_the_memory_limit_are_refused_before_they_start(
    folders, args, capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GENZOO_MAX_DATA_BYTES", str(400_000))  # digits itself needs 368,000
    command, model, *rest = args
    assert main([command, str(folders[model]), *rest]) == 2
    err = capsys.readouterr().err
    assert "--n 1000" in err and "GENZOO_MAX_DATA_BYTES" in err, err
    assert not list(tmp_path.iterdir())
    monkeypatch.setenv("GENZOO_MAX_DATA_BYTES", str(10**9))
    assert main([command, str(folders[model]), *rest, *(["--no-save"] * (command == "eval"))]) == 0


def test_a_picture_of_more_reconstructions_than_it_can_show_is_refused(folders, capsys, tmp_path):
    many = tmp_path / "many.npy"
    np.save(many, np.zeros((5000, 1, 8, 8), np.float32))
    argv = ["reconstruct", str(folders["ae"]), "--input", str(many), "--n", "5000"]
    assert main([*argv, "--out", str(tmp_path / "r.png")]) == 2
    assert "--n 5000" in capsys.readouterr().err and not (tmp_path / "r.png").exists()
    assert main([*argv, "--out", str(tmp_path / "r.npy")]) == 0  # an array takes any number
    assert np.load(tmp_path / "r.npy").shape == (5000, 1, 8, 8)


# Every option of every command that uses a model, given a value it cannot take (flags
# without values excepted): `RUN` stands for the model folder named beside it.
OPTIONS = [
    ("sample", "ae", ["--n", "0"], "--n"),
    ("sample", "ae", ["--out", "x.gif"], "--out"),
    ("sample", "ae", ["--seed", "x"], "--seed"),
    ("sample", "ae", ["--nrow", "0"], "--nrow"),
    ("sample", "cvae", ["--labels", "3,x"], "--labels"),
    ("sample", "gan", ["--truncation", "-1"], "truncation"),
    ("sample", "ae", ["--mix", "coarse"], "--mix"),
    ("sample", "ddpm", ["--sampler", "euler"], "--sampler"),
    ("sample", "ddpm", ["--steps", "0"], "--steps"),
    ("sample", "ddpm", ["--eta", "-1"], "--eta"),
    ("sample", "cddpm", ["--guidance", "-1"], "--guidance"),
    ("sample", "gan", ["--trajectory"], "--trajectory"),
    ("sample", "ae", ["--device", "tpu"], "tpu"),
    ("reconstruct", "ae", ["--device", "cuda:x"], "cuda:x"),
    ("eval", "ae", ["--metrics", "beauty"], "beauty"),
    ("eval", "ae", ["--n", "5"], "--n"),
    ("eval", "ae", ["--features", "none.safetensors"], "none.safetensors"),
    ("eval", "cvae", ["--nll-samples", "0"], "--nll-samples"),
    ("eval", "ae", ["--data", "nowhere.npz"], "nowhere.npz"),
    ("reconstruct", "ae", ["--out", "x.gif"], "--out"),
    ("reconstruct", "ae", ["--input", "none.npy"], "none.npy"),
    ("reconstruct", "ae", ["--split", "val"], "--split"),
    ("reconstruct", "ae", ["--n", "0"], "--n"),
    ("encode", "ae", ["--out", "x.png"], "--out"),
    ("encode", "ae", ["--input", "none.npy"], "none.npy"),
    ("encode", "gan", [], "gan"),
    ("interpolate", "ae", ["--steps", "1"], "--steps"),
    ("interpolate", "ae", ["--mode", "spiral"], "--mode"),
    ("interpolate", "ae", ["--a", "100000"], "--a"),
    ("interpolate", "ae", ["--label", "3"], "--label"),
    ("augment", "ae", ["--n", "0"], "--n"),
    ("augment", "ae", ["--n", "5", "--out", "x.gif"], "--out"),
    ("augment", "gan", ["--n", "5", "--labels", "3"], "--labels"),
    ("translate", "ae", [], "does not translate"),
    ("translate", "ae", ["--direction", "up"], "--direction"),
    ("traverse", "ae", ["--dims", "0-x"], "--dims"),
    ("traverse", "ae", ["--span", "0"], "--span"),
    ("traverse", "ae", ["--steps", "1"], "--steps"),
    ("arithmetic", "ae", ["--n", "33"], "--n"),
    ("arithmetic", "gan", [], "gan"),
    ("manipulate", "ae", [], "--attribute"),
    ("manipulate", "ae", ["--attribute", "heavy"], "--attribute heavy"),
    ("manipulate", "ae", ["--attribute", "class:nonesuch"], "nonesuch"),
    ("manipulate", "ae", ["--attribute", "ink", "--span", "0"], "--span"),
    ("manipulate", "ae", ["--attribute", "ink", "--steps", "1"], "--steps"),
    ("manipulate", "ae", ["--attribute", "ink", "--input", "100000"], "--input"),
    ("manipulate", "gan", ["--attribute", "ink"], "gan"),
    ("manipulate", "ae", ["--attribute", "ink", "--input", "class:1"], "class mean"),
    ("components", "ae", [], "linear"),
    ("denoise", "ae", ["--input", "none.npy"], "none.npy"),
    ("denoise", "ae", ["--input", "x.npy", "--add-noise", "-1"], "--add-noise"),
    ("embed", "ae", ["--split", "val"], "--split"),
    ("embed", "ae", ["--data", "nowhere.npz"], "nowhere.npz"),
    ("embed", "ae", ["--codes", "codes.png"], "--codes"),
    ("pretrain", "ae", ["--labels-per-class", "0"], "--labels-per-class"),
    ("pretrain", "ae", ["--data", "nowhere.npz"], "nowhere.npz"),
    ("score", "ae", ["--split", "val"], "--split"),
    ("score", "ae", ["--fpr", "2"], "--fpr"),
    ("score", "ae", ["--normal", "ten"], "ten"),
    ("score", "ae", ["--out", "x.gif"], "--out"),
    ("report", "ae", ["--out", "x.txt"], "--out"),
    ("info", "nowhere", [], "nowhere"),
]
NEEDS_OUT = {"sample": "made.png", "reconstruct": "made.png", "interpolate": "made.png",
             "augment": "made.npz", "translate": "made.png", "traverse": "made.png",
             "arithmetic": "made.png", "embed": "made.png", "encode": "made.npy",
             "denoise": "made.npy", "manipulate": "made.png"}  # fmt: skip


@pytest.mark.parametrize(
    "command,model,args,names", OPTIONS, ids=[f"{o[0]} {' '.join(o[2])}" for o in OPTIONS]
)
def test_every_option_with_a_value_it_cannot_take_exits_2_in_one_line(
    folders, command, model, args, names, capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "x.npy", np.zeros((4, 1, 8, 8), np.float32))
    before = set(tmp_path.iterdir())
    run = str(folders.get(model, tmp_path / model))
    out = [] if "--out" in args or command not in NEEDS_OUT else ["--out", NEEDS_OUT[command]]
    assert main([command, run, *args, *out]) == 2
    err = capsys.readouterr().err
    assert names in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) <= 2, err  # click: usage + error; ours: one line
    assert set(tmp_path.iterdir()) == before  # nothing written
