"""The benchmark's measuring code on tiny sizes (the timings themselves are not asserted)."""
import numpy as np
import pytest

from linnet import bench
from linnet.tolerances import tol


def test_bench_size_row_is_complete_and_like_for_like():
    row = bench.bench_size(60, 80, 20, steps_fast=20, steps_literal=3, xp=np)
    for key in ("setup_s", "fast_fixed_s", "fast_steps_per_s", "literal_steps_per_s", "ratio",
                "fast_hessian_s", "literal_hessian_s", "fast_peak_mib", "literal_peak_mib"):
        assert np.isfinite(row[key]) and row[key] > 0, key
    assert row["ratio"] == pytest.approx(row["fast_steps_per_s"] / row["literal_steps_per_s"])
    assert row["fast_stopped"] is None and row["literal_stopped"] is None


def test_per_step_costs_cover_each_measurement():
    costs = bench.per_step_costs(60, 80, 20, steps=20, xp=np, reps=1)
    assert list(costs) == [label for label, _ in bench.MEASURED]
    assert all(np.isfinite(ms) for ms in costs.values())


def test_autograd_baseline_computes_the_same_run():
    """An independent implementation (PyTorch autograd for the step, vjp+jvp for G) gives the
    same loss and Λ as linnet, step for step."""
    pytest.importorskip("torch")
    out = bench.autograd_baseline(60, 80, 20, steps=6)
    assert out["loss_dev"] < tol("identity") and out["lambda_dev"] < tol("eigensolver-autograd")
