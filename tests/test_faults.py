"""Sweeps under faults (a SIGKILLed driver, a SIGKILLed Dask worker, a run recorded twice) and
clear errors from load_trajectory on files that are not trajectories."""
import csv
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import linnet
from linnet import sweeps

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(fixed=dict(kind="cifar-like", n=8, d=10, m=6, steps=5, init="symmetric"),
            grid=dict(eta_lambda0=[0.5, 1.0, 1.5, 1.9, 1.2, 0.8]))


def slow_checker_module(tmp_path, seconds):
    """A module ``slowcheck`` in tmp_path whose checker sleeps ``seconds`` (so runs are slow)."""
    (tmp_path / "slowcheck.py").write_text(textwrap.dedent(f"""
        import os, time
        def slow(traj, X, Y):
            time.sleep({seconds})
            return {{"slept": {seconds}, "pid": os.getpid()}}
    """))
    return str(tmp_path)


def _proc_stat(pid):
    """(state, ppid) of a process from /proc/<pid>/stat, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            text = fh.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def _children(pid):
    """Every live descendant of ``pid`` (the workers hang below a fork server)."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _proc_stat(int(name))
            if st is not None and st[0] != "Z":
                parents[int(name)] = st[1]
    out, frontier = [], [pid]
    while frontier:
        kids = [p for p, pp in parents.items() if pp in frontier]
        out += kids
        frontier = kids
    return out


def _alive(pid):
    st = _proc_stat(pid)
    return st is not None and st[0] != "Z"  # a zombie has exited (nobody reaped it yet)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_local_workers_exit_when_the_driver_is_killed(tmp_path):
    helper = slow_checker_module(tmp_path, 120)
    script = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{helper!r}, {ROOT!r}]
        from linnet import sweeps
        sweeps.run_sweep({TINY!r}, {str(tmp_path / 'out')!r}, workers=2, checker="slowcheck:slow",
                         progress=False)
    """)
    driver = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    workers = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(workers) < 2:
            assert driver.poll() is None, "the driver exited early"
            workers = _children(driver.pid)
            time.sleep(0.1)
        assert len(workers) >= 2, f"workers never started: {workers}"
        time.sleep(1.0)  # let the initializers run and the runs reach the sleeping checker
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.1)
        survivors = [p for p in workers if _alive(p)]
        assert not survivors, f"worker processes {survivors} outlived their SIGKILLed driver"
    finally:
        if driver.poll() is None:
            driver.kill()
        for p in workers:
            if _alive(p):
                os.kill(p, signal.SIGKILL)


@pytest.mark.parametrize("batched", [False, True], ids=["one-run-per-task", "batch"])
def test_a_killed_local_worker_names_its_run_and_keeps_every_other(tmp_path, monkeypatch, batched):
    """A worker SIGKILLed mid-run (as the out-of-memory killer does): a run alone in its task is
    recorded with an error naming the run and the signal, and a new worker takes the rest; a batch
    whose worker died is run again one run per task, so that none of its runs is lost."""
    (tmp_path / "pidcheck.py").write_text(textwrap.dedent(f"""
        import os, time
        def slow(traj, X, Y):
            with open(os.path.join({str(tmp_path)!r}, f"started-{{os.getpid()}}"), "w") as fh:
                fh.write(str(traj.eta))
            time.sleep(1.0)
            return {{"pid": os.getpid()}}
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    out = str(tmp_path / "out")
    killed = []

    def kill_the_first_worker_to_start():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            started = [f for f in os.listdir(tmp_path) if f.startswith("started-")]
            if started:
                pid = int(started[0].split("-")[1])
                killed.append((pid, float((tmp_path / started[0]).read_text())))
                os.kill(pid, signal.SIGKILL)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_first_worker_to_start)
    killer.start()
    batching = dict(batch_size=6, batch_min_state=0) if batched else {}
    rows = sweeps.run_sweep(TINY, out, workers=2, checker="pidcheck:slow", progress=False, **batching)
    killer.join()
    assert killed, "no worker started a run"
    pid, eta = killed[0]
    lost = [r for r in rows if r["status"] != "ok"]
    if batched:
        assert not lost and all(r["pid"] != pid for r in rows), rows
        assert any(abs(r["eta_used"] - eta) < 1e-12 for r in rows), "the killed run was not run again"
        return
    assert len(lost) == 1, rows
    assert lost[0]["error"].startswith(f"WorkerDied: run {lost[0]['run_id']}: ")
    assert f"(pid {pid}) was killed by SIGKILL" in lost[0]["error"]
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) == len(TINY["grid"]["eta_lambda0"]) - 1 and all(r["pid"] != pid for r in ok)
    assert all(abs(r["eta_used"] - eta) > 1e-12 for r in ok), "the killed run came back as ok"
    assert sorted(sweeps.finished(out)) == sorted(r["run_id"] for r in rows)


def test_killed_dask_worker_neither_loses_nor_duplicates_a_run(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed", reason="Dask distributed is in the test extra")
    monkeypatch.syspath_prepend(slow_checker_module(tmp_path, 1.0))
    import slowcheck
    out = str(tmp_path / "out")
    seen, killed = [], []

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        pids = client.run(os.getpid)

        def kill_a_busy_worker(row):
            seen.append(row["run_id"])
            if killed:
                return
            busy = [addr for addr, keys in client.processing().items() if keys and addr in pids]
            if busy:
                killed.append(pids[busy[0]])
                os.kill(pids[busy[0]], signal.SIGKILL)  # mid-run: its task is rescheduled

        # batches of 2 (3 tasks on 2 workers): a batch is still running when the first one ends
        rows = sweeps.run_sweep(TINY, out, client=client, checker=slowcheck.slow, batch_size=2,
                                batch_min_state=0, on_result=kill_a_busy_worker, progress=False)
    assert killed, "no worker was busy to kill"
    ids = [sweeps.run_id(s) for s in sweeps.expand_grid(TINY)]
    assert sorted(seen) == sorted(ids), "a run was lost or handled twice"
    done = sorted(f for f in os.listdir(os.path.join(out, "done")))
    assert done == sorted(f"{i}.json" for i in ids), done  # no duplicate, no leftover temporary
    with open(os.path.join(out, "summary.csv")) as fh:
        summary = [r["run_id"] for r in csv.DictReader(fh)]
    assert sorted(summary) == sorted(ids)
    assert [r["run_id"] for r in rows] == ids and all(r["status"] == "ok" for r in rows)
    assert {r["pid"] for r in rows} - {killed[0]}, "every run came from the killed worker"


def test_a_run_recorded_twice_is_one_record(tmp_path):
    out = str(tmp_path)
    row = sweeps.run_one(sweeps.expand_grid(TINY)[0])
    threads = [threading.Thread(target=sweeps.record, args=(out, dict(row, seconds=k))) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert os.listdir(os.path.join(out, "done")) == [f"{row['run_id']}.json"]
    assert list(sweeps.finished(out)) == [row["run_id"]]
    # a torn or foreign file in done/ counts as missing, not as a crash or a second record
    (tmp_path / "done" / "deadbeef0000.json").write_text('{"run_id": "deadb')
    (tmp_path / "done" / f".{row['run_id']}.json.123.tmp").write_text("{}")
    assert list(sweeps.finished(out)) == [row["run_id"]]


def test_saved_trajectories_are_written_atomically(tmp_path):
    cfg = dict(TINY, grid=dict(eta_lambda0=[0.5]))
    rows = sweeps.run_sweep(cfg, str(tmp_path), workers=1, save_trajectories=True, progress=False)
    assert os.listdir(tmp_path / "runs") == [f"{rows[0]['run_id']}.npz"]
    tr = linnet.load_trajectory(tmp_path / "runs" / f"{rows[0]['run_id']}.npz")
    assert tr.steps == 5 and "X" in tr.extras


def test_load_trajectory_says_what_is_wrong_with_the_file(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a trajectory\n")
    npy = tmp_path / "a.npy"
    np.save(npy, np.arange(3))
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    for path in (text, npy, empty, str(text)):
        with pytest.raises(ValueError, match=r"is not a linnet trajectory \(not an \.npz archive\)") as ei:
            linnet.load_trajectory(path)
        assert str(path) in str(ei.value)
    missing = tmp_path / "nowhere.npz"
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        linnet.load_trajectory(missing)
    np.savez(tmp_path / "other.npz", x=np.arange(3))
    with pytest.raises(ValueError, match="lacks"):
        linnet.load_trajectory(tmp_path / "other.npz")
