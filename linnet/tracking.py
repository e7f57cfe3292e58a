"""Deprecated alias of :mod:`linnet.linalg.tracking` (moved there); removed in the next release."""

from ._moved import alias

alias(__name__)
