"""The building blocks of progressive growing and style-based generators, against their
definitions: equalized learning rate, pixel norm, the mapping network, AdaIN, noise inputs."""

from __future__ import annotations

import math

import pytest
import torch

from genzoo.nn.style import (
    AdaIN,
    EqualizedConv2d,
    EqualizedLinear,
    MappingNetwork,
    NoiseInjection,
    PixelNorm,
)


@pytest.mark.parametrize("fan_in", [16, 1024])
def test_equalized_linear_stores_unit_weights_and_scales_by_the_he_constant(fan_in):
    torch.manual_seed(0)
    layer = EqualizedLinear(fan_in, 256)
    # stored parameters have one scale whatever the fan-in: the point of the trick
    assert layer.weight.std().item() == pytest.approx(1.0, rel=0.05)
    c = math.sqrt(2 / fan_in)
    x = torch.randn(8, fan_in)
    assert torch.allclose(layer(x), x @ (layer.weight * c).T + layer.bias, atol=1e-5)
    # so the output of unit-variance inputs has variance gain^2 = 2 at every fan-in
    out = layer(torch.randn(4096, fan_in))
    assert out.var().item() == pytest.approx(2.0, rel=0.1)


def _first_adam_step(layer: torch.nn.Module, weight) -> float:
    """Mean |change| of the (effective) weight after one Adam step of lr 1e-2."""
    opt = torch.optim.Adam(layer.parameters(), lr=1e-2)
    before = weight(layer).detach().clone()
    layer(torch.randn(64, before.shape[1])).pow(2).mean().backward()
    opt.step()
    return float((weight(layer).detach() - before).abs().mean())


def test_equalized_lr_gives_every_layer_the_same_relative_speed_under_adam():
    """Adam's first step moves every stored weight by lr. With equalized weights the effective
    weights then move by lr times their own scale c, in every layer alike; plain layers, whose
    initial scale shrinks with the fan-in, change relatively faster the wider they are
    (PGGAN section 4.1)."""
    torch.manual_seed(0)
    relative = {}
    for fan_in in (8, 2048):
        eq = EqualizedLinear(fan_in, 32)
        relative["eq", fan_in] = _first_adam_step(eq, EqualizedLinear.effective_weight) / eq.scale
        plain = torch.nn.Linear(fan_in, 32)  # init std 1 / sqrt(3 fan_in)
        relative["plain", fan_in] = _first_adam_step(plain, lambda m: m.weight) * math.sqrt(
            3 * fan_in
        )
    assert relative["eq", 8] == pytest.approx(1e-2, rel=1e-3)
    assert relative["eq", 2048] == pytest.approx(1e-2, rel=1e-3)
    assert relative["plain", 2048] / relative["plain", 8] == pytest.approx(16, rel=1e-2)


def test_lr_mul_keeps_the_function_and_slows_the_updates():
    torch.manual_seed(0)
    a = EqualizedLinear(64, 64, lr_mul=1.0)
    torch.manual_seed(0)
    b = EqualizedLinear(64, 64, lr_mul=0.01)
    x = torch.randn(16, 64)
    assert torch.allclose(a(x), b(x), atol=1e-5)  # same initial function
    for layer in (a, b):
        opt = torch.optim.Adam(layer.parameters(), lr=1e-3)
        before = layer.effective_weight().detach().clone()
        layer(x).sum().backward()
        opt.step()
        layer.moved = float((layer.effective_weight().detach() - before).abs().mean())
    assert b.moved == pytest.approx(0.01 * a.moved, rel=0.05)


def test_equalized_conv_matches_a_scaled_convolution():
    torch.manual_seed(0)
    conv = EqualizedConv2d(3, 8, 3, padding=1)
    x = torch.randn(2, 3, 7, 7)
    ref = torch.nn.functional.conv2d(x, conv.weight * math.sqrt(2 / 27), conv.bias, padding=1)
    assert torch.allclose(conv(x), ref, atol=1e-5)


def test_pixel_norm_gives_each_position_unit_mean_square():
    x = torch.randn(4, 16, 5, 5) * torch.rand(4, 1, 5, 5) * 10
    y = PixelNorm()(x)
    assert torch.allclose(y.pow(2).mean(1), torch.ones(4, 5, 5), atol=1e-4)
    assert torch.allclose(y * x.pow(2).mean(1, keepdim=True).sqrt(), x, atol=1e-4)


def test_mapping_network_ignores_the_scale_of_z():
    torch.manual_seed(0)
    net = MappingNetwork(32, 48, layers=4)
    z = torch.randn(5, 32)
    w = net(z)
    assert w.shape == (5, 48)
    assert torch.allclose(net(3 * z), w, atol=1e-5)  # PixelNorm first
    assert not torch.allclose(net(torch.randn(5, 32)), w)


def test_adain_sets_each_channels_mean_and_std_from_the_style():
    torch.manual_seed(0)
    ada = AdaIN(channels=3, w_dim=4)
    x = torch.randn(2, 3, 8, 8) * 5 + 2
    w = torch.randn(2, 4)
    y_s, y_b = ada.style(w).split(3, dim=1)
    out = ada(x, w)
    assert torch.allclose(out.mean((2, 3)), y_b, atol=1e-4)
    assert torch.allclose(out.std((2, 3), unbiased=False), y_s.abs(), atol=1e-3)
    # at initialization the style is close to y_s = 1, y_b = 0: plain instance normalization
    fresh = AdaIN(3, 4)
    with torch.no_grad():
        fresh.style.weight.zero_()
    inorm = torch.nn.functional.instance_norm(x, eps=1e-8)
    assert torch.allclose(fresh(x, w), inorm, atol=1e-4)


def test_noise_is_one_image_per_example_scaled_per_channel():
    inject = NoiseInjection(4)
    x = torch.randn(2, 4, 6, 6)
    assert torch.equal(inject(x), x)  # the scales start at 0
    with torch.no_grad():
        inject.weight.copy_(torch.tensor([0.0, 1.0, 2.0, -1.0]).view(1, 4, 1, 1))
    noise = torch.randn(2, 1, 6, 6)
    added = inject(x, noise) - x
    assert torch.allclose(added[:, 2], 2 * noise[:, 0]) and torch.equal(added[:, 0], 0 * x[:, 0])
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(inject(x, generator=g1), inject(x, generator=g2))


def test_style_mixing_switches_from_w1_to_w2_at_one_crossover():
    from genzoo.nn.style import broadcast_styles, mix_styles

    w1, w2 = torch.zeros(4000, 3), torch.ones(4000, 3)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(mix_styles(w1, w2, 6, prob=0.0, generator=g), broadcast_styles(w1, 6))
    ws = mix_styles(w1, w2, 6, prob=1.0, generator=g)[..., 0]  # (N, L): 0 for w1, 1 for w2
    assert torch.equal(ws.diff(dim=1).clamp(max=0), torch.zeros(4000, 5))  # w1 then w2
    crossover = 6 - ws.sum(1)  # the first layer on w2
    assert crossover.min() == 1 and crossover.max() == 5  # both sides always get a layer
    assert (
        torch.bincount(crossover.long(), minlength=6)[1:].float().div(4000).sub(0.2).abs().max()
        < 0.03
    )
    mixed = (mix_styles(w1, w2, 6, prob=0.9, generator=g)[..., 0].sum(1) > 0).float().mean()
    assert abs(float(mixed) - 0.9) < 0.03


def test_truncation_pulls_toward_the_mean_style_on_the_chosen_layers():
    from genzoo.nn.style import track_w_avg, truncate_styles

    ws, avg = torch.randn(5, 4, 3), torch.randn(3)
    assert torch.equal(truncate_styles(ws, avg, 1.0), ws)
    assert torch.allclose(truncate_styles(ws, avg, 0.0), avg.expand(5, 4, 3))
    half = truncate_styles(ws, avg, 0.5, cutoff=2)
    assert torch.allclose(half[:, :2], (ws[:, :2] + avg) / 2) and torch.equal(
        half[:, 2:], ws[:, 2:]
    )
    w = torch.randn(100, 3)
    assert torch.allclose(track_w_avg(avg, w, beta=0.9), 0.9 * avg + 0.1 * w.mean(0))
    # under autocast w comes in half precision; the running mean stays in its own dtype
    tracked = track_w_avg(avg, w.bfloat16(), beta=0.9)
    assert tracked.dtype == torch.float32
    assert torch.allclose(tracked, 0.9 * avg + 0.1 * w.bfloat16().float().mean(0), atol=1e-3)
