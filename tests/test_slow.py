"""Slow checks, out of the default run: `python -m pytest -m slow` (about 2 minutes)."""

import numpy as np
import pytest

import linnet
from linnet.families.linear2.engines import SpectralEngine
from linnet.tolerances import tol

from small_problems import paper_problem


@pytest.mark.slow
def test_paper_size_sharpness_equals_dense_eigvalsh_at_every_step():
    """The η = 10 run from PyTorch's init at paper size (three catapult cycles in 1000 steps): the
    tracked Λ against dense eigvalsh of G_v = α²(Z_vᵀZ_v/n + ‖a‖² diag(λ)) at all 1001 steps,
    the state replayed without folding so that its roundoff is the run's."""
    X, Y, W, a = paper_problem(1000, 3072, 200, np)
    sp = linnet.spectrum(X, Y)
    tr = linnet.train(X, Y, eta=10.0, steps=1000, W0=W, a0=a, alpha=1.0, spectrum=sp, e_hat_every=0)
    eng = SpectralEngine(sp, W, a, 1.0, np.float64, 1)
    for t in range(1001):
        obs = eng.observe()
        Zv = eng.zv_copy()
        lam = np.linalg.eigvalsh(Zv.T @ Zv / 1000 + obs.a_norm2 * np.diag(sp.lam))[-1]
        assert abs(tr.sharpness[t] - lam) <= tol("eigensolver") * lam, t
        if t < 1000:
            eng.step(10.0, obs)
