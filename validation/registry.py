"""Every experiment of the suite, in the report's order (see :mod:`validation.experiments`; the PyTorch
models' experiments only where torch is installed: ``pip install -e ".[torch]"``; without it their
scorecard entries say "not applicable", the experiment not having run)."""

from __future__ import annotations

from .experiments import EXPERIMENTS, QUICK_SKIP, TORCH_AVAILABLE

__all__ = ["EXPERIMENTS", "QUICK_SKIP", "TORCH_AVAILABLE"]
