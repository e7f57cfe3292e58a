"""linnet.train_batch: B runs in lockstep equal B single train runs, bitwise, on NumPy."""
import os

import numpy as np
import pytest

import linnet
from linnet.families.linear2.batch import train_batch

from small_problems import cupy_with_gpu, eos_problem

FIELDS = ("step", "loss", "a_norm2", "fd", "d_norm", "d_top", "f_top", "sharpness_step", "sharpness",
          "sharpness_residual", "u1_overlap_init", "u1_v1_overlap", "d_u1", "hessian_step",
          "hessian_sharpness", "ga_step", "ga_norm", "eigvals_K", "y_top")
SPECIFIC = ("lambda_tilde", "e_hat_step", "e_hat_norm", "W0", "a0", "W_final", "a_final")


def assert_same(single, batched):
    assert batched.stopped == single.stopped
    assert batched.family == single.family
    for f in FIELDS:
        x, y = getattr(single, f), getattr(batched, f)
        assert x.shape == y.shape and x.dtype == y.dtype, f
        assert np.array_equal(x, y), f"{f}: max diff {np.max(np.abs(x - y))}"
    assert set(single.specific) == set(batched.specific)
    for f in SPECIFIC:
        assert np.array_equal(single.specific[f], batched.specific[f]), f
    assert batched.config == single.config


@pytest.fixture(scope="module")
def eos():
    return eos_problem()


def test_mixed_eta_and_seeds_equal_single_runs_through_ps_into_eos(eos):
    X, Y, W, a, eta = eos
    etas = [0.5 * eta, eta, 1.3 * eta, 0.9 * eta]
    seeds = [0, 1, 2, 3]
    kw = dict(steps=250, m=40, init="symmetric", scale=0.5, hessian_every=7, progress=False)
    batch = train_batch(X, Y, eta=etas, seed=seeds, **kw)
    crossed = 0
    for e, s, b in zip(etas, seeds, batch, strict=True):
        single = linnet.train(X, Y, eta=e, seed=s, **kw)
        assert_same(single, b)
        crossed += bool(np.any(e * single.sharpness > 2))
    assert crossed >= 2  # the runs go through PS into the EoS


def test_explicit_starts_alphas_and_scales(eos):
    X, Y, W, a, eta = eos
    rng = np.random.default_rng(5)
    W0 = [W, W + 0.01 * rng.standard_normal(W.shape), 0.8 * W]
    a0 = [a, a, 1.1 * a]
    alphas = [None, 0.5, 0.2]
    batch = train_batch(X, Y, eta=eta, W0=W0, a0=a0, alpha=alphas, steps=80, progress=False)
    for w, av, al, b in zip(W0, a0, alphas, batch, strict=True):
        assert_same(linnet.train(X, Y, eta=eta, W0=w, a0=av, alpha=al, steps=80, progress=False), b)
    batch = train_batch(X, Y, eta=eta, m=40, scale=[0.3, 0.5], init=["symmetric", "gaussian"],
                        steps=40, progress=False)
    for sc, ini, b in zip([0.3, 0.5], ["symmetric", "gaussian"], batch, strict=True):
        assert_same(linnet.train(X, Y, eta=eta, m=40, scale=sc, init=ini, steps=40, progress=False), b)


@pytest.mark.parametrize("readback_every", [1, 5])
@pytest.mark.parametrize("dtype,max_loss", [("float64", None), ("float64", float("inf")),
                                            ("float32", float("inf"))])
def test_diverging_members_stop_alone(eos, dtype, max_loss, readback_every):
    """Members stopped by max_loss, by an overflowing loss and (float32) by an overflowing update
    end where their single runs end, with the same message; the others go on, unchanged."""
    X, Y, W, a, eta = eos
    etas = [eta, 3 * eta, 0.7 * eta, 1e4 * eta, 1.2 * eta]
    kw = dict(steps=120, m=40, scale=0.5, dtype=dtype, max_loss=max_loss, progress=False,
              sharpness_every=readback_every, e_hat_every=2 * readback_every)
    batch = train_batch(X, Y, eta=etas, readback_every=readback_every, **kw)
    for e, b in zip(etas, batch, strict=True):
        assert_same(linnet.train(X, Y, eta=e, **kw), b)
    assert batch[0].stopped is None and batch[2].stopped is None
    assert batch[1].stopped and batch[3].stopped
    if max_loss is not None and dtype == "float32":
        assert any("update overflowed" in (b.stopped or "") for b in batch)
    if max_loss is not None and dtype == "float64":
        assert any("loss overflowed" in (b.stopped or "") for b in batch)


def test_readback_every_does_not_change_the_runs(eos):
    X, Y, W, a, eta = eos
    kw = dict(eta=[eta, 2 * eta, 50 * eta], steps=60, m=40, scale=0.5, sharpness_every=6,
              e_hat_every=0, hessian_every=4, progress=False)
    ref = train_batch(X, Y, readback_every=1, **kw)
    for k in (3, 7, 100):
        for r, b in zip(ref, train_batch(X, Y, readback_every=k, **kw), strict=True):
            assert_same(r, b)


@pytest.mark.parametrize("jit", [False, True])
def test_without_final_weights_only_w_final_is_left_out(eos, jit):
    if jit:
        pytest.importorskip("numba")
    X, Y, W, a, eta = eos
    kw = dict(eta=[eta, 1.5 * eta], seed=[0, 1], steps=40, m=40, scale=0.5, jit=jit, progress=False)
    full = train_batch(X, Y, **kw)
    lean = train_batch(X, Y, final_weights=False, **kw)
    for f, b in zip(full, lean, strict=True):
        assert set(f.specific) - set(b.specific) == {"W_final"}
        for name, v in b.specific.items():
            assert np.array_equal(v, f.specific[name]), name
        for name in FIELDS:
            assert np.array_equal(getattr(b, name), getattr(f, name)), name
        assert np.array_equal(b.a_final, f.a_final) and not np.array_equal(b.a_final, b.a0)
        with pytest.raises(ValueError, match="without W_final.*final_weights=False"):
            _ = b.final_weights
    with pytest.raises(ValueError, match="final_weights"):
        train_batch(X, Y, eta=eta, m=40, steps=1, final_weights="no")


def test_arguments_are_checked(eos):
    X, Y, W, a, eta = eos
    with pytest.raises(ValueError, match="disagree on the batch size"):
        train_batch(X, Y, eta=[eta, eta], seed=[0, 1, 2], m=40, steps=1)
    with pytest.raises(ValueError, match="one width"):
        train_batch(X, Y, eta=eta, W0=[W, W[:20]], a0=[a, a[:20]], steps=1)
    with pytest.raises(ValueError, match="readback_every"):
        train_batch(X, Y, eta=eta, m=40, steps=1, readback_every=0)
    with pytest.raises(ValueError, match="both W0 and a0"):
        train_batch(X, Y, eta=eta, W0=[W], steps=1)
    one = train_batch(X, Y, eta=eta, m=40, steps=3, progress=False)
    assert len(one) == 1 and one[0].steps == 3
    assert linnet.train_batch is train_batch


def test_cupy_batch_matches_numpy(eos):
    cupy = cupy_with_gpu()
    X, Y, W, a, eta = eos
    kw = dict(eta=[eta, 1.3 * eta, 1e4 * eta], steps=100, m=40, scale=0.5, progress=False)
    ref = train_batch(X, Y, **kw)
    for k in (1, 16):
        got = train_batch(cupy.asarray(X), cupy.asarray(Y), readback_every=k, **kw)
        for r, g in zip(ref, got, strict=True):
            assert g.stopped == r.stopped and g.steps == r.steps
            np.testing.assert_allclose(g.loss, r.loss, rtol=1e-9)
            np.testing.assert_allclose(g.sharpness, r.sharpness, rtol=1e-8)


# ---- sweeps in batches --------------------------------------------------------------------------

from linnet import sweeps  # noqa: E402


def sweep_grid():
    return dict(fixed=dict(kind="cifar-like", n=16, d=24, init="symmetric", scale=0.5, steps=60),
                grid=dict(eta_lambda0=[0.5, 1.5, 1.9, 2.5, 40.0], m=[8, 16], seed=[0, 1]))


def test_group_specs_by_data_width_and_steps():
    specs = sweeps.expand_grid(sweep_grid())
    groups = sweeps.group_specs(specs, batch_size=32, min_state=0)
    assert len(groups) == 4 and sorted(len(g) for g in groups) == [5] * 4
    for g in groups:
        assert len({sweeps.batch_key(s, 0) for s in g}) == 1
    assert sorted(sweeps.run_id(s) for g in groups for s in g) == sorted(sweeps.run_id(s) for s in specs)
    assert max(len(g) for g in sweeps.group_specs(specs, batch_size=2, min_state=0)) == 2
    same = [s for s in specs if s["m"] == 8 and s["seed"] == 0]
    # a batch each
    assert [len(g) for g in sweeps.group_specs(same, batch_size=32, workers=2, min_state=0)] == [3, 2]
    mlp = {**specs[0], "model": "mlp", "activation": "tanh", "depth": 2, "init": "torch"}
    assert sweeps.batch_key(mlp) is None and [mlp] in sweeps.group_specs([mlp, mlp])
    with pytest.raises(ValueError, match="batch_size"):
        sweeps.group_specs(specs, batch_size=0)


def _strip(rows):
    return [{k: v for k, v in r.items() if k not in ("seconds", "batch_size", "traceback")} for r in rows]


def test_batched_sweep_rows_equal_one_run_per_task(tmp_path):
    one = sweeps.run_sweep(sweep_grid(), str(tmp_path / "one"), workers=1, batch_size=1, progress=False)
    batched = sweeps.run_sweep(sweep_grid(), str(tmp_path / "b"), workers=2, batch_min_state=0,
                               progress=False)
    assert _strip(one) == _strip(batched)
    assert {r["outcome"] for r in batched} >= {"diverged", "monotone"}
    assert all(r.get("batch_size") == 5 for r in batched)


def test_batched_sweep_isolates_a_failing_start(tmp_path):
    cfg = dict(fixed=dict(kind="cifar-like", n=8, d=10, init="symmetric", steps=5, m=5),
               grid=dict(eta_lambda0=[1.0, 1.5]))
    rows = sweeps.run_sweep(cfg, str(tmp_path), workers=1, batch_min_state=0, progress=False)
    assert [r["status"] for r in rows] == ["error", "error"] and "m must be even" in rows[0]["error"]


def test_interrupted_batched_sweep_resumes_without_rerunning(tmp_path):
    out = str(tmp_path)
    seen = []

    def stop(row):
        seen.append(row["run_id"])
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweeps.run_sweep(sweep_grid(), out, workers=1, batch_size=5, batch_min_state=0, on_result=stop,
                         progress=False)
    done = sweeps.finished(out)
    assert len(done) >= 5  # the whole first batch was on disk before the driver stopped
    again = []
    rows = sweeps.run_sweep(sweep_grid(), out, workers=1, batch_size=5, batch_min_state=0, progress=False,
                            on_result=lambda r: again.append(r["run_id"]))
    assert len(rows) == 20 and not set(again) & set(done)
    ref = sweeps.run_sweep(sweep_grid(), str(tmp_path / "ref"), workers=1, batch_size=1, progress=False)
    assert _strip(rows) == _strip(ref)


def test_small_states_go_one_run_per_task():
    """Below BATCH_MIN_STATE (m·min(n, d)) a run is not batched: the catapult example's runs."""
    path = os.path.join(os.path.dirname(__file__), "..", "examples", "catapult.toml")
    specs = sweeps.expand_grid(sweeps.load_config(path))
    assert all(sweeps.batch_key(s) is None for s in specs)
    assert all(len(g) == 1 for g in sweeps.group_specs(specs))
    big = {**specs[0], "kind": "cifar-like", "n": 1000, "d": 3072, "m": 200}
    assert sweeps.batch_key(big) is not None
