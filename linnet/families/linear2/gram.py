"""Gram (NTK) matrices of the linear network and their exact one-step changes.

G = J Jᵀ / n = α² (ZᵀZ / n + ‖a‖² K) with K = XᵀX / n            (eq. 8, App. F eq. 22)
G̃ = G − (η α² / n) ⟨F, D⟩ K, so that D⁺ = (I − η G̃) D exactly       (eq. 9, Lemma C.1)
Ê = α² ZᵀZ / n − K, so that G = (1 + α² ‖a‖²) K + Ê                  (App. C.1)
"""

from __future__ import annotations

import numpy as np

from ..._backend import namespace
from ..._checks import check_eta, check_matrix, check_problem
from ..._types import Array
from ...linalg.lanczos import lanczos
from .model import outputs, resolve_alpha

DENSE_MAX_N = 2048  # above this, sharpness() is matrix-free (Lanczos) by default


def data_kernel(X: Array) -> Array:
    """K = XᵀX / n (n×n, PSD)."""
    check_matrix("X", X)
    return (X.T @ X) / X.shape[1]


def kernel_eigh(X: Array) -> tuple[Array, Array]:
    """Eigenpairs of K in descending order: (λ, V) with K V = V diag(λ)."""
    xp = namespace(X)
    lam, V = xp.linalg.eigh(data_kernel(X))
    return lam[::-1], V[:, ::-1]


def gram_parts(W: Array, a: Array, X: Array, *, alpha: float | None = None) -> tuple[Array, Array]:
    """(G_A, G_h) = (α² ZᵀZ / n, α² ‖a‖² K): the output-layer and feature parts of G (§3.2)."""
    check_problem(W, a, X)
    al = resolve_alpha(alpha, W.shape[0])
    n = X.shape[1]
    Z = W @ X
    return (al**2 / n) * (Z.T @ Z), (al**2 * float(a @ a)) * data_kernel(X)


def gram(W: Array, a: Array, X: Array, *, alpha: float | None = None) -> Array:
    """G = α² (ZᵀZ / n + ‖a‖² K) (eq. 8)."""
    GA, Gh = gram_parts(W, a, X, alpha=alpha)
    return GA + Gh


def gram_tilde(W: Array, a: Array, X: Array, Y: Array, eta: float, *, alpha: float | None = None) -> Array:
    """G̃ = G − (η α² / n) ⟨F, D⟩ K: the exact one-step residual map D⁺ = (I − ηG̃) D (Lemma C.1)."""
    eta = check_eta(eta)
    check_problem(W, a, X, Y)
    al = resolve_alpha(alpha, W.shape[0])
    n = X.shape[1]
    F = outputs(W, a, X, alpha=al)
    fd = float(F @ (F - Y))
    return gram(W, a, X, alpha=alpha) - (eta * al**2 * fd / n) * data_kernel(X)


def e_hat(W: Array, X: Array, *, alpha: float | None = None) -> Array:
    """Ê = α² ZᵀZ / n − K = Xᵀ(α² WᵀW − I)X / n: the first layer's deviation from isometry."""
    check_matrix("X", X)
    check_matrix("W", W, cols=X.shape[0], cols_name="X (d×n)")
    al = resolve_alpha(alpha, W.shape[0])
    Z = W @ X
    return (al**2 / X.shape[1]) * (Z.T @ Z) - data_kernel(X)


def a_norm_update(W: Array, a: Array, X: Array, Y: Array, eta: float, *, alpha: float | None = None) -> float:
    """‖a⁺‖² − ‖a‖² = −(2η/n) ⟨F, D⟩ + (η² α² / n²) ‖Z D‖²   (identity I3, eq. 3 plus its exact remainder)."""
    eta = check_eta(eta)
    check_problem(W, a, X, Y)
    al = resolve_alpha(alpha, W.shape[0])
    n = X.shape[1]
    F = outputs(W, a, X, alpha=al)
    D = F - Y
    ZD = W @ (X @ D)
    return -2 * eta * float(F @ D) / n + eta**2 * al**2 * float(ZD @ ZD) / n**2


def gram_update(W: Array, a: Array, X: Array, Y: Array, eta: float, *, alpha: float | None = None) -> Array:
    """G⁺ − G in closed form (Lemma C.2 / E.9, identity I4), with k = K D:

    −(η α²/n) [F kᵀ + k Fᵀ + 2⟨F,D⟩ K] + (η² α⁴/n) [‖a‖² k kᵀ + (‖Z D‖²/n) K].
    """
    eta = check_eta(eta)
    check_problem(W, a, X, Y)
    xp = namespace(W)
    al = resolve_alpha(alpha, W.shape[0])
    n = X.shape[1]
    K = data_kernel(X)
    F = outputs(W, a, X, alpha=al)
    D = F - Y
    k = K @ D
    ZD = W @ (X @ D)
    first = xp.outer(F, k) + xp.outer(k, F) + 2 * float(F @ D) * K
    second = float(a @ a) * xp.outer(k, k) + (float(ZD @ ZD) / n) * K
    return -(eta * al**2 / n) * first + (eta**2 * al**4 / n) * second


def lambda_tilde(
    W: Array, a: Array, X: Array, *, alpha: float | None = None, v1: Array | None = None
) -> float:
    """Approximate sharpness Λ̃ = v₁ᵀ G v₁ = α² (‖Z v₁‖²/n + ‖a‖² λ₁) (eq. 13), v₁ the top eigenvector of K."""
    check_problem(W, a, X)
    al = resolve_alpha(alpha, W.shape[0])
    n = X.shape[1]
    if v1 is None:
        v1 = kernel_eigh(X)[1][:, 0]
    Zv = W @ (X @ v1)
    Xv = X @ v1
    return al**2 * (float(Zv @ Zv) / n + float(a @ a) * float(Xv @ Xv) / n)


def gram_spectrum(W: Array, a: Array, X: Array, *, alpha: float | None = None) -> Array:
    """All non-zero-space eigenvalues of G, descending, from the r×r matrix
    G_v = α² (Z_vᵀZ_v/n + ‖a‖² diag(λ)) in K's eigenbasis (G is 0 on the rest of R^n).
    Cost O(min(n,d)³): for the occasional full spectrum, not every step."""
    check_problem(W, a, X)
    xp = namespace(W)
    al = resolve_alpha(alpha, W.shape[0])
    lam, V = kernel_eigh(X)
    keep = lam > lam[0] * max(X.shape) * float(np.finfo(lam.dtype).eps)
    lam, V = lam[keep], V[:, keep]
    n = X.shape[1]
    Zv = W @ (X @ V)
    Gv = (al**2 / n) * (Zv.T @ Zv) + xp.diag(al**2 * float(a @ a) * lam)
    return xp.linalg.eigvalsh(Gv)[::-1]


def sharpness(
    W: Array, a: Array, X: Array, *, alpha: float | None = None, method: str = "auto", tol: float = 1e-12
) -> float:
    """Λ = λ_max(G), the paper's sharpness (§2, App. F).

    ``method="dense"`` takes ``eigvalsh`` of the n×n matrix; ``"lanczos"`` is matrix-free on
    G v = α² (Zᵀ(Z v)/n + ‖a‖² Xᵀ(X v)/n) and stops at relative residual ``tol``;
    ``"auto"`` is dense for n ≤ 2048.
    """
    check_problem(W, a, X)
    if method not in ("auto", "dense", "lanczos"):
        raise ValueError(f"method={method!r} is unknown: use 'auto', 'dense' or 'lanczos'")
    n = X.shape[1]
    if method == "dense" or (method == "auto" and n <= DENSE_MAX_N):
        xp = namespace(W)
        return float(xp.linalg.eigvalsh(gram(W, a, X, alpha=alpha))[-1])
    al = resolve_alpha(alpha, W.shape[0])
    Z = W @ X
    a2 = float(a @ a)

    def matvec(v: Array) -> Array:
        return (al**2 / n) * (Z.T @ (Z @ v) + a2 * (X.T @ (X @ v)))

    return lanczos(matvec, n=n, xp=namespace(W), dtype=W.dtype, tol=tol).value
