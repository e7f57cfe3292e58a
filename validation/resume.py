"""An interrupted suite resumes from its finished experiments.

Each finished experiment's result is pickled under ``OUT/.state/<mode>-seed<seed>/`` together
with the settings it ran under and a digest of the code (linnet, theory, validation); a rerun into
the same folder with the same settings and code loads it instead of running it again. A changed
setting or code, an unreadable file, or ``fresh=True`` runs the experiment anew.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from functools import cache
from pathlib import Path


@cache
def code_digest() -> str:
    """SHA-1 over the source of the packages the suite's numbers come from."""
    h = hashlib.sha1()
    for pkg in ("linnet", "theory", "validation"):
        root = Path(__import__(pkg).__file__).parent
        for f in sorted(root.rglob("*.py")):
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


class ResumeState:
    """Finished experiments of one (mode, seed) of a suite run in ``out``."""

    def __init__(self, out, settings: dict, *, fresh: bool = False):
        self.settings = {**settings, "code": code_digest()}
        self.folder = os.path.join(out, ".state", f"{settings['mode']}-seed{settings['seed']}")
        self.fresh = fresh

    def _path(self, name):
        return os.path.join(self.folder, f"{name}.pkl")

    def load(self, name):
        """The experiment's result if it finished under the same settings and code, else None."""
        if self.fresh or not os.path.exists(self._path(name)):
            return None
        try:
            with open(self._path(name), "rb") as fh:
                settings, result = pickle.load(fh)
        except Exception:  # noqa: BLE001 - a truncated or foreign file: run the experiment again
            return None
        return result if settings == self.settings else None

    def save(self, name, result) -> None:
        os.makedirs(self.folder, exist_ok=True)
        tmp = self._path(name) + ".tmp"
        with open(tmp, "wb") as fh:
            pickle.dump((self.settings, result), fh)
        os.replace(tmp, self._path(name))  # a kill mid-write leaves the previous file or none
