"""What is measured along a run: observers of the one GD loop (:mod:`linnet.loop`).

An observer sees every state of a run and may carry one probe vector through the next step (the
spectral engine computes its image alongside the step's own products). Its hooks:

* ``start(engine)`` once, before the first state;
* ``observe(t, obs, engine)`` at every recorded state t (``obs`` from ``engine.observe()``);
* ``probe(t_next)`` → ``(kind, p)`` or None: a vector whose operator image the next state should
  carry in ``obs.carried[kind]``;
* ``stepped(engine)`` after each successful GD step;
* ``arrays()`` → the per-step arrays it recorded, by Trajectory field name.

Observers of one's own (the exact replay of :mod:`theory.record`, say) implement the same hooks
and are passed as ``train(..., observers=[...])``; they leave the trajectory unchanged (every
engine's products are as wide whatever is measured, so the run is bitwise the same).
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np

from ..linalg.lanczos import lanczos
from ..linalg.tracking import EigTracker

WARM_MIX = 1e-3  # weight of a fixed random vector added to warm starts (see WarmLanczos)
RUNNER_UP_MIX = 1e-2  # weight of the previous runner-up Ritz vector in warm starts


class Observer(Protocol):
    def start(self, engine: Any) -> None: ...
    def observe(self, t: int, obs: Any, engine: Any) -> None: ...
    def probe(self, t_next: int) -> tuple[str, Any] | None: ...
    def stepped(self, engine: Any) -> None: ...
    def arrays(self) -> dict[str, np.ndarray]: ...


class BaseObserver:
    """No-op hooks, for observers that need only some of them."""

    def start(self, engine: Any) -> None:
        pass

    def observe(self, t: int, obs: Any, engine: Any) -> None:
        pass

    def probe(self, t_next: int) -> tuple[str, Any] | None:
        return None

    def stepped(self, engine: Any) -> None:
        pass

    def arrays(self) -> dict[str, np.ndarray]:
        return {}


class WarmLanczos:
    """Warm-started Lanczos for one operator sampled along a run (the Hessian every k steps).

    The previous eigenvector is mixed with the previous runner-up Ritz vector (weight
    ``RUNNER_UP_MIX``) and a fixed random vector (weight ``WARM_MIX``), so that an eigenvalue
    overtaking the tracked one still has a sizeable component in the Krylov space: a pure warm
    start would converge to the old eigenvector at once, and the residual stop would accept it.
    ``__call__(matvec)`` returns ``(value, residual, unit vector)``.
    """

    def __init__(self, xp: Any, dtype: Any, dim: int, which: str, tol: float, maxiter: int, seed: int):
        self.xp, self.dtype, self.dim, self.which = xp, dtype, dim, which
        self.tol, self.maxiter = tol, maxiter
        g = np.random.default_rng(seed).standard_normal(dim)
        self.g = xp.asarray(g / np.linalg.norm(g), dtype=dtype)
        self.u: Any = None
        self.u2: Any = None
        self.iterations = 0

    def __call__(self, matvec: Any) -> tuple[float, float, Any]:
        v0 = self.g if self.u is None else self.u + WARM_MIX * self.g
        if self.u2 is not None:
            v0 = v0 + RUNNER_UP_MIX * self.u2
        res = lanczos(
            matvec,
            n=self.dim,
            xp=self.xp,
            dtype=self.dtype,
            v0=v0,
            which=self.which,
            tol=self.tol,
            maxiter=self.maxiter,
        )
        self.iterations += res.iterations
        u = res.vector / math.sqrt(float(res.vector @ res.vector))
        if self.u is not None and float(u @ self.u) < 0:
            u = -u  # keep a consistent sign from step to step
        self.u = u
        if res.runner_up is not None:
            u2 = self.xp.asarray(res.runner_up, dtype=self.dtype)
            u2 = u2 - u * float(u @ u2)
            nrm = math.sqrt(float(u2 @ u2))
            self.u2 = u2 / nrm if nrm > 0 else None
        return res.value, res.residual, u


def _due(every: int, t: int) -> bool:
    return bool(every) and t % every == 0


class _Tracked(BaseObserver):
    """λ of one operator of the engine every ``every`` steps by an :class:`EigTracker` fed the
    closed-form change of the operator over the steps since it last looked, when the engine has one
    (``engine.<kind>_update``), and the image of its probe carried through the last step."""

    kind = ""
    which = "LA"
    seed = 0

    def __init__(self, every: int, tol: float):
        self.every, self.tol = int(every), float(tol)
        self.pending: list[Any] = []  # engine.last_update of each step since the last look
        self.tracker: EigTracker | None = None

    def start(self, engine: Any) -> None:
        self.tracker = EigTracker(
            xp=engine.xp, dtype=engine.dtype, dim=engine.dim, which=self.which, tol=self.tol, seed=self.seed
        )

    def look(self, obs: Any, engine: Any) -> tuple[float, float, Any]:
        assert self.tracker is not None
        matvec = getattr(engine, f"{self.kind}_matvec")(obs)
        update = getattr(engine, f"{self.kind}_update")(self.pending)
        out = self.tracker(matvec, update, obs.carried.get(self.kind))
        self.pending.clear()
        return out

    def probe(self, t_next: int) -> tuple[str, Any] | None:
        if self.tracker is not None and _due(self.every, t_next) and self.tracker.probe is not None:
            return self.kind, self.tracker.probe
        return None

    def stepped(self, engine: Any) -> None:
        if self.every:
            self.pending.append(engine.last_update)

    @property
    def products(self) -> int:
        return 0 if self.tracker is None else self.tracker.matvecs


class Sharpness(_Tracked):
    """Λ = λ_max(G) with its residual ρ = ‖Gu₁ − Λu₁‖, the overlaps |⟨u₁(t), u₁(0)⟩| and
    |⟨u₁, v₁⟩| (v₁: K's top eigenvector), and D along u₁, ⟨D, u₁⟩ (the part of the residual the
    EoS acts on: Fig. 3b), every ``every`` steps."""

    kind, which, seed = "gram", "LA", 1

    def __init__(self, every: int, tol: float):
        super().__init__(every, tol)
        self.u1_0: Any = None
        self.v1: Any = None
        self.rows: dict[str, list[float]] = {
            k: []
            for k in (
                "sharpness_step",
                "sharpness",
                "sharpness_residual",
                "u1_overlap_init",
                "u1_v1_overlap",
                "d_u1",
            )
        }
        self.last = float("nan")

    def start(self, engine: Any) -> None:
        super().start(engine)
        self.v1 = engine.v1()

    def observe(self, t: int, obs: Any, engine: Any) -> None:
        if not _due(self.every, t):
            return
        lam, resid, u1 = self.look(obs, engine)
        if self.u1_0 is None:
            self.u1_0 = u1
        for k, v in zip(
            self.rows,
            (t, lam, resid, abs(float(u1 @ self.u1_0)), abs(float(u1 @ self.v1)), float(u1 @ obs.D)),
            strict=True,
        ):
            self.rows[k].append(v)
        self.last = lam

    def arrays(self) -> dict[str, np.ndarray]:
        return _as_arrays(self.rows)


class EHat(_Tracked):
    """‖Ê‖₂, the largest-magnitude eigenvalue of Ê = G − κ_G K (two-layer linear net, eq. 10)."""

    kind, which, seed = "e_hat", "LM", 2

    def __init__(self, every: int, tol: float):
        super().__init__(every, tol)
        self.rows: dict[str, list[float]] = {"e_hat_step": [], "e_hat_norm": []}

    def observe(self, t: int, obs: Any, engine: Any) -> None:
        if _due(self.every, t):
            self.rows["e_hat_step"].append(t)
            self.rows["e_hat_norm"].append(abs(self.look(obs, engine)[0]))

    def arrays(self) -> dict[str, np.ndarray]:
        return _as_arrays(self.rows)


class OutputGram(_Tracked):
    """‖G_A‖ = λ_max(G_A), G_A = H_{L−1}ᵀH_{L−1}/n the Gram of the output layer alone (§3.2,
    App. D.1.1), every ``every`` steps: exactly where the engine has it cheaply
    (``engine.ga_norm(obs)``), else tracked like Λ on ``engine.ga_matvec``."""

    kind, which, seed = "ga", "LA", 5

    def __init__(self, every: int, tol: float):
        super().__init__(every, tol)
        self.rows: dict[str, list[float]] = {"ga_step": [], "ga_norm": []}

    def start(self, engine: Any) -> None:
        if not engine.EXACT_GA:
            super().start(engine)

    def observe(self, t: int, obs: Any, engine: Any) -> None:
        if _due(self.every, t):
            value = engine.ga_norm(obs) if self.tracker is None else self.look(obs, engine)[0]
            self.rows["ga_step"].append(t)
            self.rows["ga_norm"].append(value)

    def stepped(self, engine: Any) -> None:
        if self.tracker is not None:
            super().stepped(engine)

    def arrays(self) -> dict[str, np.ndarray]:
        return _as_arrays(self.rows)


class TrainedGram(_Tracked):
    """λ_max of the Gram of the trained layers only, when some are frozen (App. D.3)."""

    kind, which, seed = "trained_gram", "LA", 6

    def __init__(self, every: int, tol: float):
        super().__init__(every, tol)
        self.rows: dict[str, list[float]] = {"trained_sharpness": []}

    def observe(self, t: int, obs: Any, engine: Any) -> None:
        if _due(self.every, t):
            self.rows["trained_sharpness"].append(self.look(obs, engine)[0])

    def arrays(self) -> dict[str, np.ndarray]:
        return _as_arrays(self.rows)


class HessianTop(BaseObserver):
    """λ_max(∇²L) every ``every`` steps (stopped at residual ≤ ``tol``·|λ|): by the engine's own
    warm-started solver where it has one (``engine.hessian_solver(tol, maxiter)``, a callable
    ``(engine, obs) → (value, residual, vector)``: the PyTorch family's LOBPCG on block products),
    else by warm-started Lanczos on its Hessian-vector products."""

    def __init__(self, every: int, tol: float, maxiter: int = 400):
        self.every, self.tol, self.maxiter = int(every), float(tol), maxiter
        self.eig: WarmLanczos | None = None
        self.solver: Any = None
        self.rows: dict[str, list[float]] = {"hessian_step": [], "hessian_sharpness": []}

    def observe(self, t: int, obs: Any, engine: Any) -> None:
        if not _due(self.every, t):
            return
        if self.solver is None and hasattr(engine, "hessian_solver"):
            self.solver = engine.hessian_solver(self.tol, self.maxiter)
        if self.solver is not None:
            value = self.solver(engine, obs)[0]
        else:
            matvec, dim = engine.hessian_matvec(obs)
            if self.eig is None:
                self.eig = WarmLanczos(engine.xp, engine.dtype, dim, "LA", self.tol, self.maxiter, 3)
            value = self.eig(matvec)[0]
        self.rows["hessian_step"].append(t)
        self.rows["hessian_sharpness"].append(value)

    def arrays(self) -> dict[str, np.ndarray]:
        return _as_arrays(self.rows)


def _as_arrays(rows: dict[str, list[float]]) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=np.int64 if k.endswith("_step") else np.float64) for k, v in rows.items()}
