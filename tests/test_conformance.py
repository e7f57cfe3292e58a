"""One conformance test for every registered model family (linnet.families.FAMILIES): what any
family's engine must satisfy, checked the same way for each. A new family registers itself and
adds a tiny example to EXAMPLES below (a test fails until it does).

* G = JJᵀ/n against the Jacobian: one GD step of size η changes F by −ηGD to first order
  (θ' = θ − ηJᵀD/n, so F' − F = −ηJJᵀD/n + O(η²)): checked with the engine's own step, so J is
  the family's true Jacobian, whatever its parameters;
* Λ against eigvalsh of G formed by the engine's products;
* the Hessian against finite differences of the loss: the curvature along the gradient,
  2(L(θ − ηg) − L + η‖g‖²)/(η²‖g‖²) with ‖g‖² = DᵀGD/n, lies below λ_max(∇²L);
* the save/load round trip, exact;
* the divergence stop (a typed stop, finite rows);
* float32 runs tracking float64.
"""

import numpy as np
import pytest

import linnet
from linnet._backend import to_numpy
from linnet.families import FAMILIES
from linnet.run.observers import BaseObserver
from linnet.tolerances import tol


def _torch_example(d):
    torch = pytest.importorskip("torch")
    from linnet.torch import TorchModel

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(d, 6, bias=False), torch.nn.Tanh(), torch.nn.Linear(6, 1, bias=False)
    ).double()  # float64 like the other families (a TorchModel runs in its module's dtype)
    return TorchModel(net)


D = 9  # features
EXAMPLES = {  # family name -> a tiny model on D features
    "linear2": lambda d: linnet.LinearNet(m=6, init="gaussian", scale=0.8, seed=1),
    "mlp": lambda d: linnet.MLP((d, 6, 5, 1), activation="tanh", seed=2),
    "torch": _torch_example,
}
SAMPLES_FIRST = {"torch"}  # families that take X as n×… (as the module does), not d×n
FAMILY_NAMES = sorted(FAMILIES)


def _data(family, n=12, d=D):
    X, Y = linnet.make_data("cifar-like", n=n, d=d, seed=0)
    return (np.ascontiguousarray(X.T) if family in SAMPLES_FIRST else X), Y


class _Grab(BaseObserver):
    def start(self, engine):
        self.engine = engine


def _engine(model, X, Y):
    """The family's engine at its start on (X, Y), as train builds it."""
    grab = _Grab()
    linnet.train(X, Y, eta=1e-3, steps=0, model=model, observers=[grab], progress=False)
    return grab.engine


def _np(v):
    return np.asarray(to_numpy(v), dtype=np.float64)


def _dense_gram(eng, obs):
    """G formed column by column from the engine's products, in its own coordinates (the samples,
    or K's eigenbasis for the linear net's spectral engine: G's range lies in span(Xᵀ))."""
    n = eng.dim
    mv = eng.gram_matvec(obs)
    cols = []
    for i in range(n):
        e = np.zeros(n)
        e[i] = 1.0
        cols.append(_np(mv(_like(eng, obs.D, e))))
    return np.array(cols).T


def _like(eng, ref, v):
    """v on the engine's arrays (NumPy, or the torch adapter's tensors) in ref's dtype."""
    if type(ref).__module__.split(".")[0] == "torch":
        import torch

        return torch.as_tensor(v, dtype=ref.dtype, device=ref.device)
    return eng.xp.asarray(v, dtype=ref.dtype)


def test_every_registered_family_has_an_example():
    assert set(EXAMPLES) == set(FAMILIES)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_gram_is_the_jacobians_and_lambda_its_top_eigenvalue(family):
    X, Y = _data(family)
    model = EXAMPLES[family](D)
    eng = _engine(model, X, Y)
    obs = eng.observe()
    G = _dense_gram(eng, obs)
    assert np.allclose(G, G.T, rtol=0, atol=tol("symmetry") * np.abs(G).max())
    lam = np.linalg.eigvalsh((G + G.T) / 2)
    tr = linnet.train(X, Y, eta=1e-3, steps=0, model=EXAMPLES[family](D), progress=False)
    assert abs(tr.sharpness[0] - lam[-1]) <= tol("eigensolver") * lam[-1]
    # F' − F = −ηGD + O(η²): the first-order error falls as η (halving η halves it)
    D_, F0 = _np(obs.D), _np(obs.F)
    errs = []
    for eta in (1e-4 / lam[-1], 0.5e-4 / lam[-1]):
        e = _engine(EXAMPLES[family](D), X, Y)
        o = e.observe()
        assert e.step(eta, o, [])
        dF = _np(e.observe().F) - F0
        errs.append(np.linalg.norm(dF + eta * G @ D_) / np.linalg.norm(eta * G @ D_))
    assert errs[0] < 1e-3 and errs[1] < 0.6 * errs[0], errs


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_hessian_curvature_along_the_gradient_is_below_its_top_eigenvalue(family):
    X, Y = _data(family)
    n = Y.shape[0]
    tr = linnet.train(X, Y, eta=1e-3, steps=0, model=EXAMPLES[family](D), hessian_every=1, progress=False)
    h_top = float(tr.hessian_sharpness[0])
    eng = _engine(EXAMPLES[family](D), X, Y)
    obs = eng.observe()
    D_ = _np(obs.D)
    g2 = float(D_ @ _dense_gram(eng, obs) @ D_) / n  # ‖∇L‖² = DᵀGD/n (∇L = JᵀD/n, G = JJᵀ/n)
    curv = []
    for eta in (1e-3, 0.5e-3):
        e = _engine(EXAMPLES[family](D), X, Y)
        o = e.observe()
        assert e.step(eta, o, [])
        dL = e.observe().loss - obs.loss
        curv.append(2 * (dL + eta * g2) / (eta**2 * g2))
    assert abs(curv[0] - curv[1]) <= 1e-2 * max(abs(curv[1]), 1e-12) + 1e-6  # converged in η
    assert curv[1] <= h_top * (1 + 1e-3) + 1e-9, (curv, h_top)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_save_load_round_trip_is_exact(family, tmp_path):
    X, Y = _data(family)
    tr = linnet.train(X, Y, eta_lambda0=1.0, steps=4, model=EXAMPLES[family](D), progress=False)
    tr.save(tmp_path / "t.npz")
    back = linnet.load_trajectory(tmp_path / "t.npz")
    assert back.family == tr.family == family and back.config == tr.config and back.stop == tr.stop
    for name in linnet.run.trajectory.COMMON + tuple(tr.specific):
        x, y = getattr(tr, name), getattr(back, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name
    assert len(back.initial_weights) == len(tr.initial_weights)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_divergence_stops_with_a_typed_stop_and_finite_rows(family):
    X, Y = _data(family)
    tr = linnet.train(X, Y, eta_lambda0=60.0, steps=300, model=EXAMPLES[family](D), progress=False)
    assert tr.stop is not None and tr.stop.diverged and tr.steps < 300, tr.stopped
    assert tr.stopped == tr.stop.message
    for name in ("loss", "a_norm2", "fd", "sharpness", "d_top"):
        assert np.all(np.isfinite(getattr(tr, name))), name


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_float32_tracks_float64(family):
    X, Y = _data(family)
    kw = dict(eta_lambda0=1.0, steps=10, progress=False)
    t64 = linnet.train(X, Y, model=EXAMPLES[family](D), **kw)
    t32 = linnet.train(
        X.astype(np.float32), Y.astype(np.float32), model=EXAMPLES[family](D), dtype="float32", **kw
    )
    assert t32.config["dtype"] == "float32"
    rel = np.max(np.abs(t32.loss - t64.loss)) / np.max(np.abs(t64.loss))
    assert rel < tol("cross-implementation", "float32")
