"""train(jit=True), the compiled loop of linnet.jit, against its oracle: the NumPy path."""
import numpy as np
import pytest

import linnet
from linnet.families.linear2.jit import driver as compiled
from linnet.tolerances import tol

from small_problems import eos_problem, rel_err

pytest.importorskip("numba", reason="the compiled loop needs Numba (pip install 'linnet[jit]')")

CLOSE = ("loss", "a_norm2", "fd", "d_norm", "d_top", "f_top", "sharpness", "u1_overlap_init",
         "u1_v1_overlap", "d_u1")
CLOSE_SPECIFIC = ("lambda_tilde", "e_hat_norm", "W_final", "a_final")
EQUAL = ("step", "sharpness_step", "hessian_step", "ga_step", "eigvals_K", "y_top")
EQUAL_SPECIFIC = ("e_hat_step", "W0", "a0")
# what the two paths count or decide differently by construction
OWN_CONFIG = ("jit", "sharpness_products", "e_hat_products")


def assert_close(ref, got, rtol, horizon=None):
    """Fields equal or close to ``rtol`` up to step ``horizon`` (default: all): past the EoS GD
    amplifies roundoff, the NumPy path's own against the literal engine's too (1e-5 by step 300)."""
    assert got.stopped == ref.stopped
    for f in EQUAL:
        assert np.array_equal(getattr(ref, f), getattr(got, f)), f
    for f in EQUAL_SPECIFIC:
        assert np.array_equal(ref.specific[f], got.specific[f]), f
    h = ref.steps if horizon is None else horizon
    for f in CLOSE:
        x, y = getattr(ref, f), getattr(got, f)
        assert x.shape == y.shape, f
        steps = ref.sharpness_step if x.shape[0] == ref.sharpness_step.shape[0] else ref.step
        x, y = x[steps <= h], y[steps <= h]
        if x.size:
            assert rel_err(y, x) <= rtol, f"{f}: {rel_err(y, x):.2e}"
    for f, steps in (("lambda_tilde", ref.step), ("e_hat_norm", ref.specific["e_hat_step"])):
        x, y = ref.specific[f][steps <= h], got.specific[f][steps <= h]
        assert x.size == 0 or rel_err(y, x) <= rtol, f
    if horizon is None:
        for f in ("W_final", "a_final"):
            assert rel_err(got.specific[f], ref.specific[f]) <= rtol, f
    # both stop the eigensolver by the same rule: ρ ≤ tol·Λ
    assert np.all(got.sharpness_residual <= got.config["sharpness_tol"] * got.sharpness)
    assert {k: v for k, v in ref.config.items() if k not in OWN_CONFIG} == \
        {k: v for k, v in got.config.items() if k not in OWN_CONFIG}
    assert got.config["jit"] is True and ref.config["jit"] is False


@pytest.fixture(scope="module")
def eos():
    return eos_problem()


def test_equals_numpy_path_through_ps_into_eos(eos):
    X, Y, W, a, eta = eos
    kw = dict(eta=eta, steps=300, W0=W, a0=a, progress=False)
    ref = linnet.train(X, Y, **kw)
    got = linnet.train(X, Y, jit=True, **kw)
    above = np.flatnonzero(eta * ref.sharpness > 2)
    assert ref.sharpness.max() > 1.2 * ref.sharpness[0] and above.size  # PS into the EoS
    assert_close(ref, got, tol("cross-implementation-eos"), horizon=int(above[0]) + 10)


def test_every_k_and_e_hat_off(eos):
    X, Y, W, a, eta = eos
    kw = dict(eta=eta, steps=120, W0=W, a0=a, sharpness_every=7, e_hat_every=0, progress=False)
    ref, got = linnet.train(X, Y, **kw), linnet.train(X, Y, jit=True, **kw)
    assert got.sharpness_step.tolist() == list(range(0, 121, 7)) and got.e_hat_norm.size == 0
    assert_close(ref, got, tol("cross-implementation-eos"))


def test_sharpness_against_dense_eigvalsh(eos):
    X, Y, W, a, eta = eos
    got = linnet.train(X, Y, eta=eta, steps=200, W0=W, a0=a, jit=True, progress=False)
    dense = np.linalg.eigvalsh(linnet.gram(got.W_final, got.a_final, X))[-1]
    assert abs(got.sharpness[-1] - dense) <= tol("eigensolver") * dense


@pytest.mark.parametrize("how", ["update", "max_loss"])
def test_divergence_stops_where_and_as_the_numpy_path_does(eos, how):
    X, Y, W, a, eta = eos
    kw = dict(eta=8 * eta, steps=200, W0=W, a0=a, progress=False)
    if how == "max_loss":
        kw["max_loss"] = 10.0
    ref, got = linnet.train(X, Y, **kw), linnet.train(X, Y, jit=True, **kw)
    assert ref.stopped is not None and ref.stopped.startswith("diverged")
    assert got.stopped == ref.stopped and got.steps == ref.steps
    assert np.all(np.isfinite(got.loss)) and np.all(np.isfinite(got.sharpness))
    k = min(ref.steps, 20)  # the early rows, before the blow-up amplifies roundoff
    assert rel_err(got.loss[:k], ref.loss[:k]) <= tol("cross-implementation-eos")


def test_chunks_do_not_change_the_run(eos, monkeypatch):
    X, Y, W, a, eta = eos
    kw = dict(eta=eta, steps=90, W0=W, a0=a, progress=False)
    whole = linnet.train(X, Y, jit=True, **kw)
    monkeypatch.setattr(compiled, "CHUNK", 7)
    chunked = linnet.train(X, Y, jit=True, **kw)
    for f in CLOSE + ("sharpness_residual",):
        assert np.array_equal(getattr(whole, f), getattr(chunked, f)), f


def test_batch_members_equal_single_jit_runs_bitwise(eos):
    X, Y, W, a, eta = eos
    etas = [0.5 * eta, eta, 9 * eta, 1.2 * eta]  # the third diverges
    kw = dict(steps=150, m=40, init="symmetric", scale=0.5, progress=False, jit=True)
    batch = linnet.train_batch(X, Y, eta=etas, seed=[0, 1, 2, 3], threads=2, **kw)
    assert batch[2].stopped is not None and all(batch[i].stopped is None for i in (0, 1, 3))
    for i, (e, b) in enumerate(zip(etas, batch, strict=True)):
        single = linnet.train(X, Y, eta=e, seed=i, **kw)
        assert single.stopped == b.stopped
        for f in CLOSE + EQUAL + ("sharpness_residual",):
            assert np.array_equal(getattr(single, f), getattr(b, f)), f
        for f in CLOSE_SPECIFIC + EQUAL_SPECIFIC:
            assert np.array_equal(single.specific[f], b.specific[f]), f


@pytest.mark.parametrize("kw, names", [
    (dict(hessian_every=5), "hessian_every"),
    (dict(engine="literal"), "spectral engine"),
    (dict(dtype="float32"), "float64"),
    (dict(method="flow"), "method='gd'"),
    (dict(observers=[linnet.run.observers.BaseObserver()]), "observers"),
])
def test_refuses_what_it_cannot_run(eos, kw, names):
    X, Y, W, a, eta = eos
    with pytest.raises(ValueError, match="jit=True cannot run this") as err:
        linnet.train(X, Y, eta=eta, steps=3, W0=W, a0=a, jit=True, **kw)
    assert names in str(err.value)


def test_refuses_other_families(eos):
    X, Y, *_ = eos
    with pytest.raises(ValueError, match="linear net's spectral engine only"):
        linnet.train(X, Y, eta=0.1, steps=2, model=linnet.MLP((X.shape[0], 8, 1)), jit=True, ga_every=0)


def test_batch_refuses_the_hessian(eos):
    X, Y, W, a, eta = eos
    with pytest.raises(ValueError, match="hessian_every"):
        linnet.train_batch(X, Y, eta=[eta, eta], W0=[W, W], a0=[a, a], steps=2, hessian_every=1, jit=True)
    with pytest.raises(ValueError, match="threads"):
        linnet.train_batch(X, Y, eta=[eta, eta], W0=[W, W], a0=[a, a], steps=2, jit=True, threads=0)


def test_compile_time_is_reported():
    assert compiled.warm_up() >= 0 and compiled.compile_seconds() == compiled.warm_up()


def test_cached_reads_this_machines_numba_cache(tmp_path):
    """True once warm_up has compiled or loaded the loop (the cache is written where it compiles);
    False against an empty cache folder, without compiling (a fresh interpreter: seconds, not 40).
    ``python -m linnet.jit`` loads it and says so."""
    import os
    import subprocess
    import sys

    compiled.warm_up()
    assert compiled.cached() is True
    code = "from linnet import jit; print(jit.cached(), jit.compile_seconds())"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "None"]
    out = subprocess.run([sys.executable, "-m", "linnet.jit"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "cached: True" in out.stdout, out.stderr


def test_without_numba_the_error_names_the_fix(eos, monkeypatch):
    X, Y, W, a, eta = eos
    monkeypatch.setattr(compiled, "numba", None)
    with pytest.raises(ImportError, match=r"pip install 'linnet\[jit\]'"):
        linnet.train(X, Y, eta=eta, steps=3, W0=W, a0=a, jit=True)
    assert linnet.train(X, Y, eta=eta, steps=3, W0=W, a0=a).stopped is None  # the NumPy path is there


def test_sweep_with_jit_batched_and_alone_gives_the_numpy_sweeps_outcomes(tmp_path):
    from linnet import sweeps
    cfg = dict(fixed=dict(kind="cifar-like", n=16, d=24, init="symmetric", scale=0.5, steps=60),
               grid=dict(eta_lambda0=[0.5, 1.9, 40.0], m=[8], seed=[0, 1]))
    ref = sweeps.run_sweep(cfg, str(tmp_path / "np"), workers=1, batch_size=1, progress=False)
    for name, kw in (("alone", dict(batch_size=1)), ("batched", dict(batch_min_state=0))):
        got = sweeps.run_sweep(cfg, str(tmp_path / name), workers=2, jit=True, progress=False, **kw)
        assert [r["status"] for r in got] == ["ok"] * 6 and all(r["jit"] for r in got)
        for r, g in zip(ref, got, strict=True):
            same = ("outcome", "steps_run", "stopped")
            assert [g[k] for k in same] == [r[k] for k in same]
            assert g["final_loss"] == pytest.approx(r["final_loss"], rel=tol("cross-implementation-eos"),
                                                    abs=1e-300)
