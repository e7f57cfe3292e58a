"""linnet.torch: a PyTorch nn.Module in linnet's GD loop, against linnet's own exact engines
(tanh MLP, two-layer linear net) through PS into the EoS, and against dense torch.func references
(CNN, BatchNorm); random layers refused; float64 end to end where the module is float64, and a
float32 module's run in float32 against float64."""
import dataclasses
import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.func import functional_call, hessian, jacrev  # noqa: E402

import linnet  # noqa: E402
import linnet.run.observers  # noqa: E402
import linnet.torch as lt  # noqa: E402
from linnet.linalg.lanczos import lanczos  # noqa: E402
from linnet.linalg.tracking import EigTracker  # noqa: E402
from linnet.tolerances import tol  # noqa: E402
from linnet.torch import TorchEngine, TorchModel, load_final, paper_cnn, resnet18  # noqa: E402

from small_problems import eos_problem  # noqa: E402

# Same trajectory by two float orderings, up to 20 steps past ηΛ's first crossing of 2.
CROSS_IMPL = 1e-10
# Λ at residual ρ ≤ 1e-6·Λ: |Λ − λ_max| ≤ ρ²/gap; Hessian Lanczos at 1e-8·|λ|.
EIG_VS_DENSE = 1e-10
HESSIAN_VS_DENSE = 1e-9


def rel(x, y):
    return float(np.max(np.abs(np.asarray(x) - np.asarray(y))) / np.max(np.abs(y)))


def sequential(weights, act=nn.Tanh):
    layers = []
    for i, W in enumerate(weights):
        lin = nn.Linear(W.shape[1], W.shape[0], bias=False).double()
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(W))
        layers.append(lin)
        if i < len(weights) - 1 and act is not None:
            layers.append(act())
    return nn.Sequential(*layers)


def test_tanh_mlp_matches_linnet_mlp_through_ps_into_eos():
    X, Y = linnet.make_data("cifar-like", n=30, d=40, seed=0)
    model = linnet.MLP((40, 12, 12, 1), activation="tanh", seed=0)
    h0 = linnet.train(X, Y, eta=1.0, steps=0, model=model, hessian_every=1).hessian_sharpness[0]
    eta = 0.8 / h0
    kw = dict(eta=eta, steps=60, hessian_every=6, progress=False)
    ref = linnet.train(X, Y, model=model, **kw)
    W = [ref.specific[f"W0_{i}"] for i in (1, 2, 3)]
    net = sequential(W)
    tr = linnet.train(X.T, Y, model=TorchModel(net), **kw)
    cross = int(np.flatnonzero(eta * ref.sharpness > 2)[0])
    assert 2 < cross < 40, cross
    upto = cross + 20
    for name in ("loss", "sharpness", "a_norm2", "fd", "ga_norm"):
        assert rel(getattr(tr, name)[:upto], getattr(ref, name)[:upto]) < CROSS_IMPL, name
    h = ref.hessian_step < upto
    assert rel(tr.hessian_sharpness[h], ref.hessian_sharpness[h]) < HESSIAN_VS_DENSE
    assert tr.family == "torch" and tr.config["output_layer"] == "4"
    # float64 end to end: the module, every recorded parameter
    assert all(p.dtype == torch.float64 for p in net.parameters())
    for k, v in tr.specific.items():
        if k.startswith(("W_final_", "theta")):
            assert v.dtype == np.float64, k
    # the module keeps its start; load_final loads the trained weights
    assert np.array_equal(net[0].weight.detach().numpy(), W[0])
    load_final(net, tr)
    np.testing.assert_allclose(net[4].weight.detach().numpy(), ref.specific["W_final_3"], rtol=0, atol=1e-8)


@pytest.mark.parametrize("gram", ["dense", "jacobian", "matrix-free"])
def test_linear_net_matches_two_layer_engine(gram):
    X, Y, W, a, eta = eos_problem(n=30, d=40, m=20)
    kw = dict(eta=eta, steps=40, hessian_every=8, progress=False)
    lin = linnet.train(X, Y, W0=W, a0=a, alpha=1.0, **kw)
    net = nn.Sequential(nn.Linear(40, 20, bias=False), nn.Linear(20, 1, bias=False)).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.as_tensor(W))
        net[1].weight.copy_(torch.as_tensor(a[None, :]))
    tr = linnet.train(X.T, Y, model=TorchModel(net, gram=gram), **kw)
    assert tr.config["gram"] == gram
    cross = int(np.flatnonzero(eta * lin.sharpness > 2)[0])
    upto = min(cross + 20, 41)
    assert np.max(eta * lin.sharpness[:upto]) > 2
    for name in ("loss", "sharpness", "a_norm2", "fd"):
        assert rel(getattr(tr, name)[:upto], getattr(lin, name)[:upto]) < CROSS_IMPL, name
    h = lin.hessian_step < upto
    assert rel(tr.hessian_sharpness[h], lin.hessian_sharpness[h]) < HESSIAN_VS_DENSE
    np.testing.assert_allclose(tr.specific["W_final_0.weight"], lin.specific["W_final"], rtol=0, atol=1e-8)


def small_cnn(bias_out=True, bn=False):
    torch.manual_seed(0)
    layers = [nn.Conv2d(1, 3, 3, padding=1)]
    if bn:
        layers.append(nn.BatchNorm2d(3))
    layers += [nn.Tanh(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(27, 4), nn.ELU(),
               nn.Linear(4, 1, bias=bias_out)]
    return nn.Sequential(*layers).double()


def dense_refs(net, X, Y, theta, *, plain_autograd=False):
    """Dense JJᵀ/n and ∇²L from torch.func at the flat parameters ``theta`` (train mode).
    ``plain_autograd``: the Hessian by torch.autograd.functional.hessian (double backward, no vmap)
    instead — with BatchNorm, torch.func.hessian (and jacrev of jacrev) returns a non-symmetric
    matrix in torch 2.13 (off by 0.27 here), while double backward and this engine's
    forward-over-reverse products agree to 1e-16."""
    names = [k for k, _ in net.named_parameters()]
    shapes = [p.shape for _, p in net.named_parameters()]
    sizes = [p.numel() for _, p in net.named_parameters()]
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.track_running_stats = False
    bufs = {k: b.clone() for k, b in net.named_buffers()}

    def f(th):
        ps = {k: t.view(s) for k, t, s in zip(names, torch.split(th, sizes), shapes, strict=True)}
        return functional_call(net, {**ps, **bufs}, (X,)).reshape(-1)

    def L(th):
        D = f(th) - Y
        return D @ D / (2 * len(Y))
    th = torch.as_tensor(theta)
    J = jacrev(f)(th)
    Hs = torch.autograd.functional.hessian(L, th) if plain_autograd else hessian(L)(th)
    for m in bns:
        m.track_running_stats = True
    return (J @ J.T / len(Y)).numpy(), Hs.numpy()


@pytest.mark.parametrize("gram", ["dense", "jacobian", "matrix-free"])
def test_cnn_sharpness_and_hessian_equal_dense_references(gram):
    net = small_cnn()
    rng = np.random.default_rng(0)
    X = torch.as_tensor(rng.standard_normal((8, 1, 6, 6)))
    Y = rng.standard_normal(8)
    tr = linnet.train(X, Y, eta=0.05, steps=3, model=TorchModel(net, gram=gram), hessian_every=3,
                      progress=False)
    assert tr.config["gram"] == gram and tr.config["output_bias"]
    G, Hs = dense_refs(net, X, torch.as_tensor(Y), tr.specific["theta0"])
    assert abs(tr.sharpness[0] - np.linalg.eigvalsh(G)[-1]) <= EIG_VS_DENSE * tr.sharpness[0]
    h = tr.hessian_sharpness[0]
    assert abs(h - np.linalg.eigvalsh(Hs)[-1]) <= HESSIAN_VS_DENSE * abs(h)
    # ‖G_A‖ with the output bias: λ_max((HᵀH + 11ᵀ)/n), H the 4 penultimate features
    with torch.no_grad():
        H = net[:-1](X)
    H1 = torch.cat([H, torch.ones(8, 1, dtype=H.dtype)], 1).numpy()
    assert abs(tr.ga_norm[0] - np.linalg.eigvalsh(H1 @ H1.T / 8)[-1]) <= 1e-12 * tr.ga_norm[0]
    assert tr.a_norm2[0] == pytest.approx(float((net[-1].weight.detach() ** 2).sum()), rel=1e-14)


def test_batchnorm_train_mode_gram_and_running_stats():
    net = small_cnn(bn=True)
    rng = np.random.default_rng(1)
    X = torch.as_tensor(rng.standard_normal((8, 1, 6, 6)))
    Y = rng.standard_normal(8)
    steps = 4
    tr = linnet.train(X, Y, eta=0.05, steps=steps, model=TorchModel(net), hessian_every=steps,
                      progress=False)
    assert tr.config["batchnorm_tracked"] == ["1"]
    G, Hs = dense_refs(net, X, torch.as_tensor(Y), tr.specific["theta_final"], plain_autograd=True)
    assert np.abs(Hs - Hs.T).max() < 1e-12
    assert abs(tr.sharpness[-1] - np.linalg.eigvalsh(G)[-1]) <= EIG_VS_DENSE * tr.sharpness[-1]
    h = tr.hessian_sharpness[-1]
    assert abs(h - np.linalg.eigvalsh(Hs)[-1]) <= HESSIAN_VS_DENSE * abs(h)
    # running statistics: one update per GD step, as a PyTorch training loop; the module's own untouched
    assert int(tr.specific["buffer_final_1.num_batches_tracked"]) == steps
    assert not np.allclose(tr.specific["buffer_final_1.running_mean"], 0)
    assert int(net[1].num_batches_tracked) == 0
    # reference: the same steps with plain autograd in train mode
    ref = small_cnn(bn=True)
    opt = torch.optim.SGD(ref.parameters(), lr=0.05)
    Yt = torch.as_tensor(Y)
    for _ in range(steps):
        opt.zero_grad()
        D = ref(X).reshape(-1) - Yt
        (D @ D / 16).backward()
        opt.step()
    np.testing.assert_allclose(tr.specific["buffer_final_1.running_mean"], ref[1].running_mean.numpy(),
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(tr.specific["W_final_0.weight"], ref[0].weight.detach().numpy(),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("layer", [nn.Dropout(0.1), nn.Dropout2d(), nn.AlphaDropout(0.2),
                                   nn.FeatureAlphaDropout()])
def test_random_layers_are_refused(layer):
    net = nn.Sequential(nn.Linear(4, 3), layer, nn.Linear(3, 1))
    with pytest.raises(ValueError, match=r"'1' is .*Dropout"):
        TorchModel(net)


def test_bad_output_layers():
    with pytest.raises(ValueError, match="out_features=2"):
        TorchModel(nn.Sequential(nn.Linear(4, 2)))
    with pytest.raises(ValueError, match="no nn.Linear"):
        TorchModel(nn.Sequential(nn.Conv2d(1, 1, 3)))
    with pytest.raises(ValueError, match="not a submodule name"):
        TorchModel(nn.Sequential(nn.Linear(4, 1)), output="fc")


def test_module_runs_in_its_own_precision_and_is_never_converted():
    """The run's dtype is the module's own unless train(dtype=) names one; a differing dtype runs
    on a converted copy, so the user's module keeps its dtype and values either way."""
    net = small_cnn().float()
    start = [p.detach().clone() for p in net.parameters()]
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((8, 1, 6, 6)), rng.standard_normal(8)
    kw = dict(eta=0.05, steps=2, progress=False)
    tr = linnet.train(X, Y, model=TorchModel(net), **kw)
    assert tr.config["dtype"] == "float32" and tr.config["module_dtype"] == "float32"
    assert not tr.config["module_copied"] and tr.specific["theta_final"].dtype == np.float32
    t64 = linnet.train(X, Y, model=TorchModel(net), dtype="float64", **kw)
    assert t64.config["dtype"] == "float64" and t64.config["module_copied"]
    assert t64.specific["theta_final"].dtype == np.float64
    for p, p0 in zip(net.parameters(), start, strict=True):
        assert p.dtype == torch.float32 and torch.equal(p, p0)
    assert linnet.train(X, Y, model=TorchModel(small_cnn()), **kw).config["dtype"] == "float64"
    mixed = small_cnn().float()
    mixed[0].double()
    with pytest.raises(TypeError, match="float32, float64.*dtype='float32'"):
        linnet.train(X, Y, model=TorchModel(mixed), **kw)
    assert linnet.train(X, Y, model=TorchModel(mixed), dtype="float32", **kw).config["module_copied"]
    with pytest.raises(TypeError, match="float16.*dtype="):
        linnet.train(X, Y, model=TorchModel(small_cnn().half()), **kw)


def _tiny_image_cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ELU(), nn.MaxPool2d(4), nn.Flatten(),
                         nn.Linear(8 * 4 * 4, 1, bias=False))


def _tiny_image_mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 50), nn.Tanh(), nn.Linear(50, 50), nn.Tanh(),
                         nn.Linear(50, 1))


@pytest.mark.parametrize("net_fn", [_tiny_image_cnn, _tiny_image_mlp], ids=["cnn", "mlp"])
def test_float32_sharpness_tracks_float64(net_fn):
    """Λ of a float32 run against the float64 run of the same (float32-initialised) module over
    60 steps from ηΛ(0) = 1.8 (tolerances.py, "sharpness-float32")."""
    n, s = 64, 16
    X, Y = linnet.make_data("cifar-like", n=n, d=3 * s * s, seed=0, column_norm=0.5 * math.sqrt(3 * s * s))
    X = np.ascontiguousarray(X.T.reshape(n, 3, s, s))
    net = net_fn()
    eta = 1.8 / TorchModel(net).initial_sharpness(X, Y)
    kw = dict(eta=eta, steps=60, progress=False)
    t32 = linnet.train(X, Y, model=TorchModel(net), **kw)
    t64 = linnet.train(X, Y, model=TorchModel(net), dtype="float64", **kw)
    assert t32.config["dtype"] == "float32" and t64.config["dtype"] == "float64"
    assert rel(t32.sharpness, t64.sharpness) < tol("sharpness-float32", "float32")


def test_architectures():
    net = paper_cnn("relu")
    assert net[-1].in_features == 2048 and net[-1].bias is None
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 1)
    assert [type(m).__name__ for m in net] == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d",
                                               "Flatten", "Linear"]
    small = paper_cnn("elu", in_shape=(1, 8, 8))
    rng = np.random.default_rng(0)
    tr = linnet.train(rng.standard_normal((4, 1, 8, 8)), rng.standard_normal(4), eta=0.01, steps=1,
                      model=TorchModel(small), progress=False)
    assert tr.config["architecture"] == "paper_cnn[elu]"
    r = resnet18()
    assert r.fc.out_features == 1
    assert sum(p.numel() for p in r.parameters()) == 11_177_025  # torchvision resnet18, 1 output
    assert r.architecture_source in ("torchvision", "linnet (torchvision-equivalent, ImageNet variant)")
    with pytest.raises(ValueError, match="activation"):
        paper_cnn("sigmoid")


class _Thetas(linnet.run.observers.BaseObserver):
    def __init__(self):
        self.thetas = []

    def observe(self, t, obs, engine):
        self.thetas.append(obs.theta.detach().clone())


@pytest.mark.parametrize("hvp", ["forward-over-reverse", "reverse-over-reverse", "auto"])
def test_warm_hessian_solver_matches_dense_eigendecomposition(hvp):
    """λ_max(∇²L) by the warm-started LOBPCG at every state of a run against eigvalsh of the dense
    Hessian from torch.autograd.functional.hessian, for each way of taking the products."""
    net = small_cnn()
    rng = np.random.default_rng(1)
    X, Y = torch.as_tensor(rng.standard_normal((8, 1, 6, 6))), rng.standard_normal(8)
    rec = _Thetas()
    tr = linnet.train(X, Y, eta=0.05, steps=5, model=TorchModel(net, hvp=hvp), hessian_every=1,
                      observers=[rec], progress=False)
    for h, theta in zip(tr.hessian_sharpness, rec.thetas, strict=True):
        _, Hs = dense_refs(net, X, torch.as_tensor(Y), theta.numpy(), plain_autograd=True)
        assert abs(h - np.linalg.eigvalsh(Hs)[-1]) <= HESSIAN_VS_DENSE * abs(h)


def test_warm_hessian_solver_products_and_warm_start():
    """Block products equal the dense Hessian's; a second call at the same state starts from the
    converged vector and stops after one product; a float32 engine stops at 100ε."""
    from linnet.families.torch.hessian import WarmHessianTop, hvp_block

    net = small_cnn()
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((8, 1, 6, 6)), rng.standard_normal(8)
    eng = engine_for(net, X, Y)
    obs = eng.observe()
    _, Hs = dense_refs(net, torch.as_tensor(X), torch.as_tensor(Y), obs.theta.numpy(), plain_autograd=True)
    V = torch.as_tensor(rng.standard_normal((2, eng.P)))
    for mode in ("forward-over-reverse", "reverse-over-reverse"):
        assert rel(hvp_block(eng, obs.theta, V, mode).numpy(), V.numpy() @ Hs) < tol("hvp-modes")
    top = np.linalg.eigvalsh(Hs)[-1]
    solver = WarmHessianTop(dim=eng.P, dtype=np.float64, tol=1e-8, maxiter=200, mode="reverse-over-reverse")
    lam, rho, x = solver(eng, obs)
    assert abs(lam - top) <= HESSIAN_VS_DENSE * abs(top) and rho <= 1e-8 * abs(lam)
    first = solver.products
    lam2, _, _ = solver(eng, obs)
    assert solver.products - first == 1 and abs(lam2 - top) <= HESSIAN_VS_DENSE * abs(top)
    assert WarmHessianTop(dim=3, dtype=np.float32, tol=1e-8, maxiter=5).tol == pytest.approx(
        100 * np.finfo(np.float32).eps)
    with pytest.raises(ValueError, match="hvp='both' is unknown"):
        TorchModel(net, hvp="both")


# -- memory-bounded Gram products, eigensolvers on tensors, bad input (issue 21) --------------------

class BatchCentered(nn.Module):
    """x − mean over the batch: couples samples without any BatchNorm."""

    def forward(self, x):
        return x - x.mean(0, keepdim=True)


def centered_mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 6), BatchCentered(), nn.Tanh(), nn.Linear(6, 1)).double()


def engine_for(net, X, Y, **changes):
    """A TorchEngine on (X, Y) whose plan has ``changes`` (chunk sizes, row method, kept linearisation)."""
    model = TorchModel(net)
    Xdn, Yn = model.prepare(X, Y, dtype="float64", hessian_every=1)
    plan = dataclasses.replace(model.plan(), **changes)
    return TorchEngine(model, linnet.spectrum(Xdn, Yn), dtype=np.float64, top_k=3, plan=plan)


PLAN_CASES = {
    "jacobian, per-sample rows, chunks of 3": dict(gram="jacobian", jacobian=lt.PER_SAMPLE, chunk=3,
                                                   jacobian_chunk=3),
    "jacobian, vjp rows by sample chunks": dict(gram="jacobian", jacobian=lt.VJP_ROWS, chunk=3,
                                                jacobian_chunk=2),
    "dense, per-sample rows": dict(gram="dense", jacobian=lt.PER_SAMPLE, chunk=8, jacobian_chunk=5),
    "matrix-free, linearisations kept": dict(gram="matrix-free", jacobian=None, chunk=3,
                                             keep_linearisation=True),
    "matrix-free, rebuilt per product": dict(gram="matrix-free", jacobian=None, chunk=3,
                                             keep_linearisation=False),
    "matrix-free, one chunk": dict(gram="matrix-free", jacobian=None, chunk=8, keep_linearisation=True),
}
COUPLED_CASES = {
    "jacobian, vjp rows of the batch": dict(gram="jacobian", jacobian=lt.VJP_ROWS, jacobian_chunk=3),
    "dense": dict(gram="dense", jacobian=lt.VJP_ROWS, jacobian_chunk=8),
    "matrix-free": dict(gram="matrix-free", jacobian=None),
}


def check_products(eng, net, X, Y, *, plain_autograd=False):
    """The engine's F, ∇L, G V and ∇²L V against dense torch.func references at its start."""
    obs = eng.observe()
    G, Hs = dense_refs(net, X, torch.as_tensor(Y), eng.theta.numpy(), plain_autograd=plain_autograd)
    rng = np.random.default_rng(3)
    V = rng.standard_normal((eng.n, 3))
    GV = eng.gram_matvec(obs)(torch.as_tensor(V))
    assert isinstance(GV, torch.Tensor) and GV.shape == (eng.n, 3)
    assert rel(GV.numpy(), G @ V) < tol("identity")
    assert rel(eng.gram_matvec(obs)(V[:, 0]).numpy(), G @ V[:, 0]) < tol("identity")  # NumPy input too
    u = rng.standard_normal(eng.P)
    hmv, P = eng.hessian_matvec(obs)
    assert P == eng.P and rel(hmv(torch.as_tensor(u)).numpy(), Hs @ u) < tol("identity")
    with torch.no_grad():
        F = net(X).reshape(-1).numpy()
    assert rel(obs.F.numpy(), F) < tol("identity")
    Xt, Yt = torch.as_tensor(X), torch.as_tensor(Y)
    ref = dict(net.named_parameters())
    for p in ref.values():
        p.grad = None
    D = net(Xt).reshape(-1) - Yt
    (D @ D / (2 * len(Y))).backward()
    g = torch.cat([p.grad.reshape(-1) for p in ref.values()]).numpy()
    assert rel(obs.grad.numpy(), g) < tol("identity")


@pytest.mark.parametrize("case", list(PLAN_CASES))
def test_gram_paths_equal_dense_references(case):
    net = small_cnn()
    rng = np.random.default_rng(0)
    X = torch.as_tensor(rng.standard_normal((8, 1, 6, 6)))
    Y = rng.standard_normal(8)
    eng = engine_for(net, X, Y, **PLAN_CASES[case])
    assert len(eng.chunks) == math.ceil(8 / eng.plan.chunk)
    check_products(eng, net, X, Y)


@pytest.mark.parametrize("case", list(COUPLED_CASES))
@pytest.mark.parametrize("which", ["batchnorm", "centered"])
def test_batch_coupled_gram_paths_equal_dense_references(case, which):
    net = small_cnn(bn=True) if which == "batchnorm" else centered_mlp()
    rng = np.random.default_rng(1)
    X = torch.as_tensor(rng.standard_normal((8, 1, 6, 6) if which == "batchnorm" else (8, 5)))
    Y = rng.standard_normal(8)
    eng = engine_for(net, X, Y, **COUPLED_CASES[case])
    assert eng.plan.coupled and eng.chunks == [slice(0, 8)]
    check_products(eng, net, X, Y, plain_autograd=which == "batchnorm")


def test_batch_coupling_is_detected():
    rng = np.random.default_rng(2)
    Y = rng.standard_normal(8)
    plan = TorchModel(centered_mlp()).plan(rng.standard_normal((8, 5)), Y)
    assert plan.coupled and "couples samples" in plan.coupling and plan.chunk == 8
    assert plan.gram == "jacobian" and plan.jacobian == lt.VJP_ROWS  # n ≤ COUPLED_JACOBIAN_MAX_N
    X_img = rng.standard_normal((8, 1, 6, 6))
    plan = TorchModel(small_cnn(bn=True)).plan(X_img, Y)
    assert plan.coupled and "BatchNorm in train mode (1)" in plan.coupling
    plan = TorchModel(small_cnn()).plan(X_img, Y)
    assert not plan.coupled and plan.jacobian == lt.PER_SAMPLE and "agree with vjp rows" in plan.coupling
    # a coupled run: Λ is G's top eigenvalue (dense reference), J's rows by vjp of the batch
    net = centered_mlp()
    X = rng.standard_normal((8, 5))
    tr = linnet.train(X, Y, eta=0.05, steps=2, model=TorchModel(net), progress=False)
    assert tr.config["batch_coupled"] and tr.config["jacobian"] == lt.VJP_ROWS
    G, _ = dense_refs(net, torch.as_tensor(X), torch.as_tensor(Y), tr.specific["theta0"])
    assert abs(tr.sharpness[0] - np.linalg.eigvalsh(G)[-1]) <= EIG_VS_DENSE * tr.sharpness[0]


def test_auto_chooses_by_the_memory_estimate():
    torch.manual_seed(0)
    wide = nn.Sequential(nn.Linear(3000, 300), nn.Tanh(), nn.Linear(300, 1)).double()  # P = 900,601
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((200, 3000)), rng.standard_normal(200)
    J_bytes = 200 * 900_601 * 8
    plan = TorchModel(wide, memory_budget="4GiB").plan(X, Y)
    assert plan.gram == "jacobian" and plan.estimates["jacobian"] > J_bytes
    assert plan.estimate_bytes <= plan.budget_bytes == 4 * 2**30
    plan = TorchModel(wide, memory_budget="512MiB").plan(X, Y)  # J alone is 1.3 GiB
    assert plan.gram == "matrix-free" and "over budget: jacobian" in plan.why
    assert plan.estimate_bytes <= 512 * 2**20 < plan.estimates["jacobian"]
    with pytest.raises(ValueError, match=r"gram='jacobian' needs an estimated 1\.\d\d GiB .*over "
                                         r"memory_budget=0\.50 GiB: use gram='auto' \(gram='matrix-free'"):
        TorchModel(wide, gram="jacobian", memory_budget="512MiB").plan(X, Y)
    with pytest.raises(ValueError, match="no Gram mode fits memory_budget=0.00 GiB .* raise memory_budget="):
        TorchModel(wide, memory_budget=2**20).plan(X, Y)
    with pytest.raises(ValueError, match="gram='dense' needs .* or set hessian_every=0"):
        TorchModel(wide, gram="dense", memory_budget="512MiB").plan(X, Y, hessian_every=1)
    # the Hessian's Lanczos basis (HESSIAN_BASIS P-vectors) enters the estimate
    small = TorchModel(paper_cnn("tanh", (3, 8, 8)).double(), memory_budget="1GiB")
    Xs = rng.standard_normal((6, 3, 8, 8))
    e0 = small.plan(Xs, Y[:6]).estimate_bytes
    e1 = small.plan(Xs, Y[:6], hessian_every=1).estimate_bytes
    assert e1 - e0 > 0.9 * lt.HESSIAN_BASIS * 8 * sum(p.numel() for p in small.module.parameters())
    # a forced mode over budget fails in train before anything is allocated
    with pytest.raises(ValueError, match="gram='dense' needs"):
        linnet.train(X, Y, eta=0.1, steps=1, model=TorchModel(wide, gram="dense", memory_budget="512MiB"),
                     progress=False)


def test_memory_budget_values():
    assert lt.parse_memory_budget("4GiB") == 4 * 2**30 == lt.parse_memory_budget(4 * 2**30)
    assert lt.parse_memory_budget("512 MiB") == 512 * 2**20
    assert lt.parse_memory_budget("8gb") == 8 * 10**9
    assert lt.parse_memory_budget(None) is None
    for bad in ("lots", 4, True, [1]):
        with pytest.raises(ValueError, match="memory_budget="):
            TorchModel(nn.Linear(3, 1), memory_budget=bad)
    plan = TorchModel(nn.Linear(3, 1)).plan(np.ones((4, 3)), np.ones(4))
    assert plan.budget_bytes == lt.device_memory(torch.device("cpu")) // 2


def test_eigensolvers_keep_tensors_and_match_numpy():
    xp = lt.TorchArrays("cpu")
    rng = np.random.default_rng(4)
    n = 60
    B = rng.standard_normal((n, n))
    A0 = B @ B.T / n
    w = rng.standard_normal(n)
    t_np = EigTracker(xp=np, dim=n, tol=1e-10)
    t_torch = EigTracker(xp=xp, dim=n, tol=1e-10)
    for step in range(4):
        A = A0 + 0.05 * step * np.outer(w, w) / n
        At = torch.as_tensor(A)

        def mm(V, At=At):
            assert isinstance(V, torch.Tensor)
            return At @ V
        lam_np, _, u_np = t_np(lambda V, A=A: A @ V)
        lam, rho, u = t_torch(mm)
        assert all(isinstance(v, torch.Tensor) for v in (u, t_torch.Q, t_torch.S, t_torch.probe))
        top = np.linalg.eigvalsh(A)[-1]
        assert abs(lam - top) <= tol("eigensolver") * top and abs(lam - lam_np) <= tol("eigensolver") * top
        assert 1 - abs(float(u.numpy() @ u_np)) <= tol("eigenvector")
    res = lanczos(lambda v: At @ v, n=n, xp=xp, tol=1e-12)
    ref = lanczos(lambda v: A @ v, n=n, tol=1e-12)
    assert isinstance(res.vector, torch.Tensor) and isinstance(res.runner_up, torch.Tensor)
    assert abs(res.value - ref.value) <= tol("eigensolver") * ref.value


def test_engine_runs_its_eigensolvers_on_tensors():
    net = small_cnn()
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((8, 1, 6, 6)), rng.standard_normal(8)
    seen = {}

    class Check(linnet.run.observers.BaseObserver):
        def observe(self, t, obs, engine):
            assert isinstance(engine.xp, lt.TorchArrays) and engine.xp.device == torch.device("cpu")
            assert all(isinstance(v, torch.Tensor) for v in (obs.D, obs.F, obs.d_top, engine.v1()))
            Gv = engine.gram_matvec(obs)
            tracker = EigTracker(xp=np, dim=8, tol=1e-10)  # the NumPy path on the same products
            seen[t] = tracker(lambda V: Gv(V).numpy())[0]
    tr = linnet.train(X, Y, eta=0.05, steps=3, model=TorchModel(net), hessian_every=1, observers=[Check()],
                      progress=False)
    assert "torch tensors" in tr.config["array_exchange"]
    for t, lam in seen.items():
        assert abs(tr.sharpness[t] - lam) <= EIG_VS_DENSE * lam
    assert np.all(np.isfinite(tr.hessian_sharpness)) and tr.d_top.dtype == np.float64


# -- bad input: one ValueError each, naming the argument and the fix --------------------------------

class TupleOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 1)

    def forward(self, x):
        return self.fc(x), x


class TwoNumbers(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 1)

    def forward(self, x):
        h = self.fc(x)
        return torch.cat([h, 2 * h], dim=1)


def bad_train(model, X=None, Y=None):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 4)) if X is None else X
    Y = rng.standard_normal(8) if Y is None else Y
    return linnet.train(X, Y, eta=0.1, steps=1, model=model, progress=False)


def test_module_returning_a_tuple_is_refused():
    with pytest.raises(ValueError, match="module returns a tuple, not one tensor: .* wrap it"):
        bad_train(TorchModel(TupleOut()))


def test_module_with_more_than_one_number_per_sample_is_refused():
    with pytest.raises(ValueError, match=r"module output has shape \(2, 2\) for 2 samples: .* nn.Linear"):
        bad_train(TorchModel(TwoNumbers()))


def test_module_without_a_final_linear_layer_is_refused():
    net = nn.Sequential(nn.Linear(4, 1), nn.Tanh())
    with pytest.raises(ValueError, match="module: its last nn.Linear '0' does not produce the module's "
                                         "output .* the paper's A.* last operation"):
        bad_train(TorchModel(net))


def test_output_layer_that_is_not_last_is_refused():
    net = nn.Sequential(nn.Linear(4, 1), nn.Linear(1, 1))
    with pytest.raises(ValueError, match="output='0' does not produce the module's output .* pass output="):
        bad_train(TorchModel(net, output="0"))


def test_features_first_X_is_refused():
    X = np.random.default_rng(0).standard_normal((4, 8))  # d×n
    with pytest.raises(ValueError, match=r"X has shape \(4, 8\).*features-first \(d×n\).*pass X.T"):
        bad_train(TorchModel(nn.Linear(4, 1)), X=X)


def test_X_the_module_cannot_take_is_refused():
    X = np.zeros((8, 3, 16, 16))  # the paper's CNN wants 32×32
    with pytest.raises(ValueError, match=r"X: the module failed on X\[:2\], of shape \(2, 3, 16, 16\)"):
        bad_train(TorchModel(paper_cnn("tanh")), X=X)
    # features-first images: the hint names X.T
    with pytest.raises(ValueError, match=r"X: the module failed .* pass X.T"):
        bad_train(TorchModel(nn.Linear(4, 1)), X=np.zeros((8, 8)))


def test_labels_of_the_wrong_length_are_refused():
    with pytest.raises(ValueError, match="Y has 7 labels but X has 8 samples .* one label per sample"):
        bad_train(TorchModel(nn.Linear(4, 1)), Y=np.zeros(7))
    with pytest.raises(ValueError, match=r"Y has shape \(8, 2\): .* one label per sample"):
        bad_train(TorchModel(nn.Linear(4, 1)), Y=np.zeros((8, 2)))


# -- the paper's CNN at the paper's size, in a child process --------------------------------------

PAPER_SIZE_CHILD = textwrap.dedent("""
    import json, resource, sys, time
    import numpy as np, torch, linnet
    from linnet.run.observers import BaseObserver
    from linnet.torch import TorchModel, paper_cnn
    torch.set_num_threads(1)  # steady on a shared machine: two OpenMP threads there can stall 10×
    torch.manual_seed(0)
    X = torch.randn(1000, 3, 32, 32, dtype=torch.float64)
    Y = torch.randn(1000, dtype=torch.float64)
    class Clock(BaseObserver):
        def __init__(self):
            self.t = []
        def observe(self, t, obs, engine):
            self.t.append(time.perf_counter())
    def peak_rss():  # VmHWM: ru_maxrss would carry over the RSS of pytest, which spawned this process
        try:
            return next(int(line.split()[1]) * 1024 for line in open("/proc/self/status")
                        if line.startswith("VmHWM:"))
        except (OSError, StopIteration):
            scale = 1 if sys.platform == "darwin" else 1024
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    clock = Clock()
    before = peak_rss()
    tr = linnet.train(X, Y, eta=0.01, steps=2, model=TorchModel(paper_cnn("tanh"), memory_budget="4GiB"),
                      observers=[clock], dtype="float64", progress=False)
    print(json.dumps(dict(peak_rss=peak_rss(), before=before, step_s=np.diff(clock.t).tolist(),
                          sharpness=tr.sharpness.tolist(),
                          config={k: tr.config[k] for k in ("gram", "jacobian", "memory_estimate_bytes",
                                                             "memory_budget_bytes", "dtype", "n")})))
""")


def test_paper_cnn_at_paper_size_peaks_under_4_gib():
    """App. A.2's CNN (tanh) on n = 1,000 3×32×32 images, float64, Λ every step: peak RSS ≤ 4 GiB."""
    out = subprocess.run([sys.executable, "-c", PAPER_SIZE_CHILD], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    c = res["config"]
    assert c["n"] == 1000 and c["dtype"] == "float64" and c["gram"] == "jacobian"
    assert c["memory_estimate_bytes"] <= c["memory_budget_bytes"] == 4 * 2**30
    assert res["peak_rss"] <= 4 * 2**30, res
    assert res["peak_rss"] - res["before"] <= c["memory_estimate_bytes"], res  # the estimate bounds the run
    assert len(res["sharpness"]) == 3 and all(np.isfinite(res["sharpness"]))
    print(f"paper CNN n=1000: peak RSS {res['peak_rss'] / 2**30:.2f} GiB, steps {res['step_s']} s")


# -- PyTorch's threads from the free cores (issue 32) ----------------------------------------------

def test_threads_are_chosen_from_the_free_cores():
    from linnet.families.torch.threads import choose_threads, machine_cores, sweep_threads

    assert choose_threads(affinity=2, load1=0.05) == 2  # idle: every core
    assert choose_threads(affinity=2, load1=1.0) == 1  # one other job: the core it leaves
    assert choose_threads(affinity=2, load1=9.0) == 1  # overloaded: still one thread
    assert choose_threads(affinity=16, load1=3.4) == 13  # rounded to the nearest whole core
    assert choose_threads(affinity=2, load1=2.1, own=2.0) == 2  # this run's own load is not another job
    assert choose_threads(affinity=4, load1=0.0, own=3.0) == 4
    for bad in (dict(affinity=0, load1=0.0), dict(affinity=2, load1=-1.0), dict(affinity=2.0, load1=0.0)):
        with pytest.raises(ValueError, match="affinity|load1"):
            choose_threads(**bad)
    cores, load1 = machine_cores()
    assert cores >= 1 and load1 >= 0
    assert 1 <= sweep_threads() <= cores
