"""linnet: exact gradient-descent dynamics of the two-layer linear network f(x) = α aᵀWx.

Companion to Li, Wang & Li, "Analyzing Sharpness along GD Trajectory: Progressive Sharpening
and Edge of Stability" (NeurIPS 2022). See README.md and docs/theory.md.
"""

import sys as _sys
import types as _stdtypes

from . import linalg, linear2  # the grouped namespaces: linnet.linear2, linnet.linalg
from ._backend import to_numpy
from .data import make_data
from .families import MLP, LinearNet
from .families.linear2.batch import train_batch
from .families.linear2.gram import (
    a_norm_update,
    data_kernel,
    e_hat,
    gram,
    gram_parts,
    gram_spectrum,
    gram_tilde,
    gram_update,
    kernel_eigh,
    lambda_tilde,
    sharpness,
)
from .families.linear2.hessian import hessian_sharpness, hessian_vector_product
from .families.linear2.init import SCHEMES, init_params
from .families.linear2.model import gd_step, gradients, loss, outputs, residual, resolve_alpha
from .linalg.lanczos import LanczosResult, lanczos
from .linalg.tracking import EigTracker
from .run.trajectory import Trajectory, load_data, load_trajectory, save_data
from .spectral import DataSpectrum, spectrum
from .sweeps import sweep
from .train import initial_sharpness, train

__version__ = "0.1.0"


class _Package(_stdtypes.ModuleType):
    """linnet's module type: importing a moved module by its old name (``import linnet.gram``, a
    deprecated alias) must not replace the public function of the same name (``linnet.gram``), as
    the import system's ``setattr(linnet, "gram", module)`` would."""

    def __setattr__(self, name: str, value: object) -> None:
        from ._moved import MOVED

        if (
            isinstance(value, _stdtypes.ModuleType)
            and f"{self.__name__}.{name}" in MOVED
            and callable(self.__dict__.get(name))
        ):
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    """``linnet.trajectory``, ``linnet.observers``, … : modules that moved (deprecated aliases)."""
    from ._moved import MOVED, warn

    old = f"{__name__}.{name}"
    if old in MOVED:
        import importlib

        warn(old)
        return importlib.import_module(MOVED[old])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "outputs",
    "residual",
    "loss",
    "gradients",
    "gd_step",
    "resolve_alpha",
    "data_kernel",
    "kernel_eigh",
    "gram",
    "gram_parts",
    "gram_tilde",
    "gram_update",
    "a_norm_update",
    "e_hat",
    "lambda_tilde",
    "sharpness",
    "hessian_vector_product",
    "hessian_sharpness",
    "lanczos",
    "LanczosResult",
    "init_params",
    "SCHEMES",
    "spectrum",
    "DataSpectrum",
    "train",
    "Trajectory",
    "load_trajectory",
    "make_data",
    "sweep",
    "train_batch",
    "gram_spectrum",
    "EigTracker",
    "MLP",
    "LinearNet",
    "to_numpy",
    "save_data",
    "load_data",
    "initial_sharpness",
    "linalg",
    "linear2",
]
