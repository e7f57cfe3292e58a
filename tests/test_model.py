"""The closed forms of linnet.model / gram / hessian against independent brute-force computations."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import linnet
from linnet.tolerances import tol

from small_problems import problem, rel_err

ALPHAS = st.sampled_from([None, 1.0, 0.37])
shapes = st.tuples(st.integers(1, 8), st.integers(1, 8), st.integers(2, 8))


def flat(W, a):
    return np.concatenate([W.ravel(), a])


def unflat(theta, m, d):
    return theta[: m * d].reshape(m, d), theta[m * d:]


def jacobian_fd(W, a, X, alpha):
    """∂F/∂θ by central differences: F is linear in each single parameter, so these are exact up
    to roundoff."""
    m, d = W.shape
    theta = flat(W, a)
    J = np.empty((X.shape[1], theta.size))
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = 1.0
        Fp = linnet.outputs(*unflat(theta + e, m, d), X, alpha=alpha)
        Fm = linnet.outputs(*unflat(theta - e, m, d), X, alpha=alpha)
        J[:, j] = (Fp - Fm) / 2
    return J


def richardson(f, theta, h=1e-3):
    """Central-difference derivative of f along each coordinate with one Richardson step.

    For a polynomial of degree ≤ 4 (L is quartic, ∇L cubic) the h² term is cancelled exactly,
    so what is left is roundoff (~ε·|f|/h)."""
    cols = []
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = 1.0

        def c(hh, e=e):
            return (f(theta + hh * e) - f(theta - hh * e)) / (2 * hh)
        cols.append((4 * c(h / 2) - c(h)) / 3)
    return np.array(cols).T


@given(shapes, st.integers(0, 10**6), ALPHAS)
def test_gram_is_JJt_over_n(shape, seed, alpha):
    d, n, m = shape
    W, a, X, _ = problem(d, n, m, seed)
    J = jacobian_fd(W, a, X, alpha)
    G = linnet.gram(W, a, X, alpha=alpha)
    assert rel_err(G, J @ J.T / n) < tol("identity")
    GA, Gh = linnet.gram_parts(W, a, X, alpha=alpha)
    mdim = m * d
    assert rel_err(GA, J[:, mdim:] @ J[:, mdim:].T / n, scale=np.abs(G).max()) < tol("identity")
    assert rel_err(Gh, J[:, :mdim] @ J[:, :mdim].T / n, scale=np.abs(G).max()) < tol("identity")


@given(shapes, st.integers(0, 10**6), ALPHAS)
def test_gradients_match_finite_differences(shape, seed, alpha):
    d, n, m = shape
    W, a, X, Y = problem(d, n, m, seed)
    gW, ga = linnet.gradients(W, a, X, Y, alpha=alpha)
    num = richardson(lambda th: np.array([linnet.loss(*unflat(th, m, d), X, Y, alpha=alpha)]),
                     flat(W, a))[0]
    assert rel_err(flat(gW, ga), num) < tol("finite-difference")


@given(shapes, st.integers(0, 10**6), ALPHAS)
def test_hvp_matches_finite_differences_of_gradient(shape, seed, alpha):
    d, n, m = shape
    W, a, X, Y = problem(d, n, m, seed)
    rng = np.random.default_rng(seed + 1)
    dW, da = rng.standard_normal(W.shape), rng.standard_normal(a.shape)
    HW, Ha = linnet.hessian_vector_product(W, a, X, Y, dW, da, alpha=alpha)
    H = richardson(lambda th: flat(*linnet.gradients(*unflat(th, m, d), X, Y, alpha=alpha)), flat(W, a))
    assert rel_err(H, H.T) < tol("finite-difference-second")
    assert rel_err(flat(HW, Ha), H @ flat(dW, da)) < tol("finite-difference-second")


@pytest.mark.parametrize("alpha", [None, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hessian_sharpness_matches_dense_brute_force(alpha, seed):
    d, n, m = 6, 5, 4
    W, a, X, Y = problem(d, n, m, seed, y_scale=3.0)
    H = richardson(lambda th: flat(*linnet.gradients(*unflat(th, m, d), X, Y, alpha=alpha)), flat(W, a))
    top = np.linalg.eigvalsh((H + H.T) / 2)[-1]
    got = linnet.hessian_sharpness(W, a, X, Y, alpha=alpha)
    assert abs(got - top) < tol("eigensolver-hessian-fd") * abs(top)


def test_sharpness_dense_and_lanczos_agree_with_eigvalsh():
    W, a, X, _ = problem(30, 40, 10, 3)
    ref = np.linalg.eigvalsh(linnet.gram(W, a, X))[-1]
    for method in ("dense", "lanczos", "auto"):
        assert abs(linnet.sharpness(W, a, X, method=method) - ref) < tol("eigensolver") * ref


@given(shapes, st.integers(0, 10**6), ALPHAS, st.floats(0.01, 0.5))
def test_gd_step_satisfies_identities(shape, seed, alpha, eta):
    """I1–I9 of docs/theory.md §2 on one literal GD step. Errors are measured relative to the size of
    the operands whose difference is taken (a step's change is a difference of O(1) numbers)."""
    d, n, m = shape
    W, a, X, Y = problem(d, n, m, seed)
    al = linnet.resolve_alpha(alpha, m)
    W1, a1 = linnet.gd_step(W, a, X, Y, eta, alpha=alpha)
    K = linnet.data_kernel(X)
    Z, Z1 = W @ X, W1 @ X
    F = linnet.outputs(W, a, X, alpha=alpha)
    D, D1 = F - Y, linnet.residual(W1, a1, X, Y, alpha=alpha)
    fd = F @ D
    rtol = tol("identity-drawn")
    # I1 features
    assert rel_err(Z1, Z - eta * al * np.outer(a, K @ D), scale=np.abs(Z).max() + 1e-300) < rtol
    # I2 residual, G̃
    Gt = linnet.gram_tilde(W, a, X, Y, eta, alpha=alpha)
    assert rel_err(D1, D - eta * Gt @ D, scale=np.abs(D).max() + np.abs(D1).max()) < rtol
    G = linnet.gram(W, a, X, alpha=alpha)
    assert rel_err(Gt, G - eta * al**2 * fd / n * K, scale=np.abs(G).max()) < rtol
    # I3 A-norm
    ZD = Z @ D
    da2 = linnet.a_norm_update(W, a, X, Y, eta, alpha=alpha)
    assert abs((a1 @ a1 - a @ a) - da2) <= rtol * (a @ a + a1 @ a1)
    assert abs(da2 - (-2 * eta * fd / n + eta**2 * al**2 * ZD @ ZD / n**2)) <= rtol * (a @ a)
    # I4 Gram update
    G1 = linnet.gram(W1, a1, X, alpha=alpha)
    assert rel_err(G1 - G, linnet.gram_update(W, a, X, Y, eta, alpha=alpha),
                   scale=np.abs(G).max() + np.abs(G1).max()) < rtol
    # I5 Λ̃ update, I6 eigen-coordinates, I7 off-top part
    lam, V = linnet.kernel_eigh(X)
    v1, l1 = V[:, 0], lam[0]
    lt0 = linnet.lambda_tilde(W, a, X, alpha=alpha, v1=v1)
    lt1 = linnet.lambda_tilde(W1, a1, X, alpha=alpha, v1=v1)
    assert abs(lt0 - v1 @ G @ v1) <= rtol * abs(G).max()
    D1c, F1c = v1 @ D, v1 @ F
    pred = (-(2 * eta * al**2 * l1 / n) * (F1c * D1c + fd)
            + (eta**2 * al**4 * l1 / n) * (l1 * (a @ a) * D1c**2 + ZD @ ZD / n))
    assert abs((lt1 - lt0) - pred) <= rtol * (abs(lt0) + abs(lt1))
    Eh = linnet.e_hat(W, X, alpha=alpha)
    kappa = 1 + al**2 * (a @ a) - eta * al**2 * fd / n
    assert rel_err(Gt, kappa * K + Eh, scale=np.abs(G).max()) < rtol
    pred_i = (1 - eta * kappa * lam) * (V.T @ D) - eta * V.T @ (Eh @ D)
    assert rel_err(V.T @ D1, pred_i, scale=np.abs(D).max() + np.abs(D1).max()) < rtol
    P = np.eye(n) - np.outer(v1, v1)
    Kp = K - l1 * np.outer(v1, v1)
    assert rel_err(P @ D1, (np.eye(n) - eta * kappa * Kp) @ (P @ D) - eta * P @ Eh @ D,
                   scale=np.abs(D).max() + np.abs(D1).max()) < rtol
    # I9 balancedness
    B0, B1 = W @ W.T - np.outer(a, a), W1 @ W1.T - np.outer(a1, a1)
    XD = X @ D
    pred9 = (eta * al / n) ** 2 * ((XD @ XD) * np.outer(a, a) - np.outer(ZD, ZD))
    assert rel_err(B1 - B0, pred9, scale=np.abs(B0).max() + np.abs(B1).max()) < rtol


@given(st.integers(0, 10**6), ALPHAS)
def test_null_space_of_X_is_frozen(seed, alpha):
    """I8 (Lemma E.10): with n > d, K has a null space and ⟨D, v⟩ never moves along it."""
    W, a, X, Y = problem(3, 7, 4, seed)
    lam, V = np.linalg.eigh(linnet.data_kernel(X))
    N = V[:, lam < tol("null-eigenvalue") * lam[-1]]
    assert N.shape[1] == 4
    D0 = linnet.residual(W, a, X, Y, alpha=alpha)
    W1, a1 = W, a
    for _ in range(5):
        W1, a1 = linnet.gd_step(W1, a1, X, Y, 0.05, alpha=alpha)
    D5 = linnet.residual(W1, a1, X, Y, alpha=alpha)
    assert rel_err(N.T @ D5, N.T @ D0, scale=np.abs(D0).max()) < tol("identity")


def test_gd_step_does_not_modify_inputs(small):
    W, a, X, Y = small
    W0, a0 = W.copy(), a.copy()
    linnet.gd_step(W, a, X, Y, 0.1)
    assert np.array_equal(W, W0) and np.array_equal(a, a0)


def test_gram_spectrum_equals_the_nonzero_eigenvalues_of_G():
    W, a, X, _ = problem(9, 6, 5, 4)
    ev = np.linalg.eigvalsh(linnet.gram(W, a, X))[::-1]
    got = linnet.gram_spectrum(W, a, X)
    assert got.shape == (6,) and rel_err(got, ev) < tol("identity")
    W, a, X, _ = problem(3, 7, 5, 4)  # rank 3 < n: G has 4 zero eigenvalues
    ev = np.linalg.eigvalsh(linnet.gram(W, a, X))[::-1]
    got = linnet.gram_spectrum(W, a, X)
    assert got.shape == (3,) and rel_err(got, ev[:3]) < tol("identity")
    assert np.max(np.abs(ev[3:])) < tol("identity") * ev[0]
