"""linnet.torch: a PyTorch nn.Module in linnet's GD loop, against linnet's own exact engines
(tanh MLP, two-layer linear net) through PS into the EoS, and against dense torch.func references
(CNN, BatchNorm); random layers refused; float64 end to end."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.func import functional_call, hessian, jacrev  # noqa: E402

import linnet  # noqa: E402
from linnet.torch import TorchModel, load_final, paper_cnn, resnet18  # noqa: E402

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


@pytest.mark.parametrize("gram", ["dense", "matrix-free"])
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


@pytest.mark.parametrize("gram", ["dense", "matrix-free"])
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


def test_float32_runs():
    net = small_cnn()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 1, 6, 6))
    tr = linnet.train(X, rng.standard_normal(8), eta=0.05, steps=2, model=TorchModel(net),
                      dtype="float32", progress=False)
    assert next(net.parameters()).dtype == torch.float32 and tr.config["dtype"] == "float32"
    assert tr.specific["theta_final"].dtype == np.float32


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
