"""Two-domain data (paired and unpaired), pix2pix and CycleGAN losses, the trainer's input
stream, `genzoo translate` and the translation metric."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import genzoo
from genzoo.cli.main import main
from genzoo.errors import ConfigError, DataError
from genzoo.models import build_model
from genzoo.train import TrainConfig, Trainer

TINY_P2P = {"channels": [4, 8, 8], "d_width": 4}
TINY_CYCLE = {"width": 4, "n_blocks": 1, "d_width": 4, "pool_size": 8}


# ---------------------------------------------------------------- data
def test_paired_tasks_split_inputs_with_their_targets():
    ds = genzoo.load_dataset("mnist5k-lowres")
    assert ds.paired and ds.input.x_test.shape == ds.x_test.shape
    assert np.array_equal(ds.input.y_test, ds.y_test)
    # each input is its own target's 4x4 block means, shown at 28x28
    means = ds.x_test[:5].reshape(5, 1, 7, 4, 7, 4).mean((3, 5)).round()
    assert np.array_equal(ds.input.x_test[:5, :, ::4, ::4], means)
    assert ds.info().input.source == "mnist5k-lowres:input"


def test_unpaired_domains_split_apart():
    ds = genzoo.load_dataset("digits2mnist")
    assert not ds.paired
    assert len(ds.input.x_train) + len(ds.input.x_test) == 1797
    assert len(ds.x_train) + len(ds.x_test) == 5000
    assert ds.input.x_train.shape[1:] == (1, 28, 28) and ds.input.x_train.max() > 200
    rows = ds.inputs_for("test")  # the input test split cycled to the output's length
    n_in = len(ds.input.x_test)
    assert len(rows) == len(ds.x_test) and np.array_equal(rows[n_in : 2 * n_in], ds.input.x_test)


def _folder(root, names, size=8, value=100):
    root.mkdir()
    for n in names:
        Image.fromarray(np.full((size, size), value, np.uint8)).save(root / n)
    return str(root)


def test_user_folders_pair_by_file_name(tmp_path):
    a = _folder(tmp_path / "a", [f"{i}.png" for i in range(10)], value=50)
    b = _folder(tmp_path / "b", [f"{i}.png" for i in range(10)], value=200)
    ds = genzoo.load_dataset(b, input=a)
    assert ds.paired and (ds.input.x_train == 50).all() and (ds.x_train == 200).all()
    c = _folder(tmp_path / "c", [f"x{i}.png" for i in range(10)])
    with pytest.raises(DataError, match=r"same file names: .* has 0.png where .* has x0.png"):
        genzoo.load_dataset(c, input=a)
    d = _folder(tmp_path / "d", [f"{i}.png" for i in range(12)])
    with pytest.raises(DataError, match="has 12 examples and .* 10; paired data needs one input"):
        genzoo.load_dataset(b, input=d)
    assert not genzoo.load_dataset(b, input=d, paired=False).paired


def test_domains_and_models_must_match():
    with pytest.raises(ConfigError, match="data.paired=True is not allowed: unset without"):
        genzoo.load_dataset("digits", paired=True)
    pairs = genzoo.load_dataset("digits", input="digits")
    with pytest.raises(ConfigError, match="one domain for vae; two domains are for the trans"):
        build_model("vae", pairs.info())
    with pytest.raises(ConfigError, match="two image domains for pix2pix"):
        build_model("pix2pix", genzoo.load_dataset("digits").info())
    with pytest.raises(DataError, match="translation needs two image domains"):
        genzoo.load_dataset("digits", input="ring8")
    with pytest.raises(ConfigError, match="identity_weight.*0 when the domains differ"):
        build_model("cyclegan", _rgb_pairs().info(), {**TINY_CYCLE, "identity_weight": 0.5})
    # left unset, the identity term is on where it can be, and off where it cannot
    assert build_model("cyclegan", _rgb_pairs().info(), TINY_CYCLE).config.identity_weight == 0
    same = genzoo.load_dataset("digits", input="digits").info()
    assert build_model("cyclegan", same, TINY_CYCLE).config.identity_weight == 0.5


def _rgb_pairs():
    ds = genzoo.load_dataset("digits", input="digits")
    ds.x_train = np.repeat(ds.x_train, 3, 1)
    ds.x_test = np.repeat(ds.x_test, 3, 1)
    return ds


# ---------------------------------------------------------------- losses
def _model(name, cfg, ds):
    model = build_model(name, ds.info(), cfg, seed=0)
    model.transform = ds.transform(model.data_range())
    model.input_transform = ds.input.transform(model.data_range())
    return model


def test_pix2pix_objective_is_adversarial_plus_lambda_l1():
    ds = genzoo.load_dataset("digits", input="digits")
    model = _model("pix2pix", {**TINY_P2P, "dropout": 0.0}, ds).eval()
    batch = {"x": torch.rand(6, 1, 8, 8) * 2 - 1, "x_in": torch.rand(6, 1, 8, 8) * 2 - 1}
    with torch.no_grad():
        fake = model.translate(batch["x_in"])
        out = model.critic(batch["x_in"], fake)
        g = model.g_loss(batch)
        l1 = (fake - batch["x"]).abs().mean()
        adv = torch.nn.functional.softplus(-out).mean()  # -log D(x, G(x))
        assert torch.allclose(g.loss, 100 * l1 + adv, atol=1e-5)
        real = model.critic(batch["x_in"], batch["x"])
        d = 0.5 * (
            torch.nn.functional.softplus(-real).mean() + torch.nn.functional.softplus(out).mean()
        )
        assert torch.allclose(model.d_loss(batch).loss, d, atol=1e-6)
    l1_only = _model("pix2pix", {**TINY_P2P, "adv_weight": 0.0}, ds)
    assert l1_only.discriminator is None and [p.name for p in l1_only.phases()] == ["g"]


def test_cyclegan_objective_and_cycle_of_identities():
    ds = genzoo.load_dataset("digits", input="digits")
    model = _model("cyclegan", {**TINY_CYCLE, "pool_size": 0}, ds).eval()
    a, b = torch.rand(4, 1, 8, 8) * 2 - 1, torch.rand(4, 1, 8, 8) * 2 - 1
    with torch.no_grad():
        out = model.g_loss({"x_in": a, "x": b})
        G, F = model.g_ab, model.g_ba
        lsq = lambda d: (d - 1).pow(2).mean()  # noqa: E731
        adv = lsq(model.d_b(G(a))) + lsq(model.d_a(F(b)))
        cyc = (F(G(a)) - a).abs().mean() + (G(F(b)) - b).abs().mean()
        idt = (G(b) - b).abs().mean() + (F(a) - a).abs().mean()
        assert torch.allclose(out.loss, adv + 10 * cyc + 5 * idt, atol=1e-5)
        # generators that are the identity have no cycle error
        model.g_ab.forward = model.g_ba.forward = lambda x: x
        assert model.cycle_errors(a, b) == {"cycle_a": 0.0, "cycle_b": 0.0}


# ---------------------------------------------------------------- training
def test_unpaired_training_draws_inputs_apart_and_resumes_exactly(tmp_path):
    ds = genzoo.load_dataset("digits", input="digits", paired=False)
    cfg = dict(batch_size=16, log_every=0, eval_every=0, sample_every=0, tensorboard=False)
    straight = _model("cyclegan", TINY_CYCLE, ds)
    Trainer(straight, ds, TrainConfig(steps=4, **cfg), tmp_path / "a", console=False).fit()
    t = Trainer(straight, ds, TrainConfig(steps=4, **cfg), console=False)
    t._setup()
    b1 = t.batch(t.stream.next())
    assert not torch.equal(b1["x_in"], b1["x"])  # the input batch is drawn on its own
    assert "stream_in" in t.state_dict()
    first = _model("cyclegan", TINY_CYCLE, ds)
    Trainer(
        first, ds, TrainConfig(steps=2, checkpoint_every=2, **cfg), tmp_path / "b", console=False
    ).fit()
    resumed = _model("cyclegan", TINY_CYCLE, ds)
    Trainer(resumed, ds, TrainConfig(steps=4, **cfg), tmp_path / "b", console=False).fit(
        resume=True
    )
    for (k, p), (_, q) in zip(
        straight.state_dict().items(), resumed.state_dict().items(), strict=True
    ):
        assert torch.equal(p, q), k


# ---------------------------------------------------------------- command line
@pytest.fixture(scope="module")
def p2p_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("p2p") / "run"
    args = ["train", "pix2pix", "--data", "digits", "--steps", "6", "--out", str(out)]
    args += ["--set", "data.input=digits", "--set", "model.channels=[4,8,8]"]
    assert main([*args, "--set", "model.d_width=4", "--set", "train.batch_size=32"]) == 0
    return out


def test_translate_writes_rows_and_arrays(p2p_run, tmp_path, capsys):
    assert main(["translate", str(p2p_run), "--out", str(tmp_path / "t.png"), "--n", "5"]) == 0
    im = Image.open(tmp_path / "t.png")
    assert im.size[1] > 3 * 28  # inputs, translations, targets (upscaled rows)
    folder = _folder(tmp_path / "mine", ["a.png", "b.png", "c.png"], value=16)
    assert (
        main(["translate", str(p2p_run), "--input", folder, "--out", str(tmp_path / "t.npy")]) == 0
    )
    out = np.load(tmp_path / "t.npy")
    assert out.shape == (3, 1, 8, 8) and out.min() >= 0 and out.max() <= 16
    capsys.readouterr()
    wrong = _folder(tmp_path / "big", ["a.png"], size=12)
    assert (
        main(["translate", str(p2p_run), "--input", wrong, "--out", str(tmp_path / "x.png")]) == 2
    )
    assert (
        "examples of shape (1, 12, 12) do not fit a model trained on shape (1, 8, 8)"
        in capsys.readouterr().err
    )
    assert (
        main(["translate", str(p2p_run), "--direction", "b2a", "--out", str(tmp_path / "x.png")])
        == 2
    )
    assert "translates one way only" in capsys.readouterr().err


def test_eval_reports_translation_metrics(p2p_run, capsys):
    assert main(["eval", str(p2p_run), "--metrics", "translation", "--json"]) == 0
    import json

    res = json.loads(capsys.readouterr().out)
    values = res["metrics"]["translation"]["values"]
    assert {"psnr", "ssim", "psnr_input", "ssim_input", "class_agreement"} <= set(values)
    assert values["psnr_input"] == float("inf") or values["psnr_input"] > 40  # identity task


def test_previews_show_targets_only_for_paired_domains():
    from genzoo.viz.grid import preview

    rows = {}
    for paired in (True, False):
        ds = genzoo.load_dataset("digits", input="digits", paired=paired)
        model = _model("cyclegan", TINY_CYCLE, ds).eval()
        x = model.to_model(ds.x_test[:8])
        x_in = model.to_model_input(ds.inputs_for("test")[:8])
        rows[paired] = (preview(model, x, x_in_ref=x_in).height - 2) // (32 + 2)  # 8x8 -> 32
    assert rows == {True: 3, False: 2}  # inputs, translations[, targets]


def test_evaluation_scores_translations_against_targets_only_when_paired():
    from genzoo.train.evaluation import diagnosis

    found = {}
    for paired in (True, False):
        ds = genzoo.load_dataset("digits", input="digits", paired=paired)
        model = _model("cyclegan", TINY_CYCLE, ds)
        x = model.to_model(ds.x_test[:16])
        x_in = model.to_model_input(ds.inputs_for("test")[:16])
        found[paired] = diagnosis(model, {"x": x, "x_in": x_in}, seed=0).values
    assert {"cycle_a", "cycle_b", "psnr", "ssim"} == set(found[True])
    assert {"cycle_a", "cycle_b"} == set(found[False])
    # an identity translation of paired copies scores a perfect SSIM
    ds = genzoo.load_dataset("digits", input="digits")
    model = _model("cyclegan", TINY_CYCLE, ds)
    model.g_ab.forward = lambda v: v
    x = model.to_model(ds.x_test[:16])
    assert diagnosis(model, {"x": x, "x_in": x}, seed=0).values["ssim"] == pytest.approx(1.0)
