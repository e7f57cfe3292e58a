"""validation: the suite that reproduces the paper's experiments and writes a report
(``python -m validation``)."""

from .registry import EXPERIMENTS

__all__ = ["EXPERIMENTS", "run"]


def run(*args, **kwargs):
    """See :func:`validation.__main__.run`."""
    from .__main__ import run as _run

    return _run(*args, **kwargs)
