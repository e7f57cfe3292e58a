"""Everything the checks need, step by step, in K's eigenbasis: a :class:`TheoryRecord`.

A record is built by replaying a GD run exactly (:func:`record_run`, from a
:class:`linnet.Trajectory` or from an initialisation) or from parameters produced by your own
code (:func:`record_params`). Both go through one function, so a check sees the same
quantities whatever produced them. Vectors are coordinates on K's eigenvectors v_1..v_r
(D_i = ⟨D, v_i⟩); the part of D outside span(X) is frozen (Lemma E.10) and enters only through
``y_null2`` = ‖D_null‖².
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

import linnet
from linnet import to_numpy
from linnet.families.linear2.engines import SpectralEngine
from linnet.run.observers import BaseObserver, WarmLanczos as _Eig
from linnet.spectral import DataSpectrum, spectrum as data_spectrum

from .phases import first_above

RECORD_TOL = 1e-10  # relative Lanczos residual for the record's eigenpairs (pure float64)


@dataclass(frozen=True, eq=False)
class TheoryRecord:
    """Per-step arrays (rows t = 0 … T) of one GD trajectory of the linear network — or, with
    ``family`` "mlp"/"torch", of any network with a linear output layer, where the vectors are
    over the n samples, ``a_norm2`` is ‖A‖² of the output layer, ``y_null2`` = 0, and the linear
    net's own fields (``lambda_tilde``, ``zd_norm2``, ``e_hat_norm``, ``EhatD``, ``c12``,
    ``w_move``) are NaN: the §4 and App. C checks then report "not applicable".

    Scalars per step: ``loss``, ``sharpness`` Λ = λ_max(G), ``lambda2`` = λ₂(G),
    ``lambda_tilde`` Λ̃ = v₁ᵀGv₁, ``a_norm2`` ‖a‖², ``fd`` ⟨F, D⟩, ``zd_norm2`` ‖Z D‖²,
    ``d_norm`` ‖D‖ (null part included), ``e_hat_norm`` ‖Ê‖₂.
    Vectors per step (T+1 × r, K's eigenbasis): ``D``, ``F``, ``u1`` (G's top eigenvector, signs
    aligned step to step), ``GD`` = G D and ``EhatD`` = Ê D (computed by matrix-vector products,
    not through the identities the checks test).
    ``c12`` (T+1 × 3): Λ̃(t+1) − Λ̃(t) as a quadratic A·D₁² + B·D₁ + C in D₁ with everything
    else held fixed (Lemma C.12). ``lemma35_gap`` ‖D̃(t) − D̄(t)‖ of Lemma 3.5's recursion
    D̄(t+1) = (I − ηG_⊥(t))D̄(t), restarted at each entry t₀ into ηΛ > 2 (``lemma35_t0``; −1
    before the first). ``ga_norm`` ‖G_A‖ = λ_max(α²ZᵀZ/n) (§3.2); ``w_move`` ‖W(t) − W(0)‖_F.
    ``flow_D``: D of gradient flow at t = ηk from the same start (A3.3), if computed: rows
    k = 0 … up to the first step with ηΛ > 2 (phase I, where A3.3 applies).
    ``start``: the run's step at row 0 (0 unless a window of a longer run was replayed: row t is
    then step ``start + t``). ``extras["run"]`` (:func:`run_series`), where the record was replayed
    from a trajectory of the linear net: Λ̃ and the loss at every step of the *whole* run, for the
    statements about the whole run (Theorem 1, Lemma C.13) whatever window was replayed.
    """

    eta: float
    alpha: float
    n: int
    m: int
    lam: np.ndarray
    y_v: np.ndarray
    y_null2: float
    f0_norm: float
    symmetric_init: bool
    loss: np.ndarray
    sharpness: np.ndarray
    lambda2: np.ndarray
    lambda_tilde: np.ndarray
    a_norm2: np.ndarray
    fd: np.ndarray
    zd_norm2: np.ndarray
    d_norm: np.ndarray
    e_hat_norm: np.ndarray
    D: np.ndarray
    F: np.ndarray
    u1: np.ndarray
    GD: np.ndarray
    EhatD: np.ndarray
    c12: np.ndarray
    lemma35_gap: np.ndarray
    lemma35_t0: np.ndarray
    ga_norm: np.ndarray
    w_move: np.ndarray
    flow_D: np.ndarray | None = None
    extras: dict = field(default_factory=dict)
    family: str = "linear2"
    start: int = 0  # the run's step at row 0 (a replayed window of a longer run starts later)

    @property
    def T(self) -> int:
        return int(self.loss.shape[0]) - 1

    @property
    def y_norm(self) -> float:
        return math.sqrt(float(self.y_v @ self.y_v) + self.y_null2)

    @property
    def kappa_G(self) -> np.ndarray:
        """κ_G = 1 + α²‖a‖², so that G = κ_G K + Ê."""
        return 1 + self.alpha**2 * self.a_norm2

    @property
    def kappa(self) -> np.ndarray:
        """κ = 1 + α²‖a‖² − (ηα²/n)⟨F, D⟩, so that G̃ = κ K + Ê (eq. 11)."""
        return self.kappa_G - self.eta * self.alpha**2 * self.fd / self.n


def _is_symmetric(W, a) -> bool:
    m = a.shape[0]
    if m % 2:
        return False
    h = m // 2
    return bool(np.array_equal(W[:h], W[h:]) and np.array_equal(a[:h], -a[h:]))


def record_run(
    X,
    Y,
    traj: linnet.Trajectory | None = None,
    *,
    W0=None,
    a0=None,
    eta=None,
    steps=None,
    alpha=None,
    flow: bool = False,
    spectrum: DataSpectrum | None = None,
    model=None,
    start: int = 0,
) -> TheoryRecord:
    """Replay GD exactly (spectral engine, float64) and record what the checks need.

    Give a :class:`linnet.Trajectory` (its W0, a0, η, α and length are used) or W0, a0, eta,
    steps, alpha. ``start`` > 0 replays the window of ``steps`` steps from step ``start`` (default:
    to the end of the trajectory): GD is first run to ``start`` without eigensolves (the same loop
    and engine, so the window starts from the run's state at ``start`` to roundoff) and recorded
    from there; the record's ``start`` says so. ``flow=True`` also integrates gradient flow from
    the record's first state (A3.3). A trajectory of another family is replayed by
    :func:`record_family_run` (``model`` is then the family to rebuild it with, needed where the
    file cannot say, e.g. a PyTorch module).
    """
    if traj is not None and not traj.capabilities.linear_theory:
        if start:
            raise ValueError("a window (start > 0) is replayed for the linear net only")
        return record_family_run(X, Y, traj, model=model, spectrum=spectrum)
    if start < 0:
        raise ValueError(f"start={start} must be ≥ 0")
    run = None
    if traj is not None:
        W0, a0, eta = traj.W0, traj.a0, traj.eta
        steps = traj.steps - start if steps is None else steps
        alpha = traj.config["alpha"]
        run = run_series(traj)
    if W0 is None or a0 is None or eta is None or steps is None:
        raise ValueError("give a trajectory, or all of W0, a0, eta and steps")
    X = np.asarray(to_numpy(X), dtype=np.float64)
    Y = np.asarray(to_numpy(Y), dtype=np.float64)
    W0 = np.asarray(W0, dtype=np.float64)
    a0 = np.asarray(a0, dtype=np.float64)
    sp = data_spectrum(X, Y) if spectrum is None else spectrum
    al = linnet.resolve_alpha(alpha, W0.shape[0])
    # the same loop and engine as the run (float64, spectral), no eigensolves
    bare = dict(eta=eta, alpha=alpha, spectrum=sp, top_k=1, sharpness_every=0, e_hat_every=0, ga_every=0)
    if start:
        pre = linnet.train(X, Y, steps=start, W0=W0, a0=a0, **bare)
        if pre.steps != start:
            raise ValueError(f"the run stopped at step {pre.steps} before the window's start {start}")
        W0 = np.asarray(pre.W_final, dtype=np.float64)
        a0 = np.asarray(pre.a_final, dtype=np.float64)
    replay = ReplayObserver(sp, eta, al, _is_symmetric(W0, a0))
    # only this observer measures
    linnet.train(
        X,
        Y,
        steps=steps,
        W0=W0,
        a0=a0,
        observers=[replay],
        **bare,
    )
    rec = dataclasses.replace(replay.record(), start=int(start))
    if run is not None:
        rec = dataclasses.replace(rec, extras={**rec.extras, "run": run})
    if flow:
        # A3.3 concerns phase I only: integrate up to the first step with ηΛ > 2.
        horizon = min(first_above(rec.sharpness, rec.eta), rec.T)
        rec = dataclasses.replace(rec, flow_D=_flow_residuals(sp, W0, a0, al, eta, horizon))
    return rec


def run_series(traj: linnet.Trajectory) -> dict | None:
    """What the whole-run statements need from a trajectory of the linear net, every step (rows
    t = 0 … T of the run): ``lambda_tilde`` Λ̃ = v₁ᵀGv₁, ``loss``, ``fd`` ⟨F, D⟩, ``d_norm`` ‖D‖,
    ``eta``, ``symmetric_init`` (the run's W0, a0 pair neurons, so F(0) = 0), ``float64`` (the
    run's precision) and, where Λ was tracked at every step, ``sharpness`` and ``u1_overlap_init``
    |⟨u₁(t), u₁(0)⟩| (else None); None where the trajectory does not hold Λ̃ at every step."""
    lt = traj.specific.get("lambda_tilde")  # the linear net's alone (Trajectory's LINEAR2_SPECIFIC)
    rows = traj.loss.shape[0]
    if lt is None or np.asarray(lt).shape[0] != rows:
        return None

    def f64(x):
        return np.asarray(to_numpy(x), dtype=np.float64)

    every = traj.sharpness_step.shape[0] == rows and np.array_equal(traj.sharpness_step, traj.step)
    return dict(
        lambda_tilde=f64(lt),
        loss=f64(traj.loss),
        fd=f64(traj.fd),
        d_norm=f64(traj.d_norm),
        eta=float(traj.eta),
        symmetric_init=_is_symmetric(f64(traj.W0), f64(traj.a0)),
        sharpness=f64(traj.sharpness) if every else None,
        u1_overlap_init=f64(traj.u1_overlap_init) if every else None,
        float64=traj.config.get("dtype", "float64") == "float64",
    )


def _flow_residuals(sp, W0, a0, al, eta, steps):
    """D_v of gradient flow (eq. 1) at t = ηk, k = 0 … steps, integrated with SciPy."""
    from linnet.train import integrate_flow

    eng = SpectralEngine(sp, W0, a0, al, np.float64, 1)
    sol = integrate_flow(eng, eta, steps, rtol=1e-10, atol=1e-12)
    out = []
    for k in range(sol.y.shape[1]):
        eng.set_state(sol.y[:, k])
        out.append(to_numpy(eng.observe().D))
    return np.array(out)


def record_params(X, Y, Ws, as_, *, eta: float, alpha=None) -> TheoryRecord:
    """Record from parameters of your own GD run: ``Ws[t]``, ``as_[t]`` for t = 0 … T (step size η)."""
    X = np.asarray(to_numpy(X), dtype=np.float64)
    Y = np.asarray(to_numpy(Y), dtype=np.float64)
    sp = data_spectrum(X, Y)
    W0 = np.asarray(Ws[0], dtype=np.float64)
    al = linnet.resolve_alpha(alpha, W0.shape[0])
    eng = SpectralEngine(sp, W0, np.asarray(as_[0], dtype=np.float64), al, np.float64, 1)
    replay = ReplayObserver(sp, eta, al, _is_symmetric(W0, np.asarray(as_[0])))
    for t, (W, a) in enumerate(zip(Ws, as_, strict=True)):
        eng.set_params(np.asarray(W, dtype=np.float64), np.asarray(a, dtype=np.float64))
        obs = eng.observe()
        if not math.isfinite(obs.loss):
            break
        replay.observe(t, obs, eng)
    return replay.record()


class _Lemma35:
    """Lemma 3.5's recursion D̄(t+1) = (I − ηG_⊥(t))D̄(t), G_⊥ = G − Λu₁u₁ᵀ, restarted at
    D̃ = P_{u₁}D at each entry t₀ into ηΛ > 2; ``advance`` returns ‖D̃(t) − D̄(t)‖ (NaN before t₀)."""

    def __init__(self, eta: float):
        self.eta, self.Dbar, self.t0, self.prev_above = eta, None, -1, False

    def advance(self, t: int, D, u1, Lam: float, G_times) -> float:
        above = self.eta * Lam > 2
        Dt = D - u1 * (u1 @ D)
        if above and not self.prev_above:
            self.Dbar, self.t0 = Dt.copy(), t
        gap = float(np.linalg.norm(Dt - self.Dbar)) if self.Dbar is not None else math.nan
        if self.Dbar is not None:
            self.Dbar = self.Dbar - self.eta * (G_times(self.Dbar) - Lam * u1 * (u1 @ self.Dbar))
        self.prev_above = above
        return gap


def _second(eig_2, Gmv, u1, dim: int) -> float:
    """λ₂(G): Lanczos on G deflated by its top eigenvector u₁."""
    if dim < 2:
        return 0.0

    def deflated(x):
        x = x - u1 * (u1 @ x)
        y = Gmv(x)
        return y - u1 * (u1 @ y)

    return eig_2(deflated)[0]


class ReplayObserver(BaseObserver):
    """An observer of :func:`linnet.train`'s loop (spectral engine, float64) that records, at
    every state, what the checks need: G's top two eigenvalues, ‖Ê‖, ‖G_A‖, G D and Ê D by
    matrix-vector products (not through the identities the checks test), Lemma C.12's quadratic
    and Lemma 3.5's recursion. It reads Z_v in the engine's deferred form (``zv_*``), which folds
    nothing, so the replay performs exactly the operations of the original run.
    ``record()`` gives the :class:`TheoryRecord`."""

    def __init__(self, sp: DataSpectrum, eta: float, al: float, symmetric: bool):
        self.sp, self.eta, self.al, self.symmetric = sp, float(eta), float(al), symmetric
        self.lam = to_numpy(sp.lam)
        r = self.lam.shape[0]
        self.eig_G = _Eig(np, np.float64, r, "LA", RECORD_TOL, 300, 1)
        self.eig_E = _Eig(np, np.float64, r, "LM", RECORD_TOL, 300, 2)
        self.eig_2 = _Eig(np, np.float64, r, "LA", RECORD_TOL, 300, 4)
        self.eig_A = _Eig(np, np.float64, r, "LA", RECORD_TOL, 300, 5)
        self.Zv0 = None
        self.m = 0
        self.cols: dict[str, list] = {
            k: []
            for k in (
                "loss",
                "sharpness",
                "lambda2",
                "lambda_tilde",
                "a_norm2",
                "fd",
                "zd_norm2",
                "d_norm",
                "e_hat_norm",
                "D",
                "F",
                "u1",
                "GD",
                "EhatD",
                "c12",
                "lemma35_gap",
                "lemma35_t0",
                "ga_norm",
                "w_move",
            )
        }
        self.lemma35 = _Lemma35(self.eta)

    def start(self, engine) -> None:
        if not isinstance(engine, SpectralEngine):
            raise TypeError(
                "the theory record replays the linear net on its spectral engine, "
                f"not {type(engine).__name__}"
            )

    def observe(self, t: int, obs, eng) -> None:
        sp, eta, al, lam = self.sp, self.eta, self.al, self.lam
        n, r = sp.n, lam.shape[0]
        self.m = int(eng.a.shape[0])
        Gmv = eng.gram_matvec(obs)
        Lam, _, u1 = self.eig_G(Gmv)
        u1 = np.asarray(u1)
        lam2 = _second(self.eig_2, Gmv, u1, r)
        e_norm = abs(self.eig_E(eng.e_hat_matvec())[0])
        ga = self.eig_A(eng.ga_matvec(obs))[0]
        Zv_now = eng.zv_copy()
        if self.Zv0 is None:
            self.Zv0 = Zv_now
        w_move = float(np.linalg.norm((Zv_now - self.Zv0) / sp.s))
        D, F = np.asarray(obs.D), np.asarray(obs.F)
        ZD = eng.zv_matvec(D)
        GD = Gmv(D)
        EhatD = eng.e_hat_matvec()(D)
        # Lemma C.12: Λ̃⁺ − Λ̃ from I5 with D₁ free, F₁ = D₁ + Y₁, the rest held fixed.
        c = eta * al**2 * lam[0] / n
        z1 = eng.zv_col0()
        zrest = ZD - D[0] * z1
        fd_rest = float(F[1:] @ D[1:])
        y1 = float(sp.Yv[0])
        A = -2 * c * 2 + c * eta * al**2 * (lam[0] * obs.a_norm2 + float(z1 @ z1) / n)
        B = -2 * c * 2 * y1 + c * eta * al**2 * 2 * float(z1 @ zrest) / n
        C = -2 * c * fd_rest + c * eta * al**2 * float(zrest @ zrest) / n
        gap35 = self.lemma35.advance(t, D, u1, Lam, Gmv)
        vals = dict(
            loss=obs.loss,
            sharpness=Lam,
            lambda2=lam2,
            lambda_tilde=obs.lambda_tilde,
            a_norm2=obs.a_norm2,
            fd=obs.fd,
            zd_norm2=float(ZD @ ZD),
            d_norm=math.sqrt(2 * n * obs.loss),
            e_hat_norm=e_norm,
            D=D.copy(),
            F=F.copy(),
            u1=u1.copy(),
            GD=GD,
            EhatD=EhatD,
            c12=np.array([A, B, C]),
            lemma35_gap=gap35,
            lemma35_t0=self.lemma35.t0,
            ga_norm=ga,
            w_move=w_move,
        )
        for k, v in vals.items():
            self.cols[k].append(v)

    def record(self) -> TheoryRecord:
        sp = self.sp
        arr = {k: np.array(v) for k, v in self.cols.items()}
        arr["lemma35_t0"] = arr["lemma35_t0"].astype(np.int64)
        return TheoryRecord(
            eta=self.eta,
            alpha=self.al,
            n=sp.n,
            m=self.m,
            lam=self.lam,
            y_v=to_numpy(sp.Yv).copy(),
            y_null2=float(sp.y_null2),
            f0_norm=float(np.linalg.norm(arr["F"][0])),
            symmetric_init=self.symmetric,
            **arr,
        )


def model_of(traj: linnet.Trajectory):
    """The family object that reproduces a trajectory's run from its file (the family's
    ``Capabilities.rebuild``: an "mlp" trajectory's :class:`linnet.MLP` at its initial weights);
    ValueError where the file cannot say (a PyTorch module)."""
    rebuild = traj.capabilities.rebuild
    if rebuild is None:
        raise ValueError(
            f"a {traj.family!r} trajectory cannot be rebuilt from its file: pass "
            "model=… (the family it was trained with, at its initial parameters)"
        )
    return rebuild(traj)


def record_family_run(
    X, Y, traj: linnet.Trajectory, *, model=None, spectrum: DataSpectrum | None = None
) -> TheoryRecord:
    """Replay a trajectory of any family (float64, the same loop and engine) with
    :class:`FamilyReplayObserver`, for the §3 checks."""
    if model is None:
        model = model_of(traj)
    X = np.asarray(to_numpy(X), dtype=np.float64)
    Y = np.asarray(to_numpy(Y), dtype=np.float64)
    replay = FamilyReplayObserver(traj.eta, traj.family, Y)
    linnet.train(
        X,
        Y,
        eta=traj.eta,
        steps=traj.steps,
        model=model,
        spectrum=spectrum,
        sharpness_every=0,
        ga_every=0,
        observers=[replay],
        dtype="float64",  # the replay is exact: a float32 PyTorch module is replayed on a float64 copy
    )
    return replay.record()


class FamilyReplayObserver(BaseObserver):
    """What the §3 checks need along a run of any family, with vectors over the n samples:
    G's top two eigenvalues (Lanczos on ``engine.gram_matvec``, deflated for λ₂), u₁, G D by a
    product, ‖G_A‖ where the engine has it, and Lemma 3.5's recursion."""

    def __init__(self, eta: float, family: str, Y):
        self.eta, self.family, self.Y = float(eta), family, np.asarray(Y, dtype=np.float64)
        self.eig_G = self.eig_2 = None
        self.n = self.Y.shape[0]
        self.m = 0
        self.cols: dict[str, list] = {
            k: []
            for k in (
                "loss",
                "sharpness",
                "lambda2",
                "a_norm2",
                "fd",
                "d_norm",
                "D",
                "F",
                "u1",
                "GD",
                "lemma35_gap",
                "lemma35_t0",
                "ga_norm",
            )
        }
        self.lemma35 = _Lemma35(self.eta)

    def start(self, engine) -> None:
        self.eig_G = _Eig(engine.xp, np.float64, engine.dim, "LA", RECORD_TOL, 300, 1)
        self.eig_2 = _Eig(engine.xp, np.float64, engine.dim, "LA", RECORD_TOL, 300, 4)
        params = engine.params()
        layers = list(params.values()) if isinstance(params, dict) else list(params)
        last = [p for p in layers if getattr(p, "ndim", 0) == 2]
        self.m = int(last[-1].shape[1]) if last else 0  # the output layer's fan-in

    def observe(self, t: int, obs, eng) -> None:
        Gmv = eng.gram_matvec(obs)
        Lam, _, u1 = self.eig_G(Gmv)
        lam2 = _second(self.eig_2, Gmv, u1, self.n)
        D, F, u1 = (np.asarray(to_numpy(v), dtype=np.float64) for v in (obs.D, obs.F, u1))
        GD = np.asarray(to_numpy(Gmv(obs.D)), dtype=np.float64)
        ga = eng.ga_norm(obs) if eng.EXACT_GA else math.nan
        gap35 = self.lemma35.advance(
            t,
            D,
            u1,
            Lam,
            lambda v: np.asarray(to_numpy(Gmv(eng.xp.asarray(v, dtype=obs.D.dtype))), dtype=np.float64),
        )
        vals = dict(
            loss=obs.loss,
            sharpness=Lam,
            lambda2=lam2,
            a_norm2=obs.a_norm2,
            fd=obs.fd,
            d_norm=math.sqrt(2 * self.n * obs.loss),
            D=D,
            F=F,
            u1=u1,
            GD=GD,
            lemma35_gap=gap35,
            lemma35_t0=self.lemma35.t0,
            ga_norm=ga,
        )
        for k, v in vals.items():
            self.cols[k].append(v)

    def record(self) -> TheoryRecord:
        arr = {k: np.array(v) for k, v in self.cols.items()}
        arr["lemma35_t0"] = arr["lemma35_t0"].astype(np.int64)
        rows = arr["loss"].shape[0]
        nan = np.full(rows, np.nan)
        return TheoryRecord(
            eta=self.eta,
            alpha=math.nan,
            n=self.n,
            m=self.m,
            lam=np.zeros(0),
            y_v=self.Y.copy(),
            y_null2=0.0,
            f0_norm=float(np.linalg.norm(arr["F"][0])),
            symmetric_init=False,
            lambda_tilde=nan,
            zd_norm2=nan,
            e_hat_norm=nan,
            EhatD=np.full((rows, self.n), np.nan),
            c12=np.full((rows, 3), np.nan),
            w_move=nan,
            family=self.family,
            **arr,
        )
