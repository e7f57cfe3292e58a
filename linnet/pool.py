"""A pool of local worker processes that never run the user's script, and that say how a worker died.

:class:`WorkerPool` starts each worker as a fresh interpreter running :func:`linnet.worker.main`
(``python -c``), sends it the driver's ``sys.path`` and then one task at a time over a pipe.
Unlike ``concurrent.futures.ProcessPoolExecutor`` with spawn or forkserver, nothing imports the
driver's ``__main__``: a sweep at the top level of a script without an
``if __name__ == "__main__":`` guard, from ``python -c`` or from a notebook runs the same way, and
a script's top-level work is done once. Workers are reused across tasks (modules, data caches
and compiled code load once per worker) and exit when the driver dies, even by SIGKILL.

A worker that dies mid-task does not break the pool: its task comes back as a :class:`WorkerDeath`
(exit code or signal, and the worker's peak memory as last seen, sampled from ``/proc`` about once
a second on Linux), a replacement worker starts for the remaining tasks, and every other task goes
on.

Workers start as tasks need them, or all at once with :meth:`WorkerPool.start`; each imports the
pool's ``preload`` modules before it takes a task, and sees ``sys.path`` as it was when it started.
A pool outlives any number of rounds of tasks (``linnet.sweeps.run_sweep(..., pool=pool)`` runs
successive sweeps on one).

    with WorkerPool(2) as pool:
        ids = [pool.submit(fn, x) for x in items]
        for done in pool.results():  # as tasks finish; pool.submit may be called meanwhile
            ...  # done.task, done.result, done.error (None, TaskFailure or WorkerDeath)
"""

from __future__ import annotations

import collections
import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

# Each worker process is the interpreter running this, with linnet's own parent folder first on
# sys.path so that the worker imports the driver's linnet even when it is not installed.
_LINNET_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEAK_SAMPLE_S = 1.0  # how often a busy worker's peak memory is read from /proc
_WORKER_CODE = (
    "import sys; sys.path.insert(0, {root!r}); import signal; "
    "signal.signal(signal.SIGINT, signal.SIG_IGN); from linnet.worker import main; main()"
)


@dataclass(frozen=True)
class TaskFailure:
    """A task raised in its worker: the exception's type name, message and traceback."""

    type: str
    message: str
    traceback: str

    def describe(self) -> str:
        return f"{self.type}: {self.message}"


@dataclass(frozen=True)
class WorkerDeath:
    """The worker running a task died: its pid, exit code (``None`` if killed), the signal that
    killed it (``None`` if it exited), and its peak resident memory in bytes as last sampled
    (VmHWM; ``None`` where /proc is not there). Not ``wait4``'s ru_maxrss: on Linux that carries
    the driver's own peak across the worker's exec."""

    pid: int
    exit_code: int | None
    signal: str | None
    max_rss_bytes: int | None

    def describe(self) -> str:
        how = (
            f"was killed by {self.signal}"
            if self.signal is not None
            else f"exited with status {self.exit_code}"
        )
        mem = (
            f" after its memory peaked at {self.max_rss_bytes / 2**30:.2f} GiB or more"
            if self.max_rss_bytes
            else ""
        )
        hint = (
            "; the kernel's out-of-memory killer sends SIGKILL when memory runs out"
            if self.signal == "SIGKILL"
            else ""
        )
        return f"the worker process (pid {self.pid}) {how}{mem}{hint}"


@dataclass(frozen=True)
class Done:
    """A finished task: its id (from :meth:`WorkerPool.submit`), its result, and ``error``:
    ``None``, a :class:`TaskFailure` (it raised) or a :class:`WorkerDeath` (its worker died)."""

    task: int
    result: Any
    error: TaskFailure | WorkerDeath | None


class WorkerStartError(RuntimeError):
    """A worker process died before it could take a task (its own error is on stderr)."""


@dataclass
class _Worker:
    proc: subprocess.Popen
    send: Connection
    recv: Connection
    ready: bool = False
    task: int | None = None
    peak: int | None = None  # VmHWM, bytes, as last sampled


class WorkerPool:
    """At most ``workers`` local worker processes, started as tasks need them. Use it as a
    context manager: leaving the block normally stops the workers; leaving it by an exception
    (Ctrl-C included) kills them."""

    def __init__(self, workers: int, *, preload: tuple[str, ...] = ()):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an integer ≥ 1, got {workers!r}")
        if isinstance(preload, str) or not all(isinstance(m, str) and m for m in preload):
            raise ValueError(f"preload must be a tuple of module names, got {preload!r}")
        self.size = workers
        self.preload = tuple(preload)
        self._workers: list[_Worker] = []
        self._queue: collections.deque[int] = collections.deque()
        self._tasks: dict[int, tuple[Callable, tuple, dict]] = {}
        self._next = 0

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.kill()

    def submit(self, fn: Callable, *args: Any, **kwargs: Any) -> int:
        """Queue ``fn(*args, **kwargs)`` (``fn`` and the arguments picklable, ``fn`` importable by
        name in a fresh interpreter); returns the task's id."""
        task = self._next
        self._next += 1
        self._tasks[task] = (fn, args, kwargs)
        self._queue.append(task)
        return task

    @property
    def pids(self) -> tuple[int, ...]:
        """The process ids of the pool's workers now (started, not yet reaped)."""
        return tuple(w.proc.pid for w in self._workers)

    def start(self) -> None:
        """Start every worker now (each imports ``preload`` as it starts), rather than as the first
        tasks arrive, so that their start overlaps what the driver does before it submits."""
        while len(self._workers) < self.size:
            self._workers.append(self._start())

    def results(self) -> Iterator[Done]:
        """Finished tasks as they finish, until none is queued or running."""
        while self._queue or any(w.task is not None for w in self._workers):
            self._dispatch()
            by_conn = {id(w.recv): w for w in self._workers}
            ready = wait([w.recv for w in self._workers], timeout=PEAK_SAMPLE_S)
            for w in self._workers:
                w.peak = _peak_rss(w.proc.pid, w.peak)
            for conn in ready:
                w = by_conn[id(conn)]
                try:
                    msg = w.recv.recv()
                except (EOFError, OSError):
                    done = self._lost(w)
                    if done is not None:
                        yield done
                    continue
                if msg[0] == "ready":
                    w.ready = True
                    continue
                _, ok, value = msg
                task, w.task = w.task, None
                assert task is not None, "a worker answered without a task"
                del self._tasks[task]
                yield Done(task, value, None) if ok else Done(task, None, TaskFailure(*tuple(value)))

    def close(self, timeout: float = 10.0) -> None:
        """Ask every worker to stop, wait up to ``timeout`` seconds, then kill what is left."""
        for w in self._workers:
            try:
                w.send.send(None)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for w in self._workers:
            try:
                w.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait()
            self._close_pipes(w)
        self._workers = []

    def kill(self) -> None:
        """Kill every worker at once (SIGKILL) and reap it; queued and running tasks are dropped.
        The pool stays usable: later tasks start new workers."""
        self._queue.clear()
        self._tasks.clear()
        for w in self._workers:
            if w.proc.poll() is None:
                w.proc.kill()
        for w in self._workers:
            w.proc.wait()
            self._close_pipes(w)
        self._workers = []

    # -- internals ------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        busy = sum(w.task is not None for w in self._workers)
        while len(self._workers) < min(self.size, busy + len(self._queue)):
            self._workers.append(self._start())
            busy = sum(w.task is not None for w in self._workers)
        for w in self._workers:
            if w.task is None and self._queue:
                task = self._queue.popleft()
                w.task = task
                fn, args, kwargs = self._tasks[task]
                try:
                    w.send.send((task, fn, args, kwargs))
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the worker is dead: its EOF comes next, and with it the task's WorkerDeath

    def _start(self) -> _Worker:
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", _WORKER_CODE.format(root=_LINNET_ROOT)],
                stdin=to_worker_r,
                stdout=from_worker_w,
                close_fds=True,
            )
        except BaseException:
            for fd in (to_worker_r, to_worker_w, from_worker_r, from_worker_w):
                os.close(fd)
            raise
        os.close(to_worker_r)
        os.close(from_worker_w)
        w = _Worker(proc, Connection(to_worker_w, readable=False), Connection(from_worker_r, writable=False))
        try:
            w.send.send(("init", os.getpid(), list(sys.path), self.preload))
        except (BrokenPipeError, ConnectionResetError):
            pass  # it died at once: its EOF comes next, as a WorkerStartError
        return w

    def _lost(self, w: _Worker) -> Done | None:
        """A worker's channel closed: reap it, and return its task as a WorkerDeath."""
        death = dataclasses.replace(_reap(w.proc), max_rss_bytes=w.peak)
        self._close_pipes(w)
        self._workers.remove(w)
        if w.task is None:
            if not w.ready:
                raise WorkerStartError(
                    f"a sweep worker could not start: {death.describe()} (its error, "
                    "if it printed one, is above)"
                )
            return None
        task, w.task = w.task, None
        del self._tasks[task]
        return Done(task, None, death)

    @staticmethod
    def _close_pipes(w: _Worker) -> None:
        for c in (w.send, w.recv):
            c.close()


def _peak_rss(pid: int, last: int | None) -> int | None:
    """The process's peak resident memory so far (VmHWM, bytes), or ``last`` where it cannot be read."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return last


def _reap(proc: subprocess.Popen, timeout: float = 10.0) -> WorkerDeath:
    """Wait for ``proc`` (killing it after ``timeout`` s) and say how it ended."""
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    return _death(proc.pid, code, None)


def _death(pid: int, code: int, rss: int | None) -> WorkerDeath:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return WorkerDeath(pid, None, name, rss)
    return WorkerDeath(pid, code, None, rss)
