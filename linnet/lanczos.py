"""Extremal eigenpair of a symmetric operator given only v ↦ A v (Lanczos, full reorthogonalisation).

Backend-agnostic: vectors live in ``xp`` (NumPy or CuPy); only the small tridiagonal
problem goes to the host. The stop rule is the Ritz residual ‖A u − θ u‖ = |β_k s_k|, which
bounds the distance from θ to the spectrum (Bauer–Fike for symmetric A).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LanczosResult:
    """Ritz pair (value, vector) with ``residual`` = ‖A u − θ u‖ (absolute), the Krylov
    dimension used, and whether the relative residual reached ``tol``."""
    value: float
    vector: object
    residual: float
    iterations: int
    converged: bool


def lanczos(matvec, *, n: int, xp=np, dtype=np.float64, v0=None, which: str = "LA",
            tol: float = 1e-10, maxiter: int = 100, seed: int = 0) -> LanczosResult:
    """Top eigenpair of the symmetric operator ``matvec`` on R^n.

    ``which="LA"``: largest algebraic eigenvalue; ``"LM"``: largest magnitude.
    Converged when ‖A u − θ u‖ ≤ tol · |θ| (or the Krylov space became invariant).
    ``v0`` warm-starts the iteration (e.g. the previous step's eigenvector).
    """
    if which not in ("LA", "LM"):
        raise ValueError(f"which={which!r} is unknown: use 'LA' or 'LM'")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    k_max = max(1, min(int(maxiter), n))
    if v0 is None:
        v0 = xp.asarray(np.random.default_rng(seed).standard_normal(n), dtype=dtype)
    nrm = float(xp.linalg.norm(v0))
    if not np.isfinite(nrm) or nrm == 0.0:
        raise ValueError("v0 must be a finite non-zero vector")
    eps = float(np.finfo(dtype).eps)
    Q = xp.empty((k_max, n), dtype=dtype)
    T = np.zeros((min(k_max, 32),) * 2)  # grown on demand; warm starts rarely need 10
    Q[0] = v0 / nrm
    theta, s, resid, j = 0.0, np.ones(1), np.inf, 0
    for j in range(k_max):
        if j == T.shape[0]:
            T = np.pad(T, (0, min(T.shape[0], k_max - j)))
        q = Q[j]
        w = matvec(q)
        alpha = float(q @ w)
        T[j, j] = alpha
        w = w - alpha * q
        if j:
            w = w - T[j, j - 1] * Q[j - 1]
        # Full reorthogonalisation, repeated only when cancellation was severe (DGKS test).
        before = float(xp.linalg.norm(w))
        Qj = Q[: j + 1]
        w = w - Qj.T @ (Qj @ w)
        beta = float(xp.linalg.norm(w))
        if beta < 0.7 * before:
            w = w - Qj.T @ (Qj @ w)
            beta = float(xp.linalg.norm(w))
        evals, evecs = np.linalg.eigh(T[: j + 1, : j + 1])
        idx = j if which == "LA" else int(np.argmax(np.abs(evals)))
        theta, s = float(evals[idx]), evecs[:, idx]
        resid = abs(beta * s[-1])
        scale = max(float(np.max(np.abs(evals))), np.finfo(np.float64).tiny)
        if resid <= tol * abs(theta) or beta <= 10 * eps * scale:
            return LanczosResult(theta, Qj.T @ xp.asarray(s, dtype=dtype), resid, j + 1, True)
        if j + 1 < k_max:
            if j + 1 == T.shape[0]:
                T = np.pad(T, (0, min(T.shape[0], k_max - j - 1)))
            T[j, j + 1] = T[j + 1, j] = beta
            Q[j + 1] = w / beta
    return LanczosResult(theta, Q[: j + 1].T @ xp.asarray(s, dtype=dtype), resid, j + 1, False)
