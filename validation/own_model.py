"""Check the paper's §3 picture on your own model: :func:`check_model` and
``python -m validation --model MODULE:FUNCTION [--data …]``.

The run: full-batch GD on the MSE loss with Λ = λ_max(G) and ‖G_A‖ at every step, the Hessian's
top eigenvalue every ``hessian_every`` steps, the first-order ratios of A3.2 and u₁'s overlap with
its start (A3.5) alongside; then every rule of :mod:`validation.section3`, behind its gate.

Step size (App. B: "a selected step size such that the sharpness at initialization is smaller than
2/η"): η = c/Λ(0). Given ``eta_lambda0=c``, that c; by default the first of :data:`DEFAULT_C`
whose run stays below 2/η for its first :data:`~validation.verdicts.MIN_PS_STEPS` steps, so that
PS is progressive where the model allows it (each candidate that crosses sooner is dropped and the
run restarts from the initial parameters; if every one crosses sooner, the smallest is kept and
the gate says why the verdicts are "not comparable"). The run goes on, in pieces of
:data:`CHUNK` steps, until ηΛ has crossed 2 upwards :data:`TARGET_CROSSINGS` times and the EoS has
lasted as long as PS, or ``steps`` (the cap), or a divergence. After each piece the state is saved
under ``out/checkpoint/``: an interrupted run started again with the same ``out`` continues there.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

import linnet
from linnet.run.trajectory import Trajectory

from . import section3
from .verdicts import DEEP_NET_C, MIN_PS_STEPS, Regime, Scorecard

DEFAULT_C = DEEP_NET_C  # ηΛ(0) tried in turn until PS lasts ≥ MIN_PS_STEPS
CHUNK = MIN_PS_STEPS  # steps per piece: each candidate c is probed by one piece
TARGET_CROSSINGS = section3.FIRST_FEW + 3  # "several oscillations" past A3.1's window
DEFAULT_STEPS = 3000  # the cap
HESSIAN_EVERY = 20
# λ_max(∇²L) to relative residual 1e-4: within 1e-4·λ of an eigenvalue (Bauer–Fike) and within
# (1e-4·λ)²/gap of the top one (Kato–Temple), past the 4 digits the reports print; train's default
# 1e-8 (floored at 100ε ≈ 1.2e-5 for a float32 module) took 5–8 products an evaluation, this 4–6
HESSIAN_TOL = 1e-4
U1_EVERY = 5


class ModelError(ValueError):
    """The --model argument (or the model) is unusable; the message names it and the fix."""


# ---- the model: a PyTorch module or one of linnet's families --------------------------------------


def load_model(spec: str) -> Any:
    """``"MODULE:FUNCTION"`` (FUNCTION() returns an nn.Module; MODULE importable from the current
    folder or PYTHONPATH) or ``"mlp:W0,W1,…,1:ACTIVATION"`` (linnet's bias-free fully connected
    net, PyTorch's init, seed 0)."""
    if not isinstance(spec, str) or spec.count(":") < 1:
        raise ModelError(
            f"--model {spec!r}: give MODULE:FUNCTION (a function returning an nn.Module) "
            "or mlp:3072,200,200,1:tanh"
        )
    head, _, rest = spec.partition(":")
    if head == "mlp":
        widths_s, _, act = rest.partition(":")
        try:
            widths = tuple(int(w) for w in widths_s.split(","))
        except ValueError:
            raise ModelError(
                f"--model {spec!r}: widths must be integers, e.g. mlp:3072,200,200,1:tanh"
            ) from None
        if len(widths) < 2 or widths[-1] != 1:
            raise ModelError(
                f"--model {spec!r}: give the input width first and 1 output last, "
                "e.g. mlp:3072,200,200,1:tanh"
            )
        return linnet.MLP(widths, activation=act or "tanh", init="torch", seed=0)
    from theory.models import module_from

    try:
        return module_from(spec)
    except ValueError as exc:
        raise ModelError(f"--{exc}") from None


class _TorchSubject:
    """A PyTorch module in pieces: each piece starts where the last ended (load_final). Before each
    piece PyTorch's threads are set from the cores other jobs leave free
    (:func:`linnet.families.torch.threads.set_free_threads`), so a shared machine slows the run in
    proportion rather than stalling its threads against each other. The 1-minute load average
    counts this run's own busy threads k, set T seconds ago, as k(1 − e^(−T/60)) (its exponential
    decay): that much is subtracted."""

    family = "torch"
    threads = 0  # PyTorch threads of the last piece (0 before the first)
    since = 0.0  # time.monotonic() when they were set

    def __init__(self, module: Any):
        from linnet.torch import TorchModel

        self.module = module
        self.model = TorchModel(module)
        self.description = self.model.description()

    def linnet_model(self) -> Any:
        from linnet.families.torch.threads import set_free_threads
        from linnet.torch import TorchModel

        own = self.threads * (1 - math.exp(-(time.monotonic() - self.since) / 60)) if self.threads else 0.0
        self.threads, self.since = set_free_threads(own=own), time.monotonic()
        return TorchModel(self.module)

    def inputs(self, X: np.ndarray) -> np.ndarray:
        return X

    def advance(self, traj: Trajectory) -> None:
        from linnet.torch import load_final

        load_final(self.module, traj)

    def state(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy() for k, v in self.module.state_dict().items()}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        import torch

        self.module.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})


class _MLPSubject:
    """linnet's MLP family in pieces: each piece starts from the last one's final weights."""

    family = "mlp"

    def __init__(self, mlp: linnet.MLP):
        self.widths, self.activation = tuple(mlp.widths), mlp.activation
        self.weights: tuple | None = None
        self.first = mlp
        self.description = f"linnet MLP {'-'.join(map(str, self.widths))} {self.activation}"

    def linnet_model(self) -> Any:
        if self.weights is None:
            return self.first
        return linnet.MLP(self.widths, activation=self.activation, weights=list(self.weights))

    def inputs(self, X: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(X.reshape(X.shape[0], -1).T)  # the family takes d×n

    def advance(self, traj: Trajectory) -> None:
        self.weights = tuple(np.asarray(w) for w in traj.final_weights)

    def state(self) -> dict[str, np.ndarray]:
        return {} if self.weights is None else {f"W{i}": w for i, w in enumerate(self.weights)}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        self.weights = tuple(state[f"W{i}"] for i in range(len(state))) if state else None


def _subject(model: Any) -> Any:
    if isinstance(model, linnet.MLP):
        return _MLPSubject(model)
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None and isinstance(model, torch.nn.Module):
        return _TorchSubject(model)
    raise ModelError(f"model must be a torch.nn.Module or a linnet.MLP, got {type(model).__name__}")


def _check_data(X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X.detach().cpu().numpy() if hasattr(X, "detach") else X, dtype=np.float64)
    Y = np.asarray(Y.detach().cpu().numpy() if hasattr(Y, "detach") else Y, dtype=np.float64)
    if Y.ndim != 1:
        Y = Y.reshape(-1) if Y.size == max(Y.shape, default=0) else Y
    if Y.ndim != 1:
        raise ValueError(f"Y must hold one label per sample (shape (n,)), got shape {Y.shape}")
    if X.ndim < 2:
        raise ValueError(f"X must be samples first (n×…), got shape {X.shape}")
    if X.shape[0] != Y.shape[0]:
        hint = " — X looks features-first (d×n): pass X.T" if X.ndim == 2 and X.shape[1] == Y.shape[0] else ""
        raise ValueError(f"X has {X.shape[0]} samples (its first axis) but Y has {Y.shape[0]} labels{hint}")
    if not (np.isfinite(X).all() and np.isfinite(Y).all()):
        raise ValueError("X and Y must be finite (no NaN or inf)")
    return X, Y


# ---- the run, in pieces, with checkpoints ----------------------------------------------------------


@dataclass
class _Run:
    """A run so far: its trajectory, A3.2 ratios, u₁ overlaps, and the settings that made it."""

    c: float
    eta: float
    lam0: float
    traj: Trajectory | None = None
    first_order: list = dataclasses.field(default_factory=list)
    u1_steps: list = dataclasses.field(default_factory=list)
    u1_overlaps: list = dataclasses.field(default_factory=list)
    u1_reference: Any = None
    dropped: list = dataclasses.field(default_factory=list)  # (c, steps to the crossing) tried before
    # A3.2's control: the ratios with the previous step's first-order term (FirstOrderObserver)
    first_order_stale: list = dataclasses.field(default_factory=list)

    @property
    def steps(self) -> int:
        return 0 if self.traj is None else self.traj.steps

    def done(self, cap: int) -> bool:
        if self.traj is None:
            return False
        if self.traj.stopped is not None or self.steps >= cap:
            return True
        reg = Regime.of(self.traj)
        return (
            len(reg.crossings) >= TARGET_CROSSINGS
            and reg.first_crossing is not None
            and self.steps >= 2 * reg.first_crossing
        )


def concatenate(a: Trajectory, b: Trajectory) -> Trajectory:
    """The run ``a`` then ``b``, where ``b`` starts from ``a``'s last state (its row 0 is ``a``'s
    last row, dropped): steps offset, the measured-every-k fields joined, ``a``'s initial and
    ``b``'s final parameters, ``b``'s stop."""
    off = a.steps
    per_step = ("loss", "a_norm2", "fd", "d_norm", "d_top", "f_top")
    sampled = {
        "sharpness_step": ("sharpness", "sharpness_residual", "u1_overlap_init", "u1_v1_overlap", "d_u1"),
        "ga_step": ("ga_norm",),
        "hessian_step": ("hessian_sharpness",),
    }
    kw: dict[str, Any] = {"step": np.concatenate([a.step, b.step[1:] + off])}
    for k in per_step:
        kw[k] = np.concatenate([getattr(a, k), getattr(b, k)[1:]])
    for st, fields in sampled.items():
        sb = np.asarray(getattr(b, st))
        keep = sb > 0
        kw[st] = np.concatenate([getattr(a, st), sb[keep] + off])
        for k in fields:
            kw[k] = np.concatenate([getattr(a, k), np.asarray(getattr(b, k))[keep]])
    specific = {k: v for k, v in a.specific.items() if "final" not in k}
    specific.update({k: v for k, v in b.specific.items() if "final" in k})
    if "trained_sharpness" in a.specific:  # frozen layers: measured at sharpness_step
        keep = np.asarray(b.sharpness_step) > 0
        specific["trained_sharpness"] = np.concatenate(
            [a.specific["trained_sharpness"], b.specific["trained_sharpness"][keep]]
        )
    config = dict(a.config, steps_requested=a.config["steps_requested"] + b.config["steps_requested"])
    return Trajectory(
        config=config,
        eigvals_K=a.eigvals_K,
        y_top=a.y_top,
        family=a.family,
        specific=specific,
        stopped=b.stopped,
        extras=dict(a.extras),
        **kw,
    )


class _Checkpoint:
    """``out/checkpoint/``: the run so far (trajectory.npz, extras.npz, state.json), written after
    every piece by temporary files and os.replace, read back to continue."""

    def __init__(self, folder: str | None, key: str):
        self.folder, self.key = folder, key

    def save(self, run: _Run, model_state: dict) -> None:
        if self.folder is None or run.traj is None:
            return
        os.makedirs(self.folder, exist_ok=True)
        tmp = os.path.join(self.folder, ".tmp")
        os.makedirs(tmp, exist_ok=True)
        run.traj.save(os.path.join(tmp, "trajectory.npz"))
        np.savez(
            os.path.join(tmp, "extras.npz"),
            first_order=np.asarray(run.first_order, dtype=float),
            first_order_stale=np.asarray(run.first_order_stale, dtype=float),
            u1_steps=np.asarray(run.u1_steps, dtype=np.int64),
            u1_overlaps=np.asarray(run.u1_overlaps, dtype=float),
            u1_reference=np.asarray(run.u1_reference if run.u1_reference is not None else [], dtype=float),
            **{f"state__{k}": v for k, v in model_state.items()},
        )
        with open(os.path.join(tmp, "state.json"), "w") as fh:
            json.dump(
                dict(key=self.key, c=run.c, eta=run.eta, lam0=run.lam0, steps=run.steps, dropped=run.dropped),
                fh,
            )
        for f in ("trajectory.npz", "extras.npz", "state.json"):  # state.json last: it marks a whole set
            os.replace(os.path.join(tmp, f), os.path.join(self.folder, f))

    def load(self) -> tuple[_Run, dict] | None:
        if self.folder is None or not os.path.exists(os.path.join(self.folder, "state.json")):
            return None
        with open(os.path.join(self.folder, "state.json")) as fh:
            st = json.load(fh)
        if st.get("key") != self.key:
            return None
        traj = linnet.load_trajectory(os.path.join(self.folder, "trajectory.npz"))
        if traj.steps != st["steps"]:
            return None  # an interrupted save: start again
        with np.load(os.path.join(self.folder, "extras.npz")) as z:
            ex = {k: z[k] for k in z.files}
        ref = ex["u1_reference"]
        run = _Run(
            st["c"],
            st["eta"],
            st["lam0"],
            traj,
            list(ex["first_order"]),
            list(ex["u1_steps"]),
            list(ex["u1_overlaps"]),
            ref if ref.size else None,
            [tuple(d) for d in st["dropped"]],
            list(ex["first_order_stale"]) if "first_order_stale" in ex else [],
        )
        return run, {k[len("state__") :]: v for k, v in ex.items() if k.startswith("state__")}


def _piece(subject, X, Y, run: _Run, steps: int, hessian_every: int) -> None:
    """``steps`` more GD steps from the subject's current parameters, appended to ``run``."""
    fo = section3.FirstOrderObserver(run.eta)
    u1 = section3.U1Observer(U1_EVERY, reference=run.u1_reference)
    tr = linnet.train(
        subject.inputs(X),
        Y,
        eta=run.eta,
        steps=steps,
        model=subject.linnet_model(),
        sharpness_every=1,
        ga_every=1,
        hessian_every=hessian_every,
        hessian_tol=HESSIAN_TOL,
        observers=[fo, u1],
        progress=False,
    )
    off = run.steps
    run.first_order += fo.ratios
    run.first_order_stale += fo.stale_ratios
    new = [(s, o) for s, o in zip(u1.steps, u1.overlaps, strict=True) if not (off and s == 0)]
    run.u1_steps += [s + off for s, _ in new]
    run.u1_overlaps += [o for _, o in new]
    run.u1_reference = u1.reference
    run.traj = tr if run.traj is None else concatenate(run.traj, tr)
    subject.advance(tr)


def _progress(run: _Run, cap: int, t0: float) -> str:
    assert run.traj is not None
    reg = Regime.of(run.traj)
    return (
        f"  step {run.steps}/{cap}: loss {run.traj.loss[-1]:.4g}, ηΛ {run.eta * run.traj.sharpness[-1]:.4f}, "
        f"{len(reg.crossings)} upward crossings of 2/η ({time.perf_counter() - t0:.0f}s)"
    )


def check_model(
    model: Any,
    X: Any,
    Y: Any,
    *,
    eta_lambda0: float | None = None,
    steps: int = DEFAULT_STEPS,
    out: str | None = None,
    hessian_every: int = HESSIAN_EVERY,
    data: str = "user data",
    progress: bool = True,
    resume: bool = True,
) -> Scorecard:
    """Train ``model`` (an ``nn.Module`` with one output and a linear last layer, or a
    :class:`linnet.MLP`) by full-batch GD on (X, Y) — X samples first (n×…, as the model takes it),
    Y of length n — in the paper's regime, and judge §3's claims on the run.

    Returns the :class:`~validation.verdicts.Scorecard`; with ``out``, also writes the report
    (``out/index.md``, figures, ``summary.json``, ``trajectory.npz``) and checkpoints to
    ``out/checkpoint/``, from which a run with the same model, data and settings continues
    (``resume=False``: start again)."""
    X, Y = _check_data(X, Y)
    if eta_lambda0 is not None and not (0 < float(eta_lambda0) < 2):
        raise ValueError(f"eta_lambda0={eta_lambda0!r}: the paper's runs start below 2/η, so give 0 < c < 2")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer ≥ 1 (the cap), got {steps!r}")
    say = (lambda s: print(s, file=sys.stderr, flush=True)) if progress else (lambda s: None)
    subject = _subject(model)
    start_state = subject.state()
    key = hashlib.sha1(
        json.dumps(
            [
                subject.description,
                X.shape,
                float(X.sum()),
                float(Y @ Y),
                eta_lambda0,
                steps,
                hessian_every,
                sorted((k, float(np.sum(v))) for k, v in start_state.items()),
            ]
        ).encode()
    ).hexdigest()
    ck = _Checkpoint(None if out is None else os.path.join(out, "checkpoint"), key)
    loaded = ck.load() if resume else None
    t0 = time.perf_counter()
    if loaded is not None:
        run, state = loaded
        subject.restore(state)
        say(f"check_model: continuing from the checkpoint in {ck.folder} at step {run.steps}")
    else:
        lam0 = float(
            linnet.train(
                subject.inputs(X),
                Y,
                eta=1.0,
                steps=0,
                model=subject.linnet_model(),
                ga_every=0,
                progress=False,
            ).sharpness[0]
        )
        if not (math.isfinite(lam0) and lam0 > 0):
            raise ValueError(f"Λ(0) = {lam0}: the model's Gram matrix is zero at its start (a dead net?)")
        run = None
        cands = [float(eta_lambda0)] if eta_lambda0 is not None else list(DEFAULT_C)
        dropped: list = []
        for i, c in enumerate(cands):
            subject.restore(start_state)
            trial = _Run(c, c / lam0, lam0, dropped=list(dropped))
            _piece(subject, X, Y, trial, min(CHUNK, steps), hessian_every)
            reg = Regime.of(trial.traj)
            say(
                f"check_model: Λ(0) = {lam0:.4g}; ηΛ(0) = {c:g} (η = {trial.eta:.4g}): "
                + (
                    "no crossing of 2/η"
                    if reg.first_crossing is None
                    else f"ηΛ first above 2 at step {reg.first_crossing}"
                )
            )
            short = reg.first_crossing is not None and reg.first_crossing < MIN_PS_STEPS
            if short and i + 1 < len(cands):
                dropped.append((c, reg.first_crossing))
                continue
            run = trial
            break
        assert run is not None
        ck.save(run, subject.state())
        say(_progress(run, steps, t0))
    while not run.done(steps):
        _piece(subject, X, Y, run, min(CHUNK, steps - run.steps), hessian_every)
        ck.save(run, subject.state())
        say(_progress(run, steps, t0))
    assert run.traj is not None
    ev = section3.Evidence.of(
        run.traj, run.first_order, np.asarray(run.u1_overlaps), first_order_stale=run.first_order_stale
    )
    settings = dict(
        eta_lambda0=run.c,
        eta=run.eta,
        lambda0=run.lam0,
        steps=run.steps,
        cap=steps,
        hessian_every=hessian_every,
        eta_lambda0_dropped=[dict(eta_lambda0=c, first_crossing_step=s) for c, s in run.dropped],
        chosen=(
            "given"
            if eta_lambda0 is not None
            else f"the first of {list(DEFAULT_C)} with ≥ {MIN_PS_STEPS} steps of PS"
        ),
    )
    card = Scorecard(section3.judge_run(ev, "your model"), ev.regime, subject.description, data, settings)
    if out is not None:
        from .own_report import write_report

        write_report(out, card, ev, subject.inputs(X), Y, u1_steps=np.asarray(run.u1_steps))
        say(f"check_model: wrote {os.path.join(out, 'index.md')} ({time.perf_counter() - t0:.0f}s)")
    return card


# ---- the command ---------------------------------------------------------------------------------


def model_data(arg: str | None, *, n: int | None, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """(X samples first, Y, description) from --data: cifar10:PATH / mnist:PATH (App. A.1: the first
    500 images of classes 0 and 1, pixels in [0, 1], as 3×32×32 / 1×28×28 images), npz:FILE (its X
    and Y as stored), or the built-in photographs (n of them, 3×32×32: validation.data.photographs)."""
    from . import data as vdata

    if arg is None:  # the built-in photographs (the data are fixed: the seed varies the init only)
        ds = vdata.photographs(per_class=(1000 if n is None else n) // 2)
        return ds.X.T.reshape(-1, 3, 32, 32), ds.Y, f"built-in {ds.name}"
    kind, _, path = arg.partition(":")
    if kind == "npz":
        if not os.path.isfile(path):
            raise vdata.DataError(f"--data {arg!r}: {path} is not a file")
        with np.load(path, allow_pickle=False) as z:
            if "X" not in z.files or "Y" not in z.files:
                raise vdata.DataError(
                    f"--data {arg!r}: the file must hold arrays X (samples first) and Y; it holds {z.files}"
                )
            X, Y = z["X"], z["Y"]
        return (X, Y, f"{path}") if n is None else (X[:n], Y[:n], f"{path}, first {n} samples")
    if kind not in ("cifar10", "mnist"):
        raise vdata.DataError(f"--data {arg!r}: use cifar10:PATH, mnist:PATH or npz:FILE")
    ds = (vdata.load_cifar10 if kind == "cifar10" else vdata.load_mnist)(path)
    shape = (3, 32, 32) if kind == "cifar10" else (1, 28, 28)
    X = ds.X.T.reshape(-1, *shape)
    if n is not None:  # an equal share of each class
        idx = np.concatenate([np.flatnonzero(ds.Y > 0)[: n // 2], np.flatnonzero(ds.Y < 0)[: n - n // 2]])
        return X[idx], ds.Y[idx], f"{ds.name}, {n} of them"
    return X, ds.Y, ds.name


def main_model(args) -> int:
    """``python -m validation --model …``: exit 0 when it ran (whatever the verdicts), 2 on bad input."""
    from .data import DataError

    out = args.out if args.out != "report" else "report-model"
    try:
        model = load_model(args.model)
        X, Y, name = model_data(args.data, n=args.n, seed=args.seed)
        if isinstance(model, linnet.MLP) and int(np.prod(X.shape[1:])) != model.widths[0]:
            raise ModelError(
                f"--model {args.model!r} takes {model.widths[0]} inputs but the data have "
                f"{int(np.prod(X.shape[1:]))} per sample: make the first width "
                f"{int(np.prod(X.shape[1:]))}"
            )
        card = check_model(
            model,
            X,
            Y,
            eta_lambda0=args.eta_lambda0,
            steps=DEFAULT_STEPS if args.steps is None else args.steps,
            out=out,
            hessian_every=HESSIAN_EVERY if args.hessian_every is None else args.hessian_every,
            data=name,
            resume=not args.fresh,
        )
    except (ModelError, DataError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(card.markdown())
    print(
        f"\n{', '.join(f'{v} {k}' for k, v in card.counts().items())}; "
        f"report: {os.path.join(out, 'index.md')}"
    )
    return 0
