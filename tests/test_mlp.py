"""linnet.mlp: the deep bias-free MLP's passes, Gram matrix and exact HVP against independent
references (central finite differences, a per-sample chain-rule loop, torch autograd)."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import linnet
from linnet.families.mlp import maths as mlp

from small_problems import cupy_with_gpu, rel_err

# Tolerances (all relative to the reference's max |entry|, float64):
FD_STEP = 1e-6        # central-difference step: truncation h²|f‴|/6 ~ 1e-13, rounding ε|f|/h ~ 1e-10
FD_RTOL = 1e-8        # FD Jacobian / gradient / G: both error terms above are ≤ 1e-9 for O(1) entries
HVP_FD_RTOL = 1e-7    # FD of the gradient: same error terms, but Hessian entries can be ≪ 1 here
EXACT_RTOL = 1e-12    # same algebra summed in another order: only rounding (~ sizes · ε ≈ 1e-15)
SYM_RTOL = 1e-12      # vᵀHw vs wᵀHv: exact in exact arithmetic, rounding only
EIG_RTOL = 1e-10      # eigvalsh of two ~30×30 matrices equal in exact arithmetic (eigenvalue cond. 1)
TORCH_RTOL = 1e-11    # torch autograd in float64: same derivatives, another evaluation order
KINK_MARGIN = 1e-3    # relu/elu: keep |Z| above this so no FD stencil (moves Z by ≲ 1e-5) crosses 0
F32_RTOL = 1e-4       # float32 against float64: ε32 ≈ 1.2e-7 amplified by small depths and sums


# --------------------------------------------------------------------------- references

def _act(z, a):
    return {"identity": z, "tanh": np.tanh(z), "relu": np.where(z > 0, z, 0.0),
            "elu": np.where(z > 0, z, np.exp(np.minimum(z, 0)) - 1)}[a]


def _dact(z, a):
    return {"identity": np.ones_like(z), "tanh": 1 / np.cosh(z) ** 2,
            "relu": (z > 0) * 1.0, "elu": np.where(z > 0, 1.0, np.exp(np.minimum(z, 0)))}[a]


def _F(weights, X, a):
    h = X
    for W in weights[:-1]:
        h = _act(W @ h, a)
    return (weights[-1] @ h)[0]


def _jac_per_sample(weights, X, a):
    """J (n × P) built sample by sample with the textbook chain rule."""
    L = len(weights)
    rows = []
    for i in range(X.shape[1]):
        hs, zs = [X[:, i]], []
        for W in weights[:-1]:
            zs.append(W @ hs[-1])
            hs.append(_act(zs[-1], a))
        g, grads = np.ones(1), [None] * L
        for l in range(L - 1, -1, -1):
            grads[l] = np.outer(g, hs[l])
            if l > 0:
                g = _dact(zs[l - 1], a) * (weights[l].T @ g)
        rows.append(np.concatenate([x.ravel() for x in grads]))
    return np.array(rows)


def _perturbed(weights, l, idx, h):
    w = [W.copy() for W in weights]
    w[l][idx] += h
    return w


def _jac_fd(weights, X, a):
    cols = []
    for l, W in enumerate(weights):
        for idx in np.ndindex(W.shape):
            cols.append((_F(_perturbed(weights, l, idx, FD_STEP), X, a)
                         - _F(_perturbed(weights, l, idx, -FD_STEP), X, a)) / (2 * FD_STEP))
    return np.array(cols).T


def _layer_cols(weights, layers):
    sizes = [W.size for W in weights]
    starts = np.cumsum([0] + sizes)
    return np.concatenate([np.arange(starts[l], starts[l + 1]) for l in layers]
                          + [np.zeros(0)]).astype(int)


def _net(act, depth, seed=0, interpolate=False):
    """A random small problem; for relu/elu the seed is advanced until every |Z| > KINK_MARGIN,
    and for relu also until no layer is dead (every B_l ≠ 0, so no reference is identically 0)."""
    for s in range(seed, seed + 1000):
        rng = np.random.default_rng(s)
        d, n = int(rng.integers(2, 7)), int(rng.integers(2, 8))
        widths = (d,) + tuple(int(h) for h in rng.integers(2, 6, depth - 1)) + (1,)
        w = mlp.init_weights(widths, init="gaussian", scale=1.3, seed=s)
        X = rng.standard_normal((d, n))
        fwd = mlp.forward(w, X, act)
        if act in ("relu", "elu") and any(np.abs(Z).min() < KINK_MARGIN for Z in fwd.Z):
            continue
        if act == "relu" and any(np.abs(b).max() == 0 for b in mlp.backward(w, fwd, act)):
            continue
        Y = fwd.F.copy() if interpolate else rng.standard_normal(n)
        return w, X, Y
    raise AssertionError("no seed avoided the kinks")  # pragma: no cover


def _all(w, X, Y, act):
    fwd = mlp.forward(w, X, act)
    B = mlp.backward(w, fwd, act)
    return fwd, B, fwd.F - Y


def _dense_hessian(w, fwd, B, D, act):
    mv, P = mlp.hessian_matvec(w, fwd, B, D, act)
    return np.stack([mv(e) for e in np.eye(P)], axis=1)


CASES = [(a, L) for a in mlp.ACTIVATIONS for L in (1, 2, 3, 4)]


# --------------------------------------------------------------------------- Gram matrix

@pytest.mark.parametrize("act,depth", CASES)
def test_gram_matches_fd_jacobian_and_per_sample_loop(act, depth):
    w, X, Y = _net(act, depth, seed=depth)
    fwd, B, _ = _all(w, X, Y, act)
    n, L = X.shape[1], len(w)
    J_fd, J_ps = _jac_fd(w, X, act), _jac_per_sample(w, X, act)
    assert rel_err(J_fd, J_ps) < FD_RTOL
    subsets = [None, (), (L - 1,), (0,)] + ([(0, L - 1), tuple(range(1, L))] if L > 1 else [])
    V = np.random.default_rng(1).standard_normal((n, 3))
    for layers in subsets:
        cols = _layer_cols(w, range(L) if layers is None else layers)
        G_fd, G_ps = J_fd[:, cols] @ J_fd[:, cols].T / n, J_ps[:, cols] @ J_ps[:, cols].T / n
        G = mlp.gram(fwd, B, layers=layers)
        mv = mlp.gram_matvec(fwd, B, layers=layers)
        scale = max(np.abs(G_ps).max(), 1e-300)
        assert rel_err(G, G_fd, scale) < FD_RTOL, layers
        assert rel_err(G, G_ps, scale) < EXACT_RTOL, layers
        assert rel_err(mv(V[:, 0]), G_ps @ V[:, 0], scale * np.abs(V).max()) < EXACT_RTOL
        assert rel_err(mv(V), G_ps @ V, scale * np.abs(V).max()) < EXACT_RTOL
        assert mv(V).shape == (n, 3) and mv(V[:, 0]).shape == (n,)
        assert rel_err(np.stack([mv(V[:, j]) for j in range(3)], 1), mv(V),
                       scale * np.abs(V).max()) < EXACT_RTOL
    assert rel_err(mlp.gram(fwd, B, K0=X.T @ X), mlp.gram(fwd, B)) < EXACT_RTOL
    assert rel_err(mlp.ga_gram(fwd), mlp.gram(fwd, B, layers=(-1,))) < EXACT_RTOL
    GA = J_ps[:, _layer_cols(w, [L - 1])]
    assert abs(mlp.ga_norm(fwd) - np.linalg.eigvalsh(GA @ GA.T / n)[-1]) \
        < EXACT_RTOL * np.linalg.eigvalsh(GA @ GA.T / n)[-1]


def test_ga_norm_uses_either_side():
    rng = np.random.default_rng(0)
    for widths, n in (((3, 8, 1), 4), ((3, 2, 1), 6)):
        w = mlp.init_weights(widths, seed=1)
        fwd = mlp.forward(w, rng.standard_normal((3, n)), "tanh")
        top = np.linalg.eigvalsh(mlp.ga_gram(fwd))[-1]
        assert abs(mlp.ga_norm(fwd) - top) < EXACT_RTOL * top


def test_depth2_identity_is_the_linear_network():
    rng = np.random.default_rng(3)
    d, n, m = 5, 7, 4
    W, a, X = rng.standard_normal((m, d)), rng.standard_normal(m), rng.standard_normal((d, n))
    w = (W, a[None, :])
    fwd = mlp.forward(w, X, "identity")
    B = mlp.backward(w, fwd, "identity")
    assert rel_err(fwd.F, X.T @ W.T @ a) < EXACT_RTOL
    assert rel_err(fwd.F, linnet.outputs(W, a, X, alpha=1.0)) < EXACT_RTOL
    assert rel_err(mlp.gram(fwd, B), linnet.gram(W, a, X, alpha=1.0)) < EXACT_RTOL
    Y = rng.standard_normal(n)
    gW, ga = linnet.gradients(W, a, X, Y, alpha=1.0)
    g = mlp.gradients(fwd, B, fwd.F - Y)
    assert rel_err(g[0], gW) < EXACT_RTOL and rel_err(g[1][0], ga) < EXACT_RTOL
    HW, Ha = linnet.hessian_vector_product(W, a, X, Y, W[::-1].copy(), a[::-1].copy(), alpha=1.0)
    h = mlp.hessian_vector_product(w, fwd, B, fwd.F - Y, (W[::-1], a[None, ::-1]), "identity")
    assert rel_err(h[0], HW) < EXACT_RTOL and rel_err(h[1][0], Ha) < EXACT_RTOL


# --------------------------------------------------------------------------- gradients, J products

@pytest.mark.parametrize("act,depth", CASES)
def test_gradients_match_fd_of_the_loss(act, depth):
    w, X, Y = _net(act, depth, seed=10 + depth)
    fwd, B, D = _all(w, X, Y, act)
    n = X.shape[1]

    def loss(ws):
        r = _F(ws, X, act) - Y
        return r @ r / (2 * n)

    g = mlp.gradients(fwd, B, D)
    for l, W in enumerate(w):
        assert g[l].shape == W.shape
        fd = np.zeros(W.shape)
        for idx in np.ndindex(W.shape):
            fd[idx] = (loss(_perturbed(w, l, idx, FD_STEP))
                       - loss(_perturbed(w, l, idx, -FD_STEP))) / (2 * FD_STEP)
        assert rel_err(g[l], fd, max(np.abs(fd).max(), 1e-3)) < FD_RTOL
    assert rel_err(fwd.F, _F(w, X, act)) < EXACT_RTOL


@pytest.mark.parametrize("act,depth", CASES)
def test_jvp_vjp_are_J_and_its_adjoint(act, depth):
    w, X, Y = _net(act, depth, seed=20 + depth)
    fwd, B, _ = _all(w, X, Y, act)
    rng = np.random.default_rng(0)
    u = tuple(rng.standard_normal(W.shape) for W in w)
    v = rng.standard_normal(X.shape[1])
    Ju, JTv = mlp.jvp(fwd, B, u), mlp.vjp(fwd, B, v)
    J = _jac_per_sample(w, X, act)
    assert rel_err(Ju, J @ mlp.flatten(u)) < EXACT_RTOL
    assert rel_err(mlp.flatten(JTv), J.T @ v) < EXACT_RTOL
    lhs, rhs = Ju @ v, mlp.flatten(u) @ mlp.flatten(JTv)
    assert abs(lhs - rhs) <= SYM_RTOL * np.abs(Ju).max() * np.abs(v).sum() * 10


@pytest.mark.parametrize("act", ["relu", "identity"])
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_positive_homogeneity_per_layer(act, depth):
    """σ(cz) = cσ(z) for c > 0 makes F linear in each W_l: ⟨W_l, ∂F_i/∂W_l⟩ = F_i."""
    w, X, Y = _net(act, depth, seed=30 + depth)
    fwd, B, _ = _all(w, X, Y, act)
    J = _jac_per_sample(w, X, act)
    for l in range(len(w)):
        only = tuple(W if k == l else np.zeros_like(W) for k, W in enumerate(w))
        assert rel_err(mlp.jvp(fwd, B, only), fwd.F) < EXACT_RTOL
        assert rel_err(J[:, _layer_cols(w, [l])] @ w[l].ravel(), fwd.F) < EXACT_RTOL


# --------------------------------------------------------------------------- Hessian

@pytest.mark.parametrize("act,depth", CASES)
def test_hvp_matches_fd_of_the_gradient_and_is_symmetric(act, depth):
    w, X, Y = _net(act, depth, seed=40 + depth)
    fwd, B, D = _all(w, X, Y, act)
    shapes = [W.shape for W in w]
    rng = np.random.default_rng(2)
    mv, P = mlp.hessian_matvec(w, fwd, B, D, act)
    assert P == sum(W.size for W in w)
    v, u = rng.standard_normal(P), rng.standard_normal(P)

    def grad(theta):
        ws = mlp.unflatten(theta, shapes)
        f, b, dd = _all(ws, X, Y, act)
        return mlp.flatten(mlp.gradients(f, b, dd))

    theta = mlp.flatten(w)
    fd = (grad(theta + FD_STEP * v) - grad(theta - FD_STEP * v)) / (2 * FD_STEP)
    Hv = mv(v)
    assert rel_err(Hv, fd) < HVP_FD_RTOL
    Hv_t = mlp.hessian_vector_product(w, fwd, B, D, mlp.unflatten(v, shapes), act)
    assert [x.shape for x in Hv_t] == shapes
    assert rel_err(mlp.flatten(Hv_t), Hv) < EXACT_RTOL
    Hu = mv(u)
    assert abs(u @ Hv - v @ Hu) <= SYM_RTOL * np.abs(u).sum() * np.abs(Hv).max() * 10
    H = _dense_hessian(w, fwd, B, D, act)
    assert rel_err(H, H.T) < SYM_RTOL
    # Gauss–Newton part: at D = 0 the Hessian is JᵀJ/n.
    J = _jac_per_sample(w, X, act)
    H0 = _dense_hessian(w, fwd, B, np.zeros_like(D), act)
    assert rel_err(H0, J.T @ J / X.shape[1]) < EXACT_RTOL


@pytest.mark.parametrize("act,depth", CASES)
def test_hessian_top_eigenvalue_is_sharpness_at_interpolation(act, depth):
    w, X, Y = _net(act, depth, seed=50 + depth, interpolate=True)
    fwd, B, D = _all(w, X, Y, act)
    assert np.abs(D).max() == 0.0
    H = _dense_hessian(w, fwd, B, D, act)
    lam = np.linalg.eigvalsh(H)[-1]
    Lam = np.linalg.eigvalsh(mlp.gram(fwd, B))[-1]
    assert abs(lam - Lam) <= EIG_RTOL * Lam


@pytest.mark.parametrize("act", mlp.ACTIVATIONS)
def test_gram_and_hessian_match_torch_autograd(act):
    torch = pytest.importorskip("torch")
    w, X, Y = _net(act, 3, seed=60)
    fwd, B, D = _all(w, X, Y, act)
    n = X.shape[1]
    shapes = [W.shape for W in w]
    sig = {"identity": lambda z: z, "tanh": torch.tanh, "relu": torch.relu,
           "elu": torch.nn.functional.elu}[act]
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)

    def out(theta):
        ws = [theta[s:e].reshape(sh) for s, e, sh in
              zip(np.cumsum([0] + [math.prod(sh) for sh in shapes])[:-1],
                  np.cumsum([math.prod(sh) for sh in shapes]), shapes, strict=True)]
        h = Xt
        for W in ws[:-1]:
            h = sig(W @ h)
        return (ws[-1] @ h)[0]

    theta = torch.from_numpy(mlp.flatten(w))
    J = torch.autograd.functional.jacobian(out, theta).numpy()
    H = torch.autograd.functional.hessian(lambda t: ((out(t) - Yt) ** 2).sum() / (2 * n),
                                          theta).numpy()
    assert rel_err(mlp.gram(fwd, B), J @ J.T / n) < TORCH_RTOL
    assert rel_err(_dense_hessian(w, fwd, B, D, act), H) < TORCH_RTOL


@given(act=st.sampled_from(mlp.ACTIVATIONS), depth=st.integers(1, 4), seed=st.integers(0, 10**6))
def test_hvp_symmetry_property(act, depth, seed):
    w, X, Y = _net(act, depth, seed=seed)
    fwd, B, D = _all(w, X, Y, act)
    mv, P = mlp.hessian_matvec(w, fwd, B, D, act)
    rng = np.random.default_rng(seed)
    u, v = rng.standard_normal(P), rng.standard_normal(P)
    Hu, Hv = mv(u), mv(v)
    assert abs(u @ Hv - v @ Hu) <= SYM_RTOL * 10 * (np.abs(u).sum() * np.abs(Hv).max()
                                                     + np.abs(v).sum() * np.abs(Hu).max())


def test_flatten_unflatten_roundtrip():
    w = mlp.init_weights((3, 4, 2, 1), seed=0)
    theta = mlp.flatten(w)
    assert theta.shape == (3 * 4 + 4 * 2 + 2,)
    back = mlp.unflatten(theta, [W.shape for W in w])
    assert all(np.array_equal(a, b) for a, b in zip(w, back, strict=True))
    with pytest.raises(ValueError, match="vec"):
        mlp.unflatten(theta[:-1], [W.shape for W in w])


# --------------------------------------------------------------------------- activations

def test_activation_derivatives_match_fd_and_torch_conventions():
    z = np.array([-2.0, -0.5, 0.3, 1.7])
    for a in mlp.ACTIVATIONS:
        s1 = mlp.sigma_prime(z, a)
        fd1 = (mlp.sigma(z + FD_STEP, a) - mlp.sigma(z - FD_STEP, a)) / (2 * FD_STEP)
        assert rel_err(s1, fd1, 1.0) < FD_RTOL, a
        s2 = mlp.sigma_second(z, a)
        s2 = np.zeros_like(z) if s2 is None else s2
        fd2 = (mlp.sigma_prime(z + FD_STEP, a) - mlp.sigma_prime(z - FD_STEP, a)) / (2 * FD_STEP)
        assert rel_err(s2, fd2, 1.0) < FD_RTOL, a
    zero = np.zeros(1)
    assert mlp.sigma_prime(zero, "relu")[0] == 0.0 and mlp.sigma_prime(zero, "elu")[0] == 1.0
    assert mlp.sigma_second(zero, "elu")[0] == 0.0
    assert np.isfinite(mlp.sigma(np.array([800.0]), "elu")).all()
    torch = pytest.importorskip("torch")
    t = torch.tensor([-2.0, -0.5, 0.0, 0.3, 1.7], dtype=torch.float64, requires_grad=True)
    for a, f in (("relu", torch.relu), ("elu", torch.nn.functional.elu), ("tanh", torch.tanh)):
        g, = torch.autograd.grad(f(t).sum(), t)
        assert rel_err(mlp.sigma_prime(t.detach().numpy(), a), g.numpy(), 1.0) < EXACT_RTOL, a
        assert rel_err(mlp.sigma(t.detach().numpy(), a), f(t).detach().numpy(), 1.0) < EXACT_RTOL


# --------------------------------------------------------------------------- initialisation

def test_init_torch_bounds_match_nn_linear_and_are_reproducible():
    widths = (300, 200, 50, 1)
    w = mlp.init_weights(widths, init="torch", seed=7)
    assert [W.shape for W in w] == [(200, 300), (50, 200), (1, 50)]
    for W, fan_in in zip(w, widths[:-1], strict=True):
        b = 1 / math.sqrt(fan_in)
        assert mlp.torch_bound(fan_in) == b
        assert np.abs(W).max() <= b
        if W.size > 1000:  # the draw fills the interval and has the uniform's variance b²/3
            assert np.abs(W).max() > 0.99 * b
            assert abs(W.var() - b * b / 3) < 0.05 * b * b / 3
    again = mlp.init_weights(widths, init="torch", seed=7)
    assert all(np.array_equal(a, c) for a, c in zip(w, again, strict=True))
    assert not np.array_equal(w[0], mlp.init_weights(widths, init="torch", seed=8)[0])
    # The numpy draw: default_rng(seed).uniform layer by layer, first layer first.
    rng = np.random.default_rng(7)
    assert np.array_equal(w[0], rng.uniform(-1 / math.sqrt(300), 1 / math.sqrt(300), (200, 300)))
    assert np.array_equal(w[1], rng.uniform(-1 / math.sqrt(200), 1 / math.sqrt(200), (50, 200)))
    s = mlp.init_weights(widths, init="torch", seed=7, scale=2.5)
    assert rel_err(s[1], 2.5 * w[1]) < EXACT_RTOL
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=True):
        lin = torch.nn.Linear(fan_in, fan_out, bias=False)
        b = mlp.torch_bound(fan_in)
        assert float(lin.weight.detach().abs().max()) <= b * (1 + 1e-6)  # float32 rounding of the bound
        gain = torch.nn.init.calculate_gain("leaky_relu", math.sqrt(5))
        assert abs(gain * math.sqrt(3 / fan_in) - b) < 1e-15 * b
        if fan_in * fan_out > 1000:
            assert float(lin.weight.detach().abs().max()) > 0.99 * b


def test_init_gaussian_variance_and_options():
    w = mlp.init_weights((400, 300, 1), init="gaussian", seed=0)
    assert abs(w[0].var() * 400 - 1) < 0.02 and abs(w[0].mean()) < 0.01
    w32 = mlp.init_weights((4, 3, 1), dtype="float32")
    assert all(W.dtype == np.float32 for W in w32)
    assert len(mlp.init_weights((4, 1))) == 1
    assert mlp.init_weights((4, 1), backend="numpy")[0].shape == (1, 4)


# --------------------------------------------------------------------------- dtype

@pytest.mark.parametrize("act", mlp.ACTIVATIONS)
def test_float32_stays_float32(act):
    w64, X64, Y64 = _net(act, 3, seed=70)
    w = tuple(W.astype(np.float32) for W in w64)
    X, Y = X64.astype(np.float32), Y64.astype(np.float32)
    fwd, B, D = _all(w, X, Y, act)
    f64, B64, D64 = _all(w64, X64, Y64, act)
    outs = list(fwd.Z) + list(fwd.H) + [fwd.F] + list(B) + list(mlp.gradients(fwd, B, D))
    n, P = X.shape[1], sum(W.size for W in w)
    v = np.ones(n, np.float32)
    dW = tuple(np.ones_like(W) for W in w)
    mv = mlp.gram_matvec(fwd, B)
    hm, _ = mlp.hessian_matvec(w, fwd, B, D, act)
    outs += [mlp.jvp(fwd, B, dW), *mlp.vjp(fwd, B, v), mlp.gram(fwd, B),
             mlp.gram(fwd, B, K0=X.T @ X), mv(v), mv(np.ones((n, 2), np.float32)),
             mlp.ga_gram(fwd),
             *mlp.hessian_vector_product(w, fwd, B, D, dW, act), hm(np.ones(P, np.float32)),
             mlp.flatten(w)]
    for o in outs:
        assert o.dtype == np.float32
    assert isinstance(mlp.ga_norm(fwd), float)
    assert rel_err(mlp.gram(fwd, B), mlp.gram(f64, B64)) < F32_RTOL
    assert rel_err(hm(np.ones(P, np.float32)),
                   mlp.hessian_matvec(w64, f64, B64, D64, act)[0](np.ones(P))) < F32_RTOL


# --------------------------------------------------------------------------- bad input

def test_bad_input_raises_naming_the_argument():
    w = mlp.init_weights((3, 4, 1), seed=0)
    X = np.ones((3, 5))
    with pytest.raises(ValueError, match="widths"):
        mlp.init_weights((3, 4, 2))
    with pytest.raises(ValueError, match="widths"):
        mlp.init_weights((3,))
    with pytest.raises(ValueError, match="widths"):
        mlp.init_weights((3, 0, 1))
    with pytest.raises(ValueError, match="init"):
        mlp.init_weights((3, 1), init="xavier")
    with pytest.raises(ValueError, match="scale"):
        mlp.init_weights((3, 1), scale=-1)
    with pytest.raises(TypeError, match="dtype"):
        mlp.init_weights((3, 1), dtype="int32")
    with pytest.raises(ValueError, match="activation"):
        mlp.check_activation("gelu")
    with pytest.raises(ValueError, match="activation.*identity"):
        mlp.forward(w, X, "sigmoid")
    with pytest.raises(ValueError, match=r"weights\[0\].*d = 4"):
        mlp.check_weights(w, d=4)
    with pytest.raises(ValueError, match="X has 4 rows"):
        mlp.forward(w, np.ones((4, 5)), "tanh")
    with pytest.raises(ValueError, match=r"weights\[1\]"):
        mlp.check_weights((w[0], np.ones((1, 3))))
    with pytest.raises(ValueError, match=r"weights\[1\].*1 row"):
        mlp.check_weights((w[0], np.ones((2, 4))))
    with pytest.raises(ValueError, match=r"weights\[0\].*2-D"):
        mlp.check_weights((np.ones(3),))
    with pytest.raises(ValueError, match="weights"):
        mlp.check_weights(())
    bad = (w[0].copy(), w[1])
    bad[0][1, 1] = np.nan
    with pytest.raises(ValueError, match=r"weights\[0\].*NaN"):
        mlp.check_weights(bad)
    with pytest.raises(ValueError, match=r"theta\[1\].*inf"):
        mlp.check_weights((w[0], np.full((1, 4), np.inf)), name="theta")
    with pytest.raises(ValueError, match=r"weights\[1\].*dtype"):
        mlp.check_weights((w[0], w[1].astype(np.float32)))
    with pytest.raises(ValueError, match="X has dtype"):
        mlp.forward(w, X.astype(np.float32), "tanh")
    fwd = mlp.forward(w, X, "tanh")
    B = mlp.backward(w, fwd, "tanh")
    with pytest.raises(ValueError, match="layers"):
        mlp.gram(fwd, B, layers=(2,))
    with pytest.raises(ValueError, match="layers"):
        mlp.gram_matvec(fwd, B, layers=(0, 0))
    with pytest.raises(ValueError, match="K0"):
        mlp.gram(fwd, B, K0=np.eye(3))
    with pytest.raises(ValueError, match="D"):
        mlp.gradients(fwd, B, np.ones(4))
    with pytest.raises(ValueError, match="v must"):
        mlp.gram_matvec(fwd, B)(np.ones(4))
    with pytest.raises(ValueError, match="v must be a flat vector"):
        mlp.hessian_matvec(w, fwd, B, fwd.F, "tanh")[0](np.ones(3))
    with pytest.raises(ValueError, match="dW"):
        mlp.hessian_vector_product(w, fwd, B, fwd.F, (w[0],), "tanh")


# --------------------------------------------------------------------------- CuPy

@pytest.mark.gpu
@pytest.mark.parametrize("act", mlp.ACTIVATIONS)
def test_cupy_matches_numpy(act):
    cupy = cupy_with_gpu()
    w, X, Y = _net(act, 3, seed=80)
    fwd, B, D = _all(w, X, Y, act)
    wg = tuple(cupy.asarray(W) for W in w)
    fg, Bg, Dg = _all(wg, cupy.asarray(X), cupy.asarray(Y), act)
    assert rel_err(fg.F.get(), fwd.F) < EXACT_RTOL
    assert rel_err(mlp.gram(fg, Bg).get(), mlp.gram(fwd, B)) < EXACT_RTOL
    V = np.random.default_rng(0).standard_normal((X.shape[1], 2))
    assert rel_err(mlp.gram_matvec(fg, Bg)(cupy.asarray(V)).get(),
                   mlp.gram_matvec(fwd, B)(V)) < EXACT_RTOL
    mv, P = mlp.hessian_matvec(w, fwd, B, D, act)
    mvg, _ = mlp.hessian_matvec(wg, fg, Bg, Dg, act)
    v = np.random.default_rng(1).standard_normal(P)
    assert rel_err(mvg(cupy.asarray(v)).get(), mv(v)) < EXACT_RTOL
    assert abs(mlp.ga_norm(fg) - mlp.ga_norm(fwd)) < EXACT_RTOL * mlp.ga_norm(fwd)
    wc = mlp.init_weights((4, 3, 1), backend="cupy", seed=0)
    assert all(np.array_equal(a.get(), b)
               for a, b in zip(wc, mlp.init_weights((4, 3, 1), seed=0), strict=True))
