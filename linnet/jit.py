"""The linear net's spectral GD step and its Λ / ‖Ê‖ trackers compiled with Numba (optional).

The same mathematics as :class:`linnet.engines.SpectralEngine` driven by :func:`linnet.loop.run`
with the :class:`~linnet.observers.Sharpness` and :class:`~linnet.observers.EHat` observers, in
one compiled loop over the steps, with no Python between them:

* **Step** (I1, docs/theory.md §2.3). With D = αZ_vᵀa − Y_v and y = −ηα λ⊙D,
  a⁺ = a − (ηα/n) Z_v D and Z_v⁺ = Z_v + a yᵀ. It takes two sweeps over Z_v (m×r): a read-only
  sweep for Z_v [D, p₁, p₂] (pᵢ: the trackers' probes), and a read–write sweep that applies the
  rank-1 update in place while it accumulates Z_v⁺ᵀ[a⁺, Z_v⁺p₁, Z_v⁺p₂], the next state's
  observation and the probes' images (Z_v⁺p = Z_v p + a (y·p)). Each sweep is split into the two
  halves of Z_v's rows, on two threads for a single run (each core then keeps its half, 0.8 MB
  at paper size, in its L2 cache from step to step) or one after the other for the members of
  :func:`linnet.train_batch` (``jit=True``: one member per core); the column sums add the
  halves' sums in a fixed order, so both give the same numbers to the bit.
* **Trackers**: :class:`linnet.tracking.EigTracker`'s algorithm, step for step: the images S = AQ
  follow the closed-form change of G and Ê (I4), the probe advances one Krylov step per call, and
  Rayleigh–Ritz with Davidson expansion runs until ρ ≤ tol·|θ|; re-orthonormalised and recomputed
  every ``REFRESH_EVERY`` calls. The stop rule, hence the guarantee |Λ − λ| ≤ ρ, is the same; so
  is the sign of the Ritz vector (largest entry positive at the first call, then continuous). The
  probe's random restart (when it falls into the basis) draws from Numba's generator instead.

It agrees with the NumPy path to roundoff, not bitwise: the sweeps' sums are vectorised
(``fastmath`` reassociation and contraction only: no assumption about NaN or infinities), and the
update is applied every step instead of deferred (:class:`~linnet.engines.LowRank`). The NumPy
path stays the reference the tests compare this loop against (``tests/test_jit.py``).

Numba compiles the kernels on first use and caches the machine code on disk (``cache=True``: in
``__pycache__`` beside this file, or under ``NUMBA_CACHE_DIR``); :func:`warm_up` does it and
:func:`compile_seconds` reports what it cost in this process.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._backend import one_blas_thread
from .progress import Progress
from .run.stop import Stop, loss_overflow, over_max_loss, update_overflow

try:
    import numba
except ImportError:  # pragma: no cover - exercised where numba is absent
    numba = None  # type: ignore[assignment]

# EigTracker's defaults (linnet.tracking), which the compiled trackers follow
KEEP, MAX_BASIS, REFRESH_EVERY, MAXITER = 4, 10, 64, 200
TOL_FLOOR_EPS = 100
GRAM, E_HAT = 0, 1  # tracker slots: Λ = λ_max(G) (largest algebraic), ‖Ê‖ (largest magnitude)
# ints of a tracker: basis size k, calls since the last refresh, products asked for, has a sign yet
K, SINCE, MATVECS, SIGNED = 0, 1, 2, 3
# stop codes of advance()
OK, LOSS_OVERFLOW, OVER_MAX_LOSS, UPDATE_OVERFLOW = 0, 1, 2, 3

_compile_seconds: float | None = None


def available() -> bool:
    """Whether Numba is importable (``pip install "linnet[jit]"``)."""
    return numba is not None


def _jit(fast: bool = False):
    flags = {"reassoc", "contract"} if fast else set()
    return numba.njit(cache=True, nogil=True, fastmath=flags)


if numba is not None:
    # The sweeps over Z_v take three vectors at a time and several rows of Z_v per pass of the
    # inner loop, so each element of the operands read from L1 serves 2–4 rows. On the bench
    # machine a 1.6 MB sweep then runs at ~30 GB/s, its streaming rate from L2 (one vector per
    # row took 2–3× longer than it).
    @_jit(fast=True)
    def _rows3(Zv, R, out, lo, hi):
        """out[i, c] = Σ_j Z_v[i, j] R[c, j], c < 3, lo ≤ i < hi (read only)."""
        r = Zv.shape[1]
        R0, R1, R2 = R[0], R[1], R[2]
        i = lo
        while i + 1 < hi:
            x, z = Zv[i], Zv[i + 1]
            s0 = s1 = s2 = t0 = t1 = t2 = 0.0
            for j in range(r):
                p, q, w = R0[j], R1[j], R2[j]
                s0 += x[j] * p
                s1 += x[j] * q
                s2 += x[j] * w
                t0 += z[j] * p
                t1 += z[j] * q
                t2 += z[j] * w
            out[i, 0], out[i, 1], out[i, 2] = s0, s1, s2
            out[i + 1, 0], out[i + 1, 1], out[i + 1, 2] = t0, t1, t2
            i += 2
        if i < hi:
            x = Zv[i]
            s0 = s1 = s2 = 0.0
            for j in range(r):
                s0 += x[j] * R0[j]
                s1 += x[j] * R1[j]
                s2 += x[j] * R2[j]
            out[i, 0], out[i, 1], out[i, 2] = s0, s1, s2

    @_jit(fast=True)
    def _cols3(Zv, a, y, L, out, write, lo, hi):
        """out[c, :] = Σ_{lo ≤ i < hi} L[c, i] Z_v'[i, :], c < 3, with Z_v' = Z_v + a yᵀ, written
        back to Z_v when ``write``; returns Σ_{lo ≤ i < hi} Z_v'[i, 0]² (for Λ̃ = v₁ᵀGv₁).
        y = 0, write = False: rows lo … hi − 1 of Z_vᵀ Lᵀ."""
        r = Zv.shape[1]
        o0, o1, o2 = out[0], out[1], out[2]
        o0[:] = 0.0
        o1[:] = 0.0
        o2[:] = 0.0
        z1 = 0.0
        i = lo
        while i < hi:
            nb = min(4, hi - i)
            if nb == 4:
                x0, x1, x2, x3 = Zv[i], Zv[i + 1], Zv[i + 2], Zv[i + 3]
                b0, b1, b2, b3 = a[i], a[i + 1], a[i + 2], a[i + 3]
                l00, l01, l02, l03 = L[0, i], L[0, i + 1], L[0, i + 2], L[0, i + 3]
                l10, l11, l12, l13 = L[1, i], L[1, i + 1], L[1, i + 2], L[1, i + 3]
                l20, l21, l22, l23 = L[2, i], L[2, i + 1], L[2, i + 2], L[2, i + 3]
                for j in range(r):
                    yj = y[j]
                    u0 = x0[j] + b0 * yj
                    u1 = x1[j] + b1 * yj
                    u2 = x2[j] + b2 * yj
                    u3 = x3[j] + b3 * yj
                    if write:
                        x0[j], x1[j], x2[j], x3[j] = u0, u1, u2, u3
                    o0[j] += u0 * l00 + u1 * l01 + u2 * l02 + u3 * l03
                    o1[j] += u0 * l10 + u1 * l11 + u2 * l12 + u3 * l13
                    o2[j] += u0 * l20 + u1 * l21 + u2 * l22 + u3 * l23
            else:
                for q in range(i, i + nb):
                    x, b = Zv[q], a[q]
                    l0, l1, l2 = L[0, q], L[1, q], L[2, q]
                    for j in range(r):
                        u = x[j] + b * y[j]
                        if write:
                            x[j] = u
                        o0[j] += u * l0
                        o1[j] += u * l1
                        o2[j] += u * l2
            for q in range(i, i + nb):
                z1 += Zv[q, 0] * Zv[q, 0] if write else (Zv[q, 0] + a[q] * y[0]) ** 2
            i += nb
        return z1

    # The same sweeps for two vectors (D and Λ's probe when ‖Ê‖ is off; one Davidson vector):
    # each of the pair ran ~30% faster than its three-vector form.
    @_jit(fast=True)
    def _rows2(Zv, R, out, lo, hi):
        """out[i, c] = Σ_j Z_v[i, j] R[c, j], c < 2, lo ≤ i < hi (read only)."""
        r = Zv.shape[1]
        R0, R1 = R[0], R[1]
        i = lo
        while i + 1 < hi:
            x, z = Zv[i], Zv[i + 1]
            s0 = s1 = t0 = t1 = 0.0
            for j in range(r):
                p, q = R0[j], R1[j]
                s0 += x[j] * p
                s1 += x[j] * q
                t0 += z[j] * p
                t1 += z[j] * q
            out[i, 0], out[i, 1], out[i + 1, 0], out[i + 1, 1] = s0, s1, t0, t1
            i += 2
        if i < hi:
            x = Zv[i]
            s0 = s1 = 0.0
            for j in range(r):
                s0 += x[j] * R0[j]
                s1 += x[j] * R1[j]
            out[i, 0], out[i, 1] = s0, s1

    @_jit(fast=True)
    def _cols2(Zv, a, y, L, out, write, lo, hi):
        """:func:`_cols3` for c < 2."""
        r = Zv.shape[1]
        o0, o1 = out[0], out[1]
        o0[:] = 0.0
        o1[:] = 0.0
        z1 = 0.0
        i = lo
        while i < hi:
            nb = min(4, hi - i)
            if nb == 4:
                x0, x1, x2, x3 = Zv[i], Zv[i + 1], Zv[i + 2], Zv[i + 3]
                b0, b1, b2, b3 = a[i], a[i + 1], a[i + 2], a[i + 3]
                l00, l01, l02, l03 = L[0, i], L[0, i + 1], L[0, i + 2], L[0, i + 3]
                l10, l11, l12, l13 = L[1, i], L[1, i + 1], L[1, i + 2], L[1, i + 3]
                for j in range(r):
                    yj = y[j]
                    u0 = x0[j] + b0 * yj
                    u1 = x1[j] + b1 * yj
                    u2 = x2[j] + b2 * yj
                    u3 = x3[j] + b3 * yj
                    if write:
                        x0[j], x1[j], x2[j], x3[j] = u0, u1, u2, u3
                    o0[j] += u0 * l00 + u1 * l01 + u2 * l02 + u3 * l03
                    o1[j] += u0 * l10 + u1 * l11 + u2 * l12 + u3 * l13
            else:
                for q in range(i, i + nb):
                    x, b = Zv[q], a[q]
                    l0, l1 = L[0, q], L[1, q]
                    for j in range(r):
                        u = x[j] + b * y[j]
                        if write:
                            x[j] = u
                        o0[j] += u * l0
                        o1[j] += u * l1
            for q in range(i, i + nb):
                z1 += Zv[q, 0] * Zv[q, 0] if write else (Zv[q, 0] + a[q] * y[0]) ** 2
            i += nb
        return z1

    # Each sweep runs over two halves of Z_v's rows, and the column sums are the sum of the two
    # halves' sums in that order, whether the halves run one after the other (members of a batch,
    # one per core) or on two threads (a single run): the results are the same to the bit.
    @_jit()
    def _half(m, k):
        h = m // 2
        return (0, h) if k == 0 else (h, m)

    @_jit()
    def _rows_half(Zv, R, width, out, k):
        lo, hi = _half(Zv.shape[0], k)
        if width <= 2:
            _rows2(Zv, R, out, lo, hi)
        else:
            _rows3(Zv, R, out, lo, hi)

    @_jit()
    def _cols_half(Zv, a, y, L, part, write, width, k):
        lo, hi = _half(Zv.shape[0], k)
        if width <= 2:
            return _cols2(Zv, a, y, L, part, write, lo, hi)
        return _cols3(Zv, a, y, L, part, write, lo, hi)

    @numba.njit(cache=True, nogil=True, parallel=True)
    def _rows_par(Zv, R, width, out):
        for k in numba.prange(2):
            _rows_half(Zv, R, width, out, k)

    @numba.njit(cache=True, nogil=True, parallel=True)
    def _cols_par(Zv, a, y, L, part, z1, write, width):
        for k in numba.prange(2):
            z1[k] = _cols_half(Zv, a, y, L, part[k], write, width, k)

    @_jit()
    def _rows(Zv, R, width, out, par):
        """out[:, c] = Z_v R[c] for c < width (2 or 3)."""
        if par:
            _rows_par(Zv, R, width, out)
        else:
            for k in range(2):
                _rows_half(Zv, R, width, out, k)

    @_jit()
    def _cols(Zv, a, y, L, out, write, width, par):
        """out[c] = Z_v'ᵀ L[c] for c < width, Z_v' = Z_v + a yᵀ (stored when ``write``); returns
        ‖Z_v' e₁‖²."""
        part = np.empty((2, 3, Zv.shape[1]))
        z1 = np.empty(2)
        if par:
            _cols_par(Zv, a, y, L, part, z1, write, width)
        else:
            for k in range(2):
                z1[k] = _cols_half(Zv, a, y, L, part[k], write, width, k)
        for c in range(width):
            out[c] = part[0, c] + part[1, c]
        return z1[0] + z1[1]

    # Small products written out: numba's ``@`` calls BLAS, whose locks serialise threads that
    # run members side by side.
    @_jit(fast=True)
    def _dot(x, y):
        s = 0.0
        for j in range(x.shape[0]):
            s += x[j] * y[j]
        return s

    @_jit(fast=True)
    def _mv(A, v):
        """A v for the rows of A (k×r)."""
        out = np.empty(A.shape[0])
        for q in range(A.shape[0]):
            out[q] = _dot(A[q], v)
        return out

    @_jit(fast=True)
    def _vm(h, A):
        """hᵀ A = Σ_q h[q] A[q]."""
        out = np.zeros(A.shape[1])
        for q in range(A.shape[0]):
            hq = h[q]
            for j in range(A.shape[1]):
                out[j] += hq * A[q, j]
        return out

    @_jit(fast=True)
    def _mm(C, A):
        """C A (C: p×k, A: k×r)."""
        out = np.empty((C.shape[0], A.shape[1]))
        for p in range(C.shape[0]):
            out[p] = _vm(C[p], A)
        return out

    @_jit(fast=True)
    def _gram_qs(Q, S, k):
        """T[p, q] = Q[p]·S[q] for p, q < k, two rows of each per pass (a third fewer loads)."""
        T = np.empty((k, k))
        r = Q.shape[1]
        for p in range(0, k, 2):
            for q in range(0, k, 2):
                if p + 1 < k and q + 1 < k:
                    x0, x1, y0, y1 = Q[p], Q[p + 1], S[q], S[q + 1]
                    s00 = s01 = s10 = s11 = 0.0
                    for j in range(r):
                        s00 += x0[j] * y0[j]
                        s01 += x0[j] * y1[j]
                        s10 += x1[j] * y0[j]
                        s11 += x1[j] * y1[j]
                    T[p, q], T[p, q + 1], T[p + 1, q], T[p + 1, q + 1] = s00, s01, s10, s11
                else:
                    for pp in range(p, min(p + 2, k)):
                        for qq in range(q, min(q + 2, k)):
                            T[pp, qq] = _dot(Q[pp], S[qq])
        return T

    @_jit()
    def _apply_op(kind, Zv, V, w, al, n, lam, a2, out, par):
        """out[c] = A V[c] for c < w: A = G = (α²/n)Z_vᵀZ_v + α²‖a‖² diag(λ) (Lemma C.1) or
        Ê = (α²/n)Z_vᵀZ_v − diag(λ) (eq. 10); three vectors per pair of sweeps."""
        m, r = Zv.shape
        R = np.zeros((3, r))
        T = np.empty((m, 3))
        L = np.empty((3, m))
        out3 = np.empty((3, r))
        zero_m, zero_r = np.zeros(m), np.zeros(r)
        c = al * al / n
        diag = al * al * a2 if kind == GRAM else -1.0
        for c0 in range(0, w, 3):
            nc = min(3, w - c0)
            R[:] = 0.0
            R[:nc] = V[c0 : c0 + nc]
            width = 2 if nc <= 2 else 3
            _rows(Zv, R, width, T, par)
            L[:] = T.T
            _cols(Zv, zero_m, zero_r, L, out3, False, width, par)
            for q in range(nc):
                for j in range(r):
                    out[c0 + q, j] = c * out3[q, j] + diag * lam[j] * V[c0 + q, j]

    # The k×k (k ≤ 10) eigenproblem and the basis' re-orthonormalisation without LAPACK: its
    # calls from the members of a batch, one per thread, contended (the batch gained 1.6× from
    # a second core instead of 2×), and at these sizes they are no faster.
    @_jit()
    def _jacobi_eigh(A):
        """Eigenvalues (ascending) and orthonormal eigenvectors (columns) of the symmetric A by
        cyclic Jacobi rotations, to off-diagonal mass ≤ ε²·‖diag‖² (relative accuracy ~ε)."""
        k = A.shape[0]
        A = A.copy()
        V = np.eye(k)
        for _ in range(50):
            off = 0.0
            diag = 0.0
            for p in range(k):
                diag += A[p, p] * A[p, p]
                for q in range(p + 1, k):
                    off += A[p, q] * A[p, q]
            if off <= 1e-32 * diag or off == 0.0:
                break
            for p in range(k - 1):
                for q in range(p + 1, k):
                    apq = A[p, q]
                    if apq == 0.0:
                        continue
                    tau = (A[q, q] - A[p, p]) / (2.0 * apq)
                    t = (1.0 if tau >= 0 else -1.0) / (abs(tau) + math.sqrt(1.0 + tau * tau))
                    c = 1.0 / math.sqrt(1.0 + t * t)
                    s = t * c
                    for i in range(k):  # A ← A Jᵀ… then J A: the (p, q) entry becomes 0
                        aip, aiq = A[i, p], A[i, q]
                        A[i, p], A[i, q] = c * aip - s * aiq, s * aip + c * aiq
                    for i in range(k):
                        api, aqi = A[p, i], A[q, i]
                        A[p, i], A[q, i] = c * api - s * aqi, s * api + c * aqi
                    for i in range(k):
                        vip, viq = V[i, p], V[i, q]
                        V[i, p], V[i, q] = c * vip - s * viq, s * vip + c * viq
        ev = np.empty(k)
        for p in range(k):
            ev[p] = A[p, p]
        order = np.argsort(ev, kind="mergesort")
        return ev[order], np.ascontiguousarray(V[:, order])

    @_jit()
    def _orthonormalize(Q, k):
        """The rows Q[:k] made orthonormal in place (Gram–Schmidt, each row twice against the
        ones before it), spanning what they spanned."""
        for p in range(k):
            for _ in range(2):
                h = _mv(Q[:p], Q[p])
                Q[p] -= _vm(h, Q[:p])
            Q[p] /= math.sqrt(_dot(Q[p], Q[p]))

    @_jit()
    def _eigh(Q, S, k):
        T = _gram_qs(Q, S, k)
        T = T + T.T
        ev, C = _jacobi_eigh(T)
        return 0.5 * ev, C

    @_jit()
    def _order(kind, ev):
        return np.argsort(-ev if kind == GRAM else -np.abs(ev), kind="mergesort")

    @_jit()
    def _orth(Q, k, v):
        """v − Qᵀh ⊥ the basis (classical Gram–Schmidt, repeated on cancellation: DGKS)."""
        before = math.sqrt(_dot(v, v))
        h = _mv(Q[:k], v)
        w = v - _vm(h, Q[:k])
        after = math.sqrt(_dot(w, w))
        if after < 0.7 * before:
            h2 = _mv(Q[:k], w)
            w = w - _vm(h2, Q[:k])
            h = h + h2
            after = math.sqrt(_dot(w, w))
        return w, h, before, after

    @_jit()
    def _add(kind, Q, S, ints, v, Zv, al, n, lam, a2, par):
        k = ints[K]
        w, _, before, after = _orth(Q, k, v)
        if after <= 1e-8 * before:
            return False
        Q[k] = w / after
        _apply_op(kind, Zv, Q[k : k + 1], 1, al, n, lam, a2, S[k : k + 1], par)
        ints[MATVECS] += 1
        ints[K] = k + 1
        return True

    @_jit()
    def _add_with_image(Q, S, ints, v, image):
        k = ints[K]
        w, h, before, after = _orth(Q, k, v)
        if after < 1e-4 * before:
            return False
        Q[k] = w / after
        S[k] = (image - _vm(h, S[:k])) / after
        ints[K] = k + 1
        return True

    @_jit()
    def _compress(Q, S, ints, C, kk):
        k = ints[K]
        Ck = np.ascontiguousarray(C[:, :kk].T)
        Qn = _mm(Ck, Q[:k])
        Sn = _mm(Ck, S[:k])
        Q[:kk] = Qn
        S[:kk] = Sn
        ints[K] = kk

    @_jit()
    def _ritz_compress(kind, Q, S, ints, kk):
        ev, C = _eigh(Q, S, ints[K])
        _compress(Q, S, ints, np.ascontiguousarray(C[:, _order(kind, ev)]), kk)

    @_jit()
    def _recompute(kind, Q, S, ints, Zv, al, n, lam, a2, par):
        k = ints[K]
        _orthonormalize(Q, k)
        _apply_op(kind, Zv, Q, k, al, n, lam, a2, S, par)
        ints[MATVECS] += k
        ints[SINCE] = 0

    @_jit()
    def _add_probe(kind, Q, S, ints, probe, image, have_image, Zv, al, n, lam, a2, par):
        r = Q.shape[1]
        if ints[K] >= r:
            return
        if ints[K] >= Q.shape[0]:
            _ritz_compress(kind, Q, S, ints, KEEP)
        if have_image:
            added = _add_with_image(Q, S, ints, probe, image)
            nxt = S[ints[K] - 1].copy() if added else image.copy()
        else:
            added = _add(kind, Q, S, ints, probe, Zv, al, n, lam, a2, par)
            nxt = S[ints[K] - 1].copy() if added else np.zeros(r)
        nrm = math.sqrt(_dot(nxt, nxt))
        if not added and not have_image or not math.isfinite(nrm) or nrm == 0.0:
            np.random.seed(ints[MATVECS])  # the probe fell into the basis: restart it at random
            nxt = np.random.standard_normal(r)
            nrm = math.sqrt(_dot(nxt, nxt))
        probe[:] = nxt / nrm

    @_jit()
    def _track(kind, Q, S, V, ints, tol, image, have_image, Zv, al, n, lam, a2, par):
        """One EigTracker call; returns (θ, ρ) and leaves the Ritz vector u in V[1] (V[0]: the
        probe, V[1]: the sign reference, V[2]: the start vector)."""
        r = Q.shape[1]
        maxb = Q.shape[0]
        if ints[K] == 0:
            _add(kind, Q, S, ints, V[2].copy(), Zv, al, n, lam, a2, par)
        elif ints[SINCE] + 1 >= REFRESH_EVERY:
            _recompute(kind, Q, S, ints, Zv, al, n, lam, a2, par)
        else:
            ints[SINCE] += 1
        _add_probe(kind, Q, S, ints, V[0], image, have_image, Zv, al, n, lam, a2, par)
        theta, rho = 0.0, math.inf
        u = np.zeros(r)
        for _ in range(MAXITER):
            k = ints[K]
            ev, C = _eigh(Q, S, k)
            order = _order(kind, ev)
            i = order[0]
            theta = ev[i]
            c = np.ascontiguousarray(C[:, i])
            u = _vm(c, Q[:k])
            resid = _vm(c, S[:k]) - theta * u
            rho = math.sqrt(_dot(resid, resid))
            if rho <= tol * abs(theta) or k >= r:
                break
            if k >= maxb:
                _compress(Q, S, ints, np.ascontiguousarray(C[:, order]), KEEP)
            if not _add(kind, Q, S, ints, resid, Zv, al, n, lam, a2, par):
                break
        if ints[SIGNED]:
            if _dot(u, V[1]) < 0:
                u = -u
        elif u[np.argmax(np.abs(u))] < 0:
            u = -u
        V[1] = u
        ints[SIGNED] = 1
        return theta, rho

    @_jit()
    def _shift_images(Q, S, ints, every, b, b2, F, y, a2_old, dlam, lam):
        """S += ΔA Q for one GD step (EngineSpectral.gram_update / e_hat_update, I4):
        row q gains (q·y)(bF + b2‖a‖²y) + (q·F)(b y), plus Δ(α²‖a‖²) λ⊙q for G."""
        for kind in range(2):
            k = ints[kind, K]
            if every[kind] == 0 or k == 0:
                continue
            for q in range(k):
                qy = _dot(Q[kind, q], y)
                qF = _dot(Q[kind, q], F)
                for j in range(y.shape[0]):
                    S[kind, q, j] += qy * (b * F[j] + b2 * a2_old * y[j]) + qF * (b * y[j])
                    if kind == GRAM:
                        S[kind, q, j] += dlam * lam[j] * Q[kind, q, j]

    @_jit()
    def advance(
        Zv,
        a,
        lam,
        Yv,
        y_null2,
        n,
        al,
        eta,
        t0,
        t1,
        last,
        cur,
        fl,
        Q,
        S,
        V,
        ints,
        every,
        tol,
        carried,
        u1_0,
        rows,
        dk,
        fk,
        trk,
        sh,
        par,
    ):
        """Run the states t0 … t1 − 1 (observe, record, track, stop tests, step), as linnet.loop.run.

        ``cur`` (3×r): Z_vᵀ[a, Z_v p₁, Z_v p₂] at state t0; ``fl``: [‖Z_v e₁‖², max_loss];
        ``carried[kind]``: whether cur[1 + kind] holds that tracker's probe image. Records:
        ``rows[t]`` = (loss, ‖a‖², F·D, Λ̃), ``dk``/``fk`` the top-k coordinates of D, F,
        ``trk[kind, t]`` = (θ, ρ), ``sh[t]`` = (|u₁·u₁(0)|, |u₁·v₁|, u₁·D).
        Returns (rows recorded, stop code).
        """
        r = lam.shape[0]
        m = a.shape[0]
        k_top = dk.shape[1]
        c_al2n = al * al / n
        R = np.zeros((3, r))
        T = np.empty((m, 3))
        L = np.zeros((3, m))
        image = np.empty(r)
        width = 3 if every[E_HAT] else 2  # D, then the probes of the trackers that run
        for t in range(t0, t1):
            F = al * cur[0]
            D = F - Yv
            loss = (_dot(D, D) + y_null2) / (2 * n)
            a2 = _dot(a, a)
            if not (math.isfinite(loss) and math.isfinite(a2)):
                return t, LOSS_OVERFLOW
            if fl[1] <= 0.0:
                fl[1] = 1e10 * max(loss, 1e-300)
            rows[t, 0], rows[t, 1], rows[t, 2] = loss, a2, _dot(F, D)
            rows[t, 3] = al * al * (fl[0] / n + a2 * lam[0])
            dk[t] = D[:k_top]
            fk[t] = F[:k_top]
            for kind in range(2):
                if every[kind] == 0 or t % every[kind] != 0:
                    continue
                have = carried[kind] != 0
                if have:
                    diag = al * al * a2 if kind == GRAM else -1.0
                    for j in range(r):
                        image[j] = c_al2n * cur[1 + kind, j] + diag * lam[j] * V[kind, 0, j]
                theta, rho = _track(
                    kind,
                    Q[kind],
                    S[kind],
                    V[kind],
                    ints[kind],
                    tol[kind],
                    image,
                    have,
                    Zv,
                    al,
                    n,
                    lam,
                    a2,
                    par,
                )
                trk[kind, t, 0], trk[kind, t, 1] = theta, rho
                if kind == GRAM:
                    u = V[GRAM, 1]
                    if u1_0[r] == 0.0:
                        u1_0[:r] = u
                        u1_0[r] = 1.0
                    sh[t, 0] = abs(_dot(u, u1_0[:r]))
                    sh[t, 1] = abs(u[0])
                    sh[t, 2] = _dot(u, D)
            if loss > fl[1]:
                return t + 1, OVER_MAX_LOSS
            if t == last:
                return t + 1, OK
            # the step t → t + 1, carrying the probes of the trackers due at t + 1
            c = eta * al
            R[0] = D
            for kind in range(2):
                due = every[kind] != 0 and (t + 1) % every[kind] == 0 and ints[kind, K] < r
                carried[kind] = 1 if due else 0
                if due:
                    R[1 + kind] = V[kind, 0]
                else:
                    R[1 + kind] = 0.0
            _rows(Zv, R, width, T, par)
            da = (c / n) * T[:, 0]
            y = (-c) * (lam * D)
            if not (math.isfinite(_dot(da, da)) and math.isfinite(_dot(y, y))):
                return t + 1, UPDATE_OVERFLOW
            a_new = a - da
            L[0] = a_new
            for kind in range(2):
                if carried[kind]:
                    L[1 + kind] = T[:, 1 + kind] + a * _dot(y, R[1 + kind])
                else:
                    L[1 + kind] = 0.0
            a2_new = _dot(a_new, a_new)
            _shift_images(Q, S, ints, every, al / n, c_al2n, F, y, a2, al * al * (a2_new - a2), lam)
            fl[0] = _cols(Zv, a, y, L, cur, True, width, par)
            a[:] = a_new
        return t1, OK


class limit_threads:
    """Numba's threads (those of a single run's two-thread sweeps) limited to ``n`` inside the
    block; ``n`` None or Numba absent: no change. Sweeps set it to each worker's share of the cores."""

    def __init__(self, n: int | None):
        self.n, self.before = n, None

    def __enter__(self):
        if numba is not None and self.n:
            self.before = numba.get_num_threads()
            numba.set_num_threads(max(1, min(int(self.n), numba.config.NUMBA_NUM_THREADS)))
        return self

    def __exit__(self, *exc):
        if self.before is not None:
            numba.set_num_threads(self.before)
        return False


def compile_seconds() -> float | None:
    """Seconds the kernels' first use in this process took (:func:`warm_up`: compiling them, or
    loading them from the on-disk cache); None before it."""
    return _compile_seconds


def warm_up() -> float:
    """Compile (or load from the disk cache) the kernels on a 2×3 problem, once per process;
    returns the seconds it took."""
    global _compile_seconds
    if _compile_seconds is None:
        tic = time.perf_counter()
        g = np.random.default_rng(0)
        run = CompiledRun(
            g.standard_normal((2, 3)),
            g.standard_normal(2),
            np.array([3.0, 2.0, 1.0]),
            g.standard_normal(3),
            0.0,
            n=3,
            alpha=1.0,
            k_top=2,
            eta=0.01,
            steps=3,
            sharpness_every=1,
            e_hat_every=1,
            tol=1e-6,
            max_loss=None,
        )
        run.advance(4)
        _compile_seconds = time.perf_counter() - tic
    return _compile_seconds


class CompiledRun:
    """One compiled run of the linear net's spectral GD from the state (Z_v, a) (copied), with Λ
    every ``sharpness_every`` steps and ‖Ê‖ every ``e_hat_every`` (0 = never); :meth:`advance`
    runs it on. The records are arrays over all ``steps + 1`` states, filled up to ``t``.
    ``parallel``: the sweeps over Z_v on two threads (default: when Numba has two); the numbers
    do not depend on it."""

    def __init__(
        self,
        Zv: Any,
        a: Any,
        lam: Any,
        Yv: Any,
        y_null2: float,
        *,
        n: int,
        alpha: float,
        k_top: int,
        eta: float,
        steps: int,
        sharpness_every: int,
        e_hat_every: int,
        tol: float,
        max_loss: float | None,
        seeds: tuple[int, int] = (1, 2),
        parallel: bool | None = None,
    ):
        if numba is None:
            raise ImportError("jit=True needs Numba: pip install 'linnet[jit]' (or use jit=False)")
        f64 = np.float64
        self.Zv = np.array(Zv, dtype=f64, order="C")
        self.a = np.array(a, dtype=f64)
        self.lam = np.ascontiguousarray(lam, dtype=f64)
        self.Yv = np.ascontiguousarray(Yv, dtype=f64)
        self.y_null2, self.n, self.al = float(y_null2), float(n), float(alpha)
        self.eta, self.steps = float(eta), int(steps)
        m, r = self.Zv.shape
        self.every = np.array([sharpness_every, e_hat_every], dtype=np.int64)
        self.tol = np.full(2, max(float(tol), TOL_FLOOR_EPS * float(np.finfo(f64).eps)))
        maxb = min(MAX_BASIS, r)
        self.Q = np.zeros((2, maxb, r))
        self.S = np.zeros((2, maxb, r))
        self.V = np.zeros((2, 3, r))  # per tracker: probe, Ritz vector (sign reference), start
        for kind, seed in enumerate(seeds):  # the start and probe that EigTracker(seed=…) draws
            g = np.random.default_rng(seed).standard_normal((2, r))
            self.V[kind, 2] = g[0] / np.linalg.norm(g[0])
            self.V[kind, 0] = g[1] / np.linalg.norm(g[1])
        self.ints = np.zeros((2, 4), dtype=np.int64)
        self.carried = np.zeros(2, dtype=np.int64)
        self.u1_0 = np.zeros(r + 1)  # u₁ at the first Λ, and a flag: set
        self.cur = np.zeros((3, r))
        self.cur[0] = self.Zv.T @ self.a
        self.fl = np.array(
            [float(self.Zv[:, 0] @ self.Zv[:, 0]), -1.0 if max_loss is None else float(max_loss)]
        )
        rows = self.steps + 1
        self.rows = np.zeros((rows, 4))
        self.dk, self.fk = np.zeros((rows, k_top)), np.zeros((rows, k_top))
        self.trk = np.full((2, rows, 2), np.nan)
        self.sh = np.full((rows, 3), np.nan)
        self.t = 0
        self.code = OK
        # the sweeps' two halves on two threads (numba's), or one after the other: the same numbers
        self.parallel = numba.get_num_threads() >= 2 if parallel is None else bool(parallel)

    @classmethod
    def of_engine(cls, engine: Any, **kw: Any) -> CompiledRun:
        """From a :class:`~linnet.engines.SpectralEngine`'s current state (float64, NumPy)."""
        if engine.dtype != np.float64 or engine.xp is not np:
            raise ValueError(
                "jit=True runs in float64 on NumPy arrays: use dtype='float64' and "
                "the NumPy backend, or jit=False"
            )
        return cls(
            engine.zv_copy(),
            engine.a,
            engine.lam,
            engine.Yv,
            engine.spec.y_null2,
            n=engine.n,
            alpha=engine.al,
            k_top=engine.k,
            **kw,
        )

    @property
    def max_loss(self) -> float:
        return float(self.fl[1])

    def advance(self, until: int) -> int:
        """Run the states t … until − 1, or to a stop; returns the stop code."""
        self.t, self.code = advance(
            self.Zv,
            self.a,
            self.lam,
            self.Yv,
            self.y_null2,
            self.n,
            self.al,
            self.eta,
            self.t,
            min(until, self.steps + 1),
            self.steps,
            self.cur,
            self.fl,
            self.Q,
            self.S,
            self.V,
            self.ints,
            self.every,
            self.tol,
            self.carried,
            self.u1_0,
            self.rows,
            self.dk,
            self.fk,
            self.trk,
            self.sh,
            self.parallel,
        )
        return int(self.code)

    def run_to_end(self, on_chunk: Any = None) -> int:
        """Advance ``CHUNK`` steps per kernel call to the last state or a stop, calling
        ``on_chunk(t)`` after each call; returns the stop code."""
        while self.t <= self.steps and self.advance(self.t + CHUNK) == OK:
            if on_chunk is not None:
                on_chunk(min(self.t, self.steps))
        return int(self.code)

    def store(self, engine: Any) -> None:
        """Leave ``engine`` (the :class:`~linnet.engines.SpectralEngine` it started from) at this
        run's last state, for its final weights."""
        engine.Zv = self.Zv
        engine.a = self.a

    def products(self, kind: int) -> int:
        """Operator products the tracker ``kind`` (GRAM or E_HAT) asked for beyond the carried ones."""
        return int(self.ints[kind, MATVECS])


CHUNK = 256  # steps per kernel call: progress and Ctrl-C are seen between calls


@dataclass(frozen=True)
class CompiledResult:
    """What a compiled run recorded: ``rows`` states, why it ``stopped`` (None if it did not),
    the every-step columns (``loss``, ``a_norm2``, ``fd``, ``lambda_tilde``, ``d_top``, ``f_top``),
    the observers' arrays under the Trajectory's field names, and the trackers' product counts."""

    rows: int
    stopped: Stop | None
    columns: dict
    arrays: dict
    sharpness_products: int
    e_hat_products: int


def run_compiled(
    engine: Any,
    *,
    eta: float,
    steps: int,
    sharpness_every: int,
    e_hat_every: int,
    tol: float,
    max_loss: float | None,
    progress: bool | None = None,
    label: str = "train[spectral, jit]",
) -> CompiledResult:
    """Run :func:`linnet.loop.run` with the Sharpness and EHat observers on the spectral engine
    ``engine``, compiled; leaves ``engine`` at the run's last state (for its final weights)."""
    warm_up()
    prog = Progress(steps, label, enabled=progress)
    # one BLAS thread from the start's products on: an OpenBLAS worker spins for ~0.1 s after its
    # last job, on the core that the loop's second thread needs
    with one_blas_thread(np):
        run = CompiledRun.of_engine(
            engine,
            eta=eta,
            steps=steps,
            sharpness_every=sharpness_every,
            e_hat_every=e_hat_every,
            tol=tol,
            max_loss=max_loss,
        )
        run.run_to_end(prog.update)
    prog.close()
    run.store(engine)
    return result_of(run)


def result_of(run: CompiledRun) -> CompiledResult:
    """The records of a finished (or stopped) :class:`CompiledRun`."""
    T = run.t
    columns = dict(
        loss=run.rows[:T, 0].copy(),
        a_norm2=run.rows[:T, 1].copy(),
        fd=run.rows[:T, 2].copy(),
        lambda_tilde=run.rows[:T, 3].copy(),
        d_top=run.dk[:T].copy(),
        f_top=run.fk[:T].copy(),
    )
    arrays: dict[str, np.ndarray] = {}
    s_steps = _due_steps(int(run.every[GRAM]), T)
    arrays.update(
        sharpness_step=s_steps,
        sharpness=run.trk[GRAM, s_steps, 0],
        sharpness_residual=run.trk[GRAM, s_steps, 1],
        u1_overlap_init=run.sh[s_steps, 0],
        u1_v1_overlap=run.sh[s_steps, 1],
        d_u1=run.sh[s_steps, 2],
    )
    e_steps = _due_steps(int(run.every[E_HAT]), T)
    arrays.update(e_hat_step=e_steps, e_hat_norm=np.abs(run.trk[E_HAT, e_steps, 0]))
    return CompiledResult(T, _stop_message(run), columns, arrays, run.products(GRAM), run.products(E_HAT))


def _stop_message(run: CompiledRun) -> Stop | None:
    """linnet.loop.run's stop (:mod:`linnet.run.stop`) for the run's stop code (rows t = 0 …
    run.t − 1 recorded): the kernel applies the same protocol, compiled."""
    if run.code == LOSS_OVERFLOW:
        return loss_overflow(run.t)
    if run.code == OVER_MAX_LOSS:
        return over_max_loss(run.t - 1, float(run.rows[run.t - 1, 0]), run.max_loss)
    if run.code == UPDATE_OVERFLOW:
        return update_overflow(run.t - 1)
    return None


def _due_steps(every: int, rows: int) -> np.ndarray:
    return np.arange(0, rows, every, dtype=np.int64) if every else np.zeros(0, dtype=np.int64)
