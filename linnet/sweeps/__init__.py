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

The package's modules: :mod:`~linnet.sweeps.grid` (keys, defaults, specs, ids, the config
file), :mod:`~linnet.sweeps.runner` (one run or a batch, summarised), :mod:`~linnet.sweeps.store`
(records on disk), :mod:`~linnet.sweeps.workers` (local pool or Dask), :mod:`~linnet.sweeps.plots`
(figures), :mod:`~linnet.sweeps.cli` (the command and :func:`linnet.sweep`); every name is also
here, as it was when this was one module.
"""

from .cli import (  # noqa: F401
    main,
    sweep,
)
from .grid import (  # noqa: F401
    DEFAULT_MODEL,
    DEFAULTS,
    GRID_KEYS,
    MLP_DEFAULTS,
    MODEL_DEFAULTS,
    MODEL_KEYS,
    MODELS,
    OUTCOMES,
    expand_grid,
    load_config,
    run_id,
)
from .plots import (  # noqa: F401
    boundaries,
    plot_phase_diagram,
)
from .runner import (  # noqa: F401
    _DATA_CACHE,
    BATCH_KEYS,
    BATCH_MIN_STATE,
    BATCH_SIZE,
    _blas_limit,
    _data,
    _eta,
    _finish,
    _run,
    _run_batch,
    batch_key,
    group_specs,
    resolve_checker,
    run_batch,
    run_one,
    summarize,
)
from .store import (  # noqa: F401
    _done_dir,
    _json_default,
    _unique,
    _write_atomic,
    finished,
    record,
    write_summary,
)
from .workers import (  # noqa: F401
    _ByValue,
    _dask_task,
    _lost_row,
    _portable,
    _run_dask,
    _run_local,
    auto_jit,
    numpy_seconds,
    run_sweep,
)

__all__ = [
    "BATCH_KEYS",
    "BATCH_MIN_STATE",
    "BATCH_SIZE",
    "DEFAULTS",
    "DEFAULT_MODEL",
    "GRID_KEYS",
    "MLP_DEFAULTS",
    "MODELS",
    "MODEL_DEFAULTS",
    "MODEL_KEYS",
    "OUTCOMES",
    "batch_key",
    "boundaries",
    "expand_grid",
    "finished",
    "group_specs",
    "load_config",
    "main",
    "plot_phase_diagram",
    "record",
    "resolve_checker",
    "run_batch",
    "run_id",
    "run_one",
    "run_sweep",
    "auto_jit",
    "numpy_seconds",
    "summarize",
    "sweep",
    "write_summary",
]
