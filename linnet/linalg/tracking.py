"""Follow the extremal eigenpair of a symmetric operator that changes a little at every GD step.

Along a run, G (and Ê) change from one step to the next by a known low-rank term plus a multiple
of diag(λ) (I4, docs/theory.md §2). :class:`EigTracker` keeps a small orthonormal basis Q (k×n,
k ≤ ``max_basis``) and its images S = A Q. When the caller can apply the change ΔA to a block
in O(k·n), S is updated instead of recomputed, and the Rayleigh–Ritz pair of the updated basis is
often already within tolerance: no product with the operator at all. Otherwise the residual of the
target Ritz pair is added to the basis (Davidson without preconditioner), with a thick restart to
the ``keep`` leading Ritz vectors when the basis is full.

A residual test alone cannot notice an eigenvalue that rises from outside the basis (a Ritz pair
of a lower eigenvalue has a small residual too). So each call also adds a *probe*: the next vector
of a Krylov sequence, (I − QQᵀ) A p for the previous probe p, one vector per call. An eigenvalue
overtaking the tracked one from the bulk enters the basis through it, but not at once: in the
tests, one that climbs 1.5% a step past a dense bulk is reported within 11 calls of overtaking
(without the probe, never). Along GD on this model the top of G is well separated, and Λ matches
dense ``eigvalsh`` at every step of the tests. Lanczos warm-started at every step (the solver
this replaced) catches that climber at once, but spends about 30 products a call doing so.

Exactness: the reported residual ρ = ‖S u − θ Q u‖ uses the updated images. They carry the
roundoff of at most ``refresh_every`` updates (each of relative size ε), after which Q is
re-orthonormalised and S recomputed from the operator; the tests compare ρ and θ with a direct
computation. As for Lanczos, |θ − λ| ≤ ρ for an eigenvalue λ, and ≤ ρ²/gap for the one u approximates.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.linalg.lapack import dsyev

from .._backend import to_numpy
from .._types import Array, ArrayModule, DTypeLike, MatVec

Update = Callable[[Array, Array], None]
"""``update(Q, S)``: adds ΔA Q to the rows of S in place."""


class EigTracker:
    """Top (``which="LA"``) or largest-magnitude (``"LM"``) eigenpair of A_t over calls t = 0, 1, ….

    ``tracker(matmat, update=None, probe_image=None)`` returns ``(value, residual, vector)`` for
    the current operator. ``matmat(V)`` applies A to the columns of V (n×b); ``update(Q, S)``, if
    given, adds ΔA Q to the rows of S in place, ΔA being the change of the operator since the
    previous call (None: the change is unknown, so the images are recomputed). ``probe_image``, if
    given, is A ``tracker.probe`` for the current operator, computed by the caller alongside its
    own products (the spectral engine carries it through a GD step's two passes over Z_v);
    otherwise the probe costs one product. ``matvecs`` counts the products the tracker asked for.
    The vector's sign is fixed at the first call (its entry of largest magnitude positive) and kept
    continuous from call to call after that.
    """

    TOL_FLOOR_EPS = 100

    def __init__(
        self,
        *,
        xp: ArrayModule = np,
        dtype: DTypeLike = np.float64,
        dim: int,
        which: str = "LA",
        tol: float = 1e-6,
        keep: int = 4,
        max_basis: int = 10,
        probe: bool = True,
        refresh_every: int = 64,
        maxiter: int = 200,
        seed: int = 0,
    ) -> None:
        if which not in ("LA", "LM"):
            raise ValueError(f"which={which!r} is unknown: use 'LA' or 'LM'")
        if not tol > 0:
            raise ValueError(f"tol must be > 0, got {tol}")
        if not 1 <= keep < max_basis:
            raise ValueError(f"need 1 ≤ keep < max_basis, got keep={keep}, max_basis={max_basis}")
        # the residual is roundoff below ~100 ε (float32: 1.2e-5; Ê = (α²/n)Z_vᵀZ_v − diag(λ) cancels):
        # asking for less makes the tracker spin
        self.tol = max(float(tol), self.TOL_FLOOR_EPS * float(np.finfo(dtype).eps))
        self.xp, self.dtype, self.n, self.which = xp, dtype, int(dim), which
        self.max_basis = min(max_basis, int(dim))
        self.keep = min(keep, self.max_basis)
        self.refresh_every, self.maxiter = refresh_every, maxiter
        g = np.random.default_rng(seed).standard_normal((2, self.n))
        self._start = xp.asarray(g[0] / np.linalg.norm(g[0]), dtype=dtype)
        self.probe: Array | None = xp.asarray(g[1] / np.linalg.norm(g[1]), dtype=dtype) if probe else None
        self.Q = xp.zeros((self.max_basis, self.n), dtype=dtype)
        self.S = xp.zeros_like(self.Q)
        self.k = 0
        self.since_refresh = 0
        self.matvecs = 0
        self.sign: Array | None = None

    # -- basis maintenance -------------------------------------------------------------------
    def _orth(self, v: Array) -> tuple[Array, Array, float, float]:
        """v − Qᵀh orthogonal to the basis (classical Gram–Schmidt, repeated on cancellation,
        DGKS), with h and the norms of v before and after."""
        Q = self.Q[: self.k]
        before = math.sqrt(float(v @ v))
        h = Q @ v
        w = v - h @ Q
        after = math.sqrt(float(w @ w))
        if after < 0.7 * before:
            h2 = Q @ w
            w -= h2 @ Q
            h += h2
            after = math.sqrt(float(w @ w))
        return w, h, before, after

    def _add(self, v: Array, matmat: MatVec) -> bool:
        """Append ``v``, orthonormalised against the basis, with its image (False if v is in the basis)."""
        w, _, before, after = self._orth(v)
        if after <= 1e-8 * before:  # numerically inside the basis already
            return False
        k = self.k
        self.Q[k] = w / after
        self.S[k] = matmat(self.Q[k : k + 1].T)[:, 0]
        self.matvecs += 1
        self.k = k + 1
        return True

    def _ritz_vectors(self) -> np.ndarray:
        """Ritz coefficient vectors (columns), target first."""
        ev, C = self._eigh()
        return C[:, self._order(ev)]

    def _order(self, ev: np.ndarray) -> np.ndarray:
        return np.argsort(-ev if self.which == "LA" else -np.abs(ev), kind="stable")

    def _eigh(self) -> tuple[np.ndarray, np.ndarray]:
        """Eigenpairs (ascending) of the projected matrix Q A Qᵀ = Q Sᵀ, symmetrised, on the host."""
        k = self.k
        T = np.asarray(to_numpy(self.Q[:k] @ self.S[:k].T), dtype=np.float64)
        T += T.T
        ev, C, info = dsyev(T)  # LAPACK directly: half of numpy.linalg.eigh's time at k ≤ 10
        ev *= 0.5
        if info != 0:
            raise np.linalg.LinAlgError(f"eigensolver of the projected matrix failed (info={info})")
        return ev, C

    def _compress(self, C: np.ndarray, k: int) -> None:
        """Keep the first ``k`` Ritz vectors (columns of C) as the basis."""
        Ck = self.xp.asarray(C[:, :k].T, dtype=self.dtype)
        self.Q[:k] = Ck @ self.Q[: self.k]
        self.S[:k] = Ck @ self.S[: self.k]
        self.k = k

    def _recompute(self, matmat: MatVec) -> None:
        """Re-orthonormalise the basis and recompute its images from the operator."""
        Q, _ = self.xp.linalg.qr(self.Q[: self.k].T)
        self.Q[: self.k] = Q.T
        self.S[: self.k] = matmat(Q).T
        self.matvecs += self.k
        self.since_refresh = 0

    # -- one call ----------------------------------------------------------------------------
    def __call__(
        self, matmat: MatVec, update: Update | None = None, probe_image: Array | None = None
    ) -> tuple[float, float, Array]:
        xp = self.xp
        if self.k == 0:
            self._add(self._start, matmat)
        elif update is None or self.since_refresh + 1 >= self.refresh_every:
            if update is None and self.k > self.keep:
                self._compress(self._ritz_vectors(), self.keep)
            self._recompute(matmat)
        else:
            update(self.Q[: self.k], self.S[: self.k])
            self.since_refresh += 1
        if self.probe is not None:
            self._add_probe(matmat, probe_image)
        for _ in range(self.maxiter):
            k = self.k
            ev, C = self._eigh()
            order = self._order(ev)
            i = int(order[0])
            theta = float(ev[i])
            c = xp.asarray(C[:, i], dtype=self.dtype)
            u = c @ self.Q[:k]
            resid_vec = c @ self.S[:k] - theta * u
            rho = math.sqrt(float(resid_vec @ resid_vec))
            if rho <= self.tol * abs(theta) or k >= self.n:
                break
            if k >= self.max_basis:
                self._compress(C[:, order], self.keep)
            if not self._add(resid_vec, matmat):
                break  # the residual lies in the basis: the pair is exact to roundoff
        if self.sign is not None:
            if float(u @ self.sign) < 0:
                u = -u  # keep a consistent sign from call to call
        elif float(u[int(xp.argmax(xp.abs(u)))]) < 0:
            u = -u  # first call: the entry of largest magnitude positive (not eigh's arbitrary sign)
        self.sign = u
        return theta, rho, u

    def _add_probe(self, matmat: MatVec, image: Array | None) -> None:
        """Add the probe to the basis and advance it one Krylov step (p ← A p, normalised)."""
        if self.k >= self.n:
            return
        if self.k >= self.max_basis:
            self._compress(self._ritz_vectors(), self.keep)
        if image is None:
            added = self._add(self.probe, matmat)
            nxt = self.S[self.k - 1] if added else None
        else:
            added = self._add_with_image(self.probe, image)
            nxt = self.S[self.k - 1] if added else image
        if nxt is None or not math.isfinite(nrm := math.sqrt(float(nxt @ nxt))) or nrm == 0.0:
            # the probe fell into the basis: restart it at random
            g = np.random.default_rng(self.matvecs).standard_normal(self.n)
            nxt = self.xp.asarray(g, dtype=self.dtype)
            nrm = math.sqrt(float(nxt @ nxt))
        self.probe = nxt / nrm

    def _add_with_image(self, v: Array, image: Array) -> bool:
        """Append ``v`` given A v: v − Qᵀh is appended with image A v − Sᵀh (h = its basis part).

        The subtraction loses ‖A‖·ε/ratio in the image, ratio = ‖v − Qᵀh‖/‖v‖, so a probe that is
        nearly inside the basis (ratio < 1e-4, error above 1e-12·‖A‖) is not added.
        """
        w, h, before, after = self._orth(v)
        if after < 1e-4 * before:
            return False
        k = self.k
        self.Q[k] = w / after
        self.S[k] = (image - h @ self.S[:k]) / after
        self.k = k + 1
        return True
