"""genzoo.theory.autoencoders: the linear autoencoder against PCA, transposed convolutions
against the transpose of a convolution's matrix, and checkerboards against the overlap counts;
each pure function against a closed form on small inputs, each experiment once, and each
experiment failing when a formula is broken.

Tolerances: float64 rounding for the deterministic identities (the experiments' own reasons),
five standard errors for Monte-Carlo means."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import genzoo.theory.autoencoders as ae
from genzoo.theory import run_experiment

F64 = torch.float64


def failed(finding) -> set[str]:
    return {c.claim for c in finding.failed}


@pytest.fixture(scope="module")
def linear():
    return run_experiment("linear-ae-pca")


@pytest.fixture(scope="module")
def transposed():
    return run_experiment("transposed-conv")


@pytest.fixture(scope="module")
def checker():
    return run_experiment("checkerboard")


def random_covariance(d: int, g: torch.Generator) -> torch.Tensor:
    a = torch.randn(d, d, generator=g, dtype=F64)
    return a @ a.T / d


# ---------------------------------------------------------------- the linear autoencoder
def test_the_loss_through_the_covariance_is_the_loss_on_the_samples():
    """(1)-(2): with X = (x - mean)/sqrt(M), ||X - X A^T B^T||^2 = tr((I - BA) C (I - BA)^T)."""
    g = torch.Generator().manual_seed(0)
    x = ae.centred_scaled(torch.randn(50, 7, generator=g, dtype=F64) * 3 + 1)
    assert torch.allclose(x.sum(0), torch.zeros(7, dtype=F64), atol=1e-14)
    c = x.T @ x
    a, b = torch.randn(3, 7, generator=g, dtype=F64), torch.randn(7, 3, generator=g, dtype=F64)
    r = torch.eye(7, dtype=F64) - b @ a
    direct = torch.trace(r @ c @ r.T)
    assert math.isclose(float(ae.ae_loss(c, a, b)), float(direct), rel_tol=1e-12)
    assert math.isclose(float(ae.ae_loss_on_data(x, a, b)), float(direct), rel_tol=1e-12)


def test_the_gradients_are_autograds():
    g = torch.Generator().manual_seed(1)
    c = random_covariance(6, g)
    a = torch.randn(2, 6, generator=g, dtype=F64, requires_grad=True)
    b = torch.randn(6, 2, generator=g, dtype=F64, requires_grad=True)
    ga, gb = torch.autograd.grad(ae.ae_loss(c, a, b), (a, b))
    mine_a, mine_b = ae.ae_gradients(c, a.detach(), b.detach())
    assert torch.allclose(mine_a, ga, rtol=1e-12, atol=1e-13)
    assert torch.allclose(mine_b, gb, rtol=1e-12, atol=1e-13)


def test_the_optimum_is_the_discarded_eigenvalues_for_any_invertible_mix():
    """(3)-(4) on a small covariance, and (6): the swapped saddle is λ_k - λ_{k+1} higher."""
    g = torch.Generator().manual_seed(2)
    c = random_covariance(8, g)
    lam, u = ae.pca(c)
    assert torch.all(lam[:-1] >= lam[1:])
    k = 3
    mix = torch.randn(k, k, generator=g, dtype=F64)
    u_k = u[:, :k]
    floor = float(lam[k:].sum())
    assert math.isclose(float(ae.ae_loss(c, u_k.T, u_k)), floor, rel_tol=1e-12)
    assert math.isclose(
        float(ae.ae_loss(c, torch.linalg.solve(mix, u_k.T), u_k @ mix)), floor, rel_tol=1e-10
    )
    swap = torch.cat([u[:, : k - 1], u[:, k : k + 1]], 1)
    assert math.isclose(
        float(ae.ae_loss(c, swap.T, swap)) - floor, float(lam[k - 1] - lam[k]), rel_tol=1e-10
    )


def test_principal_sines_of_a_plane_tilted_by_a_known_angle():
    theta = 0.3
    u_k = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], dtype=F64)
    tilted = torch.tensor([[1.0, 0.0], [0.0, math.cos(theta)], [0.0, math.sin(theta)]], dtype=F64)
    sines = ae.principal_sines(tilted @ torch.tensor([[2.0, 1.0], [0.5, 3.0]], dtype=F64), u_k)
    assert torch.allclose(sines, torch.tensor([math.sin(theta), 0.0], dtype=F64), atol=1e-15)


@pytest.mark.parametrize("seed", range(5))
def test_the_angle_bound_7_and_the_variance_bound_8_hold_for_random_subspaces(seed):
    g = torch.Generator().manual_seed(seed)
    c = random_covariance(9, g)
    lam, u = ae.pca(c)
    k = 3
    q, _ = torch.linalg.qr(u[:, :k] + 0.3 * torch.randn(9, k, generator=g, dtype=F64))
    sines = ae.principal_sines(q, u[:, :k])
    excess = float(ae.ae_loss(c, q.T, q) - lam[k:].sum())
    assert float((sines**2).sum()) <= excess / float(lam[k - 1] - lam[k]) * (1 + 1e-12)
    mu = torch.linalg.eigvalsh(q.T @ c @ q).flip(0)
    assert torch.all((mu - lam[:k]).abs() <= lam[:k] * float(sines[0]) ** 2 + 1e-12)


def test_the_gaussian_has_exactly_the_covariance_asked():
    evals = torch.tensor([3.0, 1.0, 0.5], dtype=F64)
    x, v = ae.gaussian_with_covariance(evals, 500, torch.Generator().manual_seed(3))
    assert torch.allclose(x.T @ x, v @ torch.diag(evals) @ v.T, atol=1e-12)
    assert torch.allclose(x.sum(0), torch.zeros(3, dtype=F64), atol=1e-12)


def test_gradient_descent_finds_the_subspace_on_a_small_gaussian():
    evals = torch.tensor([4.0, 2.0, 0.5], dtype=F64)
    g = torch.Generator().manual_seed(4)
    x, v = ae.gaussian_with_covariance(evals, 300, g)
    run = ae.train_linear_ae(x.T @ x, 2, 2000, 0.3 / 4, g, 10, v[:, :2])
    assert math.isclose(float(run["loss"][-1]), 0.5, rel_tol=1e-10)
    assert float(run["sines"][-1].max()) < 1e-8
    # A A^T - B^T B is conserved by the gradient flow: steps of size lr move it by O(lr)
    drift = abs(float(run["balance"][1] - run["balance"][0]))
    g = torch.Generator().manual_seed(4)
    x, v = ae.gaussian_with_covariance(evals, 300, g)
    small = ae.train_linear_ae(x.T @ x, 2, 20_000, 0.03 / 4, g, 10_000, v[:, :2])
    assert abs(float(small["balance"][1] - small["balance"][0])) < drift / 5


def test_the_linear_ae_experiment(linear):
    assert linear.ok, [c.line() for c in linear.failed]
    n = linear.numbers
    assert math.isclose(n["floor_sum_discarded"], n["trace"] - sum(n["eigenvalues_top"][:6]),
                        rel_tol=1e-12)  # fmt: skip
    assert 0 <= n["relative_excess"] < 1e-4
    assert max(n["principal_angles_rad"]) <= n["angle_bound_rad"]
    # the decoder's columns are not the eigenvectors; genzoo's directions from them are
    assert max(n["decoder_columns_best_abs_cos_with_an_eigenvector"]) < 0.95
    assert n["mixing_G_diagonal_share"] < 0.9
    assert min(n["principal_directions_abs_cos"]) > 0.9999
    assert n["gaussian"]["largest_angle_rad"] < 1e-10


def test_the_linear_ae_experiment_fails_with_the_unbiased_covariance(monkeypatch):
    """The slip: PCA from the covariance with 1/(M - 1) (np.cov's default) while the error
    (2) is a mean over M samples: every eigenvalue is M/(M - 1) too large, and the floor
    misses the error of the optimum by 2.5e-4 of itself."""
    monkeypatch.setattr(ae, "LINEAR_STEPS", 30)
    covariance = ae.covariance
    monkeypatch.setattr(ae, "covariance", lambda x, unbiased=False: covariance(x, True))
    bad = failed(run_experiment("linear-ae-pca"))
    assert "(3) closed form U_k U_k^T: reconstruction error = sum of discarded eigenvalues" in bad
    assert "(4) B = U_k G, A = G^-1 U_k^T (random G): the same error" in bad


def test_the_unbiased_floor_is_m_over_m_minus_1_of_the_floor(linear):
    n = linear.numbers
    m = n["samples"]
    assert math.isclose(n["floor_with_unbiased_covariance"], n["floor_sum_discarded"] * m / (m - 1),
                        rel_tol=1e-12)  # fmt: skip


def test_the_linear_ae_experiment_fails_with_a_sign_slip_in_the_gradient(monkeypatch):
    """grad_B written -2 (I + BA) C A^T: descent no longer reaches the floor."""
    monkeypatch.setattr(ae, "LINEAR_STEPS", 1000)  # enough for the Gaussian's floor

    def slip(c, a, b):
        grad_a, _ = ae_gradients(c, a, b)
        cat = c @ a.T
        return grad_a, -2 * (cat + b @ (a @ cat))

    ae_gradients = ae.ae_gradients
    monkeypatch.setattr(ae, "ae_gradients", slip)
    bad = failed(run_experiment("linear-ae-pca"))
    assert "Gaussian (exact covariance): final error against sum of discarded eigenvalues" in bad


# ---------------------------------------------------------------- convolutions as matrices
@pytest.mark.parametrize("stride,padding,n", [(1, 0, 4), (2, 1, 7), (3, 2, 8)])
def test_the_conv_matrix_is_torchs_convolution_and_its_transpose_the_transposed_one(
    stride, padding, n
):
    g = torch.Generator().manual_seed(stride)
    kernel = torch.randn(2, 3, 3, 3, generator=g, dtype=F64)
    x = torch.randn(3, n, n, generator=g, dtype=F64)
    m = ae.conv_matrix(kernel, (n, n), stride, padding)
    y = F.conv2d(x[None], kernel, stride=stride, padding=padding)[0]
    assert torch.allclose(m @ x.flatten(), y.flatten(), atol=1e-13)
    op = n - ((y.shape[-1] - 1) * stride - 2 * padding + 3)
    t = F.conv_transpose2d(y[None], kernel, stride=stride, padding=padding, output_padding=op)[0]
    assert torch.allclose(m.T @ y.flatten(), t.flatten(), atol=1e-13)
    assert torch.allclose(ae.transposed_by_zero_insertion(y, kernel, stride, padding, op), t,
                          atol=1e-13)  # fmt: skip


def test_the_course_example_by_scatter_and_by_matrix():
    y = torch.tensor(ae.COURSE_INPUT, dtype=F64)
    k = torch.tensor(ae.COURSE_KERNEL, dtype=F64)
    expected = torch.tensor(ae.COURSE_OUTPUT, dtype=F64)
    assert torch.equal(ae.scatter_transposed(y, k), expected)
    assert torch.equal((ae.conv_matrix(k[None, None], (3, 3)).T @ y.flatten()).view(3, 3), expected)
    # the scatter at stride 2: each copy of K lands 2 pixels on, nothing overlaps
    spread = ae.scatter_transposed(y, k, stride=2)
    assert spread.shape == (4, 4) and torch.equal(spread[2:, 2:], 3 * k)


def test_the_transposed_conv_experiment(transposed):
    assert transposed.ok, [c.line() for c in transposed.failed]
    n = transposed.numbers
    assert n["course_output_torch"] == ae.COURSE_OUTPUT
    assert [c["matrix_shape"] for c in n["cases"]] == [[4, 9], [75, 50], [4, 25], [27, 72]]
    # the transpose is not the inverse
    assert min(c["conv_of_transposed_vs_y_relative"] for c in n["cases"]) > 0.5


def test_the_transposed_conv_experiment_fails_with_a_flipped_kernel(monkeypatch):
    """The slip: M built from the true convolution (flipped kernel) where torch correlates."""
    conv_matrix = ae.conv_matrix
    monkeypatch.setattr(
        ae, "conv_matrix", lambda k, shape, s=1, p=0: conv_matrix(k.flip(2, 3), shape, s, p)
    )
    bad = failed(run_experiment("transposed-conv"))
    assert "(9) torch conv2d = M x (worst of 4 convolutions, relative)" in bad
    assert "(10) torch conv_transpose2d = M^T y (worst, relative)" in bad
    assert "course example: M^T y with M the 2x2 convolution on 3x3, largest |difference|" in bad
    assert "course example (11): torch conv_transpose2d, largest |difference|" not in bad


# ---------------------------------------------------------------- checkerboards
def test_the_overlap_counts_alternate_unless_the_stride_divides_the_kernel():
    inner = ae.overlap_counts(10, 3, 2, 1, 1)[2:-2]
    assert inner.tolist() == [1.0, 2.0] * (len(inner) // 2)
    assert set(ae.overlap_counts(10, 4, 2, 1)[2:-2].tolist()) == {2.0}
    assert set(ae.overlap_counts(10, 5, 2, 2)[3:-3].tolist()) == {2.0, 3.0}
    # the sum of the counts is k n: every input value scatters all k taps (no padding)
    assert float(ae.overlap_counts(10, 5, 3, 0).sum()) == 50


def test_the_phase_pattern_of_an_all_ones_kernel_is_the_counts():
    w = torch.ones(1, 1, 3, 3, dtype=F64)
    pattern = ae.phase_pattern(w, torch.zeros(1, dtype=F64), 1.0, 2, 1)[0]
    assert pattern.tolist() == [[1.0, 2.0], [2.0, 4.0]]
    assert math.isclose(float(ae.pattern_share(pattern)), 1 - 2.25**2 / 6.25, rel_tol=1e-14)
    tiled = pattern.repeat(5, 5)
    assert math.isclose(float(ae.nyquist_share(tiled)), float(ae.pattern_share(pattern)),
                        rel_tol=1e-12)  # fmt: skip


def test_the_cyclic_transposed_conv_puts_the_mean_at_nyquist_and_upsampling_nothing():
    """(14)-(15) on random inputs, and the cyclic layer agrees with torch's away from the wrap."""
    g = torch.Generator().manual_seed(5)
    h = torch.randn(2, 4, 6, 6, generator=g, dtype=F64)
    w = torch.randn(4, 3, 3, 3, generator=g, dtype=F64)
    b = torch.randn(3, generator=g, dtype=F64)
    y = ae.circular_transposed(h, w, b, 2, 1)
    predicted = torch.einsum("bi,iok->bok", h.sum((-2, -1)), ae.nyquist_response(w, 1))
    assert torch.allclose(ae.nyquist_coefficients(y).real, predicted, atol=1e-12)
    torch_y = F.conv_transpose2d(h, w, b, stride=2, padding=1, output_padding=1)
    assert torch.allclose(y[..., :-1, :-1], torch_y[..., :-1, :-1], atol=1e-13)
    wc = torch.randn(3, 4, 3, 3, generator=g, dtype=F64)
    z = ae.circular_upsample_conv(h, wc, b, 1)
    assert float(ae.nyquist_coefficients(z).abs().max()) < 1e-12 * float(z.abs().sum())


def test_pytorchs_default_init_is_the_uniform_law_the_bank_draws():
    """U(-1/sqrt(f), 1/sqrt(f)) with f = weight.size(1) k^2: the output channels for a
    transposed convolution, the input channels for a convolution."""
    torch.manual_seed(0)
    for layer, f in ((torch.nn.ConvTranspose2d(32, 1, 3), 9), (torch.nn.Conv2d(32, 1, 3), 288)):
        assert (
            0.95 < float(layer.weight.detach().abs().max()) * math.sqrt(f) <= 1.0
        )  # 0.95^288: 4e-7
        assert float(layer.bias.detach().abs().max()) * math.sqrt(f) <= 1.0


def test_the_bank_share_of_the_weights_does_not_depend_on_the_kernel_size():
    """(18): without a bias, three quarters of a random layer's energy is at Nyquist for
    every k; a bias adds to the mean only."""
    for k in (2, 3, 4, 5):
        assert math.isclose(ae.bank_share(k, 32, 0.1, 0.0), 0.75, rel_tol=1e-14)
    var = 1 / 27
    assert math.isclose(ae.bank_share(3, 32, var, var), 0.75 * 32 * 9 / (32 * 9 + 4),
                        rel_tol=1e-14)  # fmt: skip


def test_the_checkerboard_experiment(checker):
    assert checker.ok, [c.line() for c in checker.failed]
    n = checker.numbers
    assert n["all_ones_counts_cell"] == [[1.0, 2.0], [2.0, 4.0]]
    assert math.isclose(n["all_ones_nyquist_share"], 0.19, rel_tol=1e-12)
    uneven = {(r["k"], r["stride"]): r["uneven"] for r in n["overlap_counts"]}
    assert all(uneven[(k, s)] == (k % s != 0) for k, s in uneven)
    assert n["bank_constant_input_nyquist_share"]["upsample_conv"] < 1e-20
    shares = n["conv_ae_at_init_nyquist_share"]
    assert shares["transposed"] > 100 * shares["nearest"]


def test_the_checkerboard_experiment_fails_when_the_padding_is_left_out_of_the_phases(
    monkeypatch,
):
    """The slip: taps t = r (mod s) where t = r + p is meant; with p = 1 the phases swap, so
    the 1-tap and 4-tap phases trade places."""
    monkeypatch.setattr(ae, "BANK", 400)
    monkeypatch.setattr(
        ae, "phase_taps", lambda phase, k, stride, padding: [t for t in range(k)
                                                              if (phase - t) % stride == 0]
    )  # fmt: skip
    bad = failed(run_experiment("checkerboard"))
    assert "(13) 400 random transposed layers, constant input: interior = phase pattern" in bad
    assert "(16) E P² at phase (0, 0), 1 tap(s) per channel" not in bad  # now named 4 taps
    assert any(claim.startswith("(16) E P² at phase (0, 0)") for claim in bad)


def test_the_experiments_are_deterministic_given_the_seed(monkeypatch):
    monkeypatch.setattr(ae, "LINEAR_STEPS", 50)
    monkeypatch.setattr(ae, "BANK", 200)
    for name in ("linear-ae-pca", "transposed-conv", "checkerboard"):
        first, second = run_experiment(name, seed=3), run_experiment(name, seed=3)
        assert first.to_dict() == second.to_dict(), name
        assert first.to_dict() != run_experiment(name, seed=4).to_dict(), name


def test_the_images_are_tiled_with_gaps():
    out = ae.tile([np.ones((2, 2)), -2 * np.ones((2, 2))], gap=1)
    assert out.shape == (2, 5) and np.isnan(out[:, 2]).all()
    assert out[0, 0] == 1 and out[0, 3] == -1
