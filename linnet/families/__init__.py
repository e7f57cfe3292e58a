"""Model families that :func:`linnet.train` runs, and their registry.

* :class:`LinearNet`: the paper's two-layer linear net f(x) = α aᵀWx (§4), on the spectral or the
  literal engine (:mod:`.linear2.engines`); ``train(X, Y, m=...)`` builds one.
* :class:`MLP`: bias-free fully connected nets f(x) = W_L σ(W_{L−1} … σ(W_1 x)) (§3, App. A.2),
  on :class:`linnet.families.mlp.engine.MLPEngine`.
* ``linnet.torch.TorchModel``: a PyTorch module with a linear output layer.

``build(X, Y, *, spectrum, dtype, xp, top_k)`` returns a :class:`Built`: the engine, the
configuration entries that describe the model, and a function giving the family's own arrays
(its initial and final weights) once the run is over. What a family can do is declared once, in
its :class:`Capabilities` (:data:`FAMILIES`, by ``Trajectory.family``); code elsewhere asks
:func:`capabilities` instead of comparing family names.
"""

from __future__ import annotations

from .base import Built, Capabilities, Engine, Family, Observation, SweepModel
from .linear2 import LINEAR2, LinearNet
from .mlp import ACTIVATION_NAMES, GRAM_MODES, MLP, MLP_FAMILY
from .torch import TORCH

FAMILIES: dict[str, Capabilities] = {c.name: c for c in (LINEAR2, MLP_FAMILY, TORCH)}
SWEEP_MODELS: dict[str, SweepModel] = {s.name: s for c in FAMILIES.values() for s in c.sweep_models}

__all__ = [
    "ACTIVATION_NAMES",
    "Built",
    "Capabilities",
    "Engine",
    "FAMILIES",
    "Family",
    "GRAM_MODES",
    "LinearNet",
    "MLP",
    "Observation",
    "SWEEP_MODELS",
    "SweepModel",
    "capabilities",
    "register",
]


def capabilities(family: str) -> Capabilities:
    """The capabilities of the family named ``family`` (``Trajectory.family``); a name not
    registered (a trajectory of a family defined elsewhere) gets the generic ones."""
    found = FAMILIES.get(family)
    return found if found is not None else Capabilities(name=family)


def register(caps: Capabilities) -> None:
    """Add a family (its capabilities, and the sweep models it builds) to the registry."""
    FAMILIES[caps.name] = caps
    SWEEP_MODELS.update({s.name: s for s in caps.sweep_models})
