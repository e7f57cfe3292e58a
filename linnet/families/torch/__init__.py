"""PyTorch modules as a model family, as one folder: the capabilities and sweep models
(:mod:`.family`, declared without importing PyTorch), the adapter that runs an ``nn.Module`` in
linnet's loop (:mod:`.adapter`: ``TorchModel``, its engine and memory plan). ``linnet.torch`` is
the public module users import."""

from .family import FAMILY, TORCH

__all__ = ["FAMILY", "TORCH"]
