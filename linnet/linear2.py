"""The two-layer linear net f(x) = α aᵀWx: its mathematics as pure functions on arrays (NumPy or
CuPy), in one namespace — outputs and GD (eq. 6), the Gram matrices G and G̃ and their updates,
Ê = G − κ_G K (eq. 10), Λ and Λ̃, the Hessian, the initialisations, and the family
(:class:`LinearNet`) that :func:`linnet.train` runs. The same names are still in ``linnet`` itself."""

from .families.linear2 import LinearNet
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

__all__ = [
    "LinearNet",
    "SCHEMES",
    "a_norm_update",
    "data_kernel",
    "e_hat",
    "gd_step",
    "gradients",
    "gram",
    "gram_parts",
    "gram_spectrum",
    "gram_tilde",
    "gram_update",
    "hessian_sharpness",
    "hessian_vector_product",
    "init_params",
    "kernel_eigh",
    "lambda_tilde",
    "loss",
    "outputs",
    "residual",
    "resolve_alpha",
    "sharpness",
]
