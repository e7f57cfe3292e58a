"""The compiled loop's Numba kernels (:mod:`linnet.families.linear2.jit`): the sweeps over Z_v
(the GD step's two passes, split into the two halves of Z_v's rows), the small products written
out without BLAS, and the products with G and Ê; with the constants the kernels share.

Numba compiles them on first use and caches the machine code on disk (``cache=True``: in
``__pycache__`` beside these files, or under ``NUMBA_CACHE_DIR``)."""

from __future__ import annotations

import numpy as np

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
