"""Running a sweep's specs: one run (:func:`run_one`) or a batch of compatible runs
(:func:`run_batch`), each summarised as a row (outcome, numbers, checker columns)."""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
import time
import traceback
from typing import Any

import numpy as np

from ..families import SWEEP_MODELS
from .grid import DEFAULT_MODEL, run_id
from .store import _unique


def resolve_checker(checker):
    """A checker callable from ``checker``: None, a callable, or ``"package.module:function"``."""
    if checker is None or callable(checker):
        return checker
    if not isinstance(checker, str) or checker.count(":") != 1 or not all(checker.split(":")):
        raise ValueError(f"checker must be a callable or 'module:function', got {checker!r}")
    mod, _, attr = checker.partition(":")
    try:
        obj = importlib.import_module(mod)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load the checker {checker!r}: {exc}") from exc
    if not callable(obj):
        raise ValueError(f"checker {checker!r} is not callable")
    return obj


def run_one(spec: dict, *, checker=None, save_dir: str | None = None, jit: bool = False) -> dict:
    """Train one configuration and summarise it (never raises: errors become the row's ``error``).

    ``checker(traj, X, Y) -> dict`` (or its ``"module:function"`` name) adds columns to the row."""
    t0 = time.perf_counter()
    row = {"run_id": run_id(spec), **spec}
    try:
        row.update(_run(spec, checker=resolve_checker(checker), save_dir=save_dir, jit=jit))
        row["status"] = "ok"
    except Exception as exc:  # noqa: BLE001 - recorded, not fatal
        row.update(
            status="error", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(limit=3)
        )
    row["seconds"] = time.perf_counter() - t0
    return row


# the keys that fix a run's data and width, steps and model: runs that agree on them share one
# data set and its decomposition and can advance together in one linnet.train_batch
BATCH_KEYS = ("kind", "n", "d", "seed", "labels", "column_norm", "m", "steps")
BATCH_SIZE = 32
# A batch pays where a step's two passes over Z_v (m × r numbers) dominate: the paper-size η sweep
# (m·r = 200,000) ran 5.9× faster batched. Where the state is small, each member's own eigen-tracker
# dominates and batches only cost balance: the catapult example (n = 1, m·r ≤ 4,096) ran 9.6 s
# batched against 6.2 s one run per task (python -m linnet bench --batch-only, idle 2-core machine).
BATCH_MIN_STATE = 16_384


def batch_key(spec: dict, min_state: int = BATCH_MIN_STATE) -> str | None:
    """Runs with equal keys can share a batch; None: this run goes alone (other families, and
    linear-net runs whose state m·min(n, d) is below ``min_state``)."""
    if not SWEEP_MODELS[spec.get("model", DEFAULT_MODEL)].batchable:
        return None
    if int(spec["m"]) * min(int(spec["n"]), int(spec["d"])) < min_state:
        return None
    return json.dumps({k: spec.get(k) for k in BATCH_KEYS}, sort_keys=True, default=str)


def group_specs(
    specs: list[dict], batch_size: int = BATCH_SIZE, workers: int = 1, min_state: int = BATCH_MIN_STATE
) -> list[list[dict]]:
    """Batches of compatible runs (same :func:`batch_key`), at most ``batch_size`` each and, where
    a group has fewer runs than ``batch_size`` × ``workers``, split evenly so that every worker gets
    a batch; runs that cannot share go alone. Order: first appearance in ``specs``."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer ≥ 1, got {batch_size!r}")
    groups: dict = {}
    alone = []
    for s in specs:
        key = batch_key(s, min_state)
        if key is None:
            alone.append([s])
        else:
            groups.setdefault(key, []).append(s)
    n_groups = max(1, len(groups))
    share = max(1, math.ceil(max(1, workers) / n_groups))  # batches per group to fill the workers
    out = []
    for members in groups.values():
        size = min(batch_size, max(1, math.ceil(len(members) / share)))
        n_b = math.ceil(len(members) / size)
        size = math.ceil(len(members) / n_b)  # even batches
        out += [members[i : i + size] for i in range(0, len(members), size)]
    return out + alone


_DATA_CACHE: dict = {}


def _data(spec):
    """(X, Y, spectrum) of a run's data spec, computed once per process for each distinct spec."""
    import linnet

    key = json.dumps(
        {k: spec.get(k) for k in ("kind", "n", "d", "seed", "labels", "column_norm")},
        sort_keys=True,
        default=str,
    )
    if key not in _DATA_CACHE:
        X, Y = linnet.make_data(
            spec["kind"],
            n=int(spec["n"]),
            d=int(spec["d"]),
            seed=int(spec["seed"]),
            labels=spec["labels"],
            column_norm=spec["column_norm"],
        )
        if len(_DATA_CACHE) >= 4:
            _DATA_CACHE.pop(next(iter(_DATA_CACHE)))
        _DATA_CACHE[key] = (X, Y, linnet.spectrum(X, Y))
    return _DATA_CACHE[key]


def run_batch(
    specs: list[dict],
    *,
    checker=None,
    save_dir: str | None = None,
    blas_threads: int | None = None,
    jit: bool = False,
) -> list[dict]:
    """Train compatible configurations (one :func:`batch_key`) together with
    :func:`linnet.train_batch` and summarise each, as :func:`run_one` would (never raises; a run
    whose start fails is recorded with its error, the others go on; if the batch as a whole
    fails, its runs are retried one by one). ``blas_threads`` limits the BLAS threads here (and is
    the number of members run side by side with ``jit``: linear-net runs on the compiled loop)."""
    numba_threads: Any = contextlib.nullcontext()
    if jit:  # Numba is imported only for the runs that use it
        from ..families.linear2.jit import limit_threads

        numba_threads = limit_threads(blas_threads)
    with _blas_limit(blas_threads), numba_threads:
        if len(specs) == 1 or batch_key(specs[0], 0) is None:
            return [run_one(s, checker=checker, save_dir=save_dir, jit=jit) for s in specs]
        if len({batch_key(s, 0) for s in specs}) != 1:
            raise ValueError("run_batch needs runs with one batch_key (data, width and steps)")
        t0 = time.perf_counter()
        try:
            rows = _run_batch(
                specs, checker=resolve_checker(checker), save_dir=save_dir, jit=jit, threads=blas_threads
            )
        except Exception:  # noqa: BLE001 - isolate the failing run: one by one
            return [run_one(s, checker=checker, save_dir=save_dir, jit=jit) for s in specs]
        per_run = (time.perf_counter() - t0) / len(specs)
        for row in rows:
            row["seconds"] = per_run
        return rows


def _run_batch(specs, *, checker, save_dir, jit=False, threads=None):
    import linnet

    from .._checks import check_eta

    X, Y, sp = _data(specs[0])
    rows, starts = [], []
    for spec in specs:
        row = {"run_id": run_id(spec), **spec}
        try:
            alpha = None if spec["alpha"] in (None, "theory") else float(spec["alpha"])
            W, a = linnet.init_params(
                int(spec["m"]),
                X,
                scheme=spec["init"],
                scale=float(spec["scale"]),
                seed=int(spec["seed"]),
                alpha=alpha,
            )
            lam0 = _lambda0_if_needed(spec, linnet.LinearNet(W0=W, a0=a, alpha=alpha), X, Y)
            eta = _eta(spec, lam0)
            check_eta(eta)  # train_batch's check, here so that a bad η fails its run only
            starts.append((row, spec, W, a, alpha, eta, lam0))
        except Exception as exc:  # noqa: BLE001 - recorded, not fatal
            row.update(
                status="error",
                error=f"{type(exc).__name__}: {exc}",
                traceback=traceback.format_exc(limit=3),
                batch_size=len(specs),
            )
        rows.append(row)
    if starts:
        trs = linnet.train_batch(
            X,
            Y,
            eta=[s[5] for s in starts],
            W0=[s[2] for s in starts],
            a0=[s[3] for s in starts],
            alpha=[s[4] for s in starts],
            steps=int(specs[0]["steps"]),
            spectrum=sp,
            progress=False,
            jit=jit,
            threads=threads or None,
            # the row needs no W_final; a checker or a saved trajectory may
            final_weights=checker is not None or save_dir is not None,
        )
        for (row, spec, *_, lam0), tr in zip(starts, trs, strict=True):
            try:
                row.update(_finish(spec, tr, lam0, X, Y, checker, save_dir))
                row["status"] = "ok"
            except Exception as exc:  # noqa: BLE001 - recorded, not fatal
                row.update(
                    status="error",
                    error=f"{type(exc).__name__}: {exc}",
                    traceback=traceback.format_exc(limit=3),
                )
            row["batch_size"] = len(starts)
    return rows


class _blas_limit:
    """Limit the BLAS threads of this process to ``n`` inside the block (threadpoolctl), or
    leave them alone (``n`` None). Without it, two workers on two cores each ran OpenBLAS on both
    cores: K's eigendecomposition took 9.4 s in a sweep's worker instead of 0.3 s."""

    def __init__(self, n):
        self.n, self.ctl = n, None

    def __enter__(self):
        if self.n:
            from threadpoolctl import threadpool_limits

            self.ctl = threadpool_limits(limits=int(self.n), user_api="blas")
        return self

    def __exit__(self, *exc):
        if self.ctl is not None:
            self.ctl.restore_original_limits()
        return False


def _run(spec, *, checker, save_dir, jit=False):
    import linnet

    X, Y, sp = _data(spec)
    # the family that builds the spec's model says how (linnet.families.SweepModel)
    model, X_in, kw = SWEEP_MODELS[spec.get("model", DEFAULT_MODEL)].run(spec, X, Y, sp, jit)
    lam0 = _lambda0_if_needed(spec, model, X_in, Y)
    eta = _eta(spec, lam0)
    tr = linnet.train(X_in, Y, eta=eta, steps=int(spec["steps"]), model=model, progress=False, **kw)
    return _finish(spec, tr, lam0, X, Y, checker, save_dir)


def _lambda0_if_needed(spec, model, X, Y) -> float | None:
    """Λ(0) where η = c/Λ(0) needs it before the run (:func:`linnet.initial_sharpness`: a dense
    ``eigvalsh`` of the n×n Gram matrix for the linear net, ~0.1 s at paper size, as long as 500
    steps of a compiled member); None where the spec gives η itself: the row's ``lambda0`` is then
    the run's own first Λ (:func:`_finish`), which its tracker measured anyway."""
    import linnet

    return None if spec.get("eta") is not None else float(linnet.initial_sharpness(model, X, Y))


def _eta(spec, lam0):
    """The spec's η: ``eta``, or ``eta_lambda0``/Λ(0)."""
    from ..train import eta_from_lambda0

    return float(spec["eta"]) if spec.get("eta") is not None else eta_from_lambda0(spec["eta_lambda0"], lam0)


def _finish(spec, tr, lam0, X, Y, checker, save_dir):
    """The row's numbers from a finished run: summary, checker columns, saved trajectory."""
    out = summarize(tr, float(tr.sharpness[0]) if lam0 is None else lam0)
    if checker is not None:
        extra = checker(tr, X, Y)
        if not isinstance(extra, dict):
            raise TypeError(f"the checker returned {type(extra).__name__}, not a dict of columns")
        out.update(extra)
    if save_dir is not None:
        os.makedirs(save_dir, exist_ok=True)
        # temporary name, then os.replace: a run killed mid-save (or executed twice) leaves no
        # half file under the final name
        tmp = os.path.join(save_dir, f".{run_id(spec)}.{_unique()}.tmp.npz")
        try:
            tr.save(tmp, data=(X, Y))
            os.replace(tmp, os.path.join(save_dir, f"{run_id(spec)}.npz"))
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    return out


def summarize(tr, lam0: float) -> dict:
    """Per-run numbers from a trajectory alone (no replay)."""
    from ..analysis import excursions, first_above, phase_fractions, phase_labels

    eta = tr.eta
    S, L = tr.sharpness, tr.loss
    above = eta * S > 2
    exc = excursions(eta * S, 2.0)
    lens = [(e if e is not None else len(S)) - s for s, e in exc]
    diverged = tr.stop is not None and tr.stop.diverged
    if diverged:
        outcome = "diverged"
    elif L.max() > L[0] * (1 + 1e-9):
        outcome = "catapult"
    elif above.any():
        outcome = "eos"
    else:
        outcome = "monotone"
    agree = np.sign(np.diff(tr.a_norm2)) == np.sign(np.diff(S))
    fr = phase_fractions(phase_labels(S, L, eta))
    first = first_above(S, eta)
    e_hat = tr.e_hat_norm if tr.capabilities.measures_e_hat else np.zeros(0)  # Ê: the linear net's
    ps = e_hat[:first]
    return dict(
        eta_used=eta,
        lambda0=lam0,
        outcome=outcome,
        stopped=tr.stopped or "",
        jit=bool(tr.config.get("jit", False)),
        steps_run=tr.steps,
        final_loss=float(L[-1]),
        max_eta_lambda=float(eta * S.max()),
        final_eta_lambda=float(eta * S[-1]),
        time_in_eos=float(above.mean()),
        excursions=len(exc),
        excursion_mean=float(np.mean(lens)) if lens else 0.0,
        excursion_max=int(max(lens)) if lens else 0,
        **{f"phase_{k}": v for k, v in fr.items()},
        a31_agreement=float(agree.mean()) if agree.size else math.nan,
        K_fitted=float(eta * S.max()),
        a43_C=(
            float(e_hat[first:].max() / ps.max()) if ps.size and first < len(S) and ps.max() > 0 else math.nan
        ),
        B_D_over_Y=float(tr.d_norm.max() / tr.config["y_norm"]),
    )
