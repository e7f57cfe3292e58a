"""The PyTorch module a trajectory was trained with, rebuilt for its replay:
``module_from("MODULE:FUNCTION")`` and :func:`at_start` (its parameters set to the run's θ(0))."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import numpy as np


def module_from(spec: str) -> Any:
    """``FUNCTION()`` of ``MODULE`` (importable from the current folder or PYTHONPATH), which must
    return a ``torch.nn.Module``; ValueError naming the spec and the fix otherwise."""
    mod_name, sep, fn_name = str(spec).partition(":")
    if not sep or not mod_name or not fn_name:
        raise ValueError(f"model {spec!r}: give MODULE:FUNCTION, FUNCTION() returning an nn.Module")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as exc:
        raise ValueError(
            f"model {spec!r}: cannot import module {mod_name!r} ({exc}); run from the folder "
            "holding it or add that folder to PYTHONPATH"
        ) from exc
    fn = getattr(mod, fn_name, None)
    if fn is None or not callable(fn):
        raise ValueError(f"model {spec!r}: module {mod_name!r} has no function {fn_name!r}")
    import torch

    net = fn()
    if not isinstance(net, torch.nn.Module):
        raise ValueError(f"model {spec!r}: {fn_name}() returned {type(net).__name__}, not a torch.nn.Module")
    return net


def at_start(module: Any, traj: Any) -> Any:
    """``module`` with its parameters set to the trajectory's θ(0) (``specific["theta0"]``, the
    parameters flattened in ``named_parameters`` order, as linnet.torch records them)."""
    import torch

    theta0 = np.asarray(traj.specific["theta0"])
    params = list(module.parameters())
    size = sum(p.numel() for p in params)
    if theta0.size != size:
        raise ValueError(
            f"the module has {size} parameters but the trajectory's θ(0) has {theta0.size}: "
            "it was trained with another architecture"
        )
    module.double()
    torch.nn.utils.vector_to_parameters(torch.as_tensor(theta0, dtype=torch.float64), params)
    return module
