"""Autoencoders and convolutions: the linear autoencoder is PCA, a transposed convolution is the
transpose of a convolution's matrix, and what that transpose does to the Nyquist frequency.

The linear autoencoder. Take M samples x_m in R^D and write them, centred and scaled, as the
rows of

    X = (x - mean) / sqrt(M),   so that   C = X^T X = (1/M) sum_m (x_m - mean)(x_m - mean)^T,  (1)

the covariance. An encoder A (k x D) and a decoder B (D x k) reconstruct x by B A x, and the
reconstruction error summed over the samples (a mean over them, through the 1/sqrt(M)) is

    L(A, B) = ||X - X A^T B^T||_F^2 = tr((I - BA) C (I - BA)^T).                            (2)

Write C = U diag(lambda) U^T with lambda_1 >= ... >= lambda_D and U_k the first k columns. BA
has rank at most k, and the best rank-k approximation (Eckart-Young) gives

    L* = min L = sum_{j > k} lambda_j,   attained at BA = U_k U_k^T,                        (3)

the sum of the discarded eigenvalues. Only the product BA enters (2): for any invertible k x k
matrix G, (G^-1 A, B G) has the same loss, so the optimum is

    B = U_k G,   A = G^-1 U_k^T,   G invertible,                                            (4)

and the weights learn the principal subspace, not its eigenvectors (Baldi & Hornik 1989).
Gradient descent follows

    grad_B L = -2 (I - BA) C A^T,   grad_A L = -2 B^T (I - BA) C.                           (5)

Under the gradient flow, d(A A^T)/dt = 2 B^T (I - BA) C A^T + 2 A C (I - BA)^T B = d(B^T B)/dt:
A A^T - B^T B is conserved. At the optimum (4), B^T B = G^T G and A A^T = G^-1 G^-T, equal
only when G G^T = I; random weights of the same scale start nearly balanced, and steps of
size lr move the balance by O(lr) only, so gradient descent ends near an orthogonal G: a
rotation of the eigenvectors, still not the eigenvectors.

Both vanish at every BA = U_S U_S^T with S any k of the D eigenvectors (then (I - BA) C A^T =
U_{not S} diag(lambda) U_{not S}^T U_S G^-T = 0), where L = sum_{j not in S} lambda_j. Only
S = {1..k} is a minimum; the others are saddles, e.g. S = {1..k-1, k+1} costs

    L_swap - L* = lambda_k - lambda_{k+1}.                                                  (6)

How close is a learned subspace? Let Q (D x k) have orthonormal columns spanning col(B). The
best encoder for a decoder is the projection onto its columns, so L(A, B) >= L(QQ^T) =
tr C - tr(Q^T C Q). Split Q = U_k R + U_rest S: the singular values of S are sin theta_i, the
sines of the principal angles between col(B) and span U_k, and R R^T <= I. Then
sum_{i<=k} lambda_i - tr(R^T Lambda_k R) = sum_i lambda_i (1 - |R_i|^2) >= lambda_k ||S||_F^2
and tr(S^T Lambda_rest S) <= lambda_{k+1} ||S||_F^2, so

    sum_i sin^2 theta_i <= (L(A, B) - L*) / (lambda_k - lambda_{k+1}):                      (7)

a loss within eps of the floor pins the subspace to angles of order sqrt(eps / gap). The same
split bounds the variances inside the learned subspace, the eigenvalues mu_i of Q^T C Q (which
genzoo's linear-ae `principal_directions` returns): R^T Lambda_k R has eigenvalues in
[lambda_i cos^2 theta_max, lambda_i], and S^T Lambda_rest S adds at most lambda_{k+1}
sin^2 theta_max, so

    |mu_i - lambda_i| <= lambda_i sin^2 theta_max.                                         (8)

Gradient descent reaches the floor at a rate set by the spectrum: the encoder's component along
an eigenvector u_j outside the subspace decays like exp(-c lambda_j t). Where the eigenvalues
reach 0 (the never-inked corners of MNIST digits) the approach is slow, like 1/t; a Gaussian
whose covariance is bounded below gets there geometrically.

Convolutions as matrices. A convolution (cross-correlation, as torch computes it) with kernel
K (C_out x C_in x k x k), stride s and zero padding p maps x (C_in x H x W) to

    y[o, a, b] = sum_{i, t1, t2} K[o, i, t1, t2] x[i, s a + t1 - p, s b + t2 - p],          (9)

linear in x: y = M x for one matrix M (C_out H' W' x C_in H W), whose row (o, a, b) holds the
kernel at the offset (s a - p, s b - p). Its transpose maps the output shape back to the input
shape,

    (M^T y)[i, r, c] = sum_{o, a, b} K[o, i, r - s a + p, c - s b + p] y[o, a, b],          (10)

which is the transposed convolution: every input value y[o, a, b] scatters a copy of the kernel,
scaled by it, into the output at the offset (s a - p, s b - p), and the copies add where they
overlap. It is also the gradient of the convolution with respect to its input: for a loss
<y, g>, grad_x = M^T g. The transposed convolution undoes the convolution's shape, not the
convolution: M^T M is not the identity. The course's example: the 2 x 2 input [[0, 1], [2, 3]]
scattering the 2 x 2 kernel [[0, 1], [2, 3]] (stride 1) gives

    0 K at (0, 0) + 1 K at (0, 1) + 2 K at (1, 0) + 3 K at (1, 1)
        = [[0, 0, 1], [0, 4, 6], [4, 12, 9]].                                               (11)

Checkerboards. With stride s, output pixel r of (10) receives the taps t = r + p - s a: only the
taps t = r + p (mod s). For kernel k and stride s the number of taps landing on pixel r is

    n(r) = #{0 <= t < k : t = r + p (mod s), 0 <= (r + p - t)/s < n_in},                   (12)

which in the interior is ceil(k/s) or floor(k/s) by the class of r: uneven unless s divides k.
For k = 3, s = 2 it alternates 1, 2 per axis: 1, 2, 2, 4 over the four phases of a 2 x 2 cell.
A constant input c therefore comes out as the period-2 pattern

    P(r1, r2) = c sum_i sum_{t1 = r1+p, t2 = r2+p (mod 2)} K[i, o, t1, t2] + bias,          (13)

the overlap count itself when K is all ones. In frequency, with cyclic boundaries, zero
insertion followed by the kernel gives Y(w) = Khat(w) Hhat(s w), with Khat(w) =
sum_t K[t] e^(-i w (t - p)). At the Nyquist frequency w = pi (s = 2), Hhat(2 pi) = Hhat(0):

    Y(pi) = Khat(pi) Hhat(0),   Khat(pi) = sum_t (-1)^(t - p) K[t]                          (14)

(per axis; (pi, 0), (0, pi) and (pi, pi) in 2-D, summed over input channels): the input's mean
lands on the checkerboard frequency, weighted by the difference of the kernel's two parity
sums. Nearest-neighbour upsampling repeats each value twice, h -> (h, h), whose filter (1, 1)
has the response 1 + e^(-i pi) = 0 at Nyquist; any convolution after it multiplies by Khat:

    Y_upsample+conv(pi) = 0.                                                                (15)

For random weights, the four phase values of (13) are sums of n(r1) n(r2) C_in independent
weights: with PyTorch's default init, weights and bias U(-1/sqrt(f), 1/sqrt(f)) (variance
sigma^2 = 1/(3f); for a transposed convolution f is its output channels times k^2),

    E P(r1, r2)^2 = c^2 n(r1) n(r2) C_in sigma^2 + sigma^2,                                 (16)

in the ratio 1 : 2 : 2 : 4 for k = 3: the overlap count shows up in the variance of a random
layer's checkerboard. Each tap lands in exactly one phase, so E sum P^2 = k^2 C_in sigma^2 +
4 sigma^2 over the four phases, while the mean part (sum P)^2 / 4 has expectation
k^2 C_in sigma^2 / 4 + 4 sigma^2; the rest is at Nyquist,

    E[Nyquist energy] / E[energy] = (3/4) k^2 C_in sigma^2 / (k^2 C_in sigma^2 + 4 sigma^2),  (18)

whatever k: the four phases of a random layer are independent sums, and a kernel size that the
stride divides (k = 4) does not remove the checkerboard. It removes the part that comes from
the kernel's mean: for K all ones the pattern is the counts, with the share below 0.19 at k = 3
and 0 at k = 4. The share of an image's energy at Nyquist is

    share = (|Y(pi, 0)|^2 + |Y(0, pi)|^2 + |Y(pi, pi)|^2) / (H W sum_r y_r^2),              (17)

(Parseval: sum_w |Y(w)|^2 = H W sum_r y_r^2); for the 2 x 2 pattern (13) tiled it is
1 - mean(P)^2 / mean(P^2), 0.19 for the counts 1, 2, 2, 4.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import Check, Finding, Panel, Series, experiment, one_thread

F64 = torch.float64
Z = 5.0  # Monte-Carlo tolerances: five standard errors


# ---------------------------------------------------------------- the linear autoencoder
def centred_scaled(x: Tensor) -> Tensor:
    """(1): X = (x - mean) / sqrt(M) for samples x (M, D), so that X^T X is the covariance."""
    x = x.double().flatten(1)
    return (x - x.mean(0)) / math.sqrt(len(x))


def covariance(x: Tensor, unbiased: bool = False) -> Tensor:
    """(1): C = X^T X = (1/M) sum_m (x_m - mean)(x_m - mean)^T for samples x (M, D). With
    `unbiased`, the 1/(M - 1) of np.cov and torch.cov instead: then C is no longer the X^T X
    whose reconstruction error (2) the autoencoder sums, and its eigenvalues are M/(M - 1) too
    large for (3)."""
    x = centred_scaled(x)
    c = x.T @ x
    return c * len(x) / (len(x) - 1) if unbiased else c


def pca(c: Tensor) -> tuple[Tensor, Tensor]:
    """The eigenvalues of the covariance C, largest first, and their eigenvectors (columns)."""
    evals, evecs = torch.linalg.eigh(c)
    return evals.flip(0), evecs.flip(1)


def ae_loss(c: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """(2) through C: tr((I - BA) C (I - BA)^T) = tr C - 2 tr(B^T C A^T) + tr(B^T B A C A^T)."""
    cat = c @ a.T
    return torch.trace(c) - 2 * (b * cat).sum() + ((b.T @ b) * (a @ cat)).sum()


def ae_loss_on_data(x: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """(2) on the samples themselves: ||X - X A^T B^T||_F^2 for X (M, D) of (1)."""
    return ((x - (x @ a.T) @ b.T) ** 2).sum()


def ae_gradients(c: Tensor, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """(5): grad_A L = -2 B^T (I - BA) C and grad_B L = -2 (I - BA) C A^T."""
    cat, cb = c @ a.T, c @ b
    grad_b = -2 * (cat - b @ (a @ cat))
    grad_a = -2 * (cb.T - (b.T @ b) @ cat.T)
    return grad_a, grad_b


def principal_sines(q: Tensor, u_k: Tensor) -> Tensor:
    """The sines of the principal angles between col(q) and span(u_k) (orthonormal u_k),
    largest first: the singular values of (I - U_k U_k^T) Q with Q an orthonormal basis of
    col(q). Sines, not arccos of the cosines, keep small angles accurate."""
    basis, _ = torch.linalg.qr(q)
    return torch.linalg.svdvals(basis - u_k @ (u_k.T @ basis))


def train_linear_ae(c: Tensor, k: int, steps: int, lr: float, generator: torch.Generator,
                    record_every: int, u_k: Tensor) -> dict[str, Tensor]:  # fmt: skip
    """Full-batch gradient descent (5) on (2) from small random weights, recording the loss and
    the sines of the principal angles between col(B) and span(u_k) at every one of the first
    record_every^2 steps, then every `record_every`. A step that takes the loss above where it
    started (or to NaN) has diverged and ends the descent."""
    d = c.shape[0]
    a = torch.randn(k, d, generator=generator, dtype=F64) / math.sqrt(d)
    b = torch.randn(d, k, generator=generator, dtype=F64) / math.sqrt(d)
    balance = [float((a @ a.T - b.T @ b).abs().max())]
    at, losses, sines = [], [], []
    for step in range(steps + 1):
        if step < record_every**2 or step % record_every == 0 or step == steps:
            at.append(step)
            losses.append(float(ae_loss(c, a, b)))
            sines.append(principal_sines(b, u_k))
        if step < steps:
            grad_a, grad_b = ae_gradients(c, a, b)
            a_next, b_next = a - lr * grad_a, b - lr * grad_b
            if not float(ae_loss(c, a_next, b_next)) <= losses[0]:  # also false for NaN
                break  # diverged (a step too long for the curvature): keep the last weights
            a, b = a_next, b_next
    balance.append(float((a @ a.T - b.T @ b).abs().max()))
    return {"a": a, "b": b, "steps": torch.tensor(at), "balance": torch.tensor(balance),
            "loss": torch.tensor(losses, dtype=F64), "sines": torch.stack(sines)}  # fmt: skip


def gaussian_with_covariance(evals: Tensor, m: int,
                             generator: torch.Generator) -> tuple[Tensor, Tensor]:  # fmt: skip
    """M samples, already in the form (1), whose covariance X^T X is exactly V diag(evals) V^T
    with V a random rotation: centred Gaussian draws, whitened (X^T X = I) and coloured.
    Returns X and V."""
    d = len(evals)
    v, _ = torch.linalg.qr(torch.randn(d, d, generator=generator, dtype=F64))
    z = torch.randn(m, d, generator=generator, dtype=F64)
    z = z - z.mean(0)
    w_evals, w_evecs = torch.linalg.eigh(z.T @ z)
    white = z @ w_evecs @ torch.diag(w_evals.rsqrt()) @ w_evecs.T  # white.T @ white = I
    return white @ torch.diag(evals.sqrt()) @ v.T, v


LINEAR_K = 6  # MNIST's eigenvalues 6 and 7 are 0.57 apart (11% of the first): a wide gap
LINEAR_STEPS = 3000
GAUSS_EVALS = (5.0, 4.0, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3)
GAUSS_K = 2


def tile(images: list[np.ndarray], gap: int = 2) -> np.ndarray:
    """Equal-shaped 2-D arrays side by side, each scaled to max |value| = 1, NaN gaps."""
    h = images[0].shape[0]
    out: list[np.ndarray] = []
    for i, im in enumerate(images):
        if i:
            out.append(np.full((h, gap), np.nan))
        out.append(im / max(float(np.nanmax(np.abs(im))), 1e-300))
    return np.concatenate(out, 1)


@experiment("linear-ae-pca", "the linear autoencoder's optimum is PCA's subspace, not its basis")
def linear_ae_pca(seed: int = 0) -> Finding:
    """On the mnist5k training digits (4,000, pixels in [0, 1], D = 784) in the form (1), train
    a linear autoencoder with k = 6 by full-batch gradient descent (5), 3,000 steps of
    0.3/lambda_1, recording the loss and the principal angles; the same on a 10-D Gaussian whose
    covariance is exactly known. Checks: the closed-form optimum U_k U_k^T and a random
    invertible mix (4) reach sum_{j>k} lambda_j on the data (3), with zero gradient, and the
    swapped saddle (6) sits lambda_k - lambda_{k+1} higher (float precision); the trained loss
    reaches the floor within the training tolerance, its subspace is within the bound (7) of
    U_k, and genzoo's linear-ae `principal_directions` on the trained decoder returns the top-k
    variances within (8)."""
    from ..data import load_dataset
    from ..models import build_model

    g = torch.Generator().manual_seed(seed)
    data = load_dataset("mnist5k")
    pixels = torch.as_tensor(data.x_train, dtype=F64).flatten(1) / 255.0
    m, d, k = pixels.shape[0], pixels.shape[1], LINEAR_K
    with one_thread():
        x = centred_scaled(pixels)
        c = covariance(pixels)
        lam, u = pca(c)
        u_k = u[:, :k]
        floor = float(lam[k:].sum())
        gap = float(lam[k - 1] - lam[k])
        lr = 0.3 / float(lam[0])  # the loss's curvature is of order lambda_1 |weights|^2
        run = train_linear_ae(c, k, LINEAR_STEPS, lr, g, 10, u_k)
        a, b = run["a"], run["b"]

        # the closed forms (3), (4) and (6), evaluated on the samples themselves
        mix = torch.randn(k, k, generator=g, dtype=F64)
        optimum = ae_loss_on_data(x, u_k.T, u_k)
        mixed = ae_loss_on_data(x, torch.linalg.solve(mix, u_k.T), u_k @ mix)
        swap = torch.cat([u[:, : k - 1], u[:, k : k + 1]], 1)
        swapped = ae_loss_on_data(x, swap.T, swap)
        grads = [*ae_gradients(c, u_k.T, u_k), *ae_gradients(c, swap.T, swap)]
        worst_grad = max(float(gr.abs().max()) for gr in grads)
        trained = float(ae_loss_on_data(x, a, b))
        sines = principal_sines(b, u_k)

        # what the weights are: a mix of the eigenvectors, G = U_k^T B
        mixing = u_k.T @ b
        diag_share = float((mixing.diagonal() ** 2).sum() / (mixing**2).sum())
        col_cos = (u.T @ (b / b.norm(dim=0))).abs().max(0).values

        # genzoo's linear-ae reads the ordered directions from the trained decoder
        model = build_model("linear-ae", data.info(), {"latent_dim": k}, seed=seed)
        with torch.no_grad():
            model.dec[0].weight.copy_(b.float())
        dirs, variances = model.principal_directions(pixels.view(-1, *data.info().shape))
        mu = variances.double() * (m - 1) / m  # genzoo divides by M - 1, (1) by M
        dir_cos = (dirs.double() @ u_k).diagonal().abs()

        # a Gaussian whose covariance is known exactly: geometric convergence
        evals = torch.tensor(GAUSS_EVALS, dtype=F64)
        xg, v = gaussian_with_covariance(evals, 2000, g)
        cg = xg.T @ xg
        gauss = train_linear_ae(cg, GAUSS_K, LINEAR_STEPS, 0.3 / float(evals[0]), g, 10,
                                v[:, :GAUSS_K])  # fmt: skip
        gauss_floor = float(evals[GAUSS_K:].sum())
        gauss_trained = float(ae_loss_on_data(xg, gauss["a"], gauss["b"]))
        gauss_sines = principal_sines(gauss["b"], v[:, :GAUSS_K])

    scale = float(torch.trace(c))
    # the training tolerance, set before the run: descent approaches the floor like 1/t here
    # (the direction of an eigenvalue lambda_j is learned at a rate proportional to lambda_j,
    # and the digits' spectrum reaches 0), and 3,000 steps are run to bring the error within
    # 1e-4 of the floor; the figure's middle panel shows the approach
    eps_train = 1e-4 * floor
    # the Gaussian's spectrum is bounded below (by 0.3): descent converges geometrically and
    # after 3,000 steps what remains is the rounding of (2), a float64 sum of M D squares
    # (~1e-15 relative); 1e-11 leaves room
    eps_gauss = 1e-11 * gauss_floor
    checks = [
        # a float64 sum of M D = 3.1e6 squares: rounding ~1e-13 relative at most
        Check("(3) closed form U_k U_k^T: reconstruction error = sum of discarded eigenvalues",
              float(optimum), floor, 1e-10 * floor),
        Check("(4) B = U_k G, A = G^-1 U_k^T (random G): the same error",
              float(mixed), floor, 1e-9 * floor),  # G^-1 costs a few digits (cond G)
        # each gradient entry is a sum of D products of order lambda_1: rounding ~1e-13
        Check("(5) largest gradient entry at the optimum and the saddle", worst_grad, 0.0,
              1e-10 * scale),
        # a difference of two errors of order tr C: rounding ~1e-13 tr C
        Check("(6) the swapped saddle: its error minus the floor = λ_k - λ_{k+1}",
              float(swapped) - floor, gap, 1e-9 * scale),
        Check("gradient descent's final error against the floor (training tolerance 1e-4)",
              trained, floor, eps_train),
        Check("(7) sum of sin² of the principal angles, within (L - L*)/(λ_k - λ_{k+1})",
              float((sines**2).sum()), 0.0, max(trained - floor, 0.0) / gap),
        # (8), plus the float32 rounding of genzoo's output (~6e-8 relative; 1e-6 with room)
        Check("(8) principal_directions' variances: largest |mu_i/λ_i - 1|",
              float((mu / lam[:k] - 1).abs().max()), 0.0, float(sines[0]) ** 2 + 1e-6),
        Check("Gaussian (exact covariance): final error against sum of discarded eigenvalues",
              gauss_trained, gauss_floor, eps_gauss),
        Check("Gaussian: sum of sin² of the principal angles within (7)",
              float((gauss_sines**2).sum()), 0.0,
              max(gauss_trained - gauss_floor, 0.0) / float(evals[GAUSS_K - 1] - evals[GAUSS_K])
              + 1e-24),  # + 1e-24: at the floor, sin² is rounding of order 1e-32
    ]  # fmt: skip
    numbers = {
        "samples": m, "dims": d, "k": k, "steps": LINEAR_STEPS, "lr": lr,
        "eigenvalues_top": [float(e) for e in lam[: k + 2]],
        "trace": scale, "floor_sum_discarded": floor, "eigengap": gap,
        "floor_with_unbiased_covariance": float(pca(covariance(pixels, True))[0][k:].sum()),
        "trained_error": trained, "relative_excess": (trained - floor) / floor,
        "principal_angles_rad": [float(s) for s in torch.asin(sines.clamp(max=1))],
        "angle_bound_rad": math.asin(min(1.0, math.sqrt(max(trained - floor, 0.0) / gap)))
        if gap > 0 else math.nan,
        "swapped_saddle_error": float(swapped),
        "mixing_G_diagonal_share": diag_share,
        "mixing_G_condition_number": float(torch.linalg.cond(mixing)),
        "decoder_columns_best_abs_cos_with_an_eigenvector": [float(v_) for v_ in col_cos],
        "balance_AAt_minus_BtB_start_end": [float(v_) for v_ in run["balance"]],
        "encoder_times_decoder_minus_identity": float((a @ b - torch.eye(k, dtype=F64))
                                                      .abs().max()),
        "principal_directions_abs_cos": [float(v_) for v_ in dir_cos],
        "principal_directions_variances": [float(v_) for v_ in mu],
        "gaussian": {"dims": len(GAUSS_EVALS), "k": GAUSS_K, "floor": gauss_floor,
                     "trained_error": gauss_trained,
                     "largest_angle_rad": float(torch.asin(gauss_sines[0].clamp(max=1)))},
    }  # fmt: skip
    steps = run["steps"].numpy()
    # the pictures: eigenvectors, decoder columns and genzoo's directions, sign-matched
    signs = torch.sign((dirs.double() @ u_k).diagonal())

    def img(vec: Tensor) -> np.ndarray:
        return vec.reshape(28, 28).numpy()

    rows = [
        tile([img(u_k[:, i]) for i in range(k)]),
        tile([img(b[:, i]) for i in range(k)]),
        tile([img(signs[i] * dirs[i].double()) for i in range(k)]),
    ]
    gap_row = np.full((3, rows[0].shape[1]), np.nan)
    montage = np.concatenate([rows[0], gap_row, rows[1], gap_row, rows[2]], 0)
    # below ~1e-15 relative the excess is float64 rounding of (2): drawn at that level
    excess = ((run["loss"] - floor) / floor).clamp_min(1e-16)
    g_excess = ((gauss["loss"] - gauss_floor) / gauss_floor).clamp_min(1e-16)
    panels = [
        Panel("MNIST: loss (2) against gradient steps",
              [Series("line", steps + 1, run["loss"].numpy(), "L(A, B)", color="C0"),
               Series("hline", [0], [floor], f"floor Σ_(j>{k}) λ_j = {floor:.3f}", "--",
                      color="k"),
               Series("hline", [0], [scale], f"tr C = {scale:.2f} (B A = 0)", ":", color="0.5")],
              "step + 1", "reconstruction error", logx=True),
        Panel("relative excess (L - L*)/L*",
              [Series("line", steps + 1, excess.numpy(), f"MNIST, k = {k}", color="C0"),
               Series("line", steps + 1, g_excess.numpy(),
                      f"Gaussian, λ ≥ {min(GAUSS_EVALS)}, k = {GAUSS_K}", color="C1"),
               Series("hline", [0], [1e-4], "training tolerance", ":", color="k")],
              "step + 1", "relative excess", logx=True, logy=True),
        Panel("sin of the principal angles to span U_k",
              [*[Series("line", steps + 1, run["sines"][:, i].clamp_min(1e-300).numpy(),
                        "MNIST, all 6" if i == 0 else None, color="C0") for i in range(k)],
               Series("line", steps + 1, gauss["sines"][:, 0].clamp_min(1e-300).numpy(),
                      "Gaussian, largest", color="C1")],
              "step + 1", "sin θ", logx=True, logy=True),
        Panel("u_1..u_6 (top), columns of B (middle), genzoo's\n"
              "principal_directions from B (bottom)",
              [Series("image", [], z=montage)], legend=False),
    ]  # fmt: skip
    return Finding("linear-ae-pca", "The linear autoencoder finds PCA's subspace", numbers,
                   checks, panels)  # fmt: skip


# ---------------------------------------------------------------- convolutions as matrices
def conv_out_size(n: int, k: int, stride: int, padding: int) -> int:
    """The output length of (9) along one axis: floor((n + 2p - k)/s) + 1."""
    return (n + 2 * padding - k) // stride + 1


def conv_matrix(kernel: Tensor, in_shape: tuple[int, int], stride: int = 1,
                padding: int = 0) -> Tensor:  # fmt: skip
    """(9): the matrix M (C_out H' W' x C_in H W) of the convolution with `kernel` (C_out, C_in,
    k1, k2), built entry by entry: row (o, a, b) holds K[o, :, t1, t2] at the input pixel
    (s a + t1 - p, s b + t2 - p), where that pixel is inside the image."""
    c_out, c_in, k1, k2 = kernel.shape
    h, w = in_shape
    ho, wo = conv_out_size(h, k1, stride, padding), conv_out_size(w, k2, stride, padding)
    m = torch.zeros(c_out, ho, wo, c_in, h, w, dtype=kernel.dtype)
    for a in range(ho):
        for b in range(wo):
            for t1 in range(k1):
                for t2 in range(k2):
                    r, c = stride * a + t1 - padding, stride * b + t2 - padding
                    if 0 <= r < h and 0 <= c < w:
                        m[:, a, b, :, r, c] += kernel[:, :, t1, t2]
    return m.reshape(c_out * ho * wo, c_in * h * w)


def scatter_transposed(y: Tensor, kernel: Tensor, stride: int = 1) -> Tensor:
    """(10)-(11), the course's definition for one channel and no padding: every input value
    y[a, b] adds y[a, b] K into the output at (s a, s b)."""
    (h, w), (k1, k2) = y.shape, kernel.shape
    out = torch.zeros((h - 1) * stride + k1, (w - 1) * stride + k2, dtype=kernel.dtype)
    for a in range(h):
        for b in range(w):
            out[stride * a : stride * a + k1, stride * b : stride * b + k2] += y[a, b] * kernel
    return out


def transposed_by_zero_insertion(y: Tensor, kernel: Tensor, stride: int, padding: int,
                                 output_padding: int = 0) -> Tensor:  # fmt: skip
    """(10) as an ordinary convolution: insert s - 1 zeros between the values of y (C_out, H',
    W'), pad by k - 1 - p (and the output padding after), and convolve with the kernel flipped
    in space, its two channel axes swapped."""
    c, h, w = y.shape
    k = kernel.shape[-1]
    spread = torch.zeros(c, (h - 1) * stride + 1, (w - 1) * stride + 1, dtype=y.dtype)
    spread[:, ::stride, ::stride] = y
    edge = k - 1 - padding
    spread = F.pad(spread, (edge, edge + output_padding, edge, edge + output_padding))
    return F.conv2d(spread[None], kernel.transpose(0, 1).flip(2, 3))[0]


# (name, C_out, C_in, k, input H = W, stride, padding) of the convolutions checked
CONV_CASES = [
    ("course: 2x2 kernel, stride 1", 1, 1, 2, 3, 1, 0),
    ("3x3, stride 1, padding 1", 3, 2, 3, 5, 1, 1),
    ("3x3, stride 2", 1, 1, 3, 5, 2, 0),
    ("3x3, stride 2, padding 1 (genzoo's decoder)", 3, 2, 3, 6, 2, 1),
]
COURSE_INPUT = [[0.0, 1.0], [2.0, 3.0]]
COURSE_KERNEL = [[0.0, 1.0], [2.0, 3.0]]
COURSE_OUTPUT = [[0.0, 0.0, 1.0], [0.0, 4.0, 6.0], [4.0, 12.0, 9.0]]


def relative_gap(measured: Tensor, expected: Tensor, magnitude: Tensor) -> float:
    """max |measured - expected| over the largest |term| sum behind an entry: the rounding
    of a float64 sum of n products is below n eps of that."""
    return float((measured - expected).abs().max() / magnitude.abs().max().clamp_min(1e-300))


@experiment(
    "transposed-conv", "a transposed convolution is the transpose of a convolution's matrix"
)
def transposed_conv(seed: int = 0) -> Finding:
    """Build the matrix M of (9) entry by entry for four convolutions (the course's 2x2 kernel
    at stride 1; 3x3 at stride 1 with padding; 3x3 at stride 2, without and with padding and
    two channels in, three out, as genzoo's decoders use it) with random float64 kernels and
    inputs, then compare: torch's conv2d with M x, torch's conv_transpose2d with M^T y (10),
    the gradient of <conv2d(x), y> with respect to x with conv_transpose2d(y), and zero
    insertion + a flipped-kernel convolution with conv_transpose2d. The course's example (11):
    torch, the scatter definition and M^T y all give [[0, 0, 1], [0, 4, 6], [4, 12, 9]]
    exactly."""
    g = torch.Generator().manual_seed(seed)
    errors: dict[str, list[float]] = {"M x": [], "M^T y": [], "gradient": [], "zeros": []}
    not_inverse, matrices = [], {}
    with one_thread():
        for name, c_out, c_in, k, n, s, p in CONV_CASES:
            kernel = torch.randn(c_out, c_in, k, k, generator=g, dtype=F64)
            x = torch.randn(c_in, n, n, generator=g, dtype=F64, requires_grad=True)
            m = conv_matrix(kernel, (n, n), s, p)
            matrices[name] = m
            y = F.conv2d(x[None], kernel, stride=s, padding=p)[0]
            ho = y.shape[-1]
            op = n - ((ho - 1) * s - 2 * p + k)  # the output padding that restores n
            upstream = torch.randn(y.shape, generator=g, dtype=F64)
            (grad,) = torch.autograd.grad((y * upstream).sum(), x)
            x = x.detach()
            up_t = F.conv_transpose2d(upstream[None], kernel, stride=s, padding=p,
                                      output_padding=op)[0]  # fmt: skip
            mag_fwd = m.abs() @ x.abs().flatten()
            mag_bwd = m.T.abs() @ upstream.abs().flatten()
            errors["M x"].append(relative_gap(y.detach().flatten(), m @ x.flatten(), mag_fwd))
            errors["M^T y"].append(relative_gap(up_t.flatten(), m.T @ upstream.flatten(),
                                                mag_bwd))  # fmt: skip
            errors["gradient"].append(relative_gap(grad.flatten(), up_t.flatten(), mag_bwd))
            zeros = transposed_by_zero_insertion(upstream, kernel, s, p, op)
            errors["zeros"].append(relative_gap(zeros.flatten(), up_t.flatten(), mag_bwd))
            # the transpose is not the inverse: conv(conv_transpose(y)) against y
            back = F.conv2d(up_t[None], kernel, stride=s, padding=p)[0]
            not_inverse.append(float((back - upstream).norm() / upstream.norm()))

        y_c = torch.tensor(COURSE_INPUT, dtype=F64)
        k_c = torch.tensor(COURSE_KERNEL, dtype=F64)
        expected = torch.tensor(COURSE_OUTPUT, dtype=F64)
        by_torch = F.conv_transpose2d(y_c[None, None], k_c[None, None])[0, 0]
        by_scatter = scatter_transposed(y_c, k_c)
        m_c = conv_matrix(k_c[None, None], (3, 3))
        by_matrix = (m_c.T @ y_c.flatten()).reshape(3, 3)
        by_conv = F.conv2d(by_torch[None, None], k_c[None, None])[0, 0]  # M M^T y

    # sums of at most C_in k^2 = 18 products: float64 rounding is below 18 eps = 4e-15 of the
    # sum of the terms' magnitudes; 1e-13 leaves room for the order of summation
    tol = 1e-13
    checks = [
        # small integers: every product and sum is exact in floating point
        Check("course example (11): torch conv_transpose2d, largest |difference|",
              float((by_torch - expected).abs().max()), 0.0, 0.0),
        Check("course example: the scatter definition (10), largest |difference|",
              float((by_scatter - expected).abs().max()), 0.0, 0.0),
        Check("course example: M^T y with M the 2x2 convolution on 3x3, largest |difference|",
              float((by_matrix - expected).abs().max()), 0.0, 0.0),
        Check("(9) torch conv2d = M x (worst of 4 convolutions, relative)",
              max(errors["M x"]), 0.0, tol),
        Check("(10) torch conv_transpose2d = M^T y (worst, relative)",
              max(errors["M^T y"]), 0.0, tol),
        Check("gradient of <conv2d(x), y> w.r.t. x = conv_transpose2d(y) (worst, relative)",
              max(errors["gradient"]), 0.0, tol),
        Check("zero insertion + flipped-kernel conv2d = conv_transpose2d (worst, relative)",
              max(errors["zeros"]), 0.0, tol),
    ]  # fmt: skip
    numbers = {
        "course_input": COURSE_INPUT, "course_kernel": COURSE_KERNEL,
        "course_output_torch": by_torch.tolist(), "course_output_expected": COURSE_OUTPUT,
        "course_conv_of_output": by_conv.tolist(),
        "cases": [
            {"case": name, "matrix_shape": list(matrices[name].shape),
             "error_Mx": errors["M x"][i], "error_MTy": errors["M^T y"][i],
             "error_gradient": errors["gradient"][i], "error_zero_insertion": errors["zeros"][i],
             "conv_of_transposed_vs_y_relative": not_inverse[i]}
            for i, (name, *_rest) in enumerate(CONV_CASES)
        ],
    }  # fmt: skip

    stride2 = matrices[CONV_CASES[2][0]].numpy()
    pixel = np.arange(9)
    idx = np.arange(1, len(CONV_CASES) + 1)
    styles = {"M x": "o", "M^T y": "s", "gradient": "^", "zeros": "x"}
    panels = [
        Panel("M of a random 3x3 kernel, stride 2, on 5x5 (4 x 25):\neach row is the kernel at a "
              "stride-2 offset", [Series("image", [], z=stride2)], legend=False),
        Panel("course example: y = K = [[0, 1], [2, 3]], stride 1",
              [Series("line", pixel, expected.flatten().numpy(),
                      "course: [[0,0,1],[0,4,6],[4,12,9]]", "-", color="0.6"),
               Series("line", pixel, by_torch.flatten().numpy(), "torch conv_transpose2d", "o",
                      color="C0"),
               Series("line", pixel, by_scatter.flatten().numpy(), "scatter definition (10)",
                      "x", color="C1"),
               Series("line", pixel, by_matrix.flatten().numpy(), "M^T y", "+", color="C3")],
              "output pixel (row-major, 3 x 3)", "value"),
        Panel("largest relative difference (0 drawn at 1e-18)",
              [*[Series("line", idx, np.maximum(errors[key], 1e-18), key, style,
                        color=f"C{i}") for i, (key, style) in enumerate(styles.items())],
               Series("hline", [0], [tol], "tolerance", "--", color="k")],
              "convolution (1: course, 2: s1 p1, 3: s2, 4: s2 p1)", "relative difference",
              logy=True),
    ]  # fmt: skip
    return Finding("transposed-conv", "Transposed convolution = multiplication by M^T", numbers,
                   checks, panels)  # fmt: skip


# ---------------------------------------------------------------- checkerboards
def overlap_counts(n_in: int, k: int, stride: int, padding: int = 0,
                   output_padding: int = 0) -> Tensor:  # fmt: skip
    """(12): how many kernel taps land on each output pixel of a transposed convolution along
    one axis (the 2-D count is the outer product of two of these)."""
    n_out = (n_in - 1) * stride - 2 * padding + k + output_padding
    counts = torch.zeros(n_out, dtype=F64)
    for r in range(n_out):
        for t in range(k):
            q, rem = divmod(r + padding - t, stride)
            counts[r] += rem == 0 and 0 <= q < n_in
    return counts


def phase_taps(phase: int, k: int, stride: int, padding: int) -> list[int]:
    """The taps t = phase + p (mod s) that land on an interior pixel of that phase."""
    return [t for t in range(k) if (phase + padding - t) % stride == 0]


def phase_pattern(weight: Tensor, bias: Tensor, c: float, stride: int, padding: int) -> Tensor:
    """(13): the interior output of a transposed convolution (weight (C_in, C_out, k, k), bias
    (C_out,)) for the constant input c, one value per output channel and phase: (C_out, s, s)."""
    k = weight.shape[-1]
    out = torch.empty(weight.shape[1], stride, stride, dtype=weight.dtype)
    for r1 in range(stride):
        for r2 in range(stride):
            t1, t2 = phase_taps(r1, k, stride, padding), phase_taps(r2, k, stride, padding)
            out[:, r1, r2] = c * weight[:, :, t1][:, :, :, t2].sum((0, 2, 3)) + bias
    return out


def phase_energy(n_taps: int, c_in: int, c: float, var_w: float, var_b: float) -> float:
    """(16): E P^2 at a phase whose pixels receive n_taps taps per input channel, for
    independent zero-mean weights (variance var_w) and bias (var_b)."""
    return c**2 * n_taps * c_in * var_w + var_b


def bank_share(k: int, c_in: int, var_w: float, var_b: float) -> float:
    """(18): E[Nyquist energy] / E[energy] of a random stride-2 layer's response to the constant
    1, (3/4) k^2 C_in var_w / (k^2 C_in var_w + 4 var_b): the same for every k."""
    weights = k**2 * c_in * var_w
    return 0.75 * weights / (weights + 4 * var_b)


def nyquist_response(weight: Tensor, padding: int) -> Tensor:
    """(14): Khat at (pi, 0), (0, pi) and (pi, pi) for a stride-2 transposed convolution,
    sum_t (-1)^(t - p) K[t] per axis: (C_in, C_out, 3)."""
    k = weight.shape[-1]
    sign = torch.tensor([(-1.0) ** (t - padding) for t in range(k)], dtype=weight.dtype)
    return torch.stack([(weight * sign[:, None]).sum((2, 3)),
                        (weight * sign[None, :]).sum((2, 3)),
                        (weight * sign[:, None] * sign[None, :]).sum((2, 3))], -1)  # fmt: skip


def nyquist_coefficients(y: Tensor) -> Tensor:
    """The DFT of y (..., H, W) (H, W even) at (pi, 0), (0, pi) and (pi, pi): (..., 3)."""
    h, w = y.shape[-2:]
    spec = torch.fft.fft2(y)
    return torch.stack([spec[..., h // 2, 0], spec[..., 0, w // 2], spec[..., h // 2, w // 2]],
                       -1)  # fmt: skip


def nyquist_share(y: Tensor) -> Tensor:
    """(17): the share of the energy of y (..., H, W) at the three Nyquist frequencies."""
    h, w = y.shape[-2:]
    return (nyquist_coefficients(y).abs() ** 2).sum(-1) / (h * w * (y**2).sum((-2, -1)))


def pattern_share(pattern: Tensor) -> Tensor:
    """(17) for a 2 x 2 pattern (..., 2, 2) tiled: 1 - mean(P)^2 / mean(P^2)."""
    return 1 - pattern.mean((-2, -1)) ** 2 / (pattern**2).mean((-2, -1))


def circular_transposed(h: Tensor, weight: Tensor, bias: Tensor, stride: int,
                        padding: int) -> Tensor:  # fmt: skip
    """A transposed convolution of h (B, C_in, n, n) with cyclic boundaries: the full output
    (length (n - 1) s + k) folded onto s n pixels at r = (full index - p) mod s n. Where
    genzoo's layer (padding p, output padding s n - ((n - 1) s - 2p + k)) crops, this wraps."""
    full = F.conv_transpose2d(h, weight, stride=stride)
    n_out = stride * h.shape[-1]
    idx = (torch.arange(full.shape[-1]) - padding) % n_out
    y = torch.zeros(*full.shape[:2], n_out, full.shape[-1], dtype=full.dtype)
    y.index_add_(2, idx, full)
    out = torch.zeros(*full.shape[:2], n_out, n_out, dtype=full.dtype)
    out.index_add_(3, idx, y)
    return out + bias[:, None, None]


def nearest_upsample(h: Tensor) -> Tensor:
    """Nearest-neighbour upsampling by 2: each value repeated twice along each axis."""
    return h.repeat_interleave(2, -2).repeat_interleave(2, -1)


def circular_upsample_conv(h: Tensor, weight: Tensor, bias: Tensor, padding: int) -> Tensor:
    """Nearest upsampling then a stride-1 convolution, with cyclic boundaries."""
    u = F.pad(nearest_upsample(h), (padding,) * 4, mode="circular")
    return F.conv2d(u, weight, bias)


def mean_power(y: Tensor) -> Tensor:
    """The power spectrum |Y|^2 of y (B, H, W) minus each image's mean, averaged over B."""
    y = y - y.mean((-2, -1), keepdim=True)
    return (torch.fft.fft2(y).abs() ** 2).mean(0)


# (k, stride, padding, n_in) of the overlap counts checked; genzoo's decoder stage first
COUNT_CASES = [(3, 2, 1, 14), (3, 2, 0, 10), (4, 2, 1, 10), (2, 2, 0, 10), (5, 2, 2, 10),
               (3, 3, 0, 10), (5, 3, 1, 10)]  # fmt: skip
BANK = 4000  # random layers drawn for (16)
CODES = 256  # digits decoded by the conv-ae at init


def last_stage(model) -> tuple[nn.Module, Callable[[Tensor], Tensor]]:
    """genzoo's conv-ae decoder: its last upsampling layer (a ConvTranspose2d, or the
    Upsample + Conv2d pair) and a function giving that stage's input from a code."""
    layers = list(model.decoder.deconv)
    cut = -1 if isinstance(layers[-1], nn.ConvTranspose2d) else -2
    body = model.decoder.deconv[:cut]

    def features(z: Tensor) -> Tensor:
        return body(model.decoder.fc(z).view(-1, *model.decoder.top))

    return nn.Sequential(*layers[cut:]), features


@experiment("checkerboard", "transposed convolutions put a checkerboard at Nyquist, upsampling not")
def checkerboard(seed: int = 0) -> Finding:
    """Overlap counts (12) of transposed convolutions (several k and s) from conv_transpose2d
    on ones against the closed form. A bank of 4,000 random layers as genzoo's conv-ae ends, a
    3x3 stride-2 transposed convolution 32 -> 1 and nearest upsampling + a 3x3 convolution
    32 -> 1, with PyTorch's default initialization, fed the constant 1: the transposed layers'
    interior is the phase pattern (13), whose mean square per phase is (16) (1 : 2 : 2 : 4)
    and whose share of energy at Nyquist is (18), for k = 3 and k = 4 alike (5 standard
    errors); the upsampling layers' interior is constant. Then genzoo's conv-ae
    (both decoders, at init, float64) on mnist5k digits: with cyclic boundaries its last stage
    puts Khat(pi) times the features' mean at Nyquist (14), and nothing with upsampling (15)
    (float precision); and the share (17) of the decoded images' energy at Nyquist for both."""
    from ..data import load_dataset
    from ..models import build_model

    g = torch.Generator().manual_seed(seed)
    with one_thread():
        # (12): counts from torch against the closed form
        count_gap, count_rows = 0.0, []
        for k, s, p, n in COUNT_CASES:
            op = 1 if (k, s, p) == (3, 2, 1) else 0  # genzoo's stage doubles n exactly
            ones = torch.ones(1, 1, n, n, dtype=F64)
            measured = F.conv_transpose2d(ones, torch.ones(1, 1, k, k, dtype=F64), stride=s,
                                          padding=p, output_padding=op)[0, 0]  # fmt: skip
            c1 = overlap_counts(n, k, s, p, op)
            count_gap = max(count_gap, float((measured - c1[:, None] * c1[None, :]).abs().max()))
            inner = c1[k:-k]
            count_rows.append({"k": k, "stride": s, "padding": p,
                               "interior_counts": sorted({int(v) for v in inner}),
                               "uneven": bool(inner.min() != inner.max())})  # fmt: skip
        k, s, p, n = 3, 2, 1, 14
        counts = overlap_counts(n, k, s, p, 1)
        count_img = counts[:, None] * counts[None, :]
        # the interior crop 0..25 holds whole 2 x 2 cells of the pattern (row 27 is the edge)
        crop = slice(0, 2 * n - 2)
        ones_share = float(nyquist_share(count_img[crop, crop]))
        ones_share_closed = float(pattern_share(count_img[:2, :2]))

        # a bank of random layers, PyTorch's default init U(-1/sqrt(f), 1/sqrt(f)); f is
        # weight.size(1) k^2: 1 x 9 for the transposed layer (its output channels), 32 x 9
        # for the convolution
        c_in = 32
        f_t, f_c = 1 * k * k, c_in * k * k
        w_t = (torch.rand(c_in, BANK, k, k, generator=g, dtype=F64) * 2 - 1) / math.sqrt(f_t)
        b_t = (torch.rand(BANK, generator=g, dtype=F64) * 2 - 1) / math.sqrt(f_t)
        w_c = (torch.rand(BANK, c_in, k, k, generator=g, dtype=F64) * 2 - 1) / math.sqrt(f_c)
        b_c = (torch.rand(BANK, generator=g, dtype=F64) * 2 - 1) / math.sqrt(f_c)
        const = torch.ones(1, c_in, n, n, dtype=F64)
        out_t = F.conv_transpose2d(const, w_t, b_t, stride=2, padding=1, output_padding=1)[0]
        out_c = F.conv2d(F.interpolate(const, scale_factor=2, mode="nearest"), w_c, b_c,
                         padding=1)[0]  # fmt: skip
        pattern = phase_pattern(w_t, b_t, 1.0, 2, 1)  # (BANK, 2, 2)
        tiled = pattern.repeat(1, n, n)  # the interior, by (13)
        mag_t = w_t.abs().sum((0, 2, 3)).max() + b_t.abs().max()
        pattern_gap = float((out_t[:, crop, crop] - tiled[:, crop, crop]).abs().max() / mag_t)
        level = w_c.sum((1, 2, 3)) + b_c  # (15): c sum K + bias everywhere inside
        inner = slice(1, 2 * n - 1)
        mag_c = w_c.abs().sum((1, 2, 3)).max() + b_c.abs().max()
        flat_gap = float((out_c[:, inner, inner] - level[:, None, None]).abs().max() / mag_c)
        share_t = nyquist_share(out_t[:, crop, crop])
        # (18): the bank's Nyquist energy over its energy, a ratio of sums over the layers
        # (its standard error by the delta method), for k = 3 and for k = 4 (which s divides;
        # its interior is rows 1..26)
        ratios = {}
        for kk, cut in ((3, crop), (4, slice(1, 2 * n - 1))):
            f_k = kk * kk  # PyTorch's fan for this layer: 1 output channel x k^2
            w_k = w_t if kk == 3 else (torch.rand(c_in, BANK, kk, kk, generator=g, dtype=F64)
                                      * 2 - 1) / math.sqrt(f_k)  # fmt: skip
            b_k = (
                b_t
                if kk == 3
                else (torch.rand(BANK, generator=g, dtype=F64) * 2 - 1) / math.sqrt(f_k)
            )
            y_k = F.conv_transpose2d(
                const, w_k, b_k, stride=2, padding=1, output_padding=1 if kk == 3 else 0
            )[0, :, cut, cut]
            nyq = (nyquist_coefficients(y_k).abs() ** 2).sum(-1)
            tot = y_k.shape[-1] * y_k.shape[-2] * (y_k**2).sum((-2, -1))
            ratio = float(nyq.sum() / tot.sum())
            se = float((nyq - ratio * tot).std() / (math.sqrt(BANK) * tot.mean()))
            v_k = 1 / (3 * f_k)
            ratios[kk] = (ratio, se, bank_share(kk, c_in, v_k, v_k))
        share_c = nyquist_share(out_c[:, 2 : 2 * n - 2, 2 : 2 * n - 2])
        energy = out_t[:, 2:4, 2:4] ** 2  # one interior pixel of each phase, (BANK, 2, 2)
        var_t = 1 / (3 * f_t)
        taps = [len(phase_taps(r, k, 2, 1)) for r in range(2)]

        # genzoo's conv-ae at init, both decoders, on the digits
        data = load_dataset("mnist5k")
        x = torch.as_tensor(data.x_train[:CODES], dtype=F64) / 255.0
        decoded, circ_gap, up_gap, shares = {}, {}, 0.0, {}
        for kind in ("transposed", "nearest"):
            model = build_model("conv-ae", data.info(), {"upsample": kind}, seed=seed).double()
            model.eval()
            last, features = last_stage(model)
            with torch.no_grad():
                z = model.encode(x)
                h = features(z)
                logits = model.decode_logits(z)[:, 0]
                if kind == "transposed":
                    layer = last[0]
                    circ = circular_transposed(h, layer.weight, layer.bias, 2, 1)[:, 0]
                    khat = nyquist_response(layer.weight, 1)[:, 0]  # (C_in, 3)
                    predicted = h.sum((-2, -1)) @ khat  # (14): sum_i Khat_i Hhat_i(0)
                else:
                    upsample, conv = last[0], last[1]
                    up_gap = float((upsample(h) - nearest_upsample(h)).abs().max())
                    circ = circular_upsample_conv(h, conv.weight, conv.bias, 1)[:, 0]
                    predicted = torch.zeros(len(h), 3, dtype=F64)  # (15)
                gap_ = (nyquist_coefficients(circ) - predicted).abs().max(-1).values
                circ_gap[kind] = float((gap_ / circ.abs().sum((-2, -1))).max())
            decoded[kind] = logits
            centred = logits - logits.mean((-2, -1), keepdim=True)
            shares[kind] = nyquist_share(centred)
        x_img = x[:, 0]
        shares["data"] = nyquist_share(x_img - x_img.mean((-2, -1), keepdim=True))

    checks = [
        # counts are small integers: exact in floating point
        Check(f"(12) overlap counts: torch against the closed form ({len(COUNT_CASES)} cases)",
              count_gap, 0.0, 0.0),
        # an FFT of 676 points: rounding ~ log2(676) eps of the energy; 1e-12 leaves room
        Check("(17) all-ones 3x3 kernel, stride 2, constant input: Nyquist share of the counts",
              ones_share, ones_share_closed, 1e-12),
        # each output is a float64 sum of at most 4 x 32 + 1 terms: rounding below 1e-14 of
        # the sum of their magnitudes; 1e-12 leaves room
        Check(f"(13) {BANK} random transposed layers, constant input: interior = phase pattern",
              pattern_gap, 0.0, 1e-12),
        Check(f"{BANK} random upsample + conv layers, constant input: interior constant",
              flat_gap, 0.0, 1e-12),
        *[Check(f"(16) E P² at phase ({r1}, {r2}), {taps[r1] * taps[r2]} tap(s) per channel",
                float(energy[:, r1, r2].mean()),
                phase_energy(taps[r1] * taps[r2], c_in, 1.0, var_t, var_t),
                Z * float(energy[:, r1, r2].std()) / math.sqrt(BANK))
          for r1 in range(2) for r2 in range(2)],
        *[Check(f"(18) random k = {kk}, stride 2: Nyquist energy / energy, over the bank",
                ratios[kk][0], ratios[kk][2], Z * ratios[kk][1]) for kk in (3, 4)],
        Check("nearest Upsample in genzoo's decoder repeats each value twice (largest |diff|)",
              up_gap, 0.0, 0.0),  # a copy: exact
        # a float64 FFT of 784 points: error ~ log2(784) eps sum|y|; 1e-12 leaves room
        Check("(14) conv-ae transposed stage, cyclic: Y(Nyquist) = Khat(π) × features' sum",
              circ_gap["transposed"], 0.0, 1e-12),
        Check("(15) conv-ae upsample + conv stage, cyclic: Y(Nyquist) = 0",
              circ_gap["nearest"], 0.0, 1e-12),
    ]  # fmt: skip
    numbers = {
        "overlap_counts": count_rows,
        "all_ones_counts_cell": count_img[:2, :2].tolist(),
        "all_ones_nyquist_share": ones_share,
        "bank_layers": BANK, "bank_in_channels": c_in,
        "bank_mean_square_per_phase": energy.mean(0).tolist(),
        "bank_mean_square_closed_form": [[phase_energy(taps[a] * taps[b], c_in, 1.0, var_t, var_t)
                                          for b in range(2)] for a in range(2)],
        "bank_constant_input_nyquist_share": {"transposed": float(share_t.mean()),
                                              "upsample_conv": float(share_c.mean())},
        "bank_nyquist_energy_over_energy": {f"k={kk}": ratios[kk][0] for kk in (3, 4)},
        "bank_nyquist_energy_over_energy_closed_form": {f"k={kk}": ratios[kk][2]
                                                        for kk in (3, 4)},
        "conv_ae_at_init_nyquist_share": {kind: float(v.mean()) for kind, v in shares.items()},
        "white_noise_nyquist_share": 3 / (28 * 28 - 1),
        "codes": CODES,
    }  # fmt: skip

    # pictures: the constant input's outputs, decoded digits, spectra
    pick = int(share_t.argmax())
    consts = tile([count_img.numpy(), out_t[pick].numpy(), out_c[pick].numpy()])
    rows = [
        tile([torch.sigmoid(decoded[kind][i]).numpy() for i in range(4)])
        for kind in ("transposed", "nearest")
    ]
    digits = np.concatenate([rows[0], np.full((2, rows[0].shape[1]), np.nan), rows[1]], 0)
    spectra = {kind: mean_power(decoded[kind]) for kind in ("transposed", "nearest")}
    spectra["data"] = mean_power(x_img)

    freq = np.arange(1, 15)
    kinds = (("transposed", "conv-ae, transposed", "o-", "C3"),
             ("nearest", "conv-ae, upsample + conv", "s-", "C0"),
             ("data", "mnist5k digits", "^-", "k"))  # fmt: skip

    def spectrum_panel(title: str, rows: np.ndarray, cols: np.ndarray, xlabel: str) -> Panel:
        return Panel(title, [Series("line", freq / 28, (spectra[kk][rows, cols]
                                                       / spectra[kk].sum()).numpy(),
                                    label, style, color=col)
                             for kk, label, style, col in kinds],
                     xlabel, "share of the power (mean over 256)", logy=True)  # fmt: skip

    panels = [
        Panel("constant input: counts (all-ones kernel) | random\ntransposed layer | random "
              "upsample + conv", [Series("image", [], z=consts)], legend=False),
        Panel("conv-ae at init, mnist5k digits decoded:\ntransposed (top), upsample + conv "
              "(bottom)", [Series("image", [], z=digits)], legend=False),
        spectrum_panel("power spectrum along u (v = 0)", freq,
                       np.zeros_like(freq), "u (cycles per pixel; 0.5 = Nyquist)"),
        spectrum_panel("power spectrum along the diagonal u = v", freq, freq,
                       "u = v (cycles per pixel; 0.5 = Nyquist)"),
    ]  # fmt: skip
    return Finding("checkerboard", "Checkerboards: transposed convolution against upsampling",
                   numbers, checks, panels)  # fmt: skip
