"""``train``: run GD (or gradient flow) on a model family and record a :class:`Trajectory`."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._backend import backend_name, namespace, one_blas_thread, to_numpy
from ._checks import check_eta, check_matrix, check_vector, resolve_dtype
from .families import LinearNet, capabilities
from .run.config import RunConfig
from .run.loop import run as run_loop
from .run.observers import EHat, HessianTop, OutputGram, Sharpness, TrainedGram
from .run.recorder import Recorder, build_trajectory
from .run.stop import flow_failed
from .run.trajectory import Trajectory
from .spectral import DataSpectrum, spectrum as data_spectrum

METHODS = ("gd", "flow")
_LINEAR_ARGS = ("m", "W0", "a0", "alpha")


def train(
    X,
    Y,
    *,
    eta: float | None = None,
    steps: int,
    model: Any = None,
    m: int | None = None,
    init: str = "symmetric",
    scale: float = 1.0,
    seed: int | None = 0,
    alpha: float | None = None,
    W0: Any = None,
    a0: Any = None,
    method: str = "gd",
    engine: str = "spectral",
    backend: str | None = None,
    dtype: Any = None,
    top_k: int = 5,
    sharpness_every: int = 1,
    sharpness_tol: float = 1e-6,
    e_hat_every: int = 1,
    ga_every: int | None = None,
    hessian_every: int = 0,
    hessian_tol: float = 1e-8,
    max_loss: float | None = None,
    progress: bool | None = None,
    spectrum: DataSpectrum | None = None,
    observers: Sequence[Any] = (),
    flow_rtol: float = 1e-10,
    flow_atol: float = 1e-12,
    jit: bool = False,
    eta_lambda0: float | None = None,
) -> Trajectory:
    """Run ``steps`` GD steps (eq. 6) — or gradient flow (eq. 1) sampled at t = ηk — and record them.

    The network is ``model``: a :class:`linnet.MLP`, a :class:`linnet.LinearNet`, a
    ``linnet.torch.TorchModel``, or (``model=None``) the two-layer linear net of width ``m``
    started from ``init_params(m, X, scheme=init, scale=scale, seed=seed, alpha=alpha)`` or from
    ``W0``, ``a0``. For the linear net ``engine="spectral"`` (default) runs in K's eigenbasis at
    O(m·r) per step and ``"literal"`` updates W and a literally (O(m·d·n)); both give the same
    trajectory. Every family runs through one loop (:func:`linnet.loop.run`) whose measurements
    are observers (:mod:`linnet.observers`); ``observers`` adds one's own.

    Λ = λ_max(G) is computed every ``sharpness_every`` steps by :class:`linnet.tracking.EigTracker`
    (Rayleigh–Ritz on a kept subspace whose images follow G — in closed form on the linear net,
    I4), stopped at relative residual ρ/Λ ≤ ``sharpness_tol`` (ρ = ‖Gu − Λu‖ is recorded; the
    products it took are in ``config["sharpness_products"]``; in float32 the tolerance is floored
    at 100ε ≈ 1.2e-5, below which ρ is roundoff). Then |Λ − λ| ≤ ρ for an eigenvalue λ of G, and
    |Λ − λ_max| ≤ ρ²/gap (Kato–Temple): with the default 1e-6 and a gap of 1% of Λ that is
    1e-10·Λ. ‖Ê‖ every ``e_hat_every`` steps (linear net only), ‖G_A‖ every ``ga_every`` steps
    (default: every step for the MLP and PyTorch families, never for the linear net), the
    Hessian's top eigenvalue every ``hessian_every`` steps (0 = never).
    A run whose loss exceeds ``max_loss`` (default 1e10 × its initial loss) or turns non-finite
    stops there, keeping only finite rows, with ``Trajectory.stop`` saying why and at which step
    (its ``kind``, ``step`` and ``message``; ``Trajectory.stopped`` is the message).
    ``spectrum`` reuses a :func:`linnet.spectrum` decomposition of the same (X, Y) across runs.

    ``jit=True`` runs the linear net's spectral GD with its Λ and ‖Ê‖ trackers as one compiled
    loop (:mod:`linnet.jit`, needs Numba; float64 NumPy, no Hessian and no observers of one's own):
    the same algorithm and stop rules, the same fields, equal to the NumPy path to roundoff.

    ``dtype`` ("float64" or "float32"): the run's precision; left out, float64 for linnet's own
    families and, for a ``TorchModel``, its module's own dtype (float32 as PyTorch creates modules;
    the module is never converted in place).

    The step size is ``eta``, or ``eta_lambda0`` = c for η = c/Λ(0), Λ(0) the sharpness at the
    start (:func:`initial_sharpness`; give one of the two).
    """
    model = _model_of(model, m=m, init=init, scale=scale, seed=seed, alpha=alpha, W0=W0, a0=a0, engine=engine)
    if eta_lambda0 is not None:
        if eta is not None:
            raise ValueError("give eta or eta_lambda0 (η = eta_lambda0/Λ(0)), not both")
        eta = eta_from_lambda0(eta_lambda0, initial_sharpness(model, X, Y))
    elif eta is None:
        raise ValueError("train needs eta (the step size) or eta_lambda0 (η = eta_lambda0/Λ(0))")
    eta = check_eta(eta)
    run = RunConfig(
        steps=steps,
        sharpness_every=sharpness_every,
        sharpness_tol=sharpness_tol,
        e_hat_every=e_hat_every,
        ga_every=ga_every,
        hessian_every=hessian_every,
        hessian_tol=hessian_tol,
        top_k=top_k,
    )
    if method not in METHODS:
        raise ValueError(f"method={method!r} is unknown: use 'gd' or 'flow'")
    dt = resolve_dtype(getattr(model, "default_dtype", "float64") if dtype is None else dtype)
    if hasattr(model, "prepare"):  # families that take X in their own layout (PyTorch: samples first)
        X, Y = model.prepare(X, Y, dtype=dt, hessian_every=hessian_every)
    xp = namespace(X, Y, W0, a0, backend=backend)
    X, Y, spectrum = prepare_data(X, Y, xp, spectrum)
    d, n = X.shape
    # jit: the start built on one BLAS thread, so that no OpenBLAS worker is left spinning (for
    # ~0.1 s after its last job) on the core that the compiled loop's second thread needs: right
    # after a two-thread product its GD steps took 2.2× as long (0.13 against 0.06 ms at paper size)
    with one_blas_thread(xp) if jit else contextlib.nullcontext():
        built = model.build(X, Y, spectrum=spectrum, dtype=dt, xp=xp, top_k=top_k)
    eng = built.engine
    caps = built.capabilities
    if method == "flow" and not caps.supports_flow:
        raise ValueError(f"method='flow' is available for the linear net only, not {built.family}")
    if ga_every is None:
        ga_every = caps.default_ga_every
    if jit:
        check_jit(
            built, xp, dt, method=method, hessian_every=hessian_every, ga_every=ga_every, observers=observers
        )

    config = dict(
        eta=eta,
        family=built.family,
        **built.config,
        n=n,
        d=d,
        r=spectrum.r,
        method=method,
        backend=backend_name(xp),
        dtype=str(dt),
        **run.entries(top_k=eng.k, ga_every=ga_every, measures_e_hat=caps.measures_e_hat),
        y_norm=float(xp.linalg.norm(spectrum.Y)),
        jit=bool(jit),
    )
    if jit:
        return _train_compiled(
            eng, built, config, spectrum, eta=eta, steps=steps, max_loss=max_loss, progress=progress
        )

    sharp = Sharpness(sharpness_every, sharpness_tol)
    e_hat = EHat(e_hat_every, sharpness_tol) if caps.measures_e_hat else None
    ga = OutputGram(ga_every, sharpness_tol)
    measured: list[Any] = [sharp, *([e_hat] if e_hat is not None else []), ga]
    if built.frozen:
        measured.append(TrainedGram(sharpness_every, sharpness_tol))
    measured.append(HessianTop(hessian_every, hessian_tol))

    states = None
    stopped = None
    if method == "flow":
        sol = integrate_flow(eng, eta, steps, rtol=flow_rtol, atol=flow_atol)
        if sol.status != 0:
            stopped = flow_failed(sol.t[-1], sol.message)
        states = [xp.asarray(sol.y[:, t], dtype=dt) for t in range(sol.y.shape[1])]

    rec = Recorder(steps + 1, eng.k, n, own=caps.step_fields)
    res = run_loop(
        eng,
        eta=eta,
        steps=steps,
        observers=[*measured, *observers],
        on_row=rec.every_step,
        max_loss=max_loss,
        states=states,
        progress=progress,
        label=f"train[{config['engine']}]",
        status=lambda obs: _status(obs.loss, eta, sharp),
    )
    stopped = res.stopped or stopped
    config.update(sharpness_products=sharp.products, ga_products=ga.products)
    if e_hat is not None:
        config.update(e_hat_products=e_hat.products)
    arrays: dict[str, np.ndarray] = {}
    for o in measured:
        arrays.update(o.arrays())
    specific = built.specific()
    for name in caps.observed_fields:
        if name in arrays:
            specific[name] = arrays.pop(name)
    if built.frozen:
        specific["trained_sharpness"] = arrays.pop("trained_sharpness")
    return rec.build(config, stopped, spectrum, eng.k, arrays, built.family, specific)


def _status(loss: float, eta: float, sharp: Sharpness) -> str:
    """The progress line's tail: the loss, and ηΛ as last measured with the step it was measured
    at (Λ is measured every ``sharpness_every`` steps; never with 0, and then the line has no ηΛ)."""
    measured = sharp.rows["sharpness_step"]
    if not measured:
        return f"loss {loss:.3g}"
    return f"loss {loss:.3g} eta*Lambda {eta * sharp.last:.3f} (step {measured[-1]})"


def _model_of(
    model: Any,
    *,
    m: int | None,
    init: str,
    scale: float,
    seed: int | None,
    alpha: float | None,
    W0: Any,
    a0: Any,
    engine: str,
) -> Any:
    """``model``, or the linear net that train's own arguments describe (``model=None``)."""
    if model is None:
        return LinearNet(m=m, init=init, scale=scale, seed=seed, alpha=alpha, W0=W0, a0=a0, engine=engine)
    given = [k for k, v in zip(_LINEAR_ARGS, (m, W0, a0, alpha), strict=True) if v is not None]
    if given or engine != "spectral":
        raise ValueError(
            f"model={type(model).__name__}(…) describes the network: drop "
            f"{given + (['engine'] if engine != 'spectral' else [])} (those "
            "configure the default linear net)"
        )
    return model


def initial_sharpness(model: Any, X: Any, Y: Any) -> float:
    """Λ(0) = λ_max(G) of ``model`` (a :class:`linnet.LinearNet`, :class:`linnet.MLP` or
    ``linnet.torch.TorchModel``) at its start on (X, Y): the one home of η = c/Λ(0)
    (``train(..., eta_lambda0=c)``, the sweeps' ``eta_lambda0``). Each family says how: the linear
    net by :func:`linnet.sharpness` of its initial (W, a), the others by the eigen-tracker at step 0
    of a run (:func:`tracked_initial_sharpness`)."""
    return float(model.initial_sharpness(X, Y))


def tracked_initial_sharpness(model: Any, X: Any, Y: Any) -> float:
    """Λ(0) as a run measures it: the first recorded sharpness of a 0-step run (no ‖G_A‖)."""
    return float(train(X, Y, eta=1.0, steps=0, model=model, ga_every=0, progress=False).sharpness[0])


def eta_from_lambda0(eta_lambda0: float, lambda0: float) -> float:
    """η = c/Λ(0) for ``eta_lambda0`` = c (train checks the η that comes out)."""
    return float(eta_lambda0) / lambda0


def check_jit(
    built: Any, xp: Any, dt: Any, *, method: str, hessian_every: int, ga_every: int, observers: Sequence[Any]
) -> None:
    """Raise, naming the arguments, where ``jit=True`` cannot run this model and these settings
    (train's and train_batch's check); Numba's absence is :class:`linnet.jit.CompiledRun`'s."""
    why = []
    if not built.engine.COMPILABLE:
        why.append(
            f"it runs the linear net's spectral engine only (this is {built.family}, "
            f"engine {built.config.get('engine')!r})"
        )
    if method != "gd":
        why.append("it runs method='gd' only")
    if xp is not np or dt != np.float64:
        why.append("it runs float64 NumPy arrays only (use dtype='float64' and the NumPy backend)")
    if hessian_every or ga_every:
        why.append("it measures Λ and ‖Ê‖ only (set hessian_every=0 and ga_every=0)")
    if observers:
        why.append("observers of one's own run in the Python loop only")
    if why:
        raise ValueError("jit=True cannot run this: " + "; ".join(why) + "; or use jit=False")


def _train_compiled(
    eng: Any,
    built: Any,
    config: dict,
    spectrum: DataSpectrum,
    *,
    eta: float,
    steps: int,
    max_loss: float | None,
    progress: bool | None,
) -> Trajectory:
    from .families.linear2.jit import run_compiled

    res = run_compiled(
        eng,
        eta=eta,
        steps=steps,
        sharpness_every=config["sharpness_every"],
        e_hat_every=config["e_hat_every"],
        tol=config["sharpness_tol"],
        max_loss=max_loss,
        progress=progress,
    )
    with one_blas_thread(eng.xp):  # W_final: no spinning OpenBLAS worker left for the next run
        specific = built.specific()
    return trajectory_of_compiled(res, config, spectrum, eng.k, specific)


def trajectory_of_compiled(res: Any, config: dict, spec: DataSpectrum, k: int, specific: dict) -> Trajectory:
    """The :class:`Trajectory` of a :class:`linnet.jit.CompiledResult`, with the NumPy path's fields
    (``config`` gains the trackers' product counts)."""
    config.update(sharpness_products=res.sharpness_products, ga_products=0, e_hat_products=res.e_hat_products)
    cols = dict(res.columns)
    arrays = dict(res.arrays)
    caps = capabilities(LinearNet.family)  # the compiled loop is the linear net's
    for name in caps.observed_fields:
        specific[name] = arrays.pop(name)
    arrays.update(
        ga_step=np.zeros(0, dtype=np.int64),
        ga_norm=np.zeros(0),
        hessian_step=np.zeros(0, dtype=np.int64),
        hessian_sharpness=np.zeros(0),
    )
    d_top, f_top = cols.pop("d_top"), cols.pop("f_top")
    return build_trajectory(
        config=config,
        columns=cols,
        d_top=d_top,
        f_top=f_top,
        spectrum=spec,
        k=k,
        arrays=arrays,
        family=caps.name,
        specific=specific,
        stop=res.stopped,
        own=caps.step_fields,
    )


def prepare_data(X: Any, Y: Any, xp: Any, spectrum: DataSpectrum | None) -> tuple[Any, Any, DataSpectrum]:
    """X (d×n) and Y checked and on ``xp``, with their spectrum: ``spectrum`` if given (it must be of
    this shape), else computed."""
    check_matrix("X", X)
    d, n = X.shape
    check_vector("Y", Y, length=n, length_name=f"X (d×n = {d}×{n}, one label per column)")
    X, Y = xp.asarray(X), xp.asarray(Y)
    if spectrum is None:
        spectrum = data_spectrum(X, Y)
    elif (spectrum.n, spectrum.d) != (n, d):
        raise ValueError(f"spectrum was computed for data {spectrum.d}×{spectrum.n}, not {d}×{n}")
    return X, Y, spectrum


def integrate_flow(eng: Any, eta: float, steps: int, *, rtol: float = 1e-10, atol: float = 1e-12):
    """Integrate the parameter ODE (eq. 1) of ``eng``'s state on the host with SciPy (DOP853),
    sampled at t = ηk, k = 0 … steps (GD step k ↔ flow time ηk)."""
    # imported here: scipy.integrate and scipy.optimize are a third of `import linnet` (0.16 of
    # 0.47 s), paid again by every sweep worker, and only the flow needs them
    from scipy.integrate import solve_ivp
    from scipy.optimize import OptimizeResult

    xp = eng.xp

    def rhs(_t, z):
        return to_numpy(eng.flow_rhs(xp.asarray(z)))

    z0 = to_numpy(eng.get_state()).astype(np.float64)
    t_eval = eta * np.arange(steps + 1)
    if steps == 0:  # nothing to integrate (SciPy refuses an empty interval)
        return OptimizeResult(t=t_eval, y=z0[:, None], status=0, message="no steps", success=True)
    return solve_ivp(rhs, (0.0, t_eval[-1]), z0, method="DOP853", t_eval=t_eval, rtol=rtol, atol=atol)
