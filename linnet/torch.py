"""PyTorch models in linnet's GD loop, as users import them: ``from linnet.torch import
TorchModel, paper_cnn, resnet18, load_final``. The code is the PyTorch family's, in
:mod:`linnet.families.torch` (:mod:`~linnet.families.torch.adapter`: :class:`TorchModel`, its
engine, memory plan and array namespace; :mod:`~linnet.families.torch.zoo`: the paper's networks);
this public module re-exports them (the adapter's module docstring says how a run works). Its
constants are read where they are defined: to change one, set it on the adapter module."""

from .families.torch.adapter import (
    CHUNK_BYTES,
    COUPLED_JACOBIAN_MAX_N,
    GRAM_MODES,
    HESSIAN_BASIS,
    MEMORY_SLACK,
    PER_SAMPLE,
    RANDOM_LAYERS,
    TRANSFORM_CODE_BYTES,
    VJP_ROWS,
    MemoryPlan,
    Prepared,
    Probe,
    TorchArrays,
    TorchEngine,
    TorchModel,
    TorchObservation,
    device_memory,
    load_final,
    parse_memory_budget,
)
from .families.torch.zoo import paper_cnn, resnet18

__all__ = [
    "CHUNK_BYTES",
    "COUPLED_JACOBIAN_MAX_N",
    "GRAM_MODES",
    "HESSIAN_BASIS",
    "MEMORY_SLACK",
    "MemoryPlan",
    "Prepared",
    "PER_SAMPLE",
    "Probe",
    "RANDOM_LAYERS",
    "TRANSFORM_CODE_BYTES",
    "TorchArrays",
    "TorchEngine",
    "TorchModel",
    "TorchObservation",
    "VJP_ROWS",
    "device_memory",
    "load_final",
    "paper_cnn",
    "parse_memory_budget",
    "resnet18",
]
