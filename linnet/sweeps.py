"""Sweeps over (η, width, init scale, n, seed, …): per-run summaries, resumable, local or on Dask.

    rows = linnet.sweep({"eta_lambda0": [1, 1.9, 3], "m": [50, 200]}, out="sweep-out")  # all local cores
    python -m linnet sweep CONFIG.toml [--scheduler tcp://host:8786]   # or a Dask cluster

Every finished run is written at once to ``OUT/done/<run id>.json`` (atomically: a temporary
file, then ``os.replace``; the name is the run id, so a run executed twice — a task re-run after
its Dask worker died — is still one record), so an interrupted sweep (Ctrl-C, a killed worker or
driver) loses no finished run; started again it runs only the missing ones. Local workers are
fresh interpreters (:class:`linnet.pool.WorkerPool`) that never run the driver's script, so a sweep
works from a script without a main guard, ``python -c`` or a notebook; they exit when their driver
dies (even by SIGKILL). A run that raises is recorded with its error and does not stop the sweep;
a run whose worker dies is recorded with an error naming it and how the worker died.
``OUT/summary.csv`` gathers the rows; ``OUT/runs/<id>.npz`` holds trajectories on request.

Per-run checks are a hook: ``checker`` (a callable, or a ``"module:function"`` string imported
where the run executes) is called as ``checker(traj, X, Y)`` and returns extra columns for the
row. The paper's checks are ``--checker theory.checks:sweep_checker`` (or ``python -m theory
sweep CONFIG.toml``); linnet itself never imports ``theory``.

Outcome of a run (the phase-diagram colour): ``diverged`` (stopped by divergence), ``catapult``
(the loss rose above its initial value, then converged), ``eos`` (ηΛ went above 2 without that),
``monotone`` (ηΛ stayed ≤ 2).
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import importlib
import itertools
import json
import math
import os
import sys
import time
import traceback
import uuid
from typing import Any

import numpy as np

from .families import SWEEP_MODELS

GRID_KEYS = ("eta", "eta_lambda0", "m", "scale", "n", "d", "seed", "init", "alpha", "steps", "kind",
             "labels", "column_norm", "model", "activation", "depth")
DEFAULTS = dict(kind="cifar-like", n=200, d=768, labels="class", column_norm=None, init="symmetric",
                alpha=None, scale=1.0, seed=0, steps=500, m=100)
# model = "mlp": a bias-free fully connected net with `depth` layers of width m (hidden) and this
# activation, from PyTorch's init (the keys join a spec only then, so the ids of linear-net runs,
# and with them resumed sweeps, are unchanged)
# model = "paper_cnn" (App. A.2, Table 3; `activation`) or "resnet18": PyTorch modules built by
# linnet.torch from torch.manual_seed(seed), on the data as d = 3·s² images of s×s pixels (needs
# the torch extra)
# (each family declares the models it builds: linnet.families.SWEEP_MODELS)
MODELS = tuple(SWEEP_MODELS)
MLP_DEFAULTS = SWEEP_MODELS["mlp"].defaults
MODEL_DEFAULTS = {name: s.defaults for name, s in SWEEP_MODELS.items() if s.defaults}
MODEL_KEYS = {name: s.keys for name, s in SWEEP_MODELS.items() if s.defaults}
DEFAULT_MODEL = MODELS[0]  # the two-layer linear net's
OUTCOMES = ("monotone", "eos", "catapult", "diverged")


def expand_grid(config: dict) -> list[dict]:
    """Run specs: the defaults, then ``config["fixed"]``, then each point of ``config["grid"]``."""
    grid = dict(config.get("grid", {}))
    fixed = dict(config.get("fixed", {}))
    for k in list(grid) + list(fixed):
        if k not in GRID_KEYS:
            raise ValueError(f"unknown sweep parameter {k!r}: use {GRID_KEYS}")
    if "eta" in {**grid, **fixed} and "eta_lambda0" in {**grid, **fixed}:
        raise ValueError("give eta or eta_lambda0 (η as a multiple of 1/Λ(0)), not both")
    if "eta" not in {**grid, **fixed} and "eta_lambda0" not in {**grid, **fixed}:
        raise ValueError("the sweep needs eta or eta_lambda0 in [grid] or [fixed]")
    keys = list(grid)
    for k in keys:
        if not isinstance(grid[k], list) or not grid[k]:
            raise ValueError(f"grid.{k} must be a non-empty list, got {grid[k]!r}")
    specs = []
    for values in itertools.product(*(grid[k] for k in keys)):
        spec = {**DEFAULTS, **fixed, **dict(zip(keys, values, strict=True))}
        model = spec.get("model", DEFAULT_MODEL)
        if model not in MODELS:
            raise ValueError(f"model={model!r} is unknown: use one of {MODELS}")
        allowed = MODEL_KEYS.get(model, ())
        for k in ("activation", "depth"):
            if k in spec and k not in allowed:
                users = [name for name, ks in MODEL_KEYS.items() if k in ks]
                raise ValueError(f"{k!r} is a key of model = {' or '.join(map(repr, users))} runs, not "
                                 f"{model!r}: set model or drop {k!r}")
        if model in MODEL_DEFAULTS:
            chosen = {**fixed, **dict(zip(keys, values, strict=True))}
            spec = {**spec, **{k: chosen.get(k, v) for k, v in MODEL_DEFAULTS[model].items()}}
        else:
            spec.pop("model", None)
        specs.append(spec)
    return specs


def run_id(spec: dict) -> str:
    return hashlib.sha1(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:12]


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
        row.update(status="error", error=f"{type(exc).__name__}: {exc}",
                   traceback=traceback.format_exc(limit=3))
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


def group_specs(specs: list[dict], batch_size: int = BATCH_SIZE, workers: int = 1,
                min_state: int = BATCH_MIN_STATE) -> list[list[dict]]:
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
        out += [members[i:i + size] for i in range(0, len(members), size)]
    return out + alone


_DATA_CACHE: dict = {}


def _data(spec):
    """(X, Y, spectrum) of a run's data spec, computed once per process for each distinct spec."""
    import linnet
    key = json.dumps({k: spec.get(k) for k in ("kind", "n", "d", "seed", "labels", "column_norm")},
                     sort_keys=True, default=str)
    if key not in _DATA_CACHE:
        X, Y = linnet.make_data(spec["kind"], n=int(spec["n"]), d=int(spec["d"]), seed=int(spec["seed"]),
                                labels=spec["labels"], column_norm=spec["column_norm"])
        if len(_DATA_CACHE) >= 4:
            _DATA_CACHE.pop(next(iter(_DATA_CACHE)))
        _DATA_CACHE[key] = (X, Y, linnet.spectrum(X, Y))
    return _DATA_CACHE[key]


def run_batch(specs: list[dict], *, checker=None, save_dir: str | None = None,
              blas_threads: int | None = None, jit: bool = False) -> list[dict]:
    """Train compatible configurations (one :func:`batch_key`) together with
    :func:`linnet.train_batch` and summarise each, as :func:`run_one` would (never raises; a run
    whose start fails is recorded with its error, the others go on; if the batch as a whole
    fails, its runs are retried one by one). ``blas_threads`` limits the BLAS threads here (and is
    the number of members run side by side with ``jit``: linear-net runs on the compiled loop)."""
    numba_threads: Any = contextlib.nullcontext()
    if jit:  # Numba is imported only for the runs that use it
        from .jit import limit_threads
        numba_threads = limit_threads(blas_threads)
    with _blas_limit(blas_threads), numba_threads:
        if len(specs) == 1 or batch_key(specs[0], 0) is None:
            return [run_one(s, checker=checker, save_dir=save_dir, jit=jit) for s in specs]
        if len({batch_key(s, 0) for s in specs}) != 1:
            raise ValueError("run_batch needs runs with one batch_key (data, width and steps)")
        t0 = time.perf_counter()
        try:
            rows = _run_batch(specs, checker=resolve_checker(checker), save_dir=save_dir, jit=jit,
                              threads=blas_threads)
        except Exception:  # noqa: BLE001 - isolate the failing run: one by one
            return [run_one(s, checker=checker, save_dir=save_dir, jit=jit) for s in specs]
        per_run = (time.perf_counter() - t0) / len(specs)
        for row in rows:
            row["seconds"] = per_run
        return rows


def _run_batch(specs, *, checker, save_dir, jit=False, threads=None):
    import linnet

    from ._checks import check_eta
    X, Y, sp = _data(specs[0])
    rows, starts = [], []
    for spec in specs:
        row = {"run_id": run_id(spec), **spec}
        try:
            alpha = None if spec["alpha"] in (None, "theory") else float(spec["alpha"])
            W, a = linnet.init_params(int(spec["m"]), X, scheme=spec["init"], scale=float(spec["scale"]),
                                      seed=int(spec["seed"]), alpha=alpha)
            lam0 = linnet.initial_sharpness(linnet.LinearNet(W0=W, a0=a, alpha=alpha), X, Y)
            eta = _eta(spec, lam0)
            check_eta(eta)  # train_batch's check, here so that a bad η fails its run only
            starts.append((row, spec, W, a, alpha, eta, lam0))
        except Exception as exc:  # noqa: BLE001 - recorded, not fatal
            row.update(status="error", error=f"{type(exc).__name__}: {exc}",
                       traceback=traceback.format_exc(limit=3), batch_size=len(specs))
        rows.append(row)
    if starts:
        trs = linnet.train_batch(X, Y, eta=[s[5] for s in starts], W0=[s[2] for s in starts],
                                 a0=[s[3] for s in starts], alpha=[s[4] for s in starts],
                                 steps=int(specs[0]["steps"]), spectrum=sp, progress=False, jit=jit,
                                 threads=threads or None)
        for (row, spec, *_, lam0), tr in zip(starts, trs, strict=True):
            try:
                row.update(_finish(spec, tr, lam0, X, Y, checker, save_dir))
                row["status"] = "ok"
            except Exception as exc:  # noqa: BLE001 - recorded, not fatal
                row.update(status="error", error=f"{type(exc).__name__}: {exc}",
                           traceback=traceback.format_exc(limit=3))
            row["batch_size"] = len(starts)
    return rows


class _blas_limit:
    """Limit the BLAS threads of this process to ``n`` inside the block (threadpoolctl), or
    leave them alone (``n`` None or threadpoolctl absent)."""

    def __init__(self, n):
        self.n, self.ctl = n, None

    def __enter__(self):
        if self.n:
            try:
                from threadpoolctl import threadpool_limits
            except ImportError:  # pragma: no cover - threadpoolctl is a dependency of SciPy's stack
                return self
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
    lam0 = linnet.initial_sharpness(model, X_in, Y)
    eta = _eta(spec, lam0)
    tr = linnet.train(X_in, Y, eta=eta, steps=int(spec["steps"]), model=model, progress=False, **kw)
    return _finish(spec, tr, lam0, X, Y, checker, save_dir)


def _eta(spec, lam0):
    """The spec's η: ``eta``, or ``eta_lambda0``/Λ(0)."""
    from .train import eta_from_lambda0
    return float(spec["eta"]) if spec.get("eta") is not None else eta_from_lambda0(spec["eta_lambda0"], lam0)


def _finish(spec, tr, lam0, X, Y, checker, save_dir):
    """The row's numbers from a finished run: summary, checker columns, saved trajectory."""
    out = summarize(tr, lam0)
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


def _unique() -> str:
    return f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


def summarize(tr, lam0: float) -> dict:
    """Per-run numbers from a trajectory alone (no replay)."""
    from .analysis import excursions, first_above, phase_fractions, phase_labels
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
    return dict(eta_used=eta, lambda0=lam0, outcome=outcome, stopped=tr.stopped or "",
                jit=bool(tr.config.get("jit", False)),
                steps_run=tr.steps, final_loss=float(L[-1]), max_eta_lambda=float(eta * S.max()),
                final_eta_lambda=float(eta * S[-1]), time_in_eos=float(above.mean()),
                excursions=len(exc), excursion_mean=float(np.mean(lens)) if lens else 0.0,
                excursion_max=int(max(lens)) if lens else 0,
                **{f"phase_{k}": v for k, v in fr.items()},
                a31_agreement=float(agree.mean()) if agree.size else math.nan,
                K_fitted=float(eta * S.max()),
                a43_C=(float(e_hat[first:].max() / ps.max())
                       if ps.size and first < len(S) and ps.max() > 0 else math.nan),
                B_D_over_Y=float(tr.d_norm.max() / tr.config["y_norm"]))


# ---- storage -----------------------------------------------------------------------------------

def _done_dir(out):
    return os.path.join(out, "done")


def finished(out) -> dict:
    """run id → row for every run recorded in ``out`` (one file per run id, ``<run id>.json``;
    temporary files and unreadable records are ignored, so such a run counts as missing)."""
    d = _done_dir(out)
    rows = {}
    if os.path.isdir(d):
        for f in sorted(os.listdir(d)):
            if not f.endswith(".json") or f.startswith("."):
                continue
            try:
                with open(os.path.join(d, f)) as fh:
                    row = json.load(fh)
            except (OSError, ValueError):
                continue
            if isinstance(row, dict) and row.get("run_id") == f[:-len(".json")]:
                rows[row["run_id"]] = row
    return rows


def _write_atomic(path, write, mode="w", **open_kw) -> None:
    """``write(fh)`` to a temporary file beside ``path``, then ``os.replace`` it onto ``path``."""
    d, base = os.path.split(path)
    tmp = os.path.join(d, f".{base}.{_unique()}.tmp")
    try:
        with open(tmp, mode, **open_kw) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def record(out, row) -> None:
    """Write one finished run atomically (a crash mid-write leaves no half file) and idempotently
    (the file is named by the run id: writing the same run again replaces its one record)."""
    d = _done_dir(out)
    os.makedirs(d, exist_ok=True)
    text = json.dumps(row, default=_json_default)
    _write_atomic(os.path.join(d, f"{row['run_id']}.json"), lambda fh: fh.write(text))


def _json_default(v):
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return str(v)


def write_summary(out, rows) -> str:
    path = os.path.join(out, "summary.csv")
    cols = []
    for r in rows:
        cols += [k for k in r if k not in cols and k != "traceback"]

    def write(fh):
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    _write_atomic(path, write, newline="")
    return path


# ---- execution ---------------------------------------------------------------------------------

def run_sweep(config: dict, out: str, *, scheduler: str | None = None, client=None,
              workers: int | None = None,
              checker=None, save_trajectories: bool | None = None, retry_errors: bool = False,
              on_result=None, progress: bool = True, batch_size: int | None = None,
              blas_threads: int | None = None, batch_min_state: int | None = None,
              jit: bool | None = None) -> list[dict]:
    """Run every missing configuration of ``config``; returns the summary rows (all runs, in grid order).

    ``scheduler``: address of a running Dask scheduler (or pass ``client``); default: a local
    process pool with ``workers`` processes (all cores). ``on_result(row)`` is called in the driver
    after each run is recorded. Runs recorded with an error are retried only with ``retry_errors``.
    ``checker``: per-run check hook, ``checker(traj, X, Y) -> dict`` of extra columns, or its
    ``"module:function"`` name (default: the config's ``sweep.checker``, else none); e.g.
    ``"theory.checks:sweep_checker"`` for the paper's checks.

    Compatible runs (same data, width and steps: :func:`batch_key`) are trained together in
    batches of at most ``batch_size`` (default: the config's ``sweep.batch_size``, else 32; 1 =
    one run per task) by :func:`linnet.train_batch`, one task per batch, where a run's state
    m·min(n, d) is at least ``batch_min_state`` (default: the config's ``sweep.batch_min_state``,
    else ``BATCH_MIN_STATE``; below it batches do not pay); each run is still recorded
    on its own as soon as its batch ends. Each task limits its BLAS threads to ``blas_threads``
    (default: the config's ``sweep.blas_threads``, else the cores divided among the local workers,
    or among a Dask worker's threads), so that workers do not oversubscribe the cores.
    ``jit`` (default: the config's ``sweep.jit``, else False) runs the linear-net runs on the
    compiled loop (``train(..., jit=True)``, needs Numba); other families run as they do anyway.
    """
    opts = config.get("sweep", {})
    if "check" in opts:
        raise ValueError('sweep.check is gone: set sweep.checker = "theory.checks:sweep_checker" '
                         "for the theory checks")
    checker = opts.get("checker") if checker is None else checker
    resolve_checker(checker)  # fail here, not once per run, on a bad name
    save = bool(opts.get("save_trajectories", False)) if save_trajectories is None else save_trajectories
    specs = expand_grid(config)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as fh:
        json.dump(config, fh, indent=1, default=str)
    done = finished(out)
    todo = [s for s in specs if run_id(s) not in done or (retry_errors and done[run_id(s)]["status"] != "ok")]
    save_dir = os.path.join(out, "runs") if save else None
    say = (lambda s: print(s, file=sys.stderr, flush=True)) if progress else (lambda s: None)
    batch_size = int(opts.get("batch_size", BATCH_SIZE)) if batch_size is None else batch_size
    blas_threads = opts.get("blas_threads") if blas_threads is None else blas_threads
    jit = bool(opts.get("jit", False)) if jit is None else bool(jit)
    local = client is None and scheduler is None
    n_workers = workers or os.cpu_count() or 1
    min_state = (int(opts.get("batch_min_state", BATCH_MIN_STATE)) if batch_min_state is None
                 else batch_min_state)
    batches = group_specs(todo, batch_size, n_workers, min_state)  # (on Dask: regrouped for its threads)
    if local:
        n_workers = min(n_workers, max(1, len(batches)))
        if blas_threads is None:
            blas_threads = max(1, (os.cpu_count() or 1) // n_workers)
    say(f"sweep: {len(specs)} runs, {len(specs) - len(todo)} already done, {len(todo)} to run"
        + (f" in {len(batches)} batches" if len(batches) != len(todo) else ""))

    def handle(row, k, recorded=False):
        if not recorded:
            record(out, row)
        say(f"  [{k}/{len(todo)}] {row['run_id']} {row.get('outcome', row['status'])}"
            + (f" ({row['error']})" if row["status"] != "ok" else ""))
        if on_result is not None:
            on_result(row)

    if todo:
        if not local:
            _run_dask(todo, batch_size, client, scheduler, checker, save_dir, handle, blas_threads,
                      lambda row: record(out, row), min_state, jit)
        else:
            _run_local(batches, n_workers, dict(checker=_portable(checker), save_dir=save_dir,
                                                blas_threads=blas_threads, jit=jit),
                       lambda row: record(out, row), handle, say)
    done = finished(out)
    rows = [done[run_id(s)] for s in specs if run_id(s) in done]
    write_summary(out, rows)
    return rows


def _run_local(batches, n_workers, kw, record_row, handle, say):
    """The batches on a :class:`linnet.pool.WorkerPool` of ``n_workers`` local processes (which
    never run the driver's script). A batch whose worker dies (a crash, the out-of-memory killer)
    is run again one run per task, so that its other runs survive; a run whose own worker dies is
    recorded with an error naming it and how the worker died."""
    from .pool import WorkerDeath, WorkerPool
    k = 0
    with WorkerPool(n_workers) as pool:
        tasks = {pool.submit(run_batch, b, **kw): b for b in batches}
        for done in pool.results():
            batch = tasks.pop(done.task)
            if isinstance(done.error, WorkerDeath) and len(batch) > 1:
                say(f"  a batch of {len(batch)} runs lost its worker ({done.error.describe()}): "
                    "running them one by one")
                tasks.update({pool.submit(run_batch, [s], **kw): [s] for s in batch})
                continue
            rows = done.result if done.error is None else [_lost_row(s, done.error) for s in batch]
            for row in rows:  # the whole batch on disk before anything else
                record_row(row)
            for row in rows:
                k += 1
                handle(row, k, recorded=True)


def _lost_row(spec, error) -> dict:
    """The row of a run that did not come back from its worker (``error``: a linnet.pool
    WorkerDeath or TaskFailure)."""
    from .pool import WorkerDeath
    rid = run_id(spec)
    if isinstance(error, WorkerDeath):
        return {"run_id": rid, **spec, "status": "error",
                "error": f"WorkerDied: run {rid}: {error.describe()}"}
    return {"run_id": rid, **spec, "status": "error", "error": f"run {rid}: {error.describe()}",
            "traceback": error.traceback}


def _portable(checker):
    """``checker`` as the workers can receive it: a ``"module:function"`` name or an importable
    callable as it is; a callable defined in the driver's script (``__main__``), a lambda or a
    nested function by value through cloudpickle where it is installed, else a ValueError (the
    workers do not run the driver's script, so they cannot find it by name)."""
    if checker is None or isinstance(checker, str):
        return checker
    module = getattr(checker, "__module__", None)
    qualname = getattr(checker, "__qualname__", "")
    if module not in (None, "__main__") and "<" not in qualname:
        return checker
    try:
        import cloudpickle
    except ImportError:
        raise ValueError(f"checker={checker!r} is defined in the script ({module or 'no module'}), which "
                         "the sweep's workers do not run: move it into a module and pass "
                         "'module:function' (or the function imported from there), or install "
                         "cloudpickle to send it by value") from None
    return _ByValue(cloudpickle.dumps(checker))


class _ByValue:
    """A callable pickled by value (cloudpickle's bytes); unpickles as the callable itself."""

    def __init__(self, payload: bytes):
        self.payload = payload

    def __reduce__(self):
        import pickle
        return pickle.loads, (self.payload,)


def _dask_task(batch, *, checker, save_dir, blas_threads, jit=False):
    """One batch on a Dask worker, its BLAS threads limited to the cores per worker thread."""
    if blas_threads is None:
        try:
            from distributed import get_worker
            w = get_worker()
            nthreads = getattr(getattr(w, "state", w), "nthreads", None) or getattr(w, "nthreads", 1)
            blas_threads = max(1, (os.cpu_count() or 1) // int(nthreads))
        except (ImportError, ValueError, AttributeError):
            blas_threads = None
    return run_batch(batch, checker=checker, save_dir=save_dir, blas_threads=blas_threads, jit=jit)


def _run_dask(todo, batch_size, client, scheduler, checker, save_dir, handle, blas_threads=None,
              record_row=None, min_state=BATCH_MIN_STATE, jit=False):
    from distributed import Client, as_completed as das_completed
    own = client is None
    client = client or Client(scheduler)
    try:
        threads = sum(client.nthreads().values()) or 1
        batches = group_specs(todo, batch_size, threads, min_state)  # a batch for every worker thread
        # a fresh key per submission: a cancelled future of an interrupted sweep can linger on
        # the scheduler under its old key
        token = uuid.uuid4().hex[:8]
        # a task re-executed after its worker died still yields one result per future, and its
        # record (named by run id) replaces rather than duplicates; a run handled once is skipped
        futs = [client.submit(_dask_task, b, checker=checker, save_dir=save_dir,
                              blas_threads=blas_threads, jit=jit,
                              key=f"linnet-{run_id(b[0])}-{len(b)}-{token}",
                              pure=False) for b in batches]
        seen = set()
        try:
            for f in das_completed(futs):
                rows = [r for r in f.result() if r["run_id"] not in seen]
                for row in rows:  # the whole batch on disk before anything else
                    record_row(row)
                for row in rows:
                    seen.add(row["run_id"])
                    handle(row, len(seen), recorded=True)
        except BaseException:
            client.cancel(futs)
            raise
    finally:
        if own:
            client.close()


# ---- figures -----------------------------------------------------------------------------------

def plot_phase_diagram(rows, out, *, x="eta_lambda0", y="m", title=None) -> list[str]:
    """Outcome of every run on the (x, y) plane, and the fitted constants across the grid."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ok = [r for r in rows if r.get("status") == "ok"]
    colors = dict(monotone="#2a9d8f", eos="#e9c46a", catapult="#f4a261", diverged="#e76f51")
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for oc in OUTCOMES:
        pts = [(float(r[x]), float(r[y])) for r in ok if r["outcome"] == oc]
        if pts:
            ax.scatter(*zip(*pts, strict=True), s=60, color=colors[oc], label=oc, edgecolor="k", lw=0.5)
    if x == "eta_lambda0":
        for v, ls in ((2, "--"), (4, ":")):
            ax.axvline(v, color="k", ls=ls, lw=1)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ys = sorted({float(r[y]) for r in ok})
    if len(ys) > 2 and ys[0] > 0:
        ax.set_yscale("log")
        ax.set_yticks(ys, [f"{v:g}" for v in ys])
        ax.minorticks_off()
    ax.legend(fontsize=8, loc="best")
    ax.set_title(title or "outcome of GD across the grid")
    fig.tight_layout()
    p1 = os.path.join(out, "phase_diagram.png")
    fig.savefig(p1, dpi=110)
    plt.close(fig)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for a, key, lab in zip(axes, ("max_eta_lambda", "a31_agreement", "time_in_eos"),
                           ("fitted K = max ηΛ (A3.4)", "A3.1 agreement rate",
                            "fraction of steps with ηΛ > 2"), strict=True):
        conv = [r for r in ok if r["outcome"] != "diverged"]
        sc = a.scatter([float(r[x]) for r in conv], [float(r[y]) for r in conv],
                       c=[float(r[key]) for r in conv], s=60, cmap="viridis", edgecolor="k", lw=0.5)
        fig.colorbar(sc, ax=a)
        a.set_title(lab, fontsize=10)
        a.set_xlabel(x)
        a.set_ylabel(y)
    fig.tight_layout()
    p2 = os.path.join(out, "constants.png")
    fig.savefig(p2, dpi=110)
    plt.close(fig)
    return [p1, p2]


def boundaries(rows, *, x="eta_lambda0", group="m") -> dict:
    """Per value of ``group``: the smallest x that catapulted and the smallest that diverged."""
    out = {}
    for g in sorted({r[group] for r in rows if r.get("status") == "ok"}, key=float):
        rs = [r for r in rows if r.get("status") == "ok" and r[group] == g]
        cat = [float(r[x]) for r in rs if r["outcome"] == "catapult"]
        div = [float(r[x]) for r in rs if r["outcome"] == "diverged"]
        conv = [float(r[x]) for r in rs if r["outcome"] != "diverged"]
        out[g] = dict(catapult_from=min(cat) if cat else None, diverges_from=min(div) if div else None,
                      converges_up_to=max(conv) if conv else None)
    return out


def sweep(grid: dict, *, fixed: dict | None = None, out: str = "sweep-out", **kwargs) -> list[dict]:
    """Run ``grid`` (parameter → list of values; see :data:`GRID_KEYS`) over ``fixed`` settings.

    Shorthand for :func:`run_sweep` with ``{"grid": grid, "fixed": fixed}``; keyword arguments
    (``scheduler``, ``client``, ``workers``, ``checker``, ``save_trajectories`` …) pass through.
    """
    return run_sweep({"grid": dict(grid), "fixed": dict(fixed or {})}, out, **kwargs)


def load_config(path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10: the same parser, as the tomli package
        import tomli as tomllib
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the sweep config ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from exc


def main(argv=None, *, prog="python -m linnet sweep", default_checker=None) -> int:
    """The sweep CLI; ``default_checker`` is the checker used when ``--checker`` is not given
    (``python -m theory sweep`` passes the theory checks)."""
    import argparse
    p = argparse.ArgumentParser(prog=prog, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="TOML file with [grid] (and optional [fixed], [sweep], [plot])")
    p.add_argument("--out", help="output folder (default: the config's sweep.out, else sweep-out)")
    p.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--workers", type=int, help="local processes (default: all cores)")
    p.add_argument("--checker", metavar="MODULE:FUNCTION",
                   help="per-run check hook, called as f(traj, X, Y) -> dict of extra columns; "
                        "theory.checks:sweep_checker runs the paper's checks (slower)")
    p.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--retry-errors", action="store_true")
    p.add_argument("--batch-size", type=int,
                   help="most runs trained together per task (default: sweep.batch_size, else 32; "
                        "1 = one per task)")
    p.add_argument("--blas-threads", type=int,
                   help="BLAS threads per task (default: the cores divided among the workers)")
    p.add_argument("--jit", action="store_true", default=None,
                   help="linear-net runs on the compiled loop (train(jit=True), needs Numba)")
    args = p.parse_args(argv)
    if args.check:
        p.error("--check is now --checker theory.checks:sweep_checker (or: python -m theory sweep CONFIG)")
    try:
        config = load_config(args.config)
        out = args.out or config.get("sweep", {}).get("out", "sweep-out")
        t0 = time.perf_counter()
        rows = run_sweep(config, out, scheduler=args.scheduler, workers=args.workers,
                         checker=args.checker or default_checker, retry_errors=args.retry_errors,
                         batch_size=args.batch_size, blas_threads=args.blas_threads, jit=args.jit)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    plot = config.get("plot", {})
    figs = plot_phase_diagram(rows, out, x=plot.get("x", "eta_lambda0"), y=plot.get("y", "m"),
                              title=plot.get("title"))
    counts = {oc: sum(r.get("outcome") == oc for r in rows) for oc in OUTCOMES}
    errors = sum(r.get("status") != "ok" for r in rows)
    print(f"{len(rows)} runs in {out}/summary.csv ({time.perf_counter() - t0:.1f}s this session): {counts}, "
          f"{errors} errors; figures {', '.join(figs)}")
    if plot.get("boundaries"):
        for g, b in boundaries(rows, x=plot.get("x", "eta_lambda0"), group=plot.get("y", "m")).items():
            print(f"  {plot.get('y', 'm')}={g}: catapult from {b['catapult_from']}, diverges from "
                  f"{b['diverges_from']} (largest converging {b['converges_up_to']})")
    return 0
