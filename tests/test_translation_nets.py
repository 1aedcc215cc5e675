"""pix2pix's U-Net generator and PatchGAN discriminator: exact sizes, skip connections,
dropout as the only noise, and the patch each discriminator output sees."""

from __future__ import annotations

import pytest
import torch

from genzoo.nn.translation import PatchDiscriminator, UNetGenerator


@pytest.mark.parametrize(
    ("size", "channels"),
    [((28, 28), (16, 32, 64, 64, 64)), ((32, 32), (16, 32, 64)), ((7, 9), (8, 16))],
)
def test_unet_maps_any_size_back_to_itself(size, channels):
    torch.manual_seed(0)
    net = UNetGenerator(1, 3, size, channels)
    y = net(torch.randn(2, 1, *size))
    assert y.shape == (2, 3, *size)
    assert y.abs().max() <= 1  # tanh


def test_unet_skips_carry_local_detail():
    """Through the outermost skip, an output pixel depends strongly on the input pixel under
    it: the gradient there is far above its mean over the image."""
    torch.manual_seed(0)
    net = UNetGenerator(1, 1, (28, 28), (16, 32, 64, 64, 64)).eval()
    x = torch.randn(1, 1, 28, 28, requires_grad=True)
    net(x)[0, 0, 14, 14].backward()
    g = x.grad[0, 0].abs()
    assert g[13:16, 13:16].max() > 10 * g.mean()
    assert g[:4, :4].sum() < g[12:17, 12:17].sum()


def test_unet_dropout_is_its_noise_in_training_only():
    torch.manual_seed(0)
    net = UNetGenerator(1, 1, (32, 32), (16, 32, 64))
    x = torch.randn(4, 1, 32, 32)
    assert not torch.allclose(net.train()(x), net(x))
    net.eval()
    assert torch.equal(net(x), net(x))
    assert not any(
        isinstance(m, torch.nn.Dropout)
        for m in UNetGenerator(1, 1, (8, 8), (8, 16), dropout=0).modules()
    )


@pytest.mark.parametrize(("n_layers", "patch"), [(1, 16), (2, 34), (3, 70)])
def test_patchgan_output_sees_exactly_its_receptive_field(n_layers, patch):
    torch.manual_seed(0)
    d = PatchDiscriminator(3, n_layers=n_layers, width=4).eval()
    assert d.receptive_field == patch
    x = torch.randn(1, 3, 160, 160, requires_grad=True)
    out = d(x)
    i, j = out.shape[2] // 2, out.shape[3] // 2
    out[0, 0, i, j].backward()
    rows, cols = x.grad[0].abs().sum(0).nonzero(as_tuple=True)
    assert (int(rows.max() - rows.min()) + 1, int(cols.max() - cols.min()) + 1) == (patch, patch)
