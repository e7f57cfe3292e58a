"""linnet: exact gradient-descent dynamics of the two-layer linear network f(x) = α aᵀWx.

Companion to Li, Wang & Li, "Analyzing Sharpness along GD Trajectory: Progressive Sharpening
and Edge of Stability" (NeurIPS 2022). See README.md and docs/theory.md.
"""

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
