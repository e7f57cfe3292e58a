"""linnet.pool.WorkerPool: eager start with preloaded modules, reuse, kill and reuse, and a
sweep run twice on one pool of one's own (its workers reused, the pool left running)."""
import os
import sys
import textwrap

import pytest

from linnet import sweeps
from linnet.pool import WorkerPool

TINY = dict(fixed=dict(kind="cifar-like", n=8, d=10, m=6, steps=5, init="symmetric"),
            grid=dict(eta_lambda0=[0.5, 1.0, 1.5, 1.9]))


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _modules(names):
    return {name: name in sys.modules for name in names}


def test_started_workers_have_their_preloads_before_any_task():
    with WorkerPool(2, preload=("json", "linnet.sweeps.runner")) as pool:
        pool.start()
        assert len(set(pool.pids)) == 2
        task = pool.submit(_modules, ["linnet.sweeps.runner", "linnet.families.torch.adapter"])
        [done] = list(pool.results())
        assert done.task == task and done.error is None
        assert done.result == {"linnet.sweeps.runner": True, "linnet.families.torch.adapter": False}


def test_a_killed_pool_drops_its_tasks_and_starts_new_workers():
    with WorkerPool(1) as pool:
        first = pool.submit(os.getpid)
        [done] = list(pool.results())
        pid = done.result
        pool.submit(os.getpid)  # queued, then dropped by kill
        pool.kill()
        again = pool.submit(os.getpid)
        [done] = list(pool.results())
        assert done.task == again != first and done.result != pid


@pytest.mark.parametrize("preload", ["json", ("json", ""), (1,)])
def test_preload_is_checked(preload):
    with pytest.raises(ValueError, match="preload must be a tuple of module names"):
        WorkerPool(1, preload=preload)


def test_sweeps_on_ones_own_pool_reuse_its_workers(tmp_path, monkeypatch):
    (tmp_path / "poolcheck.py").write_text(textwrap.dedent("""
        import os
        def pid(traj, X, Y):
            return {"pid": os.getpid()}
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    with WorkerPool(2) as pool:
        first = sweeps.run_sweep(TINY, str(tmp_path / "a"), pool=pool, checker="poolcheck:pid",
                                 progress=False)
        workers = set(pool.pids)
        assert len(workers) == 2 and all(_alive(p) for p in workers)
        second = sweeps.run_sweep({**TINY, "grid": dict(eta_lambda0=[0.7, 1.2])}, str(tmp_path / "b"),
                                  pool=pool, checker="poolcheck:pid", progress=False)
        assert set(pool.pids) == workers
    assert all(r["status"] == "ok" for r in first + second)
    assert {r["pid"] for r in first + second} <= workers
    with pytest.raises(ValueError, match="not both"):
        sweeps.run_sweep(TINY, str(tmp_path / "c"), pool=WorkerPool(1), workers=2)
    with pytest.raises(ValueError, match="WorkerPool"):
        sweeps.run_sweep(TINY, str(tmp_path / "c"), pool=2)


def test_the_cli_runs_several_configs_on_one_set_of_workers(tmp_path, monkeypatch, capsys):
    (tmp_path / "clipid.py").write_text("import os\ndef pid(traj, X, Y):\n    return {'pid': os.getpid()}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    paths = []
    for name, etas in (("a", "[0.5, 1.0, 1.5]"), ("b", "[0.7, 1.2]")):
        cfg = tmp_path / f"{name}.toml"
        cfg.write_text(f'[sweep]\nout = "{tmp_path / name}"\n[fixed]\nkind = "cifar-like"\nn = 8\nd = 10\n'
                       f'm = 6\nsteps = 5\n[grid]\neta_lambda0 = {etas}\n')
        paths.append(str(cfg))
    assert sweeps.main([*paths, "--workers", "2", "--checker", "clipid:pid"]) == 0
    assert capsys.readouterr().out.count(" runs in ") == 2
    rows = [r for name in "ab" for r in sweeps.finished(str(tmp_path / name)).values()]
    assert len(rows) == 5 and all(r["status"] == "ok" for r in rows)
    assert len({r["pid"] for r in rows}) <= 2  # a pool per config would have used up to 4 workers
    with pytest.raises(SystemExit):
        sweeps.main([*paths, "--out", str(tmp_path / "c")])
    assert sweeps.main([paths[0], paths[0]]) == 2
    assert "share an output folder" in capsys.readouterr().err
