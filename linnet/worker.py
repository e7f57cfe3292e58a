"""The main loop of one local sweep worker process (started by :class:`linnet.pool.WorkerPool`).

A worker is a fresh interpreter started as ``python -c "…; linnet.worker.main()"``: it never
imports the driver's ``__main__`` (multiprocessing's spawn and forkserver re-run the user's script
in every worker, which breaks sweeps written at the top level of a script without an
``if __name__ == "__main__":`` guard, and loads a script's data again in each worker).

Protocol, over the worker's standard input and output (which the worker then points elsewhere:
its stdout to the driver's stderr, so that what a run prints cannot corrupt the channel), as
:class:`multiprocessing.connection.Connection` messages:

* driver → worker: ``("init", driver_pid, sys_path, preload)`` once (``preload``: modules to
  import before the worker says it is ready), then ``(task_id, fn, args, kwargs)``
  per task, then ``None`` to stop;
* worker → driver: ``("ready", pid)`` once, then ``(task_id, True, result)`` or
  ``(task_id, False, (exception type name, message, traceback))`` per task (task_id None when
  the task could not be unpickled here).

The worker exits as soon as its driver is gone, even when the driver was SIGKILLed.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection

_PR_SET_PDEATHSIG = 1


def die_with(driver_pid: int) -> None:
    """Exit as soon as the driver is gone: on Linux the kernel sends SIGKILL when the parent dies
    (prctl PR_SET_PDEATHSIG); everywhere a daemon thread also polls ``os.getppid()`` and exits
    when it changes (the worker was reparented)."""
    parent = os.getppid()
    if parent != driver_pid:  # the driver died while this worker was starting
        os._exit(1)
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the driver died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="linnet-driver-watch", daemon=True).start()


def _channel() -> tuple[Connection, Connection]:
    """The driver's channel (this process's fds 0 and 1, moved aside), with fd 1 then pointing at
    fd 2 and fd 0 at /dev/null: prints in a run go to the driver's stderr, not into the channel."""
    rfd, wfd = os.dup(0), os.dup(1)
    sys.stdout.flush()
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return Connection(rfd, writable=False), Connection(wfd, readable=False)


def main() -> None:
    inbox, outbox = _channel()
    kind, driver_pid, sys_path, preload = inbox.recv()
    if kind != "init":
        raise SystemExit(f"linnet.worker: expected the driver's init message, got {kind!r}")
    die_with(int(driver_pid))
    sys.path[:] = list(sys_path)  # the driver's: its checker modules import here as there
    for name in preload:
        importlib.import_module(name)
    outbox.send(("ready", os.getpid()))
    while True:
        try:
            msg = inbox.recv()
        except EOFError:  # the driver closed the channel
            _exit()
        except Exception as exc:  # noqa: BLE001 - a task that does not unpickle here: its task fails
            outbox.send((None, False, _failure(exc)))
            continue
        if msg is None:
            _exit()
        task_id, fn, args, kwargs = msg
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - reported to the driver, which decides
            outbox.send((task_id, False, _failure(exc)))
        else:
            outbox.send((task_id, True, result))


def _exit() -> None:
    """Leave at once, without the interpreter's teardown: freeing the data caches and unloading
    Numba and LLVM took 0.14–0.6 s, which a sweep's driver waits for while it stops its workers.
    Nothing here needs the teardown: results went back over the channel, and each task closed its
    own files."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _failure(exc: BaseException) -> tuple[str, str, str]:
    return type(exc).__name__, str(exc), traceback.format_exc(limit=6)
