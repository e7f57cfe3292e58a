"""Deprecated alias of :mod:`linnet.run.trajectory` (moved there); removed in the next release."""

from ._moved import alias

alias(__name__)
