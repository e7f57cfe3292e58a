"""The tests' small problems, in one place (conftest.py turns the common ones into fixtures)."""

from __future__ import annotations

import os

import numpy as np
import pytest

import linnet


def problem(d=7, n=5, m=6, seed=0, alpha_scale=1.0, y_scale=1.0):
    """Gaussian (W, a, X, Y) at tiny sizes: the closed forms against brute force."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((d, n))
    Y = y_scale * rng.standard_normal(n)
    W = alpha_scale * rng.standard_normal((m, d))
    a = alpha_scale * rng.standard_normal(m)
    return W, a, X, Y


def eos_problem(n=60, d=80, m=40, seed=0):
    """Small CIFAR-like problem whose run from symmetric init (scale 0.5, ηΛ(0) = 1.9) sharpens
    and enters the edge of stability: (X, Y, W, a, eta)."""
    X, Y = linnet.make_data("cifar-like", n=n, d=d, seed=seed)
    W, a = linnet.init_params(m, X, scheme="symmetric", scale=0.5, seed=seed)
    eta = 1.9 / linnet.sharpness(W, a, X)
    return X, Y, W, a, eta


def paper_problem(n, d, m, xp=np):
    """The benchmark's data and start (benchmarks/bench.py's ``paper_problem``, kept here too: the
    tests run against the installed wheel, which has no benchmarks): CIFAR-like (X, Y) with column
    norm 0.2 and PyTorch's default init (W, a), seed 0."""
    X, Y = linnet.make_data("cifar-like", n=n, d=d, seed=0, column_norm=0.2)
    X, Y = xp.asarray(X), xp.asarray(Y)
    W, a = linnet.init_params(m, X, scheme="torch", seed=0)
    return X, Y, W, a


def rel_err(x, y, scale=None):
    """max |x − y| / scale (default: max |y|)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    s = np.max(np.abs(y)) if scale is None else scale
    return float(np.max(np.abs(x - y)) / s)


def cupy_with_gpu():
    """The cupy module, or skip the test: CuPy tests need CuPy and a visible NVIDIA GPU."""
    cupy = pytest.importorskip("cupy", reason="CuPy tests need CuPy and an NVIDIA GPU")
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("no CUDA GPU visible")
    except Exception:  # noqa: BLE001 — no driver or no device
        pytest.skip("no CUDA GPU visible")
    return cupy


def headless_chromium():
    """(playwright's sync_playwright, the Chromium executable) for the browser tests; skips the
    calling test, saying what to install, where either is absent."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")
    exe = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if os.path.exists(p)), None)
    if exe is None:
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install -y chromium)")
    return sync_playwright, exe
