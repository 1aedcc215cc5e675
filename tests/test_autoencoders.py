"""Maths of the autoencoder family: losses against their formulas, the code Gaussian used for
sampling, and that training actually learns to reconstruct."""

from __future__ import annotations

import torch

import genzoo
from genzoo.models.autoencoders.common import bce_with_logits, mse
from genzoo.train import TrainConfig, Trainer


def test_losses_match_their_formulas():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(5, 7, generator=g)
    logits = torch.randn(5, 7, generator=g)
    p = torch.sigmoid(logits)
    manual = -(x * p.log() + (1 - x) * (1 - p).log()).mean()
    assert torch.allclose(bce_with_logits(logits, x), manual, atol=1e-6)
    assert torch.allclose(mse(p, x), ((p - x) ** 2).mean())


def test_sampling_draws_codes_from_the_tracked_gaussian():
    info = genzoo.DataInfo("points", (6,), (0.0, 1.0))
    model = genzoo.build_model(
        "ae",
        info,
        {"latent_dim": 3, "hidden": [8], "prior_momentum": 1.0, "output_activation": "none"},
    )
    g = torch.Generator().manual_seed(1)
    mix = torch.tensor([[1.0, 0, 0], [0.5, 2.0, 0], [0, -1.0, 0.3]])
    z = torch.randn(4000, 3, generator=g) @ mix.T + torch.tensor([1.0, -2.0, 0.5])
    model._track_codes(z)  # momentum 1: the moments of this batch exactly
    assert torch.allclose(model.z_mean, z.mean(0), atol=1e-5)
    model.decode = lambda codes: codes  # look at the codes themselves
    drawn = model.sample(40000, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(drawn.mean(0), z.mean(0), atol=0.05)
    cov = torch.cov(z.T, correction=0)
    assert torch.allclose(torch.cov(drawn.T, correction=0), cov, atol=0.08)


def test_the_code_statistics_only_move_in_training():
    info = genzoo.DataInfo("points", (4,), (0.0, 1.0))
    model = genzoo.build_model("ae", info, {"latent_dim": 2, "hidden": [8]}).eval()
    before = model.z_mean.clone()
    model.loss({"x": torch.rand(16, 4)})
    assert torch.equal(model.z_mean, before)
    model.train().loss({"x": torch.rand(16, 4)})
    assert not torch.equal(model.z_mean, before)


def test_training_reconstructs_about_as_well_as_pca_with_the_same_code_size():
    """A nonlinear AE with k codes should match linear PCA with k components (or beat it)."""
    from sklearn.decomposition import PCA

    ds = genzoo.load_dataset("digits")
    model = genzoo.build_model("ae", ds.info(), {"latent_dim": 8, "hidden": [128]}, seed=0)
    Trainer(
        model,
        ds,
        TrainConfig(steps=400, batch_size=64, log_every=0, tensorboard=False),
        console=False,
    ).fit()
    t = model.transform
    x_test = torch.as_tensor(t.forward(ds.x_test))
    mean_image = torch.as_tensor(t.forward(ds.x_train)).mean(0)
    baseline = float(((x_test - mean_image) ** 2).mean())
    flat_train = t.forward(ds.x_train).reshape(len(ds.x_train), -1)
    pca = PCA(8).fit(flat_train)
    flat_test = x_test.flatten(1).numpy()
    pca_err = float(((pca.inverse_transform(pca.transform(flat_test)) - flat_test) ** 2).mean())
    with torch.no_grad():
        err = float(((model.eval().reconstruct(x_test) - x_test) ** 2).mean())
    assert pca_err < baseline  # the reference itself is meaningful
    assert err < 1.1 * pca_err, (err, pca_err, baseline)
