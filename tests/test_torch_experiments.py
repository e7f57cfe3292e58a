"""validation.experiments.torch_nets at tiny sizes; benchmarks.bench_torch's fields (no torch: skipped)."""

import os

import pytest

torch = pytest.importorskip("torch")

from validation.experiments import Context  # noqa: E402
from validation.experiments.torch_nets import EXPERIMENTS  # noqa: E402


@pytest.fixture(scope="module")
def tiny_ctx(tmp_path_factory):
    return Context(str(tmp_path_factory.mktemp("tiny_torch")), tiny=True, progress=lambda s: None)


def test_cnn_activations_tiny(tiny_ctx):
    res = EXPERIMENTS["cnn_activations"](tiny_ctx)
    assert res.name == "cnn_activations" and res.config["n"] == 8
    for act in ("tanh", "relu", "elu"):
        assert 0 <= res.metrics[f"{act}_a31_agreement"] <= 1
        assert res.metrics[f"{act}_eta"] > 0 and res.metrics[f"{act}_max_eta_lambda"] > 0
    assert isinstance(res.metrics["all_ps_then_eos"], bool)
    assert all(os.path.getsize(f) > 1000 for f in res.figures)
    assert torch.get_num_threads() >= 1  # restored


def test_resnet18_tiny(tiny_ctx):
    res = EXPERIMENTS["resnet18"](tiny_ctx)
    assert "P = 11177025" in res.config["architecture"] and res.config["steps"] == 2
    assert res.metrics["architecture_source"].startswith(("linnet", "torchvision"))
    assert res.metrics["eta"] > 0 and res.metrics["seconds"] > 0
    assert all(os.path.getsize(f) > 1000 for f in res.figures)


def test_bench_torch_fields():
    bench_torch = pytest.importorskip("benchmarks.bench_torch")  # a source checkout's, not the wheel's
    bench, print_report = bench_torch.bench, bench_torch.print_report
    res = bench(tiny=True, threads=1)
    o = res["overhead"]
    for k in ("linnet_s", "bare_s", "ratio", "products", "products_per_state", "loss_dev", "ga_dev"):
        assert k in o
    assert o["ratio"] > 0 and o["products"] > 0
    assert o["loss_dev"] < 1e-12  # the bare loop computes the same trajectory
    c = res["cnn"]
    assert c["every1_steps_per_s"] > 0 and c["every2_steps_per_s"] > 0
    print_report(res)


def test_bench_torch_memory_table_fields():
    bt = pytest.importorskip("benchmarks.bench_torch")
    cell, memory_table, plan_cell = bt.cell, bt.memory_table, bt.plan_cell
    print_memory_table = bt.print_memory_table
    r = cell("bn_cnn", 6, "jacobian", steps=1, threads=1, tiny=True)  # in this process
    assert r["status"] == "ok" and r["jacobian"].startswith("vjp rows") and len(r["step_s"]) == 1
    assert r["peak_rss"] > 0 and 0 < r["estimate"] <= r["budget_bytes"] and r["eta_lambda0"] < 2
    over = plan_cell("resnet18", 6, "dense", budget="64MiB", tiny=True)
    assert over["status"] == "over budget" and over["estimate"] > 64 * 2**20
    assert "gram='dense'" in over["message"]
    res = memory_table(ns=(6,), archs=("paper_cnn",), grams=("jacobian",), threads=1, tiny=True)  # a child
    (row,) = res["rows"]
    assert row["status"] == "ok" and row["auto"] == "jacobian" and row["peak_rss"] >= row["baseline_rss"]
    print_memory_table(res)
