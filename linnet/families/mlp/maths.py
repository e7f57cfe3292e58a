"""Deep bias-free fully connected networks: outputs, Jacobian products, Gram matrix, exact HVP.

The model is f(x) = W_L σ(W_{L−1} … σ(W_1 x)) with a linear output layer (docs/theory.md §7).
Conventions, fixed for the engines built on these functions:

* ``weights`` = (W_1, …, W_L), W_l of shape h_l × h_{l−1} (``nn.Linear``'s (out, in) layout),
  first layer first, h_L = 1; L = 1 is the linear model f(x) = W_1 x.
* X is h_0 × n with samples as columns, Y has length n, F = f(X) has length n, D = F − Y,
  L(θ) = ‖D‖² / (2n). No α scaling.
* Forward pass: H_0 = X, Z_l = W_l H_{l−1}, H_l = σ(Z_l) for l = 1..L−1, F = W_L H_{L−1}.
* Backward pass: B_l = ∂F/∂Z_l per sample (h_l × n), B_L = 1 (1 × n),
  B_l = σ′(Z_l) ∘ (W_{l+1}ᵀ B_{l+1}). Then ∂F_i/∂W_l = B_l[:, i] H_{l−1}[:, i]ᵀ (an outer
  product), which every function below contracts without forming the n × P Jacobian J.

Every function takes arrays and works on NumPy or CuPy (``linnet._backend.namespace``) in the
arrays' own float dtype (float64 or float32); mixed dtypes are refused rather than upcast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._backend import namespace
from ..._checks import check_finite, resolve_dtype
from .activations import (  # noqa: F401 - re-exported: the activations are part of the MLP's maths
    ACTIVATION_TABLE,
    ACTIVATIONS,
    Activation,
    check_activation,
    sigma,
    sigma_prime,
    sigma_second,
)

INITS = ("torch", "gaussian")


# --------------------------------------------------------------------------- validation


def check_weights(weights, *, d: int | None = None, name: str = "weights", finite: bool = True):
    """Validate ``weights`` = (W_1, …, W_L): 2-D real float arrays of one dtype, with
    W_{l+1}.shape[1] == W_l.shape[0], W_L of one row, W_1 of ``d`` columns (when given) and,
    with ``finite=True``, no NaN or inf. Returns the weights as a tuple."""
    if hasattr(weights, "shape") or not hasattr(weights, "__len__"):
        raise TypeError(
            f"{name} must be a tuple or list of 2-D arrays [W_1, …, W_L], got {type(weights).__name__}"
        )
    weights = tuple(weights)
    if len(weights) == 0:
        raise ValueError(f"{name} is empty: pass at least one layer (L = 1 is the linear model)")
    for l, W in enumerate(weights):
        if not hasattr(W, "shape") or not hasattr(W, "dtype"):
            raise TypeError(f"{name}[{l}] must be a NumPy or CuPy array, got {type(W).__name__}")
        if W.ndim != 2:
            raise ValueError(
                f"{name}[{l}] must be 2-D (out × in, nn.Linear's layout), got shape {tuple(W.shape)}"
            )
        if W.dtype not in (np.float64, np.float32):
            raise TypeError(f"{name}[{l}] has dtype {W.dtype}: use float64 or float32")
        if W.dtype != weights[0].dtype:
            raise ValueError(
                f"{name}[{l}] has dtype {W.dtype} but {name}[0] has "
                f"{weights[0].dtype}: cast all layers to one dtype"
            )
        if l > 0 and W.shape[1] != weights[l - 1].shape[0]:
            raise ValueError(
                f"{name}[{l}] has shape {tuple(W.shape)} but {name}[{l - 1}] has "
                f"{weights[l - 1].shape[0]} outputs: layer {l} needs {weights[l - 1].shape[0]} "
                f"columns (W_{{l+1}}.shape[1] == W_l.shape[0])"
            )
    if weights[-1].shape[0] != 1:
        raise ValueError(
            f"{name}[{len(weights) - 1}] (the output layer) has shape "
            f"{tuple(weights[-1].shape)}: it must have 1 row (scalar output)"
        )
    if d is not None and weights[0].shape[1] != d:
        raise ValueError(
            f"{name}[0] has {weights[0].shape[1]} columns but the data have "
            f"d = {d} rows (features): the first layer must be h_1 × {d}"
        )
    if finite:
        for l, W in enumerate(weights):
            check_finite(f"{name}[{l}]", W)
    return weights


def _check_X(X, weights):
    if not hasattr(X, "shape") or not hasattr(X, "dtype"):
        raise TypeError(f"X must be a NumPy or CuPy array, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (d × n, samples as columns), got shape {tuple(X.shape)}")
    if X.shape[0] != weights[0].shape[1]:
        raise ValueError(
            f"X has {X.shape[0]} rows (features d) but weights[0] has "
            f"{weights[0].shape[1]} columns: they must agree (X is d × n, "
            f"samples as columns; transpose X if it is n × d)"
        )
    _check_dtype("X", X, weights[0].dtype)


def _check_dtype(name, A, dtype):
    if A.dtype != dtype:
        raise ValueError(
            f"{name} has dtype {A.dtype} but the weights have {dtype}: cast it "
            f"with .astype('{dtype}') (mixed dtypes are not upcast silently)"
        )


def _check_vec(name, v, n, dtype):
    if not hasattr(v, "shape") or v.ndim != 1 or v.shape[0] != n:
        raise ValueError(
            f"{name} must be a vector of length n = {n}, got {getattr(v, 'shape', type(v).__name__)}"
        )
    _check_dtype(name, v, dtype)


def _resolve_layers(layers, L: int):
    if layers is None:
        return tuple(range(L))
    out = []
    for l in layers:
        if isinstance(l, bool) or not isinstance(l, (int, np.integer)) or not -L <= l < L:
            raise ValueError(
                f"layers must hold 0-based layer indices in [0, {L}) (or negative "
                f"ones counted from the end), got {l!r} in {tuple(layers)!r}"
            )
        out.append(int(l) % L)
    if len(set(out)) != len(out):
        raise ValueError(f"layers={tuple(layers)!r} names a layer twice: list each once")
    return tuple(sorted(out))


# --------------------------------------------------------------------------- initialisation


def init_weights(
    widths, *, init: str = "torch", scale: float = 1.0, seed=0, dtype="float64", backend: str | None = None
):
    """Initial weights for ``widths`` = (h_0 = d, h_1, …, h_{L−1}, 1), drawn on the host with
    ``numpy.random.default_rng(seed)`` layer by layer (W_1 first), times ``scale``.

    * ``"torch"``: ``nn.Linear(bias=False)``'s default, ``kaiming_uniform_(a=√5)``: gain
      √(2/(1+a²)) = 1/√3, bound = gain·√(3/fan_in) = 1/√fan_in, so W_l ~ U(±1/√h_{l−1}).
    * ``"gaussian"``: W_l ~ N(0, 1/h_{l−1}) entrywise.
    Returns a tuple of ``dtype`` arrays on ``backend`` (default NumPy).
    """
    try:
        widths = tuple(widths)
    except TypeError as exc:
        raise TypeError(f"widths must be a sequence of layer widths (d, h_1, …, 1), got {widths!r}") from exc
    if len(widths) < 2:
        raise ValueError(f"widths={widths!r} needs at least (d, 1): the input width and the output width 1")
    for i, h in enumerate(widths):
        if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1:
            raise ValueError(f"widths[{i}] = {h!r} must be a positive integer")
    if widths[-1] != 1:
        raise ValueError(
            f"widths={widths!r} must end in 1 (the scalar output layer); append 1, e.g. {widths + (1,)!r}"
        )
    if init not in INITS:
        raise ValueError(f"init={init!r} is unknown: use one of {INITS}")
    scale = float(scale)
    if not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a finite number > 0, got {scale}")
    dt = resolve_dtype(dtype)
    xp = namespace(backend=backend)
    rng = np.random.default_rng(seed)
    out = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=True):
        fan_in, fan_out = int(fan_in), int(fan_out)
        if init == "torch":
            b = torch_bound(fan_in)
            W = rng.uniform(-b, b, (fan_out, fan_in))
        else:
            W = rng.standard_normal((fan_out, fan_in)) / math.sqrt(fan_in)
        out.append(xp.asarray(scale * W, dtype=dt))
    return tuple(out)


def torch_bound(fan_in: int) -> float:
    """nn.Linear's default bound: kaiming_uniform(a=√5) has gain √(2/(1+a²)) = 1/√3 and bound
    gain·√(3/fan_in) = 1/√fan_in (returned in that closed form, free of the rounding of the product)."""
    return 1.0 / math.sqrt(fan_in)


# --------------------------------------------------------------------------- passes


@dataclass(frozen=True)
class Forward:
    """One forward pass: ``Z`` = (Z_1, …, Z_{L−1}) pre-activations (h_l × n),
    ``H`` = (H_0 = X, …, H_{L−1} = σ(Z_{L−1})) layer inputs, ``F`` = W_L H_{L−1} (length n)."""

    Z: tuple
    H: tuple
    F: Any

    @property
    def n(self) -> int:
        return self.H[0].shape[1]


def forward(weights, X, activation: str) -> Forward:
    """H_0 = X, Z_l = W_l H_{l−1}, H_l = σ(Z_l) (l = 1..L−1), F = W_L H_{L−1}.

    Checks shapes and dtypes only (not finiteness, which costs a reduction per call; use
    :func:`check_weights` once where the weights come from outside)."""
    check_activation(activation)
    weights = check_weights(weights, finite=False)
    _check_X(X, weights)
    Z, H = [], [X]
    for W in weights[:-1]:
        Zl = W @ H[-1]
        Z.append(Zl)
        H.append(sigma(Zl, activation))
    F = (weights[-1] @ H[-1])[0]
    return Forward(Z=tuple(Z), H=tuple(H), F=F)


def backward(weights, fwd: Forward, activation: str):
    """B = (B_1, …, B_L), B_l = ∂F/∂Z_l per sample (h_l × n): B_L = 1 (1 × n),
    B_l = σ′(Z_l) ∘ (W_{l+1}ᵀ B_{l+1})."""
    check_activation(activation)
    xp = namespace(fwd.F)
    L = len(weights)
    B = [None] * L
    B[L - 1] = xp.ones((1, fwd.n), dtype=fwd.F.dtype)
    for l in range(L - 2, -1, -1):
        B[l] = _sigma_prime_at(fwd, l, activation) * (weights[l + 1].T @ B[l + 1])
    return tuple(B)


def _sigma_prime_at(fwd: Forward, i: int, activation: str):
    """σ′(Z_{i+1}) (0-based i); from the forward pass's H = σ(Z) where the activation's row says
    how (tanh: 1 − H², the same numbers as :func:`sigma_prime`, which computes T = tanh Z, then
    1 − T·T, without a second tanh)."""
    of_output = ACTIVATION_TABLE[activation].prime_of_output
    if of_output is not None:
        return of_output(fwd.H[i + 1])
    return sigma_prime(fwd.Z[i], activation)


def gradients(fwd: Forward, B, D):
    """∇_{W_l} L = (1/n) (B_l ∘ D) H_{l−1}ᵀ for L = ‖D‖²/(2n) (D broadcast over rows)."""
    n = fwd.n
    _check_vec("D", D, n, fwd.F.dtype)
    return tuple(((Bl * D) @ Hl.T) / n for Bl, Hl in zip(B, fwd.H, strict=True))


def jvp(fwd: Forward, B, dW):
    """J dθ = Σ_l colsum(B_l ∘ (dW_l H_{l−1})), length n: the first-order change of F."""
    out = None
    for Bl, Hl, dWl in zip(B, fwd.H, _as_layers(dW, B), strict=True):
        t = (Bl * (dWl @ Hl)).sum(axis=0)
        out = t if out is None else out + t
    return out


def vjp(fwd: Forward, B, v):
    """Jᵀ v = ((B_l ∘ v) H_{l−1}ᵀ)_l, shaped like the weights."""
    _check_vec("v", v, fwd.n, fwd.F.dtype)
    return tuple((Bl * v) @ Hl.T for Bl, Hl in zip(B, fwd.H, strict=True))


def _as_layers(dW, B):
    dW = tuple(dW)
    if len(dW) != len(B):
        raise ValueError(
            f"dW has {len(dW)} layers but the network has {len(B)}: pass one "
            f"array per layer, shaped like the weights"
        )
    return dW


# --------------------------------------------------------------------------- Gram matrix


def gram(fwd: Forward, B, *, layers=None, K0=None):
    """G = J Jᵀ / n restricted to ``layers`` (0-based; None = all), an n × n PSD matrix.

    Since ∂F_i/∂W_l = B_l[:, i] H_{l−1}[:, i]ᵀ, the Frobenius inner product of two samples'
    gradients factorises, ⟨b_i h_iᵀ, b_j h_jᵀ⟩ = (b_i·b_j)(h_i·h_j), so
        G = (1/n) Σ_{l ∈ layers} (B_lᵀ B_l) ∘ (H_{l−1}ᵀ H_{l−1}).
    The output layer has B_L = 1, so its term is G_A = H_{L−1}ᵀ H_{L−1} / n. ``K0`` is the
    precomputed H_0ᵀH_0 = XᵀX (constant along GD) to reuse for the first layer.
    """
    xp = namespace(fwd.F)
    L, n = len(B), fwd.n
    G = xp.zeros((n, n), dtype=fwd.F.dtype)
    for l in _resolve_layers(layers, L):
        if l == 0 and K0 is not None:
            if K0.shape != (n, n):
                raise ValueError(f"K0 must be XᵀX of shape ({n}, {n}), got {tuple(K0.shape)}")
            _check_dtype("K0", K0, fwd.F.dtype)
            K = K0
        else:
            K = fwd.H[l].T @ fwd.H[l]
        if l == L - 1:
            G += K
        else:
            G += (B[l].T @ B[l]) * K
    G /= n
    return G


def gram_matvec(fwd: Forward, B, *, layers=None):
    """v ↦ G v matrix-free for v of shape (n,) or (n, k): per layer l in ``layers``,
    M_l = (B_l ∘ v) H_{l−1}ᵀ (the layer-l block of Jᵀv), then G v = Σ_l colsum(B_l ∘ (M_l H_{l−1})) / n.

    A block of k columns stacks the k matrices B_l ∘ v_j into one (k·h_l) × n matrix, so each
    layer costs two GEMMs whatever k is (measured at n = 1000, widths 1000→200→…→1: as fast as
    or faster than a loop over columns, and faster than a batched (k, h_l, n) matmul).
    Cost per column ≈ 4 Σ_l h_l h_{l−1} n flops: cheaper than the dense :func:`gram` only
    when n is well above the widths."""
    L, n = len(B), fwd.n
    ls = _resolve_layers(layers, L)
    xp = namespace(fwd.F)
    dtype = fwd.F.dtype

    def one(v):
        out = xp.zeros(n, dtype=dtype)
        for l in ls:
            Hl = fwd.H[l]
            if l == L - 1:
                out += (v @ Hl.T) @ Hl
            else:
                Bl = B[l]
                out += (Bl * (((Bl * v) @ Hl.T) @ Hl)).sum(axis=0)
        out /= n
        return out

    def block(V):
        k = V.shape[1]
        out = xp.zeros((k, n), dtype=dtype)
        for l in ls:
            Hl = fwd.H[l]
            if l == L - 1:
                out += (Hl.T @ (Hl @ V)).T
            else:
                Bl = B[l]
                h = Bl.shape[0]
                S = (Bl[None, :, :] * V.T[:, None, :]).reshape(k * h, n)  # rows: (column j, unit)
                out += (Bl[None, :, :] * ((S @ Hl.T) @ Hl).reshape(k, h, n)).sum(axis=1)
        out /= n
        return out.T

    def matvec(v):
        if v.ndim in (1, 2) and v.shape[0] == n:
            _check_dtype("v", v, dtype)
            return one(v) if v.ndim == 1 else block(v)
        raise ValueError(f"v must have shape (n,) or (n, k) with n = {n}, got {tuple(v.shape)}")

    return matvec


def ga_gram(fwd: Forward):
    """G_A = H_{L−1}ᵀ H_{L−1} / n (n × n): the output layer's part of G."""
    H = fwd.H[-1]
    return (H.T @ H) / fwd.n


def ga_norm(fwd: Forward) -> float:
    """‖G_A‖ = λ_max(H_{L−1}ᵀ H_{L−1} / n), from the h × h matrix H Hᵀ / n (same non-zero
    spectrum); the n × n one is used instead when n < h."""
    xp = namespace(fwd.F)
    H = fwd.H[-1]
    M = (H @ H.T) if H.shape[0] <= H.shape[1] else (H.T @ H)
    return float(xp.linalg.eigvalsh(M / fwd.n)[-1])


# --------------------------------------------------------------------------- Hessian


def hessian_vector_product(weights, fwd: Forward, B, D, dW, activation: str):
    """H dθ for the exact Hessian H = ∇²L of L(θ) = ‖F(θ) − Y‖²/(2n), all layers, by
    Pearlmutter's R-operator R{·} = d/dε (·)(θ + ε dθ)|₀.

    Loss backward pass: δ_l = ∂L/∂Z_l = B_l ∘ D / n (Z_L ≡ F, δ_L = D/n),
    δ_l = σ′(Z_l) ∘ (W_{l+1}ᵀ δ_{l+1}), ∇_{W_l} L = δ_l H_{l−1}ᵀ.
    R-forward (R{H_0} = R{X} = 0), l = 1..L−1:
        R{Z_l} = dW_l H_{l−1} + W_l R{H_{l−1}},   R{H_l} = σ′(Z_l) ∘ R{Z_l},
        R{F}   = dW_L H_{L−1} + W_L R{H_{L−1}}  ( = J dθ ).
    R-backward: R{δ_L} = R{D}/n = R{F}/n and, for l = L−1..1,
        R{δ_l} = σ″(Z_l) ∘ R{Z_l} ∘ (W_{l+1}ᵀ δ_{l+1}) + σ′(Z_l) ∘ (dW_{l+1}ᵀ δ_{l+1} + W_{l+1}ᵀ R{δ_{l+1}}),
    with W_{l+1}ᵀ δ_{l+1} = (W_{l+1}ᵀ B_{l+1}) ∘ D / n. Finally
        (H dθ)_l = R{∇_{W_l} L} = R{δ_l} H_{l−1}ᵀ + δ_l R{H_{l−1}}ᵀ.
    The part of R{δ} driven by R{F} is B_l ∘ R{F}/n, which gives (1/n) Jᵀ(J dθ); everything
    else is proportional to D and gives (1/n) Σ_i D_i ∇²F_i dθ: H = JᵀJ/n + (1/n) Σ_i D_i ∇²F_i.
    Returns a tuple shaped like ``weights``.
    """
    return _hvp(_hvp_state(weights, fwd, B, D, activation), _as_layers(dW, B))


@dataclass(frozen=True)
class _HVPState:
    weights: tuple
    fwd: Forward
    S1: tuple  # σ′(Z_l), l = 1..L−1
    C2: tuple  # σ″(Z_l) ∘ (W_{l+1}ᵀ δ_{l+1}), or None where σ″ ≡ 0
    delta: tuple  # δ_l = B_l ∘ D / n, l = 1..L


def _hvp_state(weights, fwd, B, D, activation):
    check_activation(activation)
    n = fwd.n
    _check_vec("D", D, n, fwd.F.dtype)
    L = len(weights)
    if len(B) != L:
        raise ValueError(f"B has {len(B)} layers but weights has {L}: pass backward()'s output")
    Dn = D / n
    S1, C2 = [], []
    for l in range(L - 1):
        S1.append(_sigma_prime_at(fwd, l, activation))
        if activation == "tanh":  # σ″ = −2T(1 − T²) with T = H_{l+1} = tanh Z_{l+1}, as sigma_second
            T = fwd.H[l + 1]
            S2 = -2 * T * (1 - T * T)
        else:
            S2 = sigma_second(fwd.Z[l], activation)
        C2.append(None if S2 is None else S2 * ((weights[l + 1].T @ B[l + 1]) * Dn))
    delta = tuple(Bl * Dn for Bl in B)
    return _HVPState(tuple(weights), fwd, tuple(S1), tuple(C2), delta)


def _hvp(st: _HVPState, dW):
    W, H, L = st.weights, st.fwd.H, len(st.weights)
    # R-forward: RZ[l] = R{Z_{l+1}} (0-based), RH[l] = R{H_l}.
    RZ, RH = [], [None]
    for l in range(L):
        Rz = dW[l] @ H[l]
        if RH[l] is not None:
            Rz = Rz + W[l] @ RH[l]
        RZ.append(Rz)
        if l < L - 1:
            RH.append(st.S1[l] * Rz)
    n = st.fwd.n
    out: list[Any] = [None] * L
    Rd = RZ[L - 1] / n  # R{δ_L} = R{F}/n (1 × n)
    for l in range(L - 1, -1, -1):
        g = Rd @ H[l].T
        RH_l = RH[l]
        if RH_l is not None:
            g = g + st.delta[l] @ RH_l.T
        out[l] = g
        if l > 0:
            t = dW[l].T @ st.delta[l] + W[l].T @ Rd
            Rd_prev = st.S1[l - 1] * t
            if st.C2[l - 1] is not None:
                Rd_prev = Rd_prev + st.C2[l - 1] * RZ[l - 1]
            Rd = Rd_prev
    return tuple(out)


def flatten(weights):
    """θ = concatenation of the raveled layers (row-major), W_1 first."""
    xp = namespace(*weights)
    return xp.concatenate([W.ravel() for W in weights])


def unflatten(vec, shapes):
    """Inverse of :func:`flatten`: split ``vec`` into arrays of ``shapes`` (views, no copy)."""
    shapes = [tuple(int(s) for s in sh) for sh in shapes]
    sizes = [math.prod(sh) for sh in shapes]
    if vec.ndim != 1 or vec.shape[0] != sum(sizes):
        raise ValueError(
            f"vec must be a vector of length {sum(sizes)} (the parameter count of "
            f"shapes {shapes}), got shape {tuple(vec.shape)}"
        )
    out, i = [], 0
    for sh, s in zip(shapes, sizes, strict=True):
        out.append(vec[i : i + s].reshape(sh))
        i += s
    return tuple(out)


def hessian_matvec(weights, fwd: Forward, B, D, activation: str):
    """(matvec, P): matvec maps a flat direction dθ (length P = number of parameters, the
    layout of :func:`flatten`) to the flat H dθ of :func:`hessian_vector_product`; the σ′, σ″
    and δ factors are computed once here and reused on every call (e.g. inside Lanczos)."""
    st = _hvp_state(weights, fwd, B, D, activation)
    shapes = [W.shape for W in weights]
    P = sum(math.prod(sh) for sh in shapes)
    dtype = fwd.F.dtype

    def matvec(v):
        if not hasattr(v, "shape") or v.ndim != 1 or v.shape[0] != P:
            raise ValueError(
                f"v must be a flat vector of length P = {P} (the parameter count, "
                f"flatten()'s layout), got {getattr(v, 'shape', type(v).__name__)}"
            )
        _check_dtype("v", v, dtype)
        return flatten(_hvp(st, unflatten(v, shapes)))

    return matvec, P
