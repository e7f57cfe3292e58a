"""The two-layer linear net f(x) = α aᵀWx (§4), as one family folder: its mathematics (:mod:`.model`:
outputs and GD, eq. 6; :mod:`.gram`: G, G̃, Ê, Λ; :mod:`.hessian`; :mod:`.init`), its engines
(:mod:`.engines`: spectral and literal, :mod:`.lowrank`), the batched engine (:mod:`.batch`,
:func:`linnet.train_batch`), the compiled loop (:mod:`.jit`) and the family itself
(:mod:`.family`: :class:`LinearNet` and its capabilities :data:`LINEAR2`)."""

from .family import LINEAR2, LinearNet

__all__ = ["LINEAR2", "LinearNet"]
