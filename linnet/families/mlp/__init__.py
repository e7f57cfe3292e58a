"""Deep bias-free fully connected nets f(x) = W_L σ(W_{L−1} … σ(W_1 x)) (§3, App. A.2), as one
family folder: their mathematics (:mod:`.maths`: forward and backward passes, Jacobian products,
the Gram matrix, the exact Hessian-vector product, the activation table), the engine
(:mod:`.engine`) and the family (:mod:`.family`: :class:`MLP` and its capabilities)."""

from .family import ACTIVATION_NAMES, GRAM_MODES, MLP, MLP_FAMILY

__all__ = ["ACTIVATION_NAMES", "GRAM_MODES", "MLP", "MLP_FAMILY"]
