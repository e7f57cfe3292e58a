"""Every experiment of the suite, in the report's order: the linear net's (validation.experiments),
then the fully connected nets' (validation.networks)."""
from __future__ import annotations

from .experiments import EXPERIMENTS as LINEAR_NET
from .experiments import QUICK_SKIP
from .networks import EXPERIMENTS as NETWORKS

EXPERIMENTS = {**LINEAR_NET, **NETWORKS}

__all__ = ["EXPERIMENTS", "QUICK_SKIP"]
