"""validation.torch_experiments at tiny sizes, and linnet.bench_torch's fields (skipped without torch)."""
import os

import pytest

torch = pytest.importorskip("torch")

from validation.experiments import Context  # noqa: E402
from validation.torch_experiments import EXPERIMENTS  # noqa: E402


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
    from linnet.bench_torch import bench, print_report
    res = bench(tiny=True, threads=1)
    o = res["overhead"]
    for k in ("linnet_s", "bare_s", "ratio", "products", "products_per_state", "loss_dev", "ga_dev"):
        assert k in o
    assert o["ratio"] > 0 and o["products"] > 0
    assert o["loss_dev"] < 1e-12  # the bare loop computes the same trajectory
    c = res["cnn"]
    assert c["every1_steps_per_s"] > 0 and c["every2_steps_per_s"] > 0
    print_report(res)
