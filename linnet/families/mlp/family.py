"""Bias-free fully connected nets f(x) = W_L σ(W_{L−1} … σ(W_1 x)) (§3, App. A.2) as a model
family: :class:`MLP`, on :class:`.engine.MLPEngine`, and its capabilities (:data:`MLP_FAMILY`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._backend import backend_name, to_numpy
from ...spectral import DataSpectrum
from ..base import Built, Capabilities, SweepModel
from .activations import ACTIVATIONS

ACTIVATION_NAMES = ACTIVATIONS  # .activations.ACTIVATION_TABLE's rows
GRAM_MODES = ("auto", "dense", "matrix-free")


@dataclass(frozen=True)
class MLP:
    """A bias-free fully connected net with widths ``(d, h_1, …, h_{L−1}, 1)`` (App. A.2, Table 2:
    ``(3072, 200, 200, 200, 200, 1)``) and ``activation`` "identity", "tanh", "relu" or "elu"
    (a row of :data:`.activations.ACTIVATION_TABLE`).

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
        if len(widths) < 2 or any(
            isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1 for w in widths
        ):
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
            raise ValueError(
                f"frozen layer indices {bad} are out of range: this net has {L} layers, indices 0 … {L - 1}"
            )
        if len(frozen) == L:
            raise ValueError(f"frozen={frozen} freezes every layer: GD would not move; leave one free")
        object.__setattr__(self, "frozen", frozen)
        s = float(self.scale)
        if not math.isfinite(s) or s <= 0:
            raise ValueError(f"scale must be a finite number > 0, got {self.scale}")

    def initial_sharpness(self, X: Any, Y: Any) -> float:
        """Λ(0): the eigen-tracker's at step 0 of a run (:func:`linnet.train.tracked_initial_sharpness`)."""
        from ...train import tracked_initial_sharpness

        return tracked_initial_sharpness(self, X, Y)

    @property
    def depth(self) -> int:
        return len(self.widths) - 1

    def description(self) -> str:
        w = "-".join(str(h) for h in self.widths)
        fr = f" frozen={list(self.frozen)}" if self.frozen else ""
        start = (
            "given weights"
            if self.weights is not None
            else f"init={self.init} scale={self.scale:g} seed={self.seed}"
        )
        return f"mlp {w} {self.activation} {start}{fr}"

    def build(self, X: Any, Y: Any, *, spectrum: DataSpectrum, dtype: Any, xp: Any, top_k: int) -> Built:
        from . import maths as mlp
        from .engine import MLPEngine

        d, n = X.shape
        if self.widths[0] != d:
            raise ValueError(
                f"widths[0] = {self.widths[0]} but X has d = {d} rows (features): use widths=({d}, …, 1)"
            )
        if self.weights is None:
            weights = mlp.init_weights(
                self.widths,
                init=self.init,
                scale=self.scale,
                seed=self.seed,
                dtype=dtype,
                backend=backend_name(xp),
            )
            init_name = self.init
        else:
            mlp.check_weights(tuple(self.weights), d=d)
            shapes = tuple((w.shape[0], w.shape[1]) for w in self.weights)
            want = tuple(zip(self.widths[1:], self.widths[:-1], strict=True))
            if shapes != want:
                raise ValueError(
                    f"weights have shapes {list(shapes)} but widths {self.widths} "
                    f"need {list(want)} ((out, in), first layer first)"
                )
            weights = tuple(xp.asarray(w, dtype=dtype) for w in self.weights)
            init_name = "given"
        span = (spectrum.r < d) if self.data_span == "auto" else bool(self.data_span)
        gram = self.gram if self.gram != "auto" else ("dense" if n <= self.DENSE_MAX_N else "matrix-free")
        eng = MLPEngine(
            spectrum,
            weights,
            self.activation,
            dtype=dtype,
            top_k=top_k,
            frozen=self.frozen,
            gram=gram,
            data_span=span,
        )
        config = dict(
            model="mlp",
            model_description=self.description(),
            widths=list(self.widths),
            depth=self.depth,
            activation=self.activation,
            init=init_name,
            scale=float(self.scale),
            seed=None if self.seed is None else int(self.seed),
            frozen=list(self.frozen),
            gram=gram,
            input="data span (r×n)" if span else "raw X (d×n)",
            engine="mlp",
            m=self.widths[-2],
            alpha=1.0,
        )
        w0 = tuple(to_numpy(w) for w in weights)

        def specific() -> dict:
            out = {f"W0_{i + 1}": w for i, w in enumerate(w0)}
            out.update({f"W_final_{i + 1}": to_numpy(w) for i, w in enumerate(eng.params())})
            return out

        return Built(eng, config, specific, self.family, frozen=self.frozen)


def rebuild(traj: Any) -> MLP:
    """The :class:`MLP` that reproduces an "mlp" trajectory's run from its initial weights."""
    c = traj.config
    return MLP(
        tuple(c["widths"]),
        activation=c["activation"],
        weights=traj.initial_weights,
        frozen=tuple(c["frozen"]),
        gram=c["gram"],
        data_span=str(c["input"]).startswith("data span"),
    )


def _sweep_run(spec: dict, X: Any, Y: Any, spectrum: Any, jit: bool) -> tuple[Any, Any, dict]:
    """A sweep spec's MLP: ``depth`` layers, the hidden ones of width ``m``."""
    widths = (X.shape[0], *[int(spec["m"])] * (int(spec["depth"]) - 1), 1)
    model = MLP(
        widths,
        activation=spec["activation"],
        init=spec["init"],
        scale=float(spec["scale"]),
        seed=int(spec["seed"]),
    )
    return model, X, {}


MLP_FAMILY = Capabilities(
    name=MLP.family,
    sweep_models=(
        SweepModel(
            "mlp",
            _sweep_run,
            defaults=dict(activation="tanh", depth=3, init="torch"),
            keys=("activation", "depth"),
        ),
    ),
    rebuild=rebuild,
)
