"""``train``: run GD (or gradient flow) on the linear network and record a :class:`Trajectory`."""
from __future__ import annotations

import math

import numpy as np
from scipy.integrate import solve_ivp

from ._backend import backend_name, namespace, to_numpy
from ._checks import check_eta, check_finite, check_matrix, check_vector, resolve_dtype
from .engines import ENGINES
from .init import init_params
from .lanczos import lanczos
from .model import resolve_alpha
from .progress import Progress
from .spectral import DataSpectrum
from .spectral import spectrum as data_spectrum
from .tracking import EigTracker
from .trajectory import Trajectory

METHODS = ("gd", "flow")
WARM_MIX = 1e-3  # weight of a fixed random vector added to warm starts (see _Eig)
RUNNER_UP_MIX = 1e-2  # weight of the previous runner-up Ritz vector in warm starts


class _Eig:
    """Warm-started Lanczos for one operator sampled along a run (the Hessian every k steps).

    The previous eigenvector is mixed with the previous runner-up Ritz vector (weight
    ``RUNNER_UP_MIX``) and a fixed random vector (weight ``WARM_MIX``), so that an eigenvalue
    overtaking the tracked one still has a sizeable component in the Krylov space: a pure warm
    start would converge to the old eigenvector at once, and the residual stop would accept it.
    """

    def __init__(self, xp, dtype, dim, which, tol, maxiter, seed):
        self.xp, self.dtype, self.dim, self.which, self.tol, self.maxiter = xp, dtype, dim, which, tol, maxiter
        g = np.random.default_rng(seed).standard_normal(dim)
        self.g = xp.asarray(g / np.linalg.norm(g), dtype=dtype)
        self.u = self.u2 = None
        self.iterations = 0

    def __call__(self, matvec):
        v0 = self.g if self.u is None else self.u + WARM_MIX * self.g
        if self.u2 is not None:
            v0 = v0 + RUNNER_UP_MIX * self.u2
        res = lanczos(matvec, n=self.dim, xp=self.xp, dtype=self.dtype, v0=v0, which=self.which,
                      tol=self.tol, maxiter=self.maxiter)
        self.iterations += res.iterations
        u = res.vector / math.sqrt(float(res.vector @ res.vector))
        if self.u is not None and float(u @ self.u) < 0:
            u = -u  # keep a consistent sign from step to step
        self.u = u
        if res.runner_up is not None:
            u2 = res.runner_up.astype(self.dtype)
            u2 = u2 - u * float(u @ u2)
            nrm = math.sqrt(float(u2 @ u2))
            self.u2 = u2 / nrm if nrm > 0 else None
        return res.value, res.residual, u


def train(X, Y, *, eta: float, steps: int, m: int | None = None, init: str = "symmetric",
          scale: float = 1.0, seed=0, alpha=None, W0=None, a0=None, method: str = "gd",
          engine: str = "spectral", backend: str | None = None, dtype="float64", top_k: int = 5,
          sharpness_every: int = 1, sharpness_tol: float = 1e-6, e_hat_every: int = 1,
          hessian_every: int = 0, hessian_tol: float = 1e-8, max_loss: float | None = None,
          progress=None, spectrum: DataSpectrum | None = None,
          flow_rtol: float = 1e-10, flow_atol: float = 1e-12) -> Trajectory:
    """Run ``steps`` GD steps (eq. 6) — or gradient flow (eq. 1) sampled at t = ηk — and record them.

    Start from ``init_params(m, X, scheme=init, scale=scale, seed=seed, alpha=alpha)`` or from
    the given ``W0``, ``a0``. ``engine="spectral"`` (default) runs in K's eigenbasis at O(m·r)
    per step; ``"literal"`` updates W and a literally (O(m·d·n)); both give the same trajectory.
    Λ = λ_max(G) is computed every ``sharpness_every`` steps by :class:`linnet.tracking.EigTracker`
    (Rayleigh–Ritz on a kept subspace whose images follow G in closed form, I4), stopped at
    relative residual ρ/Λ ≤ ``sharpness_tol`` (ρ = ‖Gu − Λu‖ is recorded; the products it took
    are in ``config["sharpness_products"]``; in float32 the tolerance is floored at 100ε ≈ 1.2e-5,
    below which ρ is roundoff). Then |Λ − λ| ≤ ρ for an eigenvalue λ of G, and
    |Λ − λ_max| ≤ ρ²/gap (Kato–Temple): with the default 1e-6 and a gap of
    1% of Λ that is 1e-10·Λ (the tests check Λ against dense ``eigvalsh`` to 1e-10); ‖Ê‖ every
    ``e_hat_every`` steps, the Hessian's top eigenvalue every ``hessian_every`` steps (0 = never).
    A run whose loss exceeds ``max_loss`` (default 1e10 × its initial loss) or turns non-finite
    stops there, keeping only finite rows, with ``Trajectory.stopped`` saying at which step.
    ``spectrum`` reuses a :func:`linnet.spectrum` decomposition of the same (X, Y) across runs.
    """
    eta = check_eta(eta)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be an integer ≥ 0, got {steps!r}")
    if method not in METHODS:
        raise ValueError(f"method={method!r} is unknown: use 'gd' or 'flow'")
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r} is unknown: use one of {tuple(ENGINES)}")
    for name, val in (("sharpness_every", sharpness_every), ("e_hat_every", e_hat_every),
                      ("hessian_every", hessian_every), ("top_k", top_k)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 0:
            raise ValueError(f"{name} must be an integer ≥ 0 (0 = never), got {val!r}")
    dt = resolve_dtype(dtype)
    xp = namespace(X, Y, W0, a0, backend=backend)
    check_matrix("X", X)
    d, n = X.shape
    check_vector("Y", Y, length=n, length_name=f"X (d×n = {d}×{n}, one label per column)")
    X, Y = xp.asarray(X), xp.asarray(Y)
    if (W0 is None) != (a0 is None):
        raise ValueError("give both W0 and a0 (an explicit start), or neither (use init=...)")
    if W0 is None:
        if m is None:
            raise ValueError("m (the width) is required unless W0 and a0 are given")
        W0, a0 = init_params(m, X, scheme=init, scale=scale, seed=seed, alpha=alpha, dtype=dt,
                             backend=backend_name(xp))
        init_name = init
    else:
        check_matrix("W0", W0, cols=d, cols_name=f"X (d×n = {d}×{n})")
        check_vector("a0", a0, length=W0.shape[0], length_name=f"W0 (m×d = {W0.shape[0]}×{d})")
        check_finite("W0", W0)
        check_finite("a0", a0)
        if m is not None and m != W0.shape[0]:
            raise ValueError(f"m={m} disagrees with W0, which has {W0.shape[0]} rows: drop m or fix W0")
        W0, a0 = xp.asarray(W0, dtype=dt), xp.asarray(a0, dtype=dt)
        init_name = "given"
    m = int(W0.shape[0])
    al = resolve_alpha(alpha, m)
    if spectrum is None:
        spectrum = data_spectrum(X, Y)
    elif (spectrum.n, spectrum.d) != (n, d):
        raise ValueError(f"spectrum was computed for data {spectrum.d}×{spectrum.n}, not {d}×{n}")
    eng = ENGINES[engine](spectrum, W0, a0, al, dt, top_k)
    k = eng.k

    config = dict(eta=eta, m=m, alpha=al, alpha_arg=None if alpha is None else float(alpha),
                  init=init_name, scale=float(scale), seed=None if seed is None else int(seed),
                  n=n, d=d, r=spectrum.r, method=method, engine=engine, backend=backend_name(xp),
                  dtype=str(dt), steps_requested=int(steps), top_k=k,
                  sharpness_every=int(sharpness_every), sharpness_tol=float(sharpness_tol),
                  e_hat_every=int(e_hat_every), hessian_every=int(hessian_every),
                  hessian_tol=float(hessian_tol), y_norm=float(xp.linalg.norm(spectrum.Y)))

    rec = _Recorder(steps + 1, k, n)
    eig_G = EigTracker(xp=xp, dtype=dt, dim=eng.dim, which="LA", tol=sharpness_tol, seed=1)
    eig_E = EigTracker(xp=xp, dtype=dt, dim=eng.dim, which="LM", tol=sharpness_tol, seed=2)
    steps_G, steps_E = [], []  # GD updates since each tracker last saw its operator
    eig_H = None
    u1_0 = None
    v1 = eng.v1()
    stopped = None

    flow_sol = None
    if method == "flow":
        flow_sol = _integrate_flow(eng, xp, eta, steps, flow_rtol, flow_atol)
        if flow_sol.status != 0:
            stopped = f"gradient flow integration failed at t = {flow_sol.t[-1]:.6g}: {flow_sol.message}"
        n_rows = flow_sol.y.shape[1]
    else:
        n_rows = steps + 1

    prog = Progress(steps, f"train[{engine}]", enabled=progress)
    for t in range(n_rows):
        if flow_sol is not None:
            eng.set_state(xp.asarray(flow_sol.y[:, t], dtype=dt))
        obs = eng.observe()
        if not math.isfinite(obs.loss) or not math.isfinite(obs.a_norm2):
            stopped = (f"diverged at step {t}: the loss overflowed (rows end at step {t - 1}; "
                       f"W_final, a_final hold the parameters of step {t})")
            break
        if max_loss is None:
            max_loss = 1e10 * max(obs.loss, 1e-300)
        rec.every_step(t, obs)
        if sharpness_every and t % sharpness_every == 0:
            lam, resid, u1 = eig_G(eng.gram_matvec(obs), eng.gram_update(steps_G),
                                   obs.carried.get("gram"))
            steps_G.clear()
            if u1_0 is None:
                u1_0 = u1
            rec.sharp(t, lam, resid, abs(float(u1 @ u1_0)), abs(float(u1 @ v1)))
        if e_hat_every and t % e_hat_every == 0:
            rec.ehat(t, abs(eig_E(eng.e_hat_matvec(), eng.e_hat_update(steps_E),
                                  obs.carried.get("e_hat"))[0]))
            steps_E.clear()
        if hessian_every and t % hessian_every == 0:
            mv, dim = eng.hessian_matvec(obs)
            if eig_H is None:
                eig_H = _Eig(xp, dt, dim, "LA", hessian_tol, 400, 3)
            rec.hess(t, eig_H(mv)[0])
        if obs.loss > max_loss:
            stopped = f"diverged at step {t}: loss {obs.loss:.3g} exceeds max_loss {max_loss:.3g}"
            break
        if t == n_rows - 1:
            break
        if flow_sol is None:
            carry = [(kind, trk.probe) for kind, trk, every in
                     (("gram", eig_G, sharpness_every), ("e_hat", eig_E, e_hat_every))
                     if every and (t + 1) % every == 0 and trk.probe is not None][: eng.CARRY]
            if not eng.step(eta, obs, carry):
                stopped = f"diverged at step {t + 1}: the GD update overflowed (rows end at step {t})"
                break
            if sharpness_every:
                steps_G.append(eng.last_update)
            if e_hat_every:
                steps_E.append(eng.last_update)
        prog.update(t + 1, lambda obs=obs: f"loss {obs.loss:.3g} eta*Lambda {eta * rec.last_sharp:.3f}")
    prog.close()
    config.update(sharpness_products=eig_G.matvecs, e_hat_products=eig_E.matvecs)
    W_fin, a_fin = eng.params()
    return rec.build(config, stopped, spectrum, k, to_numpy(W0), to_numpy(a0), to_numpy(W_fin),
                     to_numpy(a_fin))


def _integrate_flow(eng, xp, eta, steps, rtol, atol):
    """Integrate the parameter ODE (eq. 1) on the host with SciPy, sampled at t = ηk."""
    def rhs(_t, z):
        return to_numpy(eng.flow_rhs(xp.asarray(z)))
    z0 = to_numpy(eng.get_state()).astype(np.float64)
    t_eval = eta * np.arange(steps + 1)
    return solve_ivp(rhs, (0.0, t_eval[-1]), z0, method="DOP853", t_eval=t_eval, rtol=rtol, atol=atol)


class _Recorder:
    def __init__(self, rows, k, n):
        self.k, self.n = k, n
        self.t = 0
        self.cols = {name: np.zeros(rows) for name in ("loss", "a_norm2", "fd", "lambda_tilde", "d_norm")}
        self.d_top = np.zeros((rows, k))
        self.f_top = np.zeros((rows, k))
        self.lists = {name: [] for name in ("sharpness_step", "sharpness", "sharpness_residual",
                                            "u1_overlap_init", "u1_v1_overlap", "e_hat_step",
                                            "e_hat_norm", "hessian_step", "hessian_sharpness")}
        self.last_sharp = float("nan")

    def every_step(self, t, obs):
        c = self.cols
        c["loss"][t], c["a_norm2"][t], c["fd"][t] = obs.loss, obs.a_norm2, obs.fd
        c["lambda_tilde"][t] = obs.lambda_tilde
        c["d_norm"][t] = math.sqrt(2 * self.n * obs.loss)
        self.d_top[t] = to_numpy(obs.d_top)
        self.f_top[t] = to_numpy(obs.f_top)
        self.t = t + 1

    def sharp(self, t, lam, resid, ov0, ov1):
        for name, v in zip(("sharpness_step", "sharpness", "sharpness_residual", "u1_overlap_init",
                            "u1_v1_overlap"), (t, lam, resid, ov0, ov1)):
            self.lists[name].append(v)
        self.last_sharp = lam

    def ehat(self, t, val):
        self.lists["e_hat_step"].append(t)
        self.lists["e_hat_norm"].append(val)

    def hess(self, t, val):
        self.lists["hessian_step"].append(t)
        self.lists["hessian_sharpness"].append(val)

    def build(self, config, stopped, spec, k, W0, a0, W_fin, a_fin):
        T = self.t
        arr = {name: v[:T].copy() for name, v in self.cols.items()}
        lists = {name: np.asarray(v, dtype=np.int64 if name.endswith("_step") else np.float64)
                 for name, v in self.lists.items()}
        return Trajectory(config=config, step=np.arange(T, dtype=np.int64), d_top=self.d_top[:T].copy(),
                          f_top=self.f_top[:T].copy(), eigvals_K=to_numpy(spec.lam).astype(np.float64),
                          y_top=to_numpy(spec.Yv[:k]).astype(np.float64), W0=W0, a0=a0,
                          W_final=W_fin, a_final=a_fin, stopped=stopped, **arr, **lists)
