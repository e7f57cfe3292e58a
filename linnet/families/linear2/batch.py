"""Many trajectories at once: B linear-net runs on the same data and width advance in lockstep.

:class:`BatchSpectralEngine` stacks the members' spectral states (Z_v: B×m×r, a: B×m) and does the
two passes over Z_v of a GD step for all of them in one stacked matrix product each. NumPy's
``matmul`` on stacked operands calls the same BLAS routine per member, with the same shapes and
transposition flags, as :class:`~.engines.SpectralEngine` does for one run; the dot products
are stacked (1×r)·(r×1) products, which NumPy evaluates with the same ``dot`` kernel as a 1-D
``x @ y``; every elementwise operation is done in the single engine's order. So each member's
trajectory is *bitwise* the single run's (tested: ``tests/test_batch.py``), and so are its Λ, ‖Ê‖
and Hessian values, since each member keeps its own observers (:mod:`linnet.observers`), fed a
view of the member that answers exactly as a single engine would.

A member whose loss overflows, exceeds its ``max_loss``, or whose GD update is not finite stops
there with train's ``stopped`` message; its rows end there and the others go on (the stopped
member is dropped from the stacked arrays).

Host read-backs (CuPy): the step's finiteness test is evaluated on the device as a mask (a member
whose update is not finite is left untouched), and the loop reads the per-step numbers back to the
host once every ``readback_every`` steps, or at a step where a host-side observer (the Λ, ‖Ê‖ or
Hessian eigensolver) is due, whichever comes first. The eigensolvers read their Ritz values on the
host, so with Λ every step there is a read-back every step; ``sharpness_every = e_hat_every = k``
gives one every k steps. On NumPy a read-back costs nothing and every step is checked at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..._backend import available_cpus, backend_name, namespace, one_blas_thread, to_numpy
from ..._checks import check_eta, resolve_dtype
from ...progress import Progress
from ...run.config import RunConfig
from ...run.observers import EHat, HessianTop, Sharpness
from ...run.recorder import build_trajectory
from ...run.stop import Stop, StopRule
from ...run.trajectory import Trajectory
from ...spectral import DataSpectrum
from ...train import check_jit, prepare_data
from .engines import Observation, SpectralEngine
from .family import LINEAR2, LinearNet
from .lowrank import LowRank

__all__ = ["BatchSpectralEngine", "train_batch"]


def _bdot(x, y):
    """Row-wise dot products of two (B, n) stacks, each evaluated as the 1-D ``x[i] @ y[i]`` is."""
    return (x[:, None, :] @ y[:, :, None])[:, 0, 0]


class _StackedLowRank:
    """B matrices A_i = B_i + P_i Q_i (see :class:`.lowrank.LowRank`), stacked, with one
    shared count j of pending rank-1 updates (the members step in lockstep)."""

    def __init__(self, xp, Bs, k: int = 16):
        self.xp, self.B, self.k, self.j = xp, Bs, k, 0
        b, m, r = Bs.shape
        self.P = xp.zeros((b, m, k), dtype=Bs.dtype)
        self.Q = xp.zeros((b, k, r), dtype=Bs.dtype)

    def add(self, x, y) -> bool:
        self.P[:, :, self.j] = x
        self.Q[:, self.j] = y
        self.j += 1
        return self.j == self.k

    def fold(self):
        # one BLAS thread: these B small products (m×j by j×r, j ≤ 16) took 30 ms each with
        # OpenBLAS's two threads on the loaded 2-core bench machine, against ~1 ms on one; the
        # split over threads is by rows and columns, so each entry's sum is the same either way
        if self.j:
            with one_blas_thread(self.xp):
                self.B += self.P[:, :, : self.j] @ self.Q[:, : self.j]
            self.j = 0
        return self.B

    def mv(self, V):
        out = self.B @ V
        if self.j:
            out += self.P[:, :, : self.j] @ (self.Q[:, : self.j] @ V)
        return out

    def rmv(self, W):
        out = self.B.transpose(0, 2, 1) @ W
        if self.j:
            out += self.Q[:, : self.j].transpose(0, 2, 1) @ (self.P[:, :, : self.j].transpose(0, 2, 1) @ W)
        return out

    def col0(self):
        out = self.B[:, :, 0]
        if self.j:
            out = out + (self.P[:, :, : self.j] @ self.Q[:, : self.j, 0:1])[:, :, 0]
        return out

    def take(self, keep):
        """Keep the members ``keep`` (indices), in that order (new arrays)."""
        self.B = self.xp.ascontiguousarray(self.B[keep])
        self.P = self.xp.ascontiguousarray(self.P[keep])
        self.Q = self.xp.ascontiguousarray(self.Q[keep])


class _MemberLowRank(LowRank):
    """Member i of a :class:`_StackedLowRank`, read through views (``mv``, ``rmv``, ``col0`` as
    :class:`~.lowrank.LowRank`'s); it never folds the shared stack."""

    def __init__(self, stack: _StackedLowRank, i: int):  # noqa: D107 - no super().__init__: views only
        self.xp, self.stack, self.k = stack.xp, stack, stack.k
        self.B, self.P, self.Q = stack.B[i], stack.P[i], stack.Q[i]

    @property
    def j(self):
        return self.stack.j

    @j.setter
    def j(self, value):
        raise AttributeError("a batch member's pending updates belong to the stack")

    def fold(self):
        raise RuntimeError("a batch member cannot fold its stack: use zv_copy()")


class _Member(SpectralEngine):
    """What the observers see of one batch member: a :class:`SpectralEngine` whose state is a view
    of the stack (its products, closed-form updates, Hessian and v₁ are the single engine's code)."""

    def __init__(self, single: SpectralEngine):  # noqa: D107 - adopts a built single engine's data
        self.__dict__.update({k: v for k, v in single.__dict__.items() if k not in ("_z", "a")})
        self.last_update = None
        self.frozen = False  # True once it holds a standalone copy of its state (_freeze)

    def bind(self, stack: _StackedLowRank, A, i: int) -> None:
        self._z = _MemberLowRank(stack, i)
        self.a = A[i]

    @property
    def Zv(self):
        return self.zv_copy()

    @Zv.setter
    def Zv(self, value):
        raise AttributeError("a batch member's state belongs to the stack")

    def params(self):
        W = self.W0 + ((self.zv_copy() - self.Zv0) / self.s) @ self.U.T
        return W, self.a.copy()


class BatchSpectralEngine:
    """B spectral engines on one :class:`~linnet.spectral.DataSpectrum` and width m, stepped in
    lockstep; member i has its own η, start and α. ``members[i]`` is a view answering as member
    i's single engine (for its observers)."""

    CARRY = SpectralEngine.CARRY
    WIDTH = SpectralEngine.WIDTH

    def __init__(self, singles: Sequence[SpectralEngine], etas: Sequence[float]):
        first = singles[0]
        xp = self.xp = first.xp
        m, r = first.Zv0.shape
        for e in singles:
            if e.Zv0.shape != (m, r) or e.spec is not first.spec or e.dtype != first.dtype:
                raise ValueError("batch members need the same data spectrum, width and dtype")
        self.dtype, self.n, self.spec = first.dtype, first.n, first.spec
        self.lam, self.Yv, self.k = first.lam, first.Yv, first.k
        self.lam0 = float(first.lam[0])
        self.ids = list(range(len(singles)))  # original index of each active member
        self.al = np.array([e.al for e in singles], dtype=np.float64)
        self.eta = np.array([float(x) for x in etas], dtype=np.float64)
        self._z = _StackedLowRank(xp, xp.ascontiguousarray(xp.stack([e.Zv0 for e in singles])))
        self.A = xp.ascontiguousarray(xp.stack([e.a for e in singles]))
        self.members = [_Member(e) for e in singles]
        self._bind()
        b = len(singles)
        self._right = xp.zeros((b, r, self.WIDTH), dtype=self.dtype)
        self._left = xp.zeros((b, m, self.WIDTH), dtype=self.dtype)
        self._carry: list[list[tuple[str, Any, Any]]] = [[] for _ in range(b)]
        self.deferred = False  # True: the step's finiteness mask stays on the device

    def _bind(self) -> None:
        for i, b in enumerate(self.ids):
            self.members[b].bind(self._z, self.A, i)

    def _col(self, x):
        """A per-member float64 scalar as a column for broadcasting over rows, in the engine's
        dtype (as the single engine's Python floats are cast: NumPy's weak scalars)."""
        return self.xp.asarray(x, dtype=self.dtype)[:, None]

    def _f(self, x):
        """A float64 scalar as the single engine has it: a Python float on NumPy (a weak scalar in
        products with arrays), a 0-d device array on CuPy (no read-back)."""
        return float(x) if self.xp is np else x

    @property
    def size(self) -> int:
        return len(self.ids)

    def observe(self) -> dict:
        """The stacked observation of the active members: arrays D, F (B×r), ``loss``, ``a2``,
        ``fd``, ``lt`` (Λ̃) (B,), on the engine's device, and per member the carried images."""
        xp, n, al = self.xp, self.n, self.al
        left = self._left
        left[:, :, 0] = self.A
        for i, carry in enumerate(self._carry):
            for c, (_, _, zp) in enumerate(carry):
                left[i, :, 1 + c] = zp
        out = self._z.rmv(left)
        F = self._col(al) * out[:, :, 0]
        D = F - self.Yv
        f64 = self.xp.float64
        a2 = _bdot(self.A, self.A).astype(f64)
        carried: list[dict] = []
        c2 = self._col(al**2 / n)
        for i, carry in enumerate(self._carry):
            got = {}
            for c, (kind, p, _) in enumerate(carry):
                image = c2[i] * out[i, :, 1 + c]
                if kind == "gram":
                    image = image + (self._f(al[i] ** 2 * a2[i]) * self.lam) * p
                elif kind == "e_hat":
                    image = image + (-self.lam) * p
                got[kind] = image
                left[i, :, 1 + c] = 0
            carried.append(got)
        self._carry = [[] for _ in self.ids]
        z1 = self._z.col0()
        loss = (_bdot(D, D).astype(f64) + self.spec.y_null2) / (2 * n)
        z1z1 = _bdot(z1, z1).astype(f64)
        lt = xp.asarray(al**2) * (z1z1 / n + a2 * self.lam0)
        return dict(D=D, F=F, loss=loss, a2=a2, fd=_bdot(F, D).astype(f64), lt=lt, carried=carried)

    def step(self, obs: dict, carry: Sequence[Sequence[tuple[str, Any]]], alive=None):
        """Advance every active member by its own η; returns the (B,) mask of members whose update
        was finite (the others are left untouched, as :meth:`SpectralEngine.step` leaves them).
        ``alive``: an optional (B,) mask of members to leave untouched regardless (the device
        path's stop tests, evaluated without a read-back)."""
        xp = self.xp
        D = obs["D"]
        c = self.eta * self.al
        right = self._right
        right[:, :, 0] = D
        for i, cs in enumerate(carry):
            if len(cs) > self.CARRY:
                raise ValueError(f"at most {self.CARRY} vectors can be carried, got {len(cs)}")
            for q, (_, p) in enumerate(cs):
                right[i, :, 1 + q] = p
        out = self._z.mv(right)
        right[:, :, 1:] = 0
        da = self._col(c / self.n) * out[:, :, 0]
        lamD = self._col(-c) * (self.lam * D)
        ok = xp.isfinite(_bdot(da, da)) & xp.isfinite(_bdot(lamD, lamD))
        if alive is not None:
            ok = ok & alive
        if self.deferred or not bool(ok.all()):
            if not self.deferred:  # keep the failing members' states as they are, before the stack moves
                self._freeze([i for i in range(len(self.ids)) if not ok[i]])
            okc = ok[:, None]
            da = xp.where(okc, da, 0)
            lamD = xp.where(okc, lamD, 0)
        self._carry = []
        for i, cs in enumerate(carry):
            # Z_v⁺ p = Z_v p + a (yᵀp), with the single engine's dot product y·p
            self._carry.append(
                [(kind, p, out[i, :, 1 + q] + self.A[i] * (lamD[i] @ p)) for q, (kind, p) in enumerate(cs)]
            )
        a_old2 = obs["a2"]
        if self._z.add(self.A, lamD):
            self._z.fold()
        self.A -= da
        a_new2 = _bdot(self.A, self.A).astype(xp.float64)
        F, f = obs["F"], self._f
        for i, b in enumerate(self.ids):
            self.members[b].last_update = (F[i], lamD[i], f(a_old2[i]), f(a_new2[i]))
        return ok

    def _freeze(self, positions: Sequence[int]) -> None:
        """Give the members at ``positions`` standalone copies of their current state."""
        for i in positions:
            mem = self.members[self.ids[i]]
            if mem.frozen:
                continue
            mem._z = LowRank(self.xp, mem.zv_copy())
            mem.a = self.A[i].copy()
            mem.frozen = True

    def drop(self, gone: Sequence[int]) -> list[int]:
        """Remove the active members at positions ``gone`` (their states stay readable through
        ``members[...]``, which are rebound to copies); returns the positions kept."""
        if not gone:
            return list(range(len(self.ids)))
        xp = self.xp
        gone_set = set(gone)
        self._freeze(gone)
        keep = [i for i in range(len(self.ids)) if i not in gone_set]
        self.ids = [self.ids[i] for i in keep]
        self._carry = [self._carry[i] for i in keep] if self._carry else self._carry
        if not keep:
            return keep
        idx = np.asarray(keep) if xp is np else xp.asarray(keep)
        self._z.take(idx)
        self.A = xp.ascontiguousarray(self.A[idx])
        self.al, self.eta = self.al[keep], self.eta[keep]
        self._right = xp.ascontiguousarray(self._right[idx])
        self._left = xp.ascontiguousarray(self._left[idx])
        self._bind()
        return keep


# ---- the batched loop ---------------------------------------------------------------------------


def _per_member(name, value, B):
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        return [value] * B
    vals = list(value)
    if len(vals) != B:
        raise ValueError(f"{name} has {len(vals)} entries but the batch has {B} members")
    return vals


def _batch_size(**given) -> int:
    sizes = {
        k: len(v)
        for k, v in given.items()
        if v is not None and not isinstance(v, (str, bytes)) and isinstance(v, (Sequence, np.ndarray))
    }
    if not sizes:
        return 1
    if len(set(sizes.values())) != 1:
        raise ValueError(f"per-member arguments disagree on the batch size: {sizes}")
    return next(iter(sizes.values()))


def train_batch(
    X,
    Y,
    *,
    eta,
    steps: int,
    m: int | None = None,
    init="symmetric",
    scale=1.0,
    seed=0,
    alpha=None,
    W0=None,
    a0=None,
    backend: str | None = None,
    dtype: Any = "float64",
    top_k: int = 5,
    sharpness_every: int = 1,
    sharpness_tol: float = 1e-6,
    e_hat_every: int = 1,
    hessian_every: int = 0,
    hessian_tol: float = 1e-8,
    max_loss=None,
    progress: bool | None = None,
    spectrum: DataSpectrum | None = None,
    readback_every: int | None = None,
    jit: bool = False,
    threads: int | None = None,
    final_weights: bool = True,
) -> list[Trajectory]:
    """B GD runs of the two-layer linear net on the same (X, Y) and width, in lockstep; returns one
    :class:`Trajectory` per member, each equal (bitwise, on NumPy) to the corresponding
    ``linnet.train(X, Y, eta=eta[i], steps=steps, m=m, init=init[i], scale=scale[i], seed=seed[i],
    alpha=alpha[i], ...)`` or ``train(..., W0=W0[i], a0=a0[i])`` with the same keywords.

    ``eta``, ``init``, ``scale``, ``seed``, ``alpha`` and ``max_loss`` are a value for all members
    or a sequence of one per member; ``W0`` (B×m×d or a sequence) and ``a0`` (B×m) give explicit
    starts. The batch size B is the common length of the sequences. Members stop on their own
    (``Trajectory.stop``, train's stop protocol and messages). ``readback_every``: the most steps
    between two host read-backs of the per-step numbers when no eigensolver is due (default 1 on
    NumPy, where a read-back is free, and 16 on CuPy; see the module notes); the results do not
    depend on it.
    Only ``method="gd"`` on the spectral engine.

    ``jit=True``: each member runs ``train(..., jit=True)``'s compiled loop (:mod:`linnet.jit`),
    ``threads`` members at a time (default: the CPUs this process may use), each on one core with
    its Z_v in that core's cache; each member's trajectory is bitwise its single ``jit=True`` run.

    ``final_weights=False`` leaves ``W_final`` out of the trajectories (so their
    ``final_weights`` cannot be read; everything else is unchanged): forming it costs 2·m·r·d
    flops a member, a fifth of a 500-step compiled member at paper size, which a caller that only
    summarises the runs (a sweep without a checker or saved trajectories) need not pay.
    """
    if not isinstance(final_weights, bool):
        raise ValueError(f"final_weights must be True or False, got {final_weights!r}")
    run = RunConfig(
        steps=steps,
        sharpness_every=sharpness_every,
        sharpness_tol=sharpness_tol,
        e_hat_every=e_hat_every,
        ga_every=0,
        hessian_every=hessian_every,
        hessian_tol=hessian_tol,
        top_k=top_k,
    )
    if readback_every is not None and (
        isinstance(readback_every, bool)
        or not isinstance(readback_every, (int, np.integer))
        or readback_every < 1
    ):
        raise ValueError(f"readback_every must be an integer ≥ 1, got {readback_every!r}")
    if (W0 is None) != (a0 is None):
        raise ValueError("give both W0 and a0 (explicit starts), or neither (use init=...)")
    B = _batch_size(eta=eta, init=init, scale=scale, seed=seed, alpha=alpha, max_loss=max_loss, W0=W0, a0=a0)
    etas = [check_eta(e) for e in _per_member("eta", eta, B)]
    inits, scales = _per_member("init", init, B), _per_member("scale", scale, B)
    seeds, alphas = _per_member("seed", seed, B), _per_member("alpha", alpha, B)
    max_losses = _per_member("max_loss", max_loss, B)
    W0s = [None] * B if W0 is None else _per_member("W0", W0, B)
    a0s = [None] * B if a0 is None else _per_member("a0", a0, B)
    dt = resolve_dtype(dtype)
    xp = namespace(X, Y, *(w for w in W0s if w is not None), backend=backend)
    X, Y, spectrum = prepare_data(X, Y, xp, spectrum)
    d, n = X.shape

    # the members' engines share the data arrays through the spectrum (DataSpectrum.in_dtype)
    built = [
        LinearNet(
            m=m, init=inits[i], scale=scales[i], seed=seeds[i], alpha=alphas[i], W0=W0s[i], a0=a0s[i]
        ).build(X, Y, spectrum=spectrum, dtype=dt, xp=xp, top_k=top_k)
        for i in range(B)
    ]
    widths = {b.config["m"] for b in built}
    if len(widths) != 1:
        raise ValueError(f"batch members need one width, got {sorted(widths)}")
    engine = BatchSpectralEngine([b.engine for b in built], etas)
    k_top = engine.k
    configs = []
    for i, b in enumerate(built):
        configs.append(
            dict(
                eta=etas[i],
                family=b.family,
                **b.config,
                n=n,
                d=d,
                r=spectrum.r,
                method="gd",
                backend=backend_name(xp),
                dtype=str(dt),
                **run.entries(top_k=k_top, ga_every=0, measures_e_hat=True),
                y_norm=float(xp.linalg.norm(spectrum.Y)),
                jit=bool(jit),
            )
        )
    if jit:
        check_jit(built[0], xp, dt, method="gd", hessian_every=hessian_every, ga_every=0, observers=())
        return _compiled_members(
            built,
            configs,
            spectrum,
            etas=etas,
            steps=steps,
            max_losses=max_losses,
            threads=threads,
            progress=progress,
            final_weights=final_weights,
        )
    observers = []
    for i in range(B):
        obs_i: list[Any] = [
            Sharpness(sharpness_every, sharpness_tol),
            EHat(e_hat_every, sharpness_tol),
            HessianTop(hessian_every, hessian_tol),
        ]
        for o in obs_i:
            o.start(engine.members[i])
        observers.append(obs_i)
    rec = _BatchRecorder(B, steps + 1, k_top, n)
    stopped = _run_batch(
        engine,
        steps=steps,
        observers=observers,
        rec=rec,
        max_losses=max_losses,
        readback_every=(1 if xp is np else 16) if readback_every is None else int(readback_every),
        progress=progress,
    )
    out = []
    for i in range(B):
        sharp, e_hat, hess = observers[i]
        arrays: dict[str, np.ndarray] = {}
        for o in (sharp, hess):
            arrays.update(o.arrays())
        arrays.update(ga_step=np.zeros(0, dtype=np.int64), ga_norm=np.zeros(0))
        cfg = configs[i]
        cfg.update(sharpness_products=sharp.products, ga_products=0, e_hat_products=e_hat.products)
        specific = _weights(engine.members[i], built[i].engine.a, final_weights)
        specific.update(e_hat.arrays())
        out.append(rec.build(i, cfg, stopped[i], spectrum, k_top, arrays, specific))
    return out


def _compiled_members(
    built, configs, spectrum, *, etas, steps, max_losses, threads, progress, final_weights
) -> list[Trajectory]:
    from concurrent.futures import ThreadPoolExecutor

    from ...train import trajectory_of_compiled
    from . import jit as compiled

    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1
    ):
        raise ValueError(f"threads must be an integer ≥ 1 (or None: the CPUs available), got {threads!r}")
    workers = min(int(threads or available_cpus()), len(built))
    compiled.warm_up()
    a0s = [b.engine.a.copy() for b in built]  # each engine holds its member's final a after the run
    runs = [
        compiled.CompiledRun.of_engine(
            b.engine,
            eta=etas[i],
            steps=steps,
            sharpness_every=configs[i]["sharpness_every"],
            e_hat_every=configs[i]["e_hat_every"],
            tol=configs[i]["sharpness_tol"],
            max_loss=max_losses[i],
            parallel=None if workers == 1 else False,
        )  # one at a time: each may use numba's threads
        for i, b in enumerate(built)
    ]
    prog = Progress(len(runs), f"train_batch[{len(runs)}, jit] members", enabled=progress)
    done = 0

    # one BLAS thread: the members' small LAPACK calls (eigh, QR) from several threads at once
    # otherwise contend for OpenBLAS's thread pool (5,900 against 8,700 traj-steps/s at B = 32)
    with one_blas_thread(np), ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(compiled.CompiledRun.run_to_end, runs):
            done += 1
            prog.update(done)
    prog.close()
    out = []
    for b, run, cfg, a0 in zip(built, runs, configs, a0s, strict=True):
        run.store(b.engine)
        specific = _weights(b.engine, a0, final_weights)
        out.append(trajectory_of_compiled(compiled.result_of(run), cfg, spectrum, b.engine.k, specific))
    return out


def _weights(member: Any, a0: Any, final_weights: bool) -> dict:
    """A member's ``W0``, ``a0``, ``a_final`` and, with ``final_weights``, ``W_final`` =
    W0 + ΔZ_v diag(1/s) Uᵀ (2·m·r·d flops: 25 ms a member at paper size on one core, a fifth of a
    500-step compiled member)."""
    out = dict(W0=to_numpy(member.W0), a0=to_numpy(a0))
    if final_weights:
        W_fin, a_fin = member.params()
        out["W_final"] = to_numpy(W_fin)
    else:
        a_fin = member.a
    out["a_final"] = to_numpy(a_fin)
    return out


class _BatchRecorder:
    """The every-step columns of B members (host arrays), rows filled up to ``rows[i]``."""

    def __init__(self, B: int, rows: int, k: int, n: int):
        self.n = n
        self.cols = {name: np.zeros((B, rows)) for name in ("loss", "a_norm2", "fd", "lambda_tilde")}
        self.d_top = np.zeros((B, rows, k))
        self.f_top = np.zeros((B, rows, k))
        self.rows = [0] * B

    def put(self, ids, t0, block) -> None:
        """Rows t0 … t0 + len − 1 of the members ``ids`` from host arrays (T, B_active, …)."""
        loss, a2, fd, lt, d_top, f_top = block
        T = loss.shape[0]
        c = self.cols
        for i, b in enumerate(ids):
            c["loss"][b, t0 : t0 + T] = loss[:, i]
            c["a_norm2"][b, t0 : t0 + T] = a2[:, i]
            c["fd"][b, t0 : t0 + T] = fd[:, i]
            c["lambda_tilde"][b, t0 : t0 + T] = lt[:, i]
            self.d_top[b, t0 : t0 + T] = d_top[:, i]
            self.f_top[b, t0 : t0 + T] = f_top[:, i]

    def build(self, b, config, stopped, spec, k, arrays, specific) -> Trajectory:
        T = self.rows[b]
        cols = {name: v[b, :T].copy() for name, v in self.cols.items()}  # d_norm: the builder's
        return build_trajectory(
            config=config,
            columns=cols,
            d_top=self.d_top[b, :T].copy(),
            f_top=self.f_top[b, :T].copy(),
            spectrum=spec,
            k=k,
            arrays=arrays,
            family=LINEAR2.name,
            specific=specific,
            stop=stopped,
            own=LINEAR2.step_fields,
        )


def _due(every: int, t: int) -> bool:
    return bool(every) and t % every == 0


def _run_batch(
    engine: BatchSpectralEngine, *, steps, observers, rec, max_losses, readback_every, progress
) -> list[Stop | None]:
    """The loop of :func:`linnet.loop.run` for B members in lockstep (same order of observe,
    record, observers, stop tests and step for each member; same ``stopped`` messages)."""
    xp = engine.xp
    B = engine.size
    deferred = engine.deferred = readback_every > 1
    stopped: list[Stop | None] = [None] * B
    rules = [StopRule(ml) for ml in max_losses]  # the loop's stop protocol, one per member
    prog = Progress(steps, f"train_batch[{B}]", enabled=progress)
    pending: list[tuple] = []  # rows not yet read back, and ("ok", mask) after each step
    k = engine.k
    eig_every = [o.every for o in observers[0] if getattr(o, "every", 0)]
    limit_dev = None  # device path: each active member's max_loss, once known

    for t in range(steps + 1):
        obs = engine.observe()
        pending.append((t, obs["loss"], obs["a2"], obs["fd"], obs["lt"], obs["D"][:, :k], obs["F"][:, :k]))
        last = t == steps
        need = (
            not deferred
            or last
            or t == 0
            or any(_due(e, t) for e in eig_every)
            or sum(p[0] != "ok" for p in pending) >= readback_every
        )
        if need:
            gone = _read_back(engine, pending, rec, stopped, rules, obs, observers, t)
            pending = []
            if gone:
                keep = engine.drop(gone)
                obs = {key: ([v[i] for i in keep] if key == "carried" else v[keep]) for key, v in obs.items()}
            if deferred and engine.size:
                limit_dev = xp.asarray([rules[b].max_loss for b in engine.ids], dtype=xp.float64)
        if last or engine.size == 0:
            break
        carry = []
        for b in engine.ids:
            ps = [p for p in (o.probe(t + 1) for o in observers[b]) if p is not None]
            carry.append(ps[: engine.CARRY])
        alive = None
        if deferred:  # the loop's stop tests on the device: a stopping member stays put
            loss, a2 = obs["loss"], obs["a2"]
            alive = xp.isfinite(loss) & xp.isfinite(a2) & (loss <= limit_dev)
        ok = engine.step(obs, carry, alive)
        bad = []
        if not deferred:
            for i, b in enumerate(engine.ids):
                if not ok[i]:
                    stopped[b] = rules[b].update_failed(t)
                    bad.append(i)
        else:
            pending.append(("ok", ok))
        for i, b in enumerate(engine.ids):
            if deferred or ok[i]:
                for o in observers[b]:
                    o.stepped(engine.members[b])
        engine.drop(bad)
        prog.update(t + 1)
    prog.close()
    return stopped


def _read_back(engine, pending, rec, stopped, rules, obs, observers, t_now) -> list[int]:
    """Bring the pending rows to the host, apply the loop's stop tests member by member in step
    order, record the rows, and run the observers at the current state t_now; returns the positions
    of members that stop now."""
    ids = engine.ids
    gone: list[int] = []
    # pending: rows, each followed (device path) by the mask of the step that left it; a step
    # whose update overflowed left its member frozen, so that member's later rows are void
    rows = [p for p in pending if p[0] != "ok"]
    block = [np.stack([to_numpy(r[j]) for r in rows]) for j in range(1, 7)]
    loss, a2 = block[0], block[1]
    events: list[tuple[int, Any]] = []  # (row index s, None) or (s of the row before, mask)
    s_row = -1
    for p in pending:
        if p[0] == "ok":
            events.append((s_row, to_numpy(p[1])))
        else:
            s_row += 1
            events.append((s_row, None))
    t0 = rows[0][0]
    for i, b in enumerate(ids):
        end = len(rows)  # rows kept
        for s, flag in events:
            t = t0 + s
            if flag is not None:
                if not flag[i]:
                    stopped[b] = rules[b].update_failed(t)
                    end = s + 1
                    break
                continue
            stop = rules[b].before_record(t, loss[s, i], a2[s, i])
            if stop is not None:
                stopped[b] = stop
                end = s
                break
            stop = rules[b].after_record(t, loss[s, i])
            if stop is not None:
                stopped[b] = stop
                end = s + 1
                break
        if end:
            rec.put([b], t0, [x[:end, i : i + 1] for x in block])
            rec.rows[b] = t0 + end
        if stopped[b] is not None:
            gone.append(i)
        if t0 + end - 1 != t_now:
            continue  # the member's rows ended before the current state
        # the observers run at the current state only (they are due only at read-back steps),
        # after its row is recorded and before the max_loss test stops it, as in loop.run
        o_i = Observation(
            obs["D"][i],
            obs["F"][i],
            float(loss[-1, i]),
            float(block[2][-1, i]),
            float(a2[-1, i]),
            float(block[3][-1, i]),
            obs["D"][i, : engine.k],
            obs["F"][i, : engine.k],
            obs["carried"][i],
        )
        for o in observers[b]:
            o.observe(t_now, o_i, engine.members[b])
    return gone
