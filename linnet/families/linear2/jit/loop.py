"""The compiled loop over the steps (:mod:`linnet.families.linear2.jit`): observe, record, track,
test the stop rules and step, as :func:`linnet.run.loop.run` does, in one Numba kernel."""

from __future__ import annotations

import math

import numpy as np

from .kernels import E_HAT, GRAM, LOSS_OVERFLOW, OK, OVER_MAX_LOSS, UPDATE_OVERFLOW, K, numba

if numba is not None:
    from .kernels import _cols, _dot, _jit, _rows
    from .trackers import _shift_images, _track

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
