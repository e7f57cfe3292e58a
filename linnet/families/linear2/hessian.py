"""The true Hessian of L, matrix-free (identity I10, App. F).

∇²L = JᵀJ / n + (1/n) Σᵢ Dᵢ ∇²Fᵢ. For a direction (δW, δa), with u = α (Xᵀ δWᵀ a + Zᵀ δa):
H·(δW, δa) = ( α a (X u)ᵀ / n + α δa (X D)ᵀ / n ,  α Z u / n + α δW (X D) / n ).
"""

from __future__ import annotations

from ..._backend import namespace
from ..._checks import check_matrix, check_problem, check_vector
from ..._types import Array
from ...linalg.lanczos import lanczos
from .model import resolve_alpha


def hessian_vector_product(
    W: Array, a: Array, X: Array, Y: Array, dW: Array, da: Array, *, alpha: float | None = None
) -> tuple[Array, Array]:
    """H·(δW, δa) for L(W, a) = ‖α Xᵀ Wᵀ a − Y‖² / (2n), returned as (H_W, H_a)."""
    check_problem(W, a, X, Y)
    check_matrix("dW", dW, rows=W.shape[0], cols=W.shape[1], rows_name="W", cols_name="W")
    check_vector("da", da, length=a.shape[0], length_name="a")
    return hvp_parts(W, a, X, Y, dW, da, resolve_alpha(alpha, W.shape[0]))


def hvp_parts(
    W: Array,
    a: Array,
    X: Array,
    Y: Array,
    dW: Array,
    da: Array,
    al: float,
    Z: Array | None = None,
    XD: Array | None = None,
) -> tuple[Array, Array]:
    """(H_W, H_a) = ∇²L·(dW, da) (I10) with α given as ``al``, reusing Z = WX and XD where the
    caller has them (the literal engine's products at its state)."""
    xp = namespace(W)
    n = X.shape[1]
    if Z is None:
        Z = W @ X
    if XD is None:
        XD = X @ (al * (Z.T @ a) - Y)
    u = al * (X.T @ (dW.T @ a) + Z.T @ da)
    Xu = X @ u
    HW = (al / n) * (xp.outer(a, Xu) + xp.outer(da, XD))
    Ha = (al / n) * (Z @ u + dW @ XD)
    return HW, Ha


def hessian_sharpness(
    W: Array,
    a: Array,
    X: Array,
    Y: Array,
    *,
    alpha: float | None = None,
    tol: float = 1e-10,
    maxiter: int = 300,
    seed: int = 0,
) -> float:
    """Largest (algebraic) eigenvalue of ∇²L, by Lanczos on the closed-form HVP above."""
    check_problem(W, a, X, Y)
    xp = namespace(W)
    al = resolve_alpha(alpha, W.shape[0])
    m, d = W.shape
    Z = W @ X
    XD = X @ (al * (Z.T @ a) - Y)

    def matvec(v: Array) -> Array:
        HW, Ha = hvp_parts(W, a, X, Y, v[: m * d].reshape(m, d), v[m * d :], al, Z, XD)
        return xp.concatenate([HW.ravel(), Ha])

    return lanczos(matvec, n=m * d + m, xp=xp, dtype=W.dtype, tol=tol, maxiter=maxiter, seed=seed).value
