"""PyTorch modules as a model family (``linnet.torch.TorchModel``): its capabilities
(:data:`TORCH`) and the sweep's built-in modules (App. A.2's CNN, ResNet-18), declared here without
importing PyTorch, which only building a model needs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..base import Capabilities, SweepModel

FAMILY = "torch"  # linnet.torch.TorchModel.family


def _torch_model(spec: dict, X: Any) -> tuple[Any, Any]:
    """The spec's PyTorch model (linnet.torch) from torch.manual_seed(seed), and X as n images
    3×s×s (d = 3·s²)."""
    import torch

    from . import adapter, threads, zoo

    d, n = X.shape
    s = int(round(math.sqrt(d / 3)))
    if 3 * s * s != d:
        raise ValueError(
            f"model={spec['model']!r} takes 3×s×s images, but d = {d} is not 3·s²: "
            f"use d = {3 * s * s} or {3 * (s + 1) ** 2}"
        )
    torch.set_num_threads(threads.sweep_threads())  # the worker's share of the cores, no more
    torch.manual_seed(int(spec["seed"]))
    net = zoo.paper_cnn(spec["activation"], (3, s, s)) if spec["model"] == "paper_cnn" else zoo.resnet18(1)
    return adapter.TorchModel(net), np.ascontiguousarray(X.T.reshape(n, 3, s, s))


def _sweep_run(spec: dict, X: Any, Y: Any, spectrum: Any, jit: bool) -> tuple[Any, Any, dict]:
    model, X_in = _torch_model(spec, X)
    return model, X_in, {}


TORCH = Capabilities(
    name=FAMILY,
    sweep_models=(
        SweepModel(
            "paper_cnn", _sweep_run, defaults=dict(activation="tanh", init="torch"), keys=("activation",)
        ),
        SweepModel("resnet18", _sweep_run, defaults=dict(init="torch")),
    ),
)
