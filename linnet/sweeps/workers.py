"""Executing a sweep: a local pool of fresh worker processes (:mod:`linnet.pool`) or a Dask
cluster, batches regrouped and runs retried as workers die."""

from __future__ import annotations

import json
import os
import sys
import uuid

from ..families import SWEEP_MODELS
from .grid import DEFAULT_MODEL, expand_grid, run_id
from .runner import BATCH_MIN_STATE, BATCH_SIZE, group_specs, resolve_checker, run_batch
from .store import finished, record, write_summary

# ---- execution ---------------------------------------------------------------------------------


def run_sweep(
    config: dict,
    out: str,
    *,
    scheduler: str | None = None,
    client=None,
    workers: int | None = None,
    checker=None,
    save_trajectories: bool | None = None,
    retry_errors: bool = False,
    on_result=None,
    progress: bool = True,
    batch_size: int | None = None,
    blas_threads: int | None = None,
    batch_min_state: int | None = None,
    jit: bool | None = None,
    pool=None,
) -> list[dict]:
    """Run every missing configuration of ``config``; returns the summary rows (all runs, in grid order).

    ``scheduler``: address of a running Dask scheduler (or pass ``client``); default: a local
    process pool with ``workers`` processes (all cores), started for this sweep and stopped after
    it. ``pool``: a :class:`linnet.pool.WorkerPool` of one's own to run on instead and leave
    running, so that successive sweeps reuse its workers, each of which keeps its imports, the
    compiled loop and its last four data sets with their decompositions (a Ctrl-C or an error
    during the sweep kills its workers; the pool starts new ones for the next).
    ``on_result(row)`` is called in the driver
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
    ``jit`` (default: the config's ``sweep.jit``, else the loop the sweep's finished runs used, else
    :func:`auto_jit`) runs the linear-net runs on the compiled loop (``train(..., jit=True)``;
    other families run as they do anyway). It agrees with the NumPy loop to roundoff, not bitwise;
    each row's ``jit`` column says which loop ran it.
    Where Numba's on-disk cache lacks the loop, the driver compiles it there first (once per
    machine, ~40 s), so that the workers load it (~0.2 s each) instead of each compiling it.
    """
    opts = config.get("sweep", {})
    if "check" in opts:
        raise ValueError(
            'sweep.check is gone: set sweep.checker = "theory.checks:sweep_checker" for the theory checks'
        )
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
    jit = _resolve_jit(opts.get("jit") if jit is None else jit, specs, done, say)
    local = client is None and scheduler is None
    if pool is not None:
        from ..pool import WorkerPool

        if not isinstance(pool, WorkerPool):
            raise ValueError(f"pool must be a linnet.pool.WorkerPool, got {type(pool).__name__}")
        if not local or workers is not None:
            raise ValueError("give pool (its workers), or workers, scheduler or client: not both")
    n_workers = pool.size if pool is not None else (workers or os.cpu_count() or 1)
    min_state = (
        int(opts.get("batch_min_state", BATCH_MIN_STATE)) if batch_min_state is None else batch_min_state
    )
    batches = group_specs(todo, batch_size, n_workers, min_state)  # (on Dask: regrouped for its threads)
    if local:
        if pool is None:
            n_workers = min(n_workers, max(1, len(batches)))
        if blas_threads is None:
            blas_threads = max(1, (os.cpu_count() or 1) // n_workers)
    say(
        f"sweep: {len(specs)} runs, {len(specs) - len(todo)} already done, {len(todo)} to run"
        + (f" in {len(batches)} batches" if len(batches) != len(todo) else "")
    )

    def handle(row, k, recorded=False):
        if not recorded:
            record(out, row)
        say(
            f"  [{k}/{len(todo)}] {row['run_id']} {row.get('outcome', row['status'])}"
            + (f" ({row['error']})" if row["status"] != "ok" else "")
        )
        if on_result is not None:
            on_result(row)

    if todo:
        if not local:
            _run_dask(
                todo,
                batch_size,
                client,
                scheduler,
                checker,
                save_dir,
                handle,
                blas_threads,
                lambda row: record(out, row),
                min_state,
                jit,
            )
        else:
            _run_local(
                batches,
                pool or n_workers,
                dict(checker=_portable(checker), save_dir=save_dir, blas_threads=blas_threads, jit=jit),
                lambda row: record(out, row),
                handle,
                say,
            )
    done = finished(out)
    rows = [done[run_id(s)] for s in specs if run_id(s) in done]
    write_summary(out, rows)
    return rows


# The sweep's automatic choice of loop, from the linear-net runs' estimated time on the NumPy loop
# (numpy_seconds): compiled where Numba is installed and either that time is at least
# AUTO_JIT_MIN_SECONDS, so that compiling the loop the first time on a machine (38–40 s here) cannot
# cost more than the runs take, or the loop is already in this machine's Numba cache (then loading
# it costs ~0.2 s in each worker) and that time is at least AUTO_JIT_CACHED_MIN_SECONDS.
# The estimate is the NumPy loop's time a step with Λ and ‖Ê‖ (python -m benchmarks, this 2-core
# machine: 0.39 ms at m·r = 200,000, ~0.05 ms for a tiny state), linear in the state m·min(n, d).
AUTO_JIT_MIN_SECONDS = 60.0
AUTO_JIT_CACHED_MIN_SECONDS = 1.0
NUMPY_SECONDS_PER_STEP = 5e-5
NUMPY_SECONDS_PER_STATE_ENTRY = 1.7e-9


def numpy_seconds(specs: list[dict]) -> float:
    """Estimated seconds of the compilable (linear-net) runs among ``specs`` on the NumPy loop."""
    total = 0.0
    for s in specs:
        if SWEEP_MODELS[s.get("model", DEFAULT_MODEL)].compilable:
            state = int(s["m"]) * min(int(s["n"]), int(s["d"]))
            total += int(s["steps"]) * (NUMPY_SECONDS_PER_STEP + NUMPY_SECONDS_PER_STATE_ENTRY * state)
    return total


def auto_jit(specs: list[dict]) -> bool:
    """The compiled loop where Numba is installed and the runs would take the NumPy loop at least
    AUTO_JIT_MIN_SECONDS (:func:`numpy_seconds`), or at least AUTO_JIT_CACHED_MIN_SECONDS where
    the compiled loop is already in this machine's cache (:func:`linnet.jit.cached`): a first
    compile never costs more than the runs, and a machine that has compiled it once uses it."""
    from .. import jit as compiled

    if not compiled.available():
        return False
    t = numpy_seconds(specs)
    return t >= AUTO_JIT_MIN_SECONDS or (t >= AUTO_JIT_CACHED_MIN_SECONDS and compiled.cached())


def _recorded_jit(specs: list[dict], done: dict) -> bool | None:
    """The loop that ran the sweep's finished linear-net runs, where they all ran on one."""
    loops = {
        bool(row["jit"])
        for s in specs
        if SWEEP_MODELS[s.get("model", DEFAULT_MODEL)].compilable
        and (row := done.get(run_id(s))) is not None
        and row.get("status") == "ok"
        and "jit" in row
    }
    return loops.pop() if len(loops) == 1 else None


def _resolve_jit(jit, specs: list[dict], done: dict | None = None, say=lambda s: None) -> bool:
    """``jit`` as given (a bool), or None: the loop of the sweep's finished runs (a resumed sweep
    keeps its loop), else :func:`auto_jit` on the sweep's runs, with a word on ``say`` where only
    the empty cache keeps them on the NumPy loop."""
    from .. import jit as compiled

    if jit is None:
        recorded = _recorded_jit(specs, done or {})
        if recorded is not None and (not recorded or compiled.available()):
            return recorded
        chosen = auto_jit(specs)
        if (
            not chosen
            and compiled.available()
            and not compiled.cached()
            and numpy_seconds(specs) >= AUTO_JIT_CACHED_MIN_SECONDS
        ):
            say(
                "sweep: on the NumPy loop, since this machine's Numba cache lacks the compiled one; "
                "`python -m linnet.jit` compiles it once (~40 s), and sweeps like this one then use it"
            )
        return chosen
    if not isinstance(jit, bool):
        raise ValueError(f"jit must be true, false or left out (automatic: auto_jit), got {jit!r}")
    if jit and not compiled.available():
        raise ValueError('jit=True needs Numba: pip install "linnet[jit]" (or run the sweep with jit=False)')
    return jit


def _warm_up_compiled(say) -> None:
    """Compile the compiled loop's kernels into the on-disk cache here, once, before any worker
    needs them (the first time on a machine ~40 s: said first). Where the cache holds them
    already, nothing: each worker loads them itself (~0.2 s), and a load here would only hold
    back the tasks and take a core from the workers' start."""
    from .. import jit as compiled

    if compiled.cached():
        return
    if compiled.compile_seconds() is None:
        say("sweep: loading the compiled loop (the first time on a machine it compiles: ~40 s, cached)")
    compiled.warm_up()


def _run_local(batches, pool, kw, record_row, handle, say):
    """The batches on ``pool``, a :class:`linnet.pool.WorkerPool` of local processes (which never
    run the driver's script), or on a pool of ``pool`` processes started here and stopped at the
    end. The workers start first, so that their imports overlap the driver's compiling of the
    compiled loop (``kw["jit"]``, where the cache lacks it). A batch whose worker dies (a crash,
    the out-of-memory killer) is run again one run per task, so that its other runs survive; a
    run whose own worker dies is recorded with an error naming it and how the worker died."""
    from ..pool import WorkerPool

    own = not isinstance(pool, WorkerPool)
    if own:
        pool = WorkerPool(pool, preload=(run_batch.__module__,))
    try:
        pool.start()
        if kw["jit"]:
            _warm_up_compiled(say)
        _collect(pool, batches, kw, record_row, handle, say)
    except BaseException:
        pool.kill()
        raise
    if own:
        pool.close()


def _collect(pool, batches, kw, record_row, handle, say):
    """Submit the batches to ``pool`` and record their rows as they come back."""
    from ..pool import WorkerDeath

    k = 0
    tasks = {pool.submit(run_batch, b, **kw): b for b in batches}
    for done in pool.results():
        batch = tasks.pop(done.task)
        if isinstance(done.error, WorkerDeath) and len(batch) > 1:
            say(
                f"  a batch of {len(batch)} runs lost its worker ({done.error.describe()}): "
                "running them one by one"
            )
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
    from ..pool import WorkerDeath

    rid = run_id(spec)
    if isinstance(error, WorkerDeath):
        return {
            "run_id": rid,
            **spec,
            "status": "error",
            "error": f"WorkerDied: run {rid}: {error.describe()}",
        }
    return {
        "run_id": rid,
        **spec,
        "status": "error",
        "error": f"run {rid}: {error.describe()}",
        "traceback": error.traceback,
    }


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
        raise ValueError(
            f"checker={checker!r} is defined in the script ({module or 'no module'}), which "
            "the sweep's workers do not run: move it into a module and pass "
            "'module:function' (or the function imported from there), or install "
            "cloudpickle to send it by value"
        ) from None
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


def _run_dask(
    todo,
    batch_size,
    client,
    scheduler,
    checker,
    save_dir,
    handle,
    blas_threads=None,
    record_row=None,
    min_state=BATCH_MIN_STATE,
    jit=False,
):
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
        futs = [
            client.submit(
                _dask_task,
                b,
                checker=checker,
                save_dir=save_dir,
                blas_threads=blas_threads,
                jit=jit,
                key=f"linnet-{run_id(b[0])}-{len(b)}-{token}",
                pure=False,
            )
            for b in batches
        ]
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
