"""Deprecated alias of :mod:`linnet.run.loop` (moved there); removed in the next release."""

from ._moved import alias

alias(__name__)
