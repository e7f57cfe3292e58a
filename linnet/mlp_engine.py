"""Deprecated alias of :mod:`linnet.families.mlp.engine` (moved there); removed in the next release."""

from ._moved import alias

alias(__name__)
