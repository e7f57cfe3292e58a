"""The suite's experiments, one module each (an analogue of one of the paper's figures, docs/theory.md
§5): its run(s), its figure and the scorecard rows it is judged by (the module's ``RULES``). Each
experiment is a function ``(ctx) -> ExperimentResult``; :data:`EXPERIMENTS` lists them in the
report's order. The deep fully connected nets' three experiments share their runs and live together
in :mod:`.fc_nets` (freezing, with runs of its own, in :mod:`.freezing`); the PyTorch models' two in
:mod:`.torch_nets` (imported only where torch is installed). Sizes come from
``ctx.size(quick, full)``; runs several figures share (the Fig. 1 run, its exact replay, the
theory-scaling run) are computed once by the :class:`Context`.
"""

from __future__ import annotations

import importlib.util

from . import (
    a_norm,
    catapult,
    e_hat_width,
    fc_nets,
    first_order,
    freezing,
    gaussian,
    gd_vs_flow,
    identities,
    labels,
    large_init,
    lemma_e7,
    loss_split,
    ps_eos,
    spectrum,
    torch_nets,
    u1_stability,
)
from .common import eos_stats, loss_spikes
from .context import Context, ExperimentResult

TORCH_AVAILABLE = importlib.util.find_spec("torch") is not None

_LINEAR = (
    ps_eos,
    a_norm,
    loss_split,
    gaussian,
    labels,
    first_order,
    gd_vs_flow,
    u1_stability,
    spectrum,
    e_hat_width,
    large_init,
    catapult,
    lemma_e7,
    identities,
)
_MODULES = (*_LINEAR, fc_nets, freezing, torch_nets)  # torch_nets imports torch only when its experiments run
EXPERIMENTS = {m.__name__.rsplit(".", 1)[1]: getattr(m, m.__name__.rsplit(".", 1)[1]) for m in _LINEAR}
EXPERIMENTS.update(fc_nets.EXPERIMENTS)
EXPERIMENTS.update(freezing.EXPERIMENTS)
if TORCH_AVAILABLE:  # without torch their scorecard rows say "not applicable": the experiment did not run
    EXPERIMENTS.update(torch_nets.EXPERIMENTS)
QUICK_SKIP = ("identities",)  # 30 s of SymPy: run by the full suite and by the tests
RULES = [r for m in _MODULES for r in m.RULES]

__all__ = [
    "EXPERIMENTS",
    "QUICK_SKIP",
    "RULES",
    "TORCH_AVAILABLE",
    "Context",
    "ExperimentResult",
    "eos_stats",
    "loss_spikes",
]
