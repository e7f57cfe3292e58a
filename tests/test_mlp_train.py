"""The fully connected family through linnet.train: against the two-layer engine, dense
references, PyTorch autograd (where installed), freezing, persistence and bad input."""
import numpy as np
import pytest

import linnet
from linnet.families.mlp import maths as mlp

from small_problems import cupy_with_gpu

# Same trajectory by two float orderings, up to 20 steps past ηΛ's first crossing of 2 (the
# orderings then separate at the rate |1 − ηΛ| per step, as for spectral vs literal engines).
CROSS_IMPL = 1e-10
# Λ reported at residual ρ ≤ 1e-6·Λ (sharpness_tol): |Λ − λ_max| ≤ ρ²/gap, ~1e-12·Λ at these gaps.
EIG_VS_DENSE = 1e-10
# the Hessian's Lanczos stops at residual 1e-8·|λ| (hessian_tol); the value is then good to ρ²/gap.
HESSIAN_VS_DENSE = 1e-9


def tanh_problem(n=40, d=50, widths=(32, 32), seed=0, activation="tanh"):
    """CIFAR-like data and a tanh net whose run from PyTorch's init sharpens to 2/η within a few
    steps and then stays at the edge of stability (η = 0.8 / λ_max(∇²L(0)))."""
    X, Y = linnet.make_data("cifar-like", n=n, d=d, seed=seed)
    model = linnet.MLP((d, *widths, 1), activation=activation, seed=seed)
    h0 = linnet.train(X, Y, eta=1.0, steps=0, model=model, hessian_every=1).hessian_sharpness[0]
    return X, Y, model, 0.8 / h0


def rel(x, y):
    return float(np.max(np.abs(np.asarray(x) - np.asarray(y))) / np.max(np.abs(y)))


def test_depth_two_identity_net_is_the_two_layer_engine_through_ps_into_eos():
    X, Y = linnet.make_data("cifar-like", n=60, d=80, seed=0)
    W, a = linnet.init_params(40, X, scheme="symmetric", scale=0.2, seed=0, alpha=1.0)
    eta = 1.5 / linnet.sharpness(W, a, X, alpha=1.0)  # ηΛ: 1.5 → 2 by step 15, then the EoS
    kw = dict(eta=eta, steps=400, hessian_every=10)
    lin = linnet.train(X, Y, W0=W, a0=a, alpha=1.0, **kw)
    net = linnet.train(X, Y, model=linnet.MLP((80, 40, 1), activation="identity",
                                              weights=(W, a[None, :])), **kw)
    cross = int(np.flatnonzero(eta * lin.sharpness > 2)[0])
    assert 5 < cross < 380, cross
    upto = cross + 20
    for name in ("loss", "sharpness", "a_norm2", "fd"):
        assert rel(getattr(net, name)[:upto], getattr(lin, name)[:upto]) < CROSS_IMPL, name
    h = lin.hessian_step < upto
    assert rel(net.hessian_sharpness[h], lin.hessian_sharpness[h]) < HESSIAN_VS_DENSE
    assert net.family == "mlp" and lin.family == "linear2"


def test_sharpness_and_output_gram_equal_dense_references_along_an_eos_run():
    X, Y, model, eta = tanh_problem(n=30, d=40, widths=(12, 12))
    tr = linnet.train(X, Y, eta=eta, steps=60, model=model, hessian_every=30)
    assert np.max(eta * tr.sharpness) > 2  # the run reaches the EoS
    eng = linnet.train(X, Y, eta=eta, steps=0, model=model)  # the start, to replay from
    weights = eng.initial_weights
    for t in range(61):
        fwd = mlp.forward(weights, X, "tanh")
        B = mlp.backward(weights, fwd, "tanh")
        G = mlp.gram(fwd, B)
        assert abs(tr.sharpness[t] - np.linalg.eigvalsh(G)[-1]) <= EIG_VS_DENSE * tr.sharpness[t], t
        GA = fwd.H[-1].T @ fwd.H[-1] / X.shape[1]
        assert abs(tr.ga_norm[t] - np.linalg.eigvalsh(GA)[-1]) <= EIG_VS_DENSE * tr.ga_norm[t], t
        D = fwd.F - Y
        if t in tr.hessian_step:
            hv, P = mlp.hessian_matvec(weights, fwd, B, D, "tanh")
            H = np.stack([hv(e) for e in np.eye(P)])
            want = np.linalg.eigvalsh((H + H.T) / 2)[-1]
            got = tr.hessian_sharpness[list(tr.hessian_step).index(t)]
            assert abs(got - want) <= HESSIAN_VS_DENSE * want, t
        grads = mlp.gradients(fwd, B, D)
        weights = tuple(w - eta * g for w, g in zip(weights, grads, strict=True))
    # the raw-X path (no data span) and the matrix-free G give the same run
    for kw in (dict(data_span=False), dict(gram="matrix-free")):
        other = linnet.train(X, Y, eta=eta, steps=60, model=linnet.MLP(
            model.widths, activation="tanh", seed=0, **kw))
        assert rel(other.loss[:25], tr.loss[:25]) < CROSS_IMPL, kw
        assert rel(other.sharpness[:25], tr.sharpness[:25]) < CROSS_IMPL, kw
    assert tr.config["input"] == "data span (r×n)" and tr.config["gram"] == "dense"


def test_adapter_agrees_with_pytorch_autograd_loop():
    torch = pytest.importorskip("torch")
    X, Y, model, eta = tanh_problem(n=30, d=20, widths=(16, 16))
    tr = linnet.train(X, Y, eta=eta, steps=30, model=model)
    ws = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in tr.initial_weights]
    Xt, Yt = torch.tensor(X.T), torch.tensor(Y)
    for t in range(31):
        h = Xt
        for w in ws[:-1]:
            h = torch.tanh(h @ w.T)
        F = (h @ ws[-1].T).squeeze(-1)
        loss = ((F - Yt) ** 2).sum() / (2 * len(Y))
        assert abs(loss.item() - tr.loss[t]) <= CROSS_IMPL * tr.loss[0], t
        grads = torch.autograd.grad(loss, ws)
        with torch.no_grad():
            for w, g in zip(ws, grads, strict=True):
                w -= eta * g


def test_relu_nets_are_homogeneous_in_each_layer_along_the_trajectory():
    X, Y, model, eta = tanh_problem(activation="relu", widths=(24, 24), seed=3)
    tr = linnet.train(X, Y, eta=eta / 4, steps=5, model=model)
    for weights in (tr.initial_weights, tr.final_weights):
        fwd = mlp.forward(weights, X, "relu")
        B = mlp.backward(weights, fwd, "relu")
        for layer, W in enumerate(weights):
            # ⟨W_l, ∂F_i/∂W_l⟩ = F_i: ∂F_i/∂W_l = B_l[:, i] H_{l−1}[:, i]ᵀ
            per_sample = np.einsum("hi,hk,ki->i", B[layer], W, fwd.H[layer])
            assert rel(per_sample, fwd.F) < 1e-12, layer


def test_frozen_layers_stay_put_and_their_gram_is_recorded():
    X, Y, _, eta = tanh_problem()
    model = linnet.MLP((50, 32, 32, 1), activation="tanh", seed=0, frozen=(0, 1))
    tr = linnet.train(X, Y, eta=eta, steps=40, model=model)
    w0, wf = tr.initial_weights, tr.final_weights
    assert np.array_equal(w0[0], wf[0]) and np.array_equal(w0[1], wf[1])
    assert not np.array_equal(w0[2], wf[2])
    fwd = mlp.forward(wf, X, "tanh")
    B = mlp.backward(wf, fwd, "tanh")
    want = np.linalg.eigvalsh(mlp.gram(fwd, B, layers=(2,)))[-1]
    assert abs(tr.trained_sharpness[-1] - want) <= EIG_VS_DENSE * want
    assert np.all(tr.trained_sharpness <= tr.sharpness * (1 + 1e-9))
    # frozen output layer: the last layer's Gram is then not the trained one
    tr2 = linnet.train(X, Y, eta=eta, steps=3, model=linnet.MLP((50, 32, 32, 1), seed=0, frozen=(2,)))
    assert np.array_equal(tr2.initial_weights[2], tr2.final_weights[2])


def test_mlp_trajectory_round_trips_exactly(tmp_path):
    X, Y, _, eta = tanh_problem()
    model = linnet.MLP((50, 32, 32, 1), seed=1, frozen=(0,))
    tr = linnet.train(X, Y, eta=eta, steps=15, model=model, hessian_every=5)
    tr.save(tmp_path / "mlp.npz", data=(X, Y))
    back = linnet.load_trajectory(tmp_path / "mlp.npz")
    assert back.family == "mlp" and back.config == tr.config
    for name in linnet.run.trajectory.COMMON + tuple(tr.specific):
        x, y = getattr(tr, name), getattr(back, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name
    assert len(back.final_weights) == 3 and back.final_weights[0].shape == (32, 50)


def test_resume_from_final_weights_continues_the_run():
    X, Y, model, eta = tanh_problem()
    whole = linnet.train(X, Y, eta=eta, steps=20, model=model)
    first = linnet.train(X, Y, eta=eta, steps=10, model=model)
    second = linnet.train(X, Y, eta=eta, steps=10, model=linnet.MLP(
        model.widths, weights=first.final_weights))
    assert rel(second.loss, whole.loss[10:]) < CROSS_IMPL


def test_divergence_stops_cleanly_with_finite_rows():
    X, Y, model, eta = tanh_problem()
    tr = linnet.train(X, Y, eta=40 * eta, steps=200, model=model)
    assert tr.stopped is not None and "diverged at step" in tr.stopped
    assert np.all(np.isfinite(tr.loss)) and np.all(np.isfinite(tr.sharpness))
    assert all(np.all(np.isfinite(w)) for w in tr.final_weights)


def test_float32_runs_in_float32():
    X, Y, model, eta = tanh_problem()
    tr = linnet.train(X.astype(np.float32), Y.astype(np.float32), eta=eta, steps=20, model=model,
                      dtype="float32")
    ref = linnet.train(X, Y, eta=eta, steps=20, model=model)
    assert tr.config["dtype"] == "float32" and tr.final_weights[0].dtype == np.float32
    assert rel(tr.loss, ref.loss) < 1e-4  # float32 roundoff (ε = 1.2e-7) grown over 20 EoS steps


def test_bad_input_names_the_argument_and_the_fix():
    X, Y = linnet.make_data("cifar-like", n=10, d=12, seed=0)
    with pytest.raises(ValueError, match="widths must end in 1"):
        linnet.MLP((12, 5, 2))
    with pytest.raises(ValueError, match="widths\\[0\\] = 11 but X has d = 12"):
        linnet.train(X, Y, eta=0.1, steps=1, model=linnet.MLP((11, 5, 1)))
    with pytest.raises(ValueError, match="activation='sigmoid' is unknown"):
        linnet.MLP((12, 5, 1), activation="sigmoid")
    with pytest.raises(ValueError, match="frozen layer indices \\[2\\] are out of range"):
        linnet.MLP((12, 5, 1), frozen=(2,))
    with pytest.raises(ValueError, match="weights"):
        linnet.train(X, Y, eta=0.1, steps=1, model=linnet.MLP(
            (12, 5, 1), weights=(np.ones((5, 12)), np.ones((2, 5)))))
    bad = np.ones((5, 12))
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="weights"):
        linnet.train(X, Y, eta=0.1, steps=1, model=linnet.MLP((12, 5, 1), weights=(bad, np.ones((1, 5)))))
    with pytest.raises(ValueError, match="drop \\['m'\\]"):
        linnet.train(X, Y, eta=0.1, steps=1, m=4, model=linnet.MLP((12, 5, 1)))
    with pytest.raises(ValueError, match="method='flow' is available for the linear net only"):
        linnet.train(X, Y, eta=0.1, steps=1, method="flow", model=linnet.MLP((12, 5, 1)))


@pytest.mark.gpu
def test_mlp_train_on_cupy_matches_numpy():
    cupy = cupy_with_gpu()
    X, Y, model, eta = tanh_problem()
    cpu = linnet.train(X, Y, eta=eta, steps=40, model=model, hessian_every=20)
    gpu = linnet.train(cupy.asarray(X), cupy.asarray(Y), eta=eta, steps=40, model=model,
                       hessian_every=20)
    assert gpu.config["backend"] == "cupy"
    assert rel(gpu.loss[:20], cpu.loss[:20]) < CROSS_IMPL
    assert rel(gpu.sharpness[:20], cpu.sharpness[:20]) < CROSS_IMPL
