"""Modules that moved stay importable under their old names for one release: the same module
object, with a DeprecationWarning; the documented public modules (linnet.torch, linnet.jit) import
without one."""

import importlib
import subprocess
import sys

import pytest

from linnet._moved import MOVED


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_name_is_the_new_module_with_a_warning(old):
    script = f"""
import importlib, warnings
import linnet
warnings.simplefilter("error", DeprecationWarning)
try:
    importlib.import_module({old!r})
except DeprecationWarning as w:
    assert "{MOVED[old]}" in str(w), w
else:
    raise SystemExit("no DeprecationWarning")
warnings.simplefilter("ignore", DeprecationWarning)
assert importlib.import_module({old!r}) is importlib.import_module({MOVED[old]!r})
assert callable(linnet.gram) and callable(linnet.train)  # the functions keep their names
"""
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr + res.stdout


@pytest.mark.parametrize("public", ["linnet.jit", "linnet.torch", "linnet.linear2", "linnet.linalg"])
def test_the_documented_modules_import_without_a_warning(public):
    if public == "linnet.torch":
        pytest.importorskip("torch")
    script = f"""
import warnings
warnings.filterwarnings("error", message=".*deprecated alias.*")
import importlib
importlib.import_module({public!r})
"""
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr


def test_the_public_modules_reexport_the_family_objects():
    jit = importlib.import_module("linnet.jit")
    from linnet.families.linear2 import jit as family_jit

    assert jit.warm_up is family_jit.warm_up and jit.limit_threads is family_jit.limit_threads
