"""GD on a bias-free fully connected net (:class:`linnet.MLP`), exactly, with the quantities of §3.

The net runs on the data's span: with X = U diag(s) Vᵀ (:mod:`linnet.spectral`), the first
layer's pre-activations are W_1 X = (W_1 U) diag(s) Vᵀ, so GD on R = W_1 U (h_1×r) with input
X̃ = diag(s) Vᵀ (r×n) is GD on W_1: its gradient (1/n)(B_1∘D)Xᵀ = (1/n)(B_1∘D)V diag(s) Uᵀ has
its rows in span(U), so the part of W_1 outside span(X) never moves; J, G and the Hessian's
non-zero spectrum are unchanged (X̃ᵀX̃ = XᵀX). At paper size (d = 3,072, n = r = 1,000) that
makes the first layer 3× cheaper.
``W_1 = W_1(0) + (R − R(0)) Uᵀ`` recovers the full weights.

Per step: the forward pass and B_l = ∂F/∂Z_l (:func:`.maths.backward`), the gradient
(1/n)(B_l∘D)H_{l−1}ᵀ of each trained layer; for Λ either the dense
G = (1/n)Σ_l (B_lᵀB_l)∘(H_{l−1}ᵀH_{l−1}) (with H_0ᵀH_0 = XᵀX formed once) or products
J(Jᵀv)/n; ‖G_A‖ from the h×h matrix H_{L−1}H_{L−1}ᵀ/n; Hessian-vector products by the
R-operator (:func:`.maths.hessian_matvec`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..._backend import namespace
from ...spectral import DataSpectrum
from . import maths as mlp


@dataclass
class MLPObservation:
    """The quantities at one state (vectors over the n samples), with the forward pass ``fwd``
    and ``B`` that the products at this state reuse, and the dense Gram matrices once formed."""

    D: Any
    F: Any
    loss: float
    fd: float
    a_norm2: float
    d_top: Any
    f_top: Any
    fwd: Any
    B: Any
    lambda_tilde: None = None
    carried: dict = field(default_factory=dict)
    grams: dict = field(default_factory=dict)


class MLPEngine:
    """State: the layers (the first as R = W_1 U when on the data span). ``CARRY = 0``: the
    trackers pay for their own products; G changes by no closed form here (``gram_update`` None)."""

    name = "mlp"
    CARRY = 0
    COMPILABLE = False
    EXACT_GA = True  # ‖G_A‖ = λ_max of the h×h H_{L−1}H_{L−1}ᵀ/n (ga_norm)

    def __init__(
        self,
        spec: DataSpectrum,
        weights: tuple,
        activation: str,
        *,
        dtype: Any,
        top_k: int,
        frozen: tuple[int, ...] = (),
        gram: str = "dense",
        data_span: bool = True,
    ):
        xp = namespace(weights[0])
        self.xp, self.dtype, self.activation = xp, dtype, mlp.check_activation(activation)
        self.n, self.k = spec.n, min(top_k, spec.r)
        self.dense = gram == "dense"
        self.data_span = data_span
        V = spec.V().astype(dtype)
        self.Vk = xp.ascontiguousarray(V[:, : self.k])
        self.Y = spec.Y.astype(dtype)
        self.W1_0 = weights[0]
        if data_span:
            self.U = spec.U.astype(dtype)
            self.X_in = xp.ascontiguousarray((V * spec.s.astype(dtype)).T)  # diag(s) Vᵀ, r×n
            first = xp.ascontiguousarray(weights[0] @ self.U)
        else:
            self.U = None
            self.X_in = spec.X.astype(dtype)
            first = weights[0]
        self.R0 = first
        self.weights = [first, *weights[1:]]
        self.L = len(self.weights)
        self.trained = tuple(i for i in range(self.L) if i not in frozen)
        self.K0 = self.X_in.T @ self.X_in if self.dense else None  # H_0ᵀH_0 = XᵀX, constant
        self.dim = self.n
        self.last_update = None

    def observe(self) -> MLPObservation:
        fwd = mlp.forward(self.weights, self.X_in, self.activation)
        B = mlp.backward(self.weights, fwd, self.activation)
        F = fwd.F
        D = F - self.Y
        A = self.weights[-1]
        return MLPObservation(
            D,
            F,
            float(D @ D) / (2 * self.n),
            float(F @ D),
            float(xp_sum2(A)),
            self.Vk.T @ D,
            self.Vk.T @ F,
            fwd,
            B,
        )

    def step(self, eta: float, obs: MLPObservation, carry: Any = ()) -> bool:
        """W_l ← W_l − η ∂L/∂W_l for the trained layers; False (state untouched) if not finite."""
        grads = mlp.gradients(obs.fwd, obs.B, obs.D)
        new = list(self.weights)
        for i in self.trained:
            new[i] = self.weights[i] - eta * grads[i]
            if not math.isfinite(float(xp_sum2(new[i]))):
                return False
        self.weights = new
        return True

    # -- operators on R^n --------------------------------------------------------------------
    def _gram(self, obs: MLPObservation, layers: tuple[int, ...] | None) -> Any:
        key = "all" if layers is None else layers
        if key not in obs.grams:
            K0 = self.K0 if layers is None or 0 in layers else None
            obs.grams[key] = mlp.gram(obs.fwd, obs.B, layers=layers, K0=K0)
        return obs.grams[key]

    def gram_matvec(self, obs: MLPObservation):
        """v ↦ G v, G = JJᵀ/n of the whole network (dense, or J(Jᵀv)/n matrix-free)."""
        if self.dense:
            G = self._gram(obs, None)
            return lambda v: G @ v
        return mlp.gram_matvec(obs.fwd, obs.B)

    def trained_gram_matvec(self, obs: MLPObservation):
        """v ↦ G_trained v, the Gram of the trained layers only (App. D.3)."""
        if self.dense:
            G = self._gram(obs, self.trained)
            return lambda v: G @ v
        return mlp.gram_matvec(obs.fwd, obs.B, layers=self.trained)

    def gram_update(self, updates: Any) -> None:
        return None

    def trained_gram_update(self, updates: Any) -> None:
        return None

    def ga_norm(self, obs: MLPObservation) -> float:
        """‖G_A‖ = λ_max(H_{L−1}ᵀH_{L−1}/n), exactly (an h_{L−1}×h_{L−1} eigenproblem)."""
        return mlp.ga_norm(obs.fwd)

    def hessian_matvec(self, obs: MLPObservation):
        """(dθ ↦ ∇²L dθ, number of parameters) over every layer (frozen ones too), on the
        data-span coordinates of the first layer (the rest of W_1-space is in the kernel)."""
        return mlp.hessian_matvec(self.weights, obs.fwd, obs.B, obs.D, self.activation)

    def v1(self) -> Any:
        return self.Vk[:, 0]

    def params(self) -> tuple:
        """The layers in the full input space (W_1 = W_1(0) + (R − R(0))Uᵀ on the data span)."""
        first = self.weights[0]
        if self.data_span:
            first = self.W1_0 + (first - self.R0) @ self.U.T
        return (first, *self.weights[1:])


def xp_sum2(A: Any) -> Any:
    """Σ A², as a 0-d array of A's namespace."""
    return namespace(A).sum(A * A)
