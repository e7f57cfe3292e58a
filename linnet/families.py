"""Model families that :func:`linnet.train` runs: a description of the network and its start,
turned into an engine on given data by ``build``.

* :class:`LinearNet`: the paper's two-layer linear net f(x) = α aᵀWx (§4), on the spectral or the
  literal engine (:mod:`linnet.engines`); ``train(X, Y, m=...)`` builds one.
* :class:`MLP`: bias-free fully connected nets f(x) = W_L σ(W_{L−1} … σ(W_1 x)) (§3, App. A.2),
  on :class:`linnet.mlp_engine.MLPEngine`.

``build(X, Y, *, spectrum, dtype, xp, top_k)`` returns a :class:`Built`: the engine, the
configuration entries that describe the model, and a function giving the family's own arrays
(its initial and final weights) once the run is over.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._backend import backend_name, to_numpy
from ._checks import check_finite, check_matrix, check_vector
from .engines import ENGINES
from .gram import sharpness
from .init import init_params
from .model import resolve_alpha
from .spectral import DataSpectrum


@dataclass(frozen=True)
class Built:
    engine: Any
    config: dict
    specific: Callable[[], dict]
    family: str
    measures_e_hat: bool  # Ê = G − κ_G K is the linear net's (eq. 10)
    supports_flow: bool
    frozen: tuple[int, ...] = ()


@dataclass(frozen=True)
class LinearNet:
    """The two-layer linear net of width ``m`` (§4): start from ``init_params(m, X, scheme=init,
    scale=scale, seed=seed, alpha=alpha)`` or from the given ``W0`` (m×d), ``a0`` (m,).
    ``alpha=None`` means α = 1/√m; ``engine`` is "spectral" (O(m·r) a step) or "literal"."""
    m: int | None = None
    init: str = "symmetric"
    scale: float = 1.0
    seed: int | None = 0
    alpha: float | None = None
    W0: Any = None
    a0: Any = None
    engine: str = "spectral"

    family = "linear2"

    def initial_sharpness(self, X: Any, Y: Any) -> float:
        """Λ(0) = λ_max(G) at this start on X: :func:`linnet.sharpness` (dense ``eigvalsh`` for
        n ≤ 2048, else Lanczos), as η = c/Λ(0) has always been set for the linear net."""
        W0, a0 = self.W0, self.a0
        if W0 is None:
            if self.m is None:
                raise ValueError("m (the width) is required unless W0 and a0 are given")
            W0, a0 = init_params(self.m, X, scheme=self.init, scale=self.scale, seed=self.seed,
                                 alpha=self.alpha)
        return sharpness(W0, a0, X, alpha=self.alpha)

    def build(self, X: Any, Y: Any, *, spectrum: DataSpectrum, dtype: Any, xp: Any,
              top_k: int) -> Built:
        if self.engine not in ENGINES:
            raise ValueError(f"engine={self.engine!r} is unknown: use one of {tuple(ENGINES)}")
        d, n = X.shape
        W0, a0, m = self.W0, self.a0, self.m
        if (W0 is None) != (a0 is None):
            raise ValueError("give both W0 and a0 (an explicit start), or neither (use init=...)")
        if W0 is None:
            if m is None:
                raise ValueError("m (the width) is required unless W0 and a0 are given")
            W0, a0 = init_params(m, X, scheme=self.init, scale=self.scale, seed=self.seed,
                                 alpha=self.alpha, dtype=dtype, backend=backend_name(xp))
            init_name = self.init
        else:
            check_matrix("W0", W0, cols=d, cols_name=f"X (d×n = {d}×{n})")
            check_vector("a0", a0, length=W0.shape[0], length_name=f"W0 (m×d = {W0.shape[0]}×{d})")
            check_finite("W0", W0)
            check_finite("a0", a0)
            if m is not None and m != W0.shape[0]:
                raise ValueError(f"m={m} disagrees with W0, which has {W0.shape[0]} rows: "
                                 "drop m or fix W0")
            W0, a0 = xp.asarray(W0, dtype=dtype), xp.asarray(a0, dtype=dtype)
            init_name = "given"
        m = int(W0.shape[0])
        al = resolve_alpha(self.alpha, m)
        eng: Any = ENGINES[self.engine](spectrum, W0, a0, al, dtype, top_k)
        config = dict(model="linear2", m=m, alpha=al,
                      alpha_arg=None if self.alpha is None else float(self.alpha), init=init_name,
                      scale=float(self.scale), seed=None if self.seed is None else int(self.seed),
                      engine=self.engine)

        def specific() -> dict:
            W_fin, a_fin = eng.params()
            return dict(W0=to_numpy(W0), a0=to_numpy(a0), W_final=to_numpy(W_fin),
                        a_final=to_numpy(a_fin))
        return Built(eng, config, specific, self.family, measures_e_hat=True, supports_flow=True)


ACTIVATION_NAMES = ("identity", "tanh", "relu", "elu")
GRAM_MODES = ("auto", "dense", "matrix-free")


@dataclass(frozen=True)
class MLP:
    """A bias-free fully connected net with widths ``(d, h_1, …, h_{L−1}, 1)`` (App. A.2, Table 2:
    ``(3072, 200, 200, 200, 200, 1)``) and ``activation`` "identity", "tanh", "relu" or "elu".

    Start from PyTorch's default init of ``nn.Linear(bias=False)`` (``init="torch"``: entries
    U(±1/√fan_in), times ``scale``; or ``"gaussian"``: N(0, scale²/fan_in)), drawn from ``seed``,
    or from ``weights`` (nn.Linear's (out, in) layout, first layer first). ``frozen``: 0-based
    indices of layers GD leaves alone (App. D.3); the sharpness is still the whole network's.
    ``gram``: "dense" forms G = (1/n)Σ_l (B_lᵀB_l)∘(H_{l−1}ᵀH_{l−1}) each step, "matrix-free"
    applies it through J(Jᵀv); "auto" picks dense up to n = ``DENSE_MAX_N`` samples.
    ``data_span``: X enters the first layer through its span X = U diag(s) Vᵀ, i.e. the net
    runs on diag(s)Vᵀ (r×n) with W_1 U (h_1×r) — exact, and cheaper when r < d ("auto": when
    r < d). The choices are recorded in the trajectory's config.
    """
    widths: Sequence[int]
    activation: str = "tanh"
    init: str = "torch"
    scale: float = 1.0
    seed: int | None = 0
    weights: Sequence[Any] | None = None
    frozen: tuple[int, ...] = ()
    gram: str = "auto"
    data_span: str | bool = "auto"

    family = "mlp"
    DENSE_MAX_N = 4096  # a dense n×n G costs 8n² bytes (128 MiB here) and a syrk per layer

    def __post_init__(self) -> None:
        widths = tuple(self.widths)
        if len(widths) < 2 or any(isinstance(w, bool) or not isinstance(w, (int, np.integer))
                                  or w < 1 for w in widths):
            raise ValueError(f"widths must be positive integers (d, h_1, …, 1), got {widths!r}")
        if widths[-1] != 1:
            raise ValueError(f"widths must end in 1 (one output), got {widths!r}: append 1")
        object.__setattr__(self, "widths", tuple(int(w) for w in widths))
        if self.activation not in ACTIVATION_NAMES:
            raise ValueError(f"activation={self.activation!r} is unknown: use one of {ACTIVATION_NAMES}")
        if self.gram not in GRAM_MODES:
            raise ValueError(f"gram={self.gram!r} is unknown: use one of {GRAM_MODES}")
        if self.data_span not in ("auto", True, False):
            raise ValueError(f"data_span={self.data_span!r}: use 'auto', True or False")
        L = len(widths) - 1
        frozen = tuple(sorted({int(i) for i in self.frozen}))
        bad = [i for i in frozen if not 0 <= i < L]
        if bad:
            raise ValueError(f"frozen layer indices {bad} are out of range: this net has {L} "
                             f"layers, indices 0 … {L - 1}")
        if len(frozen) == L:
            raise ValueError(f"frozen={frozen} freezes every layer: GD would not move; leave one free")
        object.__setattr__(self, "frozen", frozen)
        s = float(self.scale)
        if not math.isfinite(s) or s <= 0:
            raise ValueError(f"scale must be a finite number > 0, got {self.scale}")

    def initial_sharpness(self, X: Any, Y: Any) -> float:
        """Λ(0): the eigen-tracker's at step 0 of a run (:func:`linnet.train.tracked_initial_sharpness`)."""
        from .train import tracked_initial_sharpness
        return tracked_initial_sharpness(self, X, Y)

    @property
    def depth(self) -> int:
        return len(self.widths) - 1

    def description(self) -> str:
        w = "-".join(str(h) for h in self.widths)
        fr = f" frozen={list(self.frozen)}" if self.frozen else ""
        start = ("given weights" if self.weights is not None
                 else f"init={self.init} scale={self.scale:g} seed={self.seed}")
        return f"mlp {w} {self.activation} {start}{fr}"

    def build(self, X: Any, Y: Any, *, spectrum: DataSpectrum, dtype: Any, xp: Any,
              top_k: int) -> Built:
        from . import mlp
        from .mlp_engine import MLPEngine
        d, n = X.shape
        if self.widths[0] != d:
            raise ValueError(f"widths[0] = {self.widths[0]} but X has d = {d} rows (features): "
                             f"use widths=({d}, …, 1)")
        if self.weights is None:
            weights = mlp.init_weights(self.widths, init=self.init, scale=self.scale,
                                       seed=self.seed, dtype=dtype, backend=backend_name(xp))
            init_name = self.init
        else:
            mlp.check_weights(tuple(self.weights), d=d)
            shapes = tuple((w.shape[0], w.shape[1]) for w in self.weights)
            want = tuple(zip(self.widths[1:], self.widths[:-1], strict=True))
            if shapes != want:
                raise ValueError(f"weights have shapes {list(shapes)} but widths {self.widths} "
                                 f"need {list(want)} ((out, in), first layer first)")
            weights = tuple(xp.asarray(w, dtype=dtype) for w in self.weights)
            init_name = "given"
        span = (spectrum.r < d) if self.data_span == "auto" else bool(self.data_span)
        gram = self.gram if self.gram != "auto" else ("dense" if n <= self.DENSE_MAX_N else "matrix-free")
        eng = MLPEngine(spectrum, weights, self.activation, dtype=dtype, top_k=top_k,
                        frozen=self.frozen, gram=gram, data_span=span)
        config = dict(model="mlp", model_description=self.description(), widths=list(self.widths),
                      depth=self.depth, activation=self.activation, init=init_name,
                      scale=float(self.scale), seed=None if self.seed is None else int(self.seed),
                      frozen=list(self.frozen), gram=gram,
                      input="data span (r×n)" if span else "raw X (d×n)", engine="mlp",
                      m=self.widths[-2], alpha=1.0)
        w0 = tuple(to_numpy(w) for w in weights)

        def specific() -> dict:
            out = {f"W0_{i + 1}": w for i, w in enumerate(w0)}
            out.update({f"W_final_{i + 1}": to_numpy(w) for i, w in enumerate(eng.params())})
            return out
        return Built(eng, config, specific, self.family, measures_e_hat=False,
                     supports_flow=False, frozen=self.frozen)


__all__ = ["LinearNet", "MLP", "Built"]
