"""One-off spectral decomposition of the data, the basis of the d-free engine (docs/theory.md §2.3).

X = U diag(s) Vᵀ with s = √(n λ): λ are the non-zero eigenvalues of K = XᵀX/n (descending),
V (n×r) its eigenvectors and U (d×r) an orthonormal basis of span(X). When n ≤ d the n×n
matrix K is decomposed; when n > d the d×d matrix XXᵀ/n (same non-zero spectrum) is, and V is
never formed unless asked for. The labels split into Y_v = Vᵀ Y and a null part that GD can
never change (Lemma E.10): ‖D_null‖² = ‖Y − V Y_v‖² is a constant of the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._backend import namespace
from ._checks import check_finite, check_matrix, check_vector
from ._types import Array


def available_memory_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (None where unknown)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def require_memory(nbytes: float, what: str, fix: str) -> None:
    """Raise MemoryError naming the need when ``nbytes`` exceeds the available memory."""
    avail = available_memory_bytes()
    if avail is not None and nbytes > avail:
        raise MemoryError(
            f"{what} needs about {nbytes / 2**30:.1f} GiB but only "
            f"{avail / 2**30:.1f} GiB is available: {fix}"
        )


@dataclass(frozen=True)
class DataSpectrum:
    """Eigen-structure of the data: ``lam`` (r,), ``s`` = √(nλ), ``U`` (d×r), ``Yv`` = VᵀY,
    ``y_null2`` = ‖(I − VVᵀ)Y‖², the sizes, which matrix was decomposed, and X, Y themselves."""

    lam: Array
    s: Array
    U: Array
    Yv: Array
    y_null2: float
    n: int
    d: int
    path: str
    X: Array
    Y: Array
    _memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)  # casts, last start

    @property
    def r(self) -> int:
        return int(self.lam.shape[0])

    def in_dtype(self, dtype: Any) -> tuple[Array, Array, Array, Array]:
        """(λ, s, Y_v, U) in ``dtype``, cast once per spectrum and dtype: every engine built on this
        spectrum shares them (U is d×r, 24 MB at paper size) instead of holding its own copy."""
        key = np.dtype(dtype).str
        if key not in self._memo:
            self._memo[key] = tuple(a.astype(dtype) for a in (self.lam, self.s, self.Yv, self.U))
        return self._memo[key]

    def projected(self, W0: Array, dtype: Any) -> Array:
        """Z_v(0) = W0 U diag(s) (m×r): a start W0 in K's eigenbasis, read-only. The last start
        is kept (a copy of W0 and its Z_v(0)) and returned again for an equal W0 — as the members of
        an η sweep from one initialisation are: forming it costs 2·m·d·r flops (1.2 GFLOP at paper
        size, ~0.1 s on one thread), which was most of a short compiled run's fixed cost."""
        xp = namespace(W0)
        key = ("projected", np.dtype(dtype).str)
        last = self._memo.get(key)
        if last is not None and last[0].shape == W0.shape and bool(xp.array_equal(last[0], W0)):
            return last[1]
        _, s, _, U = self.in_dtype(dtype)
        Zv0 = xp.ascontiguousarray((W0 @ U) * s)
        if xp is np:
            Zv0.flags.writeable = False
        self._memo[key] = (W0.copy(), Zv0)
        return Zv0

    def V(self, k: int | None = None) -> Array:
        """The first ``k`` (default all r) eigenvectors of K, V = Xᵀ U diag(1/s) (n×k)."""
        k = self.r if k is None else min(k, self.r)
        return (self.X.T @ self.U[:, :k]) / self.s[:k]

    def to_full(self, coords_v: Array) -> Array:
        """Vector in R^n from its V-coordinates (the null part set to 0)."""
        return self.V() @ coords_v

    def y_null(self) -> Array:
        """(I − VVᵀ) Y, the part of the labels outside the data span."""
        return self.Y - self.to_full(self.Yv)


def spectrum(X: Array, Y: Array, *, rank_rtol: float | None = None) -> DataSpectrum:
    """Decompose the data once: eigh of K (n ≤ d) or of XXᵀ/n (n > d), cost O(min(n,d)² max(n,d)).

    Eigenvalues below ``rank_rtol`` · λ_max (default max(n, d) · machine ε, as
    ``numpy.linalg.matrix_rank``) count as zero: those directions are the frozen null space.
    """
    check_matrix("X", X)
    check_finite("X", X)
    d, n = X.shape
    check_vector("Y", Y, length=n, length_name=f"X (d×n = {d}×{n}, one label per column)")
    check_finite("Y", Y)
    xp = namespace(X, Y)
    p = min(n, d)
    require_memory(
        8 * p * p * 4 + 8 * d * p,
        f"the eigendecomposition of a {p}×{p} data matrix",
        "use fewer samples or features (the engine needs min(n, d)² memory)",
    )
    X64 = X.astype(xp.float64, copy=False)
    Y64 = Y.astype(xp.float64, copy=False)
    if n <= d:
        lam, V = xp.linalg.eigh((X64.T @ X64) / n)
        path = "K"
    else:
        lam, U = xp.linalg.eigh((X64 @ X64.T) / n)
        path = "XXt"
    lam = lam[::-1]
    rtol = max(n, d) * np.finfo(np.float64).eps if rank_rtol is None else float(rank_rtol)
    top = float(lam[0]) if lam.shape[0] else 0.0
    if not top > 0:
        raise ValueError("X is all zeros: the data has no span to train on")
    r = int(xp.sum(lam > rtol * top))
    lam = xp.ascontiguousarray(lam[:r])
    s = xp.sqrt(n * lam)
    if path == "K":
        V = xp.ascontiguousarray(V[:, ::-1][:, :r])
        U = (X64 @ V) / s
        Yv = V.T @ Y64
        y_null2 = float(xp.sum((Y64 - V @ Yv) ** 2))
    else:
        U = xp.ascontiguousarray(U[:, ::-1][:, :r])
        Yv = (U.T @ (X64 @ Y64)) / s
        y_null2 = max(float(Y64 @ Y64) - float(Yv @ Yv), 0.0)
    return DataSpectrum(lam=lam, s=s, U=U, Yv=Yv, y_null2=y_null2, n=n, d=d, path=path, X=X64, Y=Y64)
