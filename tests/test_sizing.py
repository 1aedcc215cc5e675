"""Architectures sized to the image: the rules of nn.sizing, and what each model resolves."""

from __future__ import annotations

import pytest

import genzoo
from genzoo.data.dataset import DataInfo
from genzoo.errors import ConfigError
from genzoo.nn.sizing import (
    attention_levels,
    level_sizes,
    mlp_widths,
    possible_widths,
    stages_for,
    widths_for,
)


def test_depth_takes_the_lowest_level_to_at_most_8_pixels():
    assert [stages_for(s, s) for s in (8, 16, 28, 32, 64, 100, 256)] == [1, 1, 2, 2, 3, 4, 5]
    assert stages_for(28, 64) == 3  # the longer side decides
    assert stages_for(8, 8, minimum=0) == 0
    assert stages_for(28, 28, lowest=1) == 5  # down to 1x1 (pix2pix's bottleneck)
    for s in (9, 28, 33, 64, 200):
        assert 4 <= level_sizes(s, s, stages_for(s, s))[-1][0] <= 8


def test_widths_follow_the_resolution_not_the_stage_index():
    assert widths_for((32, 64), 2) == (32, 64)  # the digits' layout, unchanged
    assert widths_for((32, 64), 3) == (16, 32, 64)  # one more level above, half as wide
    assert widths_for((16, 32, 64), 5) == (8, 8, 16, 32, 64)  # never narrower than 8
    assert widths_for((32, 64), 1) == (64,)  # shallower: the lowest level's width
    assert possible_widths((16, 32, 64)) == (8, 16, 32, 64)
    # every level then costs about the same: width^2 x pixels halves per level at most
    sizes = level_sizes(64, 64, 3)
    widths = widths_for((16, 32, 64), 4)
    costs = [w * w * h * h for w, (h, _) in zip(widths, sizes, strict=True)]
    assert max(costs) / min(costs) <= 4


def test_attention_only_at_small_levels_and_mlps_narrow_next_to_colour_images():
    assert attention_levels(level_sizes(28, 28, 2)) == (2,)  # 7x7
    assert attention_levels(level_sizes(64, 64, 3)) == (3,)  # 8x8, not 16x16
    assert mlp_widths((512, 256), 1) == (512, 256)
    assert mlp_widths((512, 256), 3) == (168, 168)
    assert mlp_widths((256, 256), 3, data_first=False) == (88, 88)


def info(shape, classes=10):
    return DataInfo("image", shape, (0.0, 255.0), [str(i) for i in range(classes)], "x")


@pytest.mark.parametrize(
    "name,field,at28,at64",
    [
        ("conv-ae", "channels", (32, 64), (16, 32, 64)),
        ("vae", "channels", (32, 64), (16, 32, 64)),
        ("vae", "hidden", (512, 256), (168, 168)),
        ("ae", "hidden", (512, 256), (168, 168)),
        ("dcgan", "channels", (64, 128), (32, 64, 128)),
        ("gan", "g_hidden", (256, 256), (88, 88)),
        ("progan", "channels", (64, 32, 16), (64, 32, 16, 8)),
        ("stylegan", "channels", (64, 32, 16), (64, 32, 16, 8)),
        ("ddpm", "channels", (16, 32, 64), (8, 16, 32, 64)),
        ("ddpm", "attention", (2,), (3,)),
        ("pix2pix", "channels", (64, 128, 256, 256, 256), (32, 64, 128, 256, 256, 256)),
        ("cyclegan", "downsample", 2, 3),
    ],
)
def test_each_model_resolves_its_layout_from_the_image_and_saves_it(name, field, at28, at64):
    small, big = info((1, 28, 28)), info((3, 64, 64))
    if genzoo.MODELS.get(name).translation:
        small.input, big.input = info((1, 28, 28)), info((3, 64, 64))
    assert getattr(genzoo.build_model(name, small).config, field) == at28
    model = genzoo.build_model(name, big)
    assert getattr(model.config, field) == at64
    value = list(at28) if isinstance(at28, tuple) else at28
    given = genzoo.build_model(name, big, {field: value} if field != "attention" else None)
    if field != "attention":  # a value the user sets is kept as set
        assert getattr(given.config, field) == at28


def test_an_autoencoder_code_fits_narrow_tables():
    table = DataInfo("table", (5,), (0.0, 1.0), None, "t")
    assert genzoo.build_model("ae", table).config.latent_dim == 2
    assert genzoo.build_model("linear-ae", DataInfo("points", (2,), (0, 1))).config.latent_dim == 1
    with pytest.raises(ConfigError, match="model.latent_dim=8 is not allowed: at most the input"):
        genzoo.build_model("ae", table, {"latent_dim": 8})


def test_a_setting_that_does_not_fit_the_sized_layout_names_the_field():
    with pytest.raises(ConfigError, match=r"model.attention=\(5,\) is not allowed.*0..2"):
        genzoo.build_model("ddpm", info((1, 28, 28)), {"attention": [5]})
