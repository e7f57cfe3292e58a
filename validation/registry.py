"""Every experiment of the suite, in the report's order: the linear net's (validation.experiments),
the fully connected nets' (validation.networks), then the PyTorch models' (validation.torch_experiments,
where torch is installed: ``pip install -e ".[torch]"``; without it their scorecard entries say
"not applicable", the experiment not having run)."""
from __future__ import annotations

import importlib.util

from .experiments import EXPERIMENTS as LINEAR_NET, QUICK_SKIP
from .networks import EXPERIMENTS as NETWORKS

TORCH_AVAILABLE = importlib.util.find_spec("torch") is not None
if TORCH_AVAILABLE:
    from .torch_experiments import EXPERIMENTS as TORCH_MODELS
else:
    TORCH_MODELS = {}

EXPERIMENTS = {**LINEAR_NET, **NETWORKS, **TORCH_MODELS}

__all__ = ["EXPERIMENTS", "QUICK_SKIP", "TORCH_AVAILABLE"]
