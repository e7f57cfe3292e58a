import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("linnet", max_examples=20, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("linnet")


def problem(d=7, n=5, m=6, seed=0, alpha_scale=1.0, y_scale=1.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((d, n))
    Y = y_scale * rng.standard_normal(n)
    W = alpha_scale * rng.standard_normal((m, d))
    a = alpha_scale * rng.standard_normal(m)
    return W, a, X, Y


@pytest.fixture
def small():
    return problem()


def rel_err(x, y, scale=None):
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    s = np.max(np.abs(y)) if scale is None else scale
    return float(np.max(np.abs(x - y)) / s)
