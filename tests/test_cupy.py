"""The same engine on a GPU through CuPy. Skipped (with the reason shown) where CuPy or a GPU is absent."""
import numpy as np
import pytest

import linnet
from linnet.tolerances import tol

from small_problems import eos_problem, rel_err

cupy = pytest.importorskip("cupy", reason="CuPy tests need CuPy and an NVIDIA GPU")


def _has_gpu():
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not _has_gpu(), reason="no CUDA GPU visible")]


def test_pure_functions_on_cupy_match_numpy():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((7, 5)), rng.standard_normal(5)
    W, a = rng.standard_normal((6, 7)), rng.standard_normal(6)
    g = [cupy.asarray(v) for v in (W, a, X, Y)]
    assert rel_err(linnet.gram(*g[:3]).get(), linnet.gram(W, a, X)) < tol("identity")
    W1, a1 = linnet.gd_step(*g, 0.1)
    W1n, a1n = linnet.gd_step(W, a, X, Y, 0.1)
    assert rel_err(W1.get(), W1n) < tol("identity") and rel_err(a1.get(), a1n) < tol("identity")
    dG = linnet.gram_update(W, a, X, Y, 0.1)
    assert rel_err(linnet.gram_update(*g, 0.1).get(), dG) < tol("identity-gpu")
    lam = linnet.sharpness(W, a, X)
    assert abs(linnet.sharpness(*g[:3], method="lanczos") - lam) < tol("eigensolver") * lam
    h = linnet.hessian_sharpness(W, a, X, Y)
    assert abs(linnet.hessian_sharpness(*g) - h) < tol("eigensolver-hessian") * abs(h)


@pytest.mark.parametrize("engine", ["spectral", "literal"])
def test_train_on_gpu_matches_cpu_until_after_eos(engine):
    X, Y, W, a, eta = eos_problem()
    kw = dict(eta=eta, steps=300, engine=engine, hessian_every=100)
    cpu = linnet.train(X, Y, W0=W, a0=a, **kw)
    gpu = linnet.train(cupy.asarray(X), cupy.asarray(Y), W0=cupy.asarray(W), a0=cupy.asarray(a), **kw)
    assert gpu.config["backend"] == "cupy" and isinstance(gpu.W_final, np.ndarray)
    above = np.flatnonzero(eta * cpu.sharpness > 2)
    h = int(above[0]) + 10 if above.size else 300
    for name in ("loss", "sharpness", "a_norm2", "e_hat_norm"):
        assert rel_err(getattr(gpu, name)[:h], getattr(cpu, name)[:h]) < tol("cross-implementation-eos"), name
    assert rel_err(gpu.hessian_sharpness[:1], cpu.hessian_sharpness[:1]) < tol("cross-implementation-hessian")


def test_backend_argument_and_float32_on_gpu():
    X, Y, W, a, eta = eos_problem()
    t = linnet.train(X, Y, eta=eta, steps=50, m=40, init="symmetric", scale=0.5, seed=0,
                     backend="cupy", dtype="float32", sharpness_tol=1e-4)
    ref = linnet.train(X, Y, eta=eta, steps=50, W0=W, a0=a)
    assert t.config["backend"] == "cupy" and t.W_final.dtype == np.float32
    assert rel_err(t.loss, ref.loss) < tol("cross-implementation", "float32")
    assert rel_err(t.sharpness, ref.sharpness) < tol("cross-implementation", "float32")
