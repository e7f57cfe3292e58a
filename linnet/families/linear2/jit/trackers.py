"""The compiled eigen-trackers (:mod:`linnet.families.linear2.jit`): :class:`linnet.linalg.EigTracker`'s
algorithm for Λ = λ_max(G) and ‖Ê‖, step for step, in Numba — the k×k eigenproblem by Jacobi
rotations, the basis' re-orthonormalisation, Rayleigh–Ritz with Davidson expansion, and the
closed-form change of the images S = AQ over a GD step (I4)."""

from __future__ import annotations

import math

import numpy as np

from .kernels import GRAM, KEEP, MATVECS, MAXITER, REFRESH_EVERY, SIGNED, SINCE, K, numba

if numba is not None:
    from .kernels import _apply_op, _dot, _gram_qs, _jit, _mm, _mv, _vm

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
