"""The MLP's activations, one row each of :data:`ACTIVATION_TABLE`: σ, σ′ and σ″ elementwise on
NumPy or CuPy arrays (:mod:`.maths` uses them; adding an activation is adding a row)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..._backend import namespace


@dataclass(frozen=True)
class Activation:
    """One activation, one row: σ, σ′ and σ″ elementwise on an array of namespace ``xp``
    (``second`` None where σ″ ≡ 0, so callers can skip the term), and optionally σ′ from the
    output H = σ(Z) (``prime_of_output``; the forward pass has H at hand)."""

    sigma: Callable[[Any, Any], Any]
    prime: Callable[[Any, Any], Any]
    second: Callable[[Any, Any], Any] | None = None
    prime_of_output: Callable[[Any], Any] | None = None


def _tanh_prime(Z, xp):
    T = xp.tanh(Z)
    return 1 - T * T


def _tanh_second(Z, xp):
    T = xp.tanh(Z)
    return -2 * T * (1 - T * T)


# Adding an activation is adding a row (the tests take every row: σ′ and σ″ against finite
# differences of σ and σ′).
ACTIVATION_TABLE: dict[str, Activation] = {
    # z; 1; 0
    "identity": Activation(lambda Z, xp: Z, lambda Z, xp: xp.ones_like(Z)),
    # tanh z; 1 − tanh² z; −2 tanh z (1 − tanh² z)
    "tanh": Activation(
        lambda Z, xp: xp.tanh(Z), _tanh_prime, _tanh_second, prime_of_output=lambda H: 1 - H * H
    ),
    # max(z, 0); 1[z > 0] (so relu′(0) = 0, as torch's autograd); 0
    "relu": Activation(lambda Z, xp: xp.maximum(Z, 0), lambda Z, xp: (Z > 0).astype(Z.dtype)),
    # z (z > 0) else eᶻ − 1; 1 (z > 0) else eᶻ; eᶻ (z < 0) else 0
    "elu": Activation(
        lambda Z, xp: xp.where(Z > 0, Z, xp.expm1(xp.minimum(Z, 0))),
        lambda Z, xp: xp.where(Z > 0, xp.ones_like(Z), xp.exp(xp.minimum(Z, 0))),
        lambda Z, xp: xp.where(Z < 0, xp.exp(xp.minimum(Z, 0)), xp.zeros_like(Z)),
    ),
}
ACTIVATIONS = tuple(ACTIVATION_TABLE)


def check_activation(activation) -> str:
    """Return ``activation`` if it is one of :data:`ACTIVATIONS`, else raise ValueError."""
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(f"activation={activation!r} is unknown: use one of {ACTIVATIONS}")
    return activation


def sigma(Z, activation: str):
    """σ(Z) elementwise (:data:`ACTIVATION_TABLE`): identity z, tanh z, relu max(z, 0), elu z (z > 0)
    else eᶻ − 1."""
    return ACTIVATION_TABLE[check_activation(activation)].sigma(Z, namespace(Z))


def sigma_prime(Z, activation: str):
    """σ′(Z): 1, 1 − tanh² z, 1[z > 0] (so relu′(0) = 0, as torch's autograd), 1 (z > 0) else eᶻ."""
    return ACTIVATION_TABLE[check_activation(activation)].prime(Z, namespace(Z))


def sigma_second(Z, activation: str):
    """σ″(Z): 0, −2 tanh z (1 − tanh² z), 0, eᶻ (z < 0) else 0; ``None`` where σ″ ≡ 0
    (identity, relu) so callers can skip the term."""
    second = ACTIVATION_TABLE[check_activation(activation)].second
    return None if second is None else second(Z, namespace(Z))
