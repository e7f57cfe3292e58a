"""The two-layer linear network f(x) = α aᵀ W x, its loss, gradients and the GD step.

Conventions (docs/theory.md §1): X is d×n with samples as columns, Y has length n, W is m×d,
a has length m, Z = W X (m×n), F = α Zᵀ a, D = F − Y, L = ‖D‖²/(2n).
``alpha=None`` means α = 1/√m (the paper's theory, App. D.2); ``alpha=1.0`` is the plain
PyTorch ``nn.Linear`` stack (App. A).
"""

from __future__ import annotations

import math

from ..._backend import namespace
from ..._checks import check_eta, check_problem
from ..._types import Array


def resolve_alpha(alpha: float | None, m: int) -> float:
    """α = 1/√m when ``alpha`` is None, else ``float(alpha)`` (must be finite and non-zero)."""
    if alpha is None:
        return 1.0 / math.sqrt(m)
    alpha = float(alpha)
    if not math.isfinite(alpha) or alpha == 0.0:
        raise ValueError(f"alpha must be a finite non-zero number or None (= 1/sqrt(m)), got {alpha}")
    return alpha


def outputs(W: Array, a: Array, X: Array, *, alpha: float | None = None) -> Array:
    """Network outputs F = α Xᵀ Wᵀ a = α Zᵀ a (length n)."""
    check_problem(W, a, X)
    al = resolve_alpha(alpha, W.shape[0])
    return al * (X.T @ (W.T @ a))


def residual(W: Array, a: Array, X: Array, Y: Array, *, alpha: float | None = None) -> Array:
    """Residual D = F − Y (paper §2; the vector whose dynamics eq. 7 describes)."""
    check_problem(W, a, X, Y)
    return outputs(W, a, X, alpha=alpha) - Y


def loss(W: Array, a: Array, X: Array, Y: Array, *, alpha: float | None = None) -> float:
    """Mean-squared loss L = ‖F − Y‖² / (2n)."""
    D = residual(W, a, X, Y, alpha=alpha)
    return float(D @ D) / (2 * X.shape[1])


def gradients(W: Array, a: Array, X: Array, Y: Array, *, alpha: float | None = None) -> tuple[Array, Array]:
    """(∇_W L, ∇_a L) = (α a (X D)ᵀ / n, α Z D / n), computed without forming Z."""
    D = residual(W, a, X, Y, alpha=alpha)
    return _gradients_from_residual(W, a, X, D, resolve_alpha(alpha, W.shape[0]))


def _gradients_from_residual(W: Array, a: Array, X: Array, D: Array, al: float) -> tuple[Array, Array]:
    xp = namespace(W)
    n = X.shape[1]
    XD = X @ D
    return (al / n) * xp.outer(a, XD), (al / n) * (W @ XD)


def gd_step(
    W: Array, a: Array, X: Array, Y: Array, eta: float, *, alpha: float | None = None
) -> tuple[Array, Array]:
    """One full-batch GD step, eq. 6 applied literally to both layers with the old values:

    a⁺ = a − η α Z D / n,   W⁺ = W − η α a (X D)ᵀ / n.
    Returns the new pair (W⁺, a⁺); the inputs are not modified.
    """
    eta = check_eta(eta)
    D = residual(W, a, X, Y, alpha=alpha)
    gW, ga = _gradients_from_residual(W, a, X, D, resolve_alpha(alpha, W.shape[0]))
    return W - eta * gW, a - eta * ga
