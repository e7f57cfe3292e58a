"""The benchmark's measuring code on tiny sizes (the timings themselves are not asserted)."""

import json

import numpy as np
import pytest

from linnet.tolerances import tol

from small_problems import paper_problem

# benchmarks/ is beside the package in a source checkout, not in the wheel
bench = pytest.importorskip("benchmarks.bench")


def test_bench_size_row_is_complete_and_like_for_like():
    row = bench.bench_size(60, 80, 20, steps_fast=20, steps_literal=3, xp=np)
    for key in (
        "setup_s",
        "fast_fixed_s",
        "fast_steps_per_s",
        "literal_steps_per_s",
        "ratio",
        "fast_hessian_s",
        "literal_hessian_s",
        "fast_peak_mib",
        "literal_peak_mib",
    ):
        assert np.isfinite(row[key]) and row[key] > 0, key
    assert row["ratio"] == pytest.approx(row["fast_steps_per_s"] / row["literal_steps_per_s"])
    assert row["fast_stopped"] is None and row["literal_stopped"] is None
    if bench.jit_available():
        assert np.isfinite(row["jit_steps_per_s"]) and row["jit_stopped"] is None


def test_per_step_costs_cover_each_measurement():
    costs = bench.per_step_costs(60, 80, 20, steps=20, xp=np, reps=1)
    jit = bench.MEASURED_JIT if bench.jit_available() else ()
    assert list(costs) == [label for label, _ in bench.MEASURED + jit]
    assert all(np.isfinite(ms) for ms in costs.values())


def test_autograd_baseline_computes_the_same_run():
    """An independent implementation (PyTorch autograd for the step, vjp+jvp for G) gives the
    same loss and Λ as linnet, step for step."""
    pytest.importorskip("torch")
    out = bench.autograd_baseline(60, 80, 20, steps=6)
    assert out["loss_dev"] < tol("identity") and out["lambda_dev"] < tol("eigensolver-autograd")


def test_bench_mlp_row_is_complete_and_torch_agrees():
    """The MLP section at a tiny size: every number present and finite, and (with torch) the
    hand-written autograd loop computes the same losses and Λ as linnet."""
    try:
        import torch  # noqa: F401

        steps = 4
    except ImportError:
        steps = None
    row = bench.bench_mlp(40, 30, (30, 8, 8, 1), eta=0.2, steps=5, warmup=2, xp=np, reps=1, torch_steps=steps)
    for key in (
        "setup_s",
        "gd_steps_per_s",
        "lambda_steps_per_s",
        "lambda_ga_steps_per_s",
        "hessian_s",
        "hessian_lambda",
        "peak_mib",
        "sharpness_products_per_step",
    ):
        assert np.isfinite(row[key]) and row[key] > 0, key
    assert row["hessian_hvps"] > 0 and row["hessian_params"] == 30 * 8 + 8 * 8 + 8
    assert row["lambda_stopped"] is None and row["lambda_ga_stopped"] is None
    assert row["lambda_ga_same_as_lambda"]
    assert set(row["parts_ms"]) >= {
        "forward+backward",
        "dense G (n×n)",
        "one HVP",
        "tracker products per step",
    }
    assert set(row["targets"]) == {"steps_per_s_ge_20", "hessian_le_1s", "torch_ratio_ge_20"}
    json.dumps(row)
    if steps is None:
        pytest.skip("torch is not installed: the autograd comparison is not run")
    t = row["torch"]
    assert t["steps_per_s"] > 0 and row["torch_ratio"] == pytest.approx(
        row["lambda_ga_steps_per_s"] / t["steps_per_s"]
    )
    assert t["loss_dev"] < tol("identity") and t["lambda_dev"] < tol("eigensolver-autograd")


@pytest.mark.slow  # compiles the kernels from nothing: ~40 s
def test_jit_compile_seconds_come_from_two_fresh_processes():
    pytest.importorskip("numba")
    out = bench.jit_compile_seconds()
    assert out["cold_s"] > out["cached_s"] > 0


def test_the_tests_paper_problem_is_the_benchmarks():
    """tests/small_problems.paper_problem stands in for the benchmark's (the wheel has no benchmarks)."""
    for a, b in zip(paper_problem(30, 40, 5, np), bench.paper_problem(30, 40, 5, np), strict=True):
        assert np.array_equal(a, b)
