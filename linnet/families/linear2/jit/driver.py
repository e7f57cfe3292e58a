"""The compiled run's driver (:mod:`linnet.families.linear2.jit`): :class:`CompiledRun` (one run's
state and records, advanced a chunk of steps per kernel call), :func:`run_compiled` (a spectral
engine's run, compiled), :func:`result_of`, :func:`warm_up`, :func:`compile_seconds` and
:class:`limit_threads`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...._backend import one_blas_thread
from ....progress import Progress
from ....run.stop import Stop, loss_overflow, over_max_loss, update_overflow
from .kernels import (
    E_HAT,
    GRAM,
    LOSS_OVERFLOW,
    MATVECS,
    MAX_BASIS,
    OK,
    OVER_MAX_LOSS,
    TOL_FLOOR_EPS,
    UPDATE_OVERFLOW,
    numba,
)

if numba is not None:
    from .loop import advance

_compile_seconds: float | None = None


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


def cached() -> bool:
    """Whether this machine's on-disk cache holds the compiled loop (:func:`warm_up` would load it,
    ~0.2 s, instead of compiling it, ~40 s). It reads Numba's cache index of the loop's entry point
    and compiles nothing; where Numba is absent or its cache cannot be read, False."""
    if numba is None:
        return False
    try:  # Numba's cache internals (0.5x–0.6x): any change there reads as "not cached"
        index = advance._cache._cache_file._load_index()  # {} when stale (source or Numba changed)
        here = advance.targetctx.codegen().magic_tuple()  # this machine's target and CPU features
        return any(key[1] == here for key in index)
    except Exception:
        return False


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
        """From a :class:`~.engines.SpectralEngine`'s current state (float64, NumPy)."""
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
        """Leave ``engine`` (the :class:`~.engines.SpectralEngine` it started from) at this
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
