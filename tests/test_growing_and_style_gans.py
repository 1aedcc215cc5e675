"""ProGAN's growth (schedule, fade-in continuity, per-stage phases) and StyleGAN's styles
(mixing, truncation in W, the running mean of w, noise, the mixing grid)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import genzoo
from genzoo.errors import ConfigError, GenzooError
from genzoo.models import build_model
from genzoo.models.gan.progan import (
    fade_alpha,
    growth,
    growth_steps,
    resize,
    stage_of,
    stage_start,
)
from genzoo.models.gan.stylegan import layer_groups, parse_layers
from genzoo.train import TrainConfig, Trainer
from genzoo.train.checkpoint import load, save_model_folder


@pytest.fixture(scope="module")
def digits():
    return genzoo.load_dataset("digits")  # 1x8x8


def progan(ds, horizon=24, **kw):
    """A 3-resolution ProGAN whose growth is planned for a run of `horizon` steps: with the
    default share 0.5, spans of 3 steps (stage 0 on [0, 3), stage 1 on [3, 9), stage 2 from 9,
    grown at 12)."""
    cfg = {"channels": [8, 8, 4], "latent_dim": 4, **kw}
    model = build_model("progan", ds.info(), cfg, seed=0)
    model.transform = ds.transform(model.data_range())
    model.growth_plan.fill_(horizon)
    return model


def stylegan(ds, **kw):
    cfg = {"channels": [8, 4], "latent_dim": 8, "mapping_layers": 2, **kw}
    model = build_model("stylegan", ds.info(), cfg, seed=0)
    model.transform = ds.transform(model.data_range())
    return model


# ---------------------------------------------------------------- the growth schedule
def test_growth_schedule_stages_and_fade():
    # stable 3, fade 4, 3 stages: stage 0 on [0, 3), stage 1 on [3, 10), stage 2 from 10
    assert [stage_start(k, 3, 4) for k in range(3)] == [0, 3, 10]
    assert [stage_of(s, 3, 3, 4) for s in (0, 2, 3, 9, 10, 100)] == [0, 0, 1, 1, 2, 2]
    assert [fade_alpha(s, 1, 3, 4) for s in (3, 4, 5, 6, 7, 9)] == [0, 0.25, 0.5, 0.75, 1, 1]
    assert growth(0, 3, 3, 4) == (0, 1.0)
    assert growth(12, 3, 3, 4) == (2, 0.5)
    assert growth(10**6, 3, 3, 4) == (2, 1.0)
    assert growth(5, 3, 3, 0) == (1, 1.0)  # no fade: a new stage starts fully in


def test_growth_is_a_share_of_the_run_so_any_length_trains_every_stage():
    assert growth_steps(2000, 3, 0.5) == (250, 250)  # grown at 1,000 of 2,000
    assert growth_steps(24, 3, 0.5) == (3, 3)
    assert growth_steps(100, 1, 0.5) == (100, 0)  # one resolution: nothing grows
    for total in (20, 137, 2000, 10**5):
        for stages in (2, 3, 4):
            stable, fade = growth_steps(total, stages, 0.5)
            last = stage_start(stages - 1, stable, fade)
            assert 0 < last < total / 2  # every resolution trains, the last the longest
    # a run shorter than a step per span leaves the last stages out (the trainer says so)
    assert stage_start(3, *growth_steps(4, 4, 0.5)) >= 4


def test_phases_follow_the_schedule_one_pair_per_resolution(digits):
    model = progan(digits)
    assert model.sizes == [(2, 2), (4, 4), (8, 8)]
    phases = model.phases()
    assert [p.name for p in phases] == ["d.2x2", "g.2x2", "d.4x4", "g.4x4", "d.8x8", "g.8x8"]
    assert [(p.start, p.stop) for p in phases[::2]] == [(0, 3), (3, 9), (9, None)]
    assert model.grown_at() == 12
    # a stage's phase owns the layers it runs: the new block and both read-outs of its fade
    g1 = {id(p) for p in phases[3].params}
    gen = model.generator
    assert all(id(p) in g1 for p in gen.to_rgb[0].parameters())
    assert all(id(p) in g1 for p in gen.blocks[1].parameters())
    assert not any(id(p) in g1 for p in gen.blocks[2].parameters())


def test_too_many_resolutions_are_refused_by_name(digits):
    with pytest.raises(ConfigError, match=r"model.channels.*at most 4 entries for 8x8"):
        progan(digits, channels=[4, 4, 4, 4, 4])


# ---------------------------------------------------------------- fade-in continuity
def test_resize_pooling_undoes_nearest_upsampling():
    v = torch.randn(2, 3, 7, 7)
    assert torch.allclose(resize(resize(v, (28, 28)), (7, 7)), v, atol=1e-6)
    assert torch.allclose(resize(resize(v, (14, 14)), (7, 7)), v, atol=1e-6)


@pytest.mark.parametrize("k", [1, 2])
def test_a_new_stage_starts_where_the_previous_one_ended(k, digits):
    """At alpha = 0 the grown networks compute exactly what the previous stage computed."""
    model = progan(digits).eval()
    z = torch.randn(5, 4)
    x = torch.randn(5, 1, 8, 8)
    g_prev = resize(model.generator(z, k - 1, 1.0), model.sizes[k])
    assert torch.allclose(model.generator(z, k, 0.0), g_prev, atol=1e-6)
    d_prev = model.discriminator(x, k - 1, 1.0)
    assert torch.allclose(model.discriminator(x, k, 0.0), d_prev, atol=1e-5)
    # and at alpha = 1 the old read-out has no say
    with torch.no_grad():
        model.generator.to_rgb[k - 1].weight.add_(1.0)
        model.discriminator.from_rgb[k - 1][0].weight.add_(1.0)
    assert not torch.allclose(model.generator(z, k, 0.0), g_prev, atol=1e-3)
    full = model.generator(z, k, 1.0)
    model.generator.to_rgb[k - 1].weight.data.sub_(1.0)
    assert torch.equal(model.generator(z, k, 1.0), full)


def test_reals_are_blended_between_resolutions_during_a_fade(digits):
    model = progan(digits)
    x = torch.randn(4, 1, 8, 8)
    model.active = (2, 0.0)
    assert torch.allclose(model.real_view(x), resize(resize(x, (4, 4)), (8, 8)))
    model.active = (2, 1.0)
    assert torch.equal(model.real_view(x), x)
    model.active = (1, 0.5)
    half = 0.5 * resize(resize(x, (2, 2)), (4, 4)) + 0.5 * resize(x, (4, 4))
    assert torch.allclose(model.real_view(x), resize(half, (8, 8)), atol=1e-6)


def test_a_trained_model_samples_at_the_stage_it_reached_even_after_loading(digits, tmp_path):
    model = progan(digits)
    cfg = TrainConfig(steps=10, batch_size=16, log_every=0, tensorboard=False)
    Trainer(model, digits, cfg, console=False).fit()
    # planned for the run's 10 steps: spans of 1 step (int(0.5 * 10 / 4)); the last update
    # ran at step 9: stage 2 since step 3, faded in since step 4
    assert int(model.growth_plan) == 10 and model.schedule() == (1, 1)
    assert model.growth_state.tolist() == [2.0, 1.0]
    model.growth_state.copy_(torch.tensor([2.0, 0.25]))  # as a run stopped mid-fade leaves it
    save_model_folder(tmp_path / "m", model)
    loaded = load(tmp_path / "m")
    assert loaded.now() == (2, 0.25) and int(loaded.growth_plan) == 10
    g = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    assert torch.equal(model.eval().sample(6, generator=g()), loaded.sample(6, generator=g()))
    # evaluating a loaded model runs each stage as trained, not at the start of its fade
    stage, alpha = loaded.now()
    assert loaded.eval()._alpha(stage) == alpha and loaded._alpha(0) == 1.0


def test_a_run_too_short_for_every_stage_trains_what_fits_and_says_so(digits, capsys):
    model = progan(digits)
    cfg = TrainConfig(steps=2, batch_size=16, log_every=0, tensorboard=False)
    Trainer(model, digits, cfg, console=True).fit()  # stage 2 would start at step 3
    assert "phase d.8x8 of progan does not run in a run of 2 steps" in capsys.readouterr().err
    assert model.growth_state.tolist()[0] == 1.0


def test_a_resumed_run_keeps_the_growth_it_planned(digits, tmp_path):
    def fit(steps, resume):
        model = progan(digits)
        cfg = TrainConfig(steps=steps, batch_size=16, log_every=0, tensorboard=False,
                          checkpoint_every=4, final_eval=False)  # fmt: skip
        Trainer(model, digits, cfg, out=tmp_path / "run", console=False).fit(resume=resume)
        return model

    first = fit(8, False)
    longer = fit(40, True)  # asks for more steps: the growth keeps its plan of 8
    assert int(first.growth_plan) == int(longer.growth_plan) == 8


# ---------------------------------------------------------------- styles
def test_layer_groups_partition_the_layers_coarse_to_fine():
    for n in (2, 4, 6, 8, 10, 18):
        groups = layer_groups(n)
        assert [i for g in groups.values() for i in g] == list(range(n))
    assert {k: list(v) for k, v in layer_groups(6).items()} == {
        "coarse": [0, 1],
        "middle": [2, 3],
        "fine": [4, 5],
    }
    assert parse_layers("2-3", 6) == range(2, 4)
    with pytest.raises(GenzooError, match="choose coarse, middle, fine or a layer range"):
        parse_layers("4-9", 6)
    with pytest.raises(GenzooError, match="no middle ones"):
        parse_layers("middle", 2)


def test_style_mixing_in_training_crosses_two_latents(digits):
    model = stylegan(digits, mixing_prob=1.0)
    g = torch.Generator().manual_seed(0)
    ws = model.styles(64, g, mixing=1.0)
    assert ws.shape == (64, 4, 8)
    same = (ws[:, :1] == ws).all(2)  # (N, L): which layers still take the first w
    assert not same.all()  # every example crosses over somewhere...
    assert same[:, 0].all()  # ...after the first layer, never before it
    assert (same.sum(1) >= 1).all() and (same.int().diff(dim=1) <= 0).all()
    plain = model.styles(8, g)
    assert (plain == plain[:, :1]).all()


def test_w_avg_moves_only_with_generator_updates(digits):
    model = stylegan(digits).train()
    batch = {"x": torch.rand(8, 1, 8, 8) * 2 - 1}
    model.d_loss(batch)
    assert model.w_avg.abs().sum() == 0
    model.g_loss(batch)
    moved = model.w_avg.clone()
    assert moved.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        model.g_loss(batch)  # evaluating does not move it
    assert torch.equal(model.w_avg, moved)


def test_truncation_in_w(digits):
    model = stylegan(digits, noise=False).eval()
    model.w_avg.normal_()
    g = lambda: torch.Generator().manual_seed(2)  # noqa: E731
    x = model.sample(6, generator=g())
    assert torch.equal(model.sample(6, generator=g(), truncation=1.0), x)
    mean = model.sample(6, generator=g(), truncation=0.0)  # every sample is the mean style
    assert torch.allclose(mean, mean[:1].expand_as(mean), atol=1e-6)
    ws = model.styles(6, g())
    manual = model.synthesize(model.w_avg + 0.5 * (ws - model.w_avg)).clamp(-1, 1)
    assert torch.allclose(model.sample(6, generator=g(), truncation=0.5), manual, atol=1e-6)


def test_noise_inputs_vary_detail_once_their_scales_are_learned(digits):
    model = stylegan(digits).eval()
    ws = model.styles(3, torch.Generator().manual_seed(0))
    g = lambda s: torch.Generator().manual_seed(s)  # noqa: E731
    assert torch.equal(model.synthesize(ws, g(1)), model.synthesize(ws, g(2)))  # scales start at 0
    for layer in model.generator.synthesis.layers:
        layer.noise.weight.data.fill_(0.5)
    assert not torch.allclose(model.synthesize(ws, g(1)), model.synthesize(ws, g(2)))
    assert torch.equal(model.synthesize(ws, g(1)), model.synthesize(ws, g(1)))


def test_mixing_grid_rows_columns_and_cells(digits):
    model = stylegan(digits).eval()
    for layer in model.generator.synthesis.layers:  # make every part of the style matter
        layer.noise.weight.data.fill_(0.3)
        layer.adain.style.weight.data.mul_(5)
    g = lambda: torch.Generator().manual_seed(4)  # noqa: E731
    grid = model.mixing_grid(3, 2, range(0, 4), generator=g())  # all layers from B
    assert grid.shape == (3 * 4, 1, 8, 8)
    rows = grid.view(3, 4, 1, 8, 8)
    assert (rows[0, 0] == -1).all()
    # every layer taken from source B: each cell is B's image, the left column
    for b in range(2):
        for a in range(3):
            assert torch.allclose(rows[1 + b, 1 + a], rows[1 + b, 0], atol=1e-5)
    coarse = model.mixing_grid(3, 2, range(0, 2), generator=g()).view(3, 4, 1, 8, 8)
    assert torch.equal(coarse[0], rows[0]) and torch.equal(coarse[1:, 0], rows[1:, 0])
    assert not torch.allclose(coarse[1, 1], coarse[0, 1], atol=1e-3)  # B's coarse styles show
    assert not torch.allclose(coarse[1, 1], coarse[1, 0], atol=1e-3)  # A's fine ones too


# ---------------------------------------------------------------- command line and report
@pytest.fixture(scope="module")
def style_run(tmp_path_factory):
    from genzoo.cli.main import main

    out = tmp_path_factory.mktemp("sg") / "run"
    args = ["train", "stylegan", "--data", "digits", "--steps", "20", "--out", str(out)]
    args += ["--set", "model.channels=[8,4]", "--set", "model.latent_dim=8"]
    assert main([*args, "--set", "train.eval_every=0", "--set", "train.batch_size=32"]) == 0
    return out


def test_sample_mix_writes_the_mixing_grid(style_run, tmp_path, capsys):
    from PIL import Image

    from genzoo.cli.main import main

    assert (
        main(
            [
                "sample",
                str(style_run),
                "--mix",
                "fine",
                "--n",
                "3",
                "--out",
                str(tmp_path / "m.npy"),
            ]
        )
        == 0
    )
    grid = np.load(tmp_path / "m.npy")
    assert grid.shape == (4, 4, 1, 8, 8)  # (1 + B sources) x (1 + A sources)
    assert (
        main(["sample", str(style_run), "--mix", "coarse", "--out", str(tmp_path / "m.png")]) == 0
    )
    assert Image.open(tmp_path / "m.png").size[0] > 6 * 28  # 6 images across, upscaled
    capsys.readouterr()
    assert (
        main(["sample", str(style_run), "--mix", "middle", "--out", str(tmp_path / "x.png")]) == 2
    )
    assert "no middle ones" in capsys.readouterr().err


def test_mix_needs_a_style_based_model(tmp_path, capsys):
    from genzoo.cli.main import main

    out = tmp_path / "pg"
    args = ["train", "progan", "--data", "digits", "--steps", "8", "--out", str(out)]
    args += ["--set", "model.channels=[8,4]", "--set", "model.growth=0.75"]
    assert main([*args, "--set", "train.sample_every=2"]) == 0
    capsys.readouterr()
    assert main(["sample", str(out), "--mix", "coarse", "--out", str(tmp_path / "x.png")]) == 2
    assert "model progan has no per-layer styles to mix" in capsys.readouterr().err
    from genzoo.viz.report import render_report

    html = render_report([out])
    assert "Growth schedule" in html and "Growth stages" in html
    assert html.count("<figcaption>the last sample grid") == 1


def test_report_shows_mixing_grids_and_truncation(style_run):
    from genzoo.viz.report import render_report

    html = render_report([style_run])
    assert "Style mixing: coarse styles" in html and "Style mixing: fine styles" in html
    assert "Truncation in W" in html
