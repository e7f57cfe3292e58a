"""The paper's two-layer linear net f(x) = α aᵀWx (§4) as a model family: :class:`LinearNet`, on
the spectral or the literal engine (:mod:`.engines`), and its capabilities (:data:`LINEAR2`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..._backend import backend_name, to_numpy
from ..._checks import check_finite, check_matrix, check_vector
from ...spectral import DataSpectrum
from ..base import Built, Capabilities, SweepModel
from .engines import ENGINES
from .gram import sharpness
from .init import init_params
from .model import resolve_alpha


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
            W0, a0 = init_params(
                self.m, X, scheme=self.init, scale=self.scale, seed=self.seed, alpha=self.alpha
            )
        return sharpness(W0, a0, X, alpha=self.alpha)

    def build(self, X: Any, Y: Any, *, spectrum: DataSpectrum, dtype: Any, xp: Any, top_k: int) -> Built:
        if self.engine not in ENGINES:
            raise ValueError(f"engine={self.engine!r} is unknown: use one of {tuple(ENGINES)}")
        d, n = X.shape
        W0, a0, m = self.W0, self.a0, self.m
        if (W0 is None) != (a0 is None):
            raise ValueError("give both W0 and a0 (an explicit start), or neither (use init=...)")
        if W0 is None:
            if m is None:
                raise ValueError("m (the width) is required unless W0 and a0 are given")
            W0, a0 = init_params(
                m,
                X,
                scheme=self.init,
                scale=self.scale,
                seed=self.seed,
                alpha=self.alpha,
                dtype=dtype,
                backend=backend_name(xp),
            )
            init_name = self.init
        else:
            check_matrix("W0", W0, cols=d, cols_name=f"X (d×n = {d}×{n})")
            check_vector("a0", a0, length=W0.shape[0], length_name=f"W0 (m×d = {W0.shape[0]}×{d})")
            check_finite("W0", W0)
            check_finite("a0", a0)
            if m is not None and m != W0.shape[0]:
                raise ValueError(f"m={m} disagrees with W0, which has {W0.shape[0]} rows: drop m or fix W0")
            W0, a0 = xp.asarray(W0, dtype=dtype), xp.asarray(a0, dtype=dtype)
            init_name = "given"
        m = int(W0.shape[0])
        al = resolve_alpha(self.alpha, m)
        eng: Any = ENGINES[self.engine](spectrum, W0, a0, al, dtype, top_k)
        config = dict(
            model="linear2",
            m=m,
            alpha=al,
            alpha_arg=None if self.alpha is None else float(self.alpha),
            init=init_name,
            scale=float(self.scale),
            seed=None if self.seed is None else int(self.seed),
            engine=self.engine,
        )

        def specific() -> dict:
            W_fin, a_fin = eng.params()
            return dict(W0=to_numpy(W0), a0=to_numpy(a0), W_final=to_numpy(W_fin), a_final=to_numpy(a_fin))

        return Built(eng, config, specific, self.family)


def _layers(specific: dict, which: str) -> tuple:
    return (specific[f"W{which}"], specific[f"a{which}"][None, :])


def _describe(config: dict, family: str) -> str:
    c = config
    return f"linear net m={c['m']} alpha={c['alpha']:.4g} init={c['init']} seed={c['seed']}"


def _sweep_run(spec: dict, X: Any, Y: Any, spectrum: Any, jit: bool) -> tuple[Any, Any, dict]:
    """A sweep spec's linear net: its start from init_params, run on the sweep's spectrum (and
    compiled with ``jit``)."""
    alpha = None if spec["alpha"] in (None, "theory") else float(spec["alpha"])
    W, a = init_params(
        int(spec["m"]),
        X,
        scheme=spec["init"],
        scale=float(spec["scale"]),
        seed=int(spec["seed"]),
        alpha=alpha,
    )
    return LinearNet(W0=W, a0=a, alpha=alpha), X, dict(spectrum=spectrum, jit=jit)


LINEAR2 = Capabilities(
    name=LinearNet.family,
    supports_flow=True,
    measures_e_hat=True,
    default_ga_every=0,  # ‖G_A‖ = α²‖X‖²/n·… is not a question the paper asks of the linear net
    step_fields=("lambda_tilde",),  # Λ̃ = v₁ᵀGv₁ every step
    observed_fields=("e_hat_step", "e_hat_norm"),
    layers=_layers,
    describe=_describe,
    output_norm="|a|^2",
    sweep_models=(SweepModel("linear2", _sweep_run, batchable=True, compilable=True),),
    linear_theory=True,
)
