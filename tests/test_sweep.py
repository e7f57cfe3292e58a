"""linnet.sweep: grids, outcomes, resumability on a Dask LocalCluster, failures, CLI."""
import csv
import os

import pytest

import linnet
from linnet import jit as compiled_loop, sweeps as sweep

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
ONE_POINT = dict(fixed=dict(kind="gaussian", n=1, d=3, init="gaussian", steps=1500, seed=0, m=1024),
                 grid=dict(eta_lambda0=[1.5, 3.0, 5.0]))


def small_grid():
    return dict(fixed=dict(kind="cifar-like", n=16, d=24, init="symmetric", scale=0.5, steps=60),
                grid=dict(eta_lambda0=[0.5, 1.0, 1.5, 1.9], m=[8, 16], seed=[0]))


def test_expand_grid_and_ids():
    specs = sweep.expand_grid(small_grid())
    assert len(specs) == 8 and specs[0]["n"] == 16 and specs[0]["eta_lambda0"] == 0.5
    assert len({sweep.run_id(s) for s in specs}) == 8
    assert sweep.run_id(dict(specs[0])) == sweep.run_id(specs[0])
    with pytest.raises(ValueError, match="unknown sweep parameter 'lr'"):
        sweep.expand_grid(dict(grid=dict(lr=[1])))
    with pytest.raises(ValueError, match="needs eta or eta_lambda0"):
        sweep.expand_grid(dict(grid=dict(m=[4])))
    with pytest.raises(ValueError, match="not both"):
        sweep.expand_grid(dict(grid=dict(eta=[1.0], eta_lambda0=[1.0])))


def test_one_point_outcomes_follow_the_catapult_boundaries(tmp_path):
    rows = sweep.run_sweep(ONE_POINT, str(tmp_path), workers=1, progress=False)
    assert [r["outcome"] for r in rows] == ["monotone", "catapult", "diverged"]
    assert rows[1]["final_eta_lambda"] < 2 and rows[2]["stopped"].startswith("diverged")
    b = sweep.boundaries(rows)
    assert b[1024] == dict(catapult_from=3.0, diverges_from=5.0, converges_up_to=3.0)


def test_failing_run_is_recorded_not_fatal(tmp_path):
    cfg = dict(fixed=dict(kind="cifar-like", n=8, d=10, init="symmetric", steps=5),
               grid=dict(eta_lambda0=[1.0], m=[5, 6]))
    rows = sweep.run_sweep(cfg, str(tmp_path), workers=1, progress=False)
    bad = [r for r in rows if r["status"] == "error"]
    assert len(bad) == 1 and "m must be even" in bad[0]["error"] and bad[0]["m"] == 5
    assert [r for r in rows if r["status"] == "ok"][0]["m"] == 6
    with open(tmp_path / "summary.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 2


def test_interrupted_sweep_on_a_local_cluster_resumes_without_rerunning(tmp_path):
    distributed = pytest.importorskip("distributed", reason="Dask distributed is in the test extra")
    cfg = small_grid()
    out = str(tmp_path)
    first = []

    def stop_after_three(row):
        first.append(row["run_id"])
        if len(first) == 3:
            raise KeyboardInterrupt  # what Ctrl-C does to the driver mid-sweep

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        with pytest.raises(KeyboardInterrupt):
            sweep.run_sweep(cfg, out, client=client, on_result=stop_after_three, progress=False)
        # runs are recorded a batch at a time, the whole batch before the driver hears of any
        done_first = set(sweep.finished(out))
        assert set(first) <= done_first
        second = []
        rows = sweep.run_sweep(cfg, out, client=client, on_result=lambda r: second.append(r["run_id"]),
                               progress=False)
    all_ids = {sweep.run_id(s) for s in sweep.expand_grid(cfg)}
    assert not done_first & set(second), "a finished run was run again"
    assert done_first | set(second) == all_ids and len(second) == len(all_ids) - len(done_first)
    assert len(rows) == len(all_ids) and all(r["status"] == "ok" for r in rows)
    third = []
    sweep.run_sweep(cfg, out, workers=1, on_result=lambda r: third.append(r), progress=False)
    assert third == []


def test_cli_writes_summary_and_phase_diagram(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[fixed]\nkind = "cifar-like"\nn = 12\nd = 16\ninit = "symmetric"\nsteps = 40\n'
                   '[grid]\neta_lambda0 = [0.5, 1.9, 6.0]\nm = [8]\n[plot]\nboundaries = true\n')
    out = tmp_path / "o"
    assert sweep.main([str(cfg), "--out", str(out), "--workers", "1",
                       "--checker", "theory.checks:sweep_checker"]) == 0
    assert "3 runs" in capsys.readouterr().out
    for f in ("summary.csv", "phase_diagram.png", "constants.png", "config.json"):
        assert os.path.getsize(out / f) > 0
    with open(out / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["outcome"] for r in rows} <= set(sweep.OUTCOMES) and "rigorous_failures" in rows[0]
    assert all(r["rigorous_failures"] == "0" for r in rows if r["status"] == "ok")
    bad = tmp_path / "bad.toml"
    bad.write_text("[grid\n")
    assert sweep.main([str(bad)]) == 2


def test_sweep_function_shorthand(tmp_path):
    rows = linnet.sweep({"eta_lambda0": [1.0]}, fixed=dict(kind="cifar-like", n=8, d=10, m=6, steps=5),
                        out=str(tmp_path), workers=1, progress=False)
    assert len(rows) == 1 and rows[0]["status"] == "ok" and rows[0]["m"] == 6


def test_sweep_over_mlp_activation_and_depth(tmp_path):
    grid = {"activation": ["tanh", "relu"], "depth": [2, 3]}
    fixed = {"model": "mlp", "m": 8, "n": 16, "d": 12, "steps": 15, "eta_lambda0": 0.2}
    rows = linnet.sweep(grid, fixed=fixed, out=str(tmp_path), workers=1, progress=False)
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows), rows
    assert {(r["activation"], r["depth"]) for r in rows} == {(a, k) for a in ("tanh", "relu") for k in (2, 3)}
    assert all(r["init"] == "torch" and r["steps_run"] == 15 for r in rows)
    with pytest.raises(ValueError, match="'activation' is a key of model = 'mlp' or 'paper_cnn' runs"):
        linnet.sweep({"activation": ["tanh"]}, fixed={"eta": 0.1}, out=str(tmp_path / "x"))


def test_sweep_over_the_paper_cnn_by_builder_name(tmp_path):
    pytest.importorskip("torch")
    fixed = {"model": "paper_cnn", "n": 8, "d": 48, "steps": 3, "eta_lambda0": 0.5}
    rows = linnet.sweep({"activation": ["tanh", "relu"]}, fixed=fixed, out=str(tmp_path), workers=1,
                        progress=False)
    assert [r["status"] for r in rows] == ["ok", "ok"], rows
    assert all(r["steps_run"] == 3 and r["model"] == "paper_cnn" for r in rows)
    bad = linnet.sweep({"seed": [0]}, fixed={**fixed, "d": 50}, out=str(tmp_path / "b"), workers=1,
                       progress=False)
    assert bad[0]["status"] == "error" and "is not 3·s²" in bad[0]["error"]
    with pytest.raises(ValueError, match="'depth' is a key of model = 'mlp' runs"):
        linnet.sweep({"depth": [2]}, fixed=fixed, out=str(tmp_path / "c"))


def test_the_sweep_compiles_only_runs_long_enough_to_pay_for_compiling(monkeypatch):
    """jit left out: the compiled loop where Numba is installed and the linear-net runs would take
    the NumPy loop ≥ AUTO_JIT_MIN_SECONDS, or ≥ AUTO_JIT_CACHED_MIN_SECONDS where the compiled loop
    is already in this machine's cache."""
    from linnet import jit as compiled
    from linnet.sweeps.workers import AUTO_JIT_CACHED_MIN_SECONDS, AUTO_JIT_MIN_SECONDS

    tiny = sweep.expand_grid(
        dict(fixed=dict(n=1, d=3, steps=1500), grid=dict(eta_lambda0=[1.0, 2.0], m=[256, 4096]))
    )
    catapult = sweep.expand_grid(sweep.load_config(os.path.join(EXAMPLES, "catapult.toml")))
    paper = sweep.expand_grid(
        dict(fixed=dict(kind="cifar-like", n=1000, d=3072, m=200, steps=5000), grid=dict(eta=[1.0] * 32))
    )
    assert sweep.numpy_seconds(tiny) < AUTO_JIT_CACHED_MIN_SECONDS
    assert AUTO_JIT_CACHED_MIN_SECONDS <= sweep.numpy_seconds(catapult) < AUTO_JIT_MIN_SECONDS
    assert AUTO_JIT_MIN_SECONDS <= sweep.numpy_seconds(paper)
    for cached in (False, True):
        monkeypatch.setattr(compiled, "cached", lambda cached=cached: cached)
        assert sweep.auto_jit(tiny) is False
        assert sweep.auto_jit(catapult) is (cached and compiled.available())
        assert sweep.auto_jit(paper) is compiled.available()
    mlp = sweep.expand_grid(
        dict(fixed=dict(model="mlp", n=1000, d=3072, m=200, steps=100000), grid=dict(eta=[1.0]))
    )
    assert sweep.numpy_seconds(mlp) == 0  # other families ignore jit


@pytest.mark.skipif(not compiled_loop.available(), reason="needs Numba")
@pytest.mark.parametrize("cached", [False, True])
def test_a_sweep_on_the_numpy_loop_says_how_to_cache_the_compiled_one(tmp_path, monkeypatch, capsys, cached):
    """Where only the cache keeps auto_jit from the compiled loop, the console says how to fill it."""
    from linnet.sweeps import workers

    monkeypatch.setattr(workers, "numpy_seconds", lambda specs: 5.0)  # long enough once cached
    monkeypatch.setattr(compiled_loop, "cached", lambda: cached)
    small = dict(fixed={**ONE_POINT["fixed"], "steps": 5}, grid=dict(eta_lambda0=[1.5]))
    rows = sweep.run_sweep(small, str(tmp_path), workers=1)
    assert rows[0]["jit"] is cached
    assert ("python -m linnet.jit" in capsys.readouterr().err) is not cached


@pytest.mark.skipif(not compiled_loop.available(), reason="needs Numba")
def test_a_resumed_sweep_keeps_the_loop_of_its_finished_runs(tmp_path):
    """jit left out: the loop recorded in the finished runs' rows, not auto_jit's choice (NumPy for
    these tiny runs), so that a sweep's rows come from one loop whatever the cache held meanwhile."""
    specs = sweep.expand_grid(ONE_POINT)
    assert sweep.auto_jit(specs) is False
    out = str(tmp_path)
    first = sweep.run_sweep(ONE_POINT, out, workers=1, progress=False, jit=True)
    assert [r["jit"] for r in first] == [True] * 3
    os.remove(os.path.join(out, "done", first[1]["run_id"] + ".json"))
    again = sweep.run_sweep(ONE_POINT, out, workers=1, progress=False)
    assert [r["jit"] for r in again] == [True] * 3
    assert again[1]["final_loss"] == first[1]["final_loss"]  # the same loop ran it again
