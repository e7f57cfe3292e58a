"""Deprecated alias of :mod:`linnet.families.linear2.hessian` (moved there); removed in the next release."""

from ._moved import alias

alias(__name__)
