"""Modules that moved: their old names stay importable, as deprecated aliases, for one release.

An old module file calls :func:`alias`, which makes the old name *the same module object* as the
new one (so attributes, monkeypatches and ``isinstance`` checks agree) and warns once."""

from __future__ import annotations

import importlib
import sys
import warnings

# old module name -> new one
MOVED = {
    "linnet.lanczos": "linnet.linalg.lanczos",
    "linnet.tracking": "linnet.linalg.tracking",
    "linnet.loop": "linnet.run.loop",
    "linnet.observers": "linnet.run.observers",
    "linnet.trajectory": "linnet.run.trajectory",
    # the linear net's family folder
    "linnet.gram": "linnet.families.linear2.gram",
    "linnet.hessian": "linnet.families.linear2.hessian",
    "linnet.model": "linnet.families.linear2.model",
    "linnet.init": "linnet.families.linear2.init",
    "linnet.engines": "linnet.families.linear2.engines",
    "linnet.batch": "linnet.families.linear2.batch",
    # the MLP's family folder (linnet.MLP is the family; linnet.mlp was its maths module)
    "linnet.mlp": "linnet.families.mlp.maths",
    "linnet.mlp_engine": "linnet.families.mlp.engine",
}


def warn(old: str, stacklevel: int = 3) -> None:
    warnings.warn(
        f"{old} has moved to {MOVED[old]}: import it from there ({old} is a deprecated "
        "alias, to be removed in the next release)",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def alias(old: str) -> None:
    """Called by the old module ``old`` while it is imported: replace it by its new module."""
    warn(old, stacklevel=4)
    sys.modules[old] = importlib.import_module(MOVED[old])
