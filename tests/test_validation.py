"""validation: the quick suite end to end, each experiment at a tiny size, and the data loaders."""
import gzip
import json
import os
import pickle

import numpy as np
import pytest

from validation import data as vdata
from validation.__main__ import main
from validation.experiments import EXPERIMENTS, Context


def test_quick_suite_end_to_end(tmp_path):
    out = tmp_path / "report"
    assert main(["--quick", "--out", str(out)]) == 0
    for f in ("index.html", "index.md", "summary.json"):
        assert (out / f).stat().st_size > 0
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert len(pngs) == 12
    md = (out / "index.md").read_text()
    assert "all held" in md and "| check | kind | status |" in md
    for name in ("Corollary C.1", "Theorem 2.2 / Lemma C.11", "A3.1", "Theorem 1"):
        assert name in md
    html = (out / "index.html").read_text()
    assert all(f"src='{p}'" in html for p in pngs)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["failures"] == []
    checks = summary["experiments"]["ps_eos"]["checks"]
    rows = [r for table in checks.values() for r in table]
    assert {r["status"] for r in rows} <= {"held", "failed", "not applicable", "empirical", "not evaluated"}
    assert not [r for r in rows if r["kind"] in ("identity", "rigorous") and r["status"] == "failed"]


@pytest.fixture(scope="module")
def tiny_ctx(tmp_path_factory):
    return Context(str(tmp_path_factory.mktemp("tiny")), tiny=True, progress=lambda s: None)


@pytest.mark.parametrize("name", [n for n in EXPERIMENTS if n != "identities"])
def test_each_experiment_at_a_tiny_size(tiny_ctx, name):
    res = EXPERIMENTS[name](tiny_ctx)
    assert res.name == name and res.metrics and res.config
    for f in res.figures:
        assert os.path.getsize(f) > 1000
    for title, table in res.tables.items():
        assert table.failures() == [], (title, [r.name for r in table.failures()])


def test_identities_experiment_reports_every_identity(tiny_ctx):
    from theory import identities
    res = EXPERIMENTS["identities"](tiny_ctx)
    assert set(res.metrics.values()) == {"verified"} and len(res.metrics) == len(identities.IDENTITIES)


def test_unknown_experiment_and_bad_data_argument(tmp_path, capsys):
    assert main(["--only", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown" in capsys.readouterr().err
    assert main(["--data", "imagenet:/x", "--out", str(tmp_path)]) == 2
    assert "cifar10:PATH or mnist:PATH" in capsys.readouterr().err


# ---- data loaders ----------------------------------------------------------------------------

def _cifar_folder(tmp_path, n=30):
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = [i % 3 for i in range(n)]
    with open(folder / "data_batch_1", "wb") as fh:
        pickle.dump({b"data": data, b"labels": labels}, fh)
    return folder, data, labels


def test_cifar10_loader(tmp_path):
    folder, data, labels = _cifar_folder(tmp_path)
    ds = vdata.load_cifar10(folder, per_class=5)
    assert ds.X.shape == (3072, 10) and ds.Y.tolist() == [1.0] * 5 + [-1.0] * 5
    first0 = [i for i, l in enumerate(labels) if l == 0][:5]
    assert np.allclose(ds.X[:, 0], data[first0[0]] / 255.0)
    centred = vdata.load_cifar10(folder, per_class=5, mean_subtract=True)
    assert np.allclose(centred.X.mean(axis=1), 0)


def test_cifar10_loader_errors_name_the_path(tmp_path):
    with pytest.raises(vdata.DataError, match=str(tmp_path / "missing")):
        vdata.load_cifar10(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(vdata.DataError, match="data_batch_1: missing"):
        vdata.load_cifar10(empty)
    (empty / "data_batch_1").write_bytes(b"not a pickle")
    with pytest.raises(vdata.DataError, match="data_batch_1: not a CIFAR-10 python batch"):
        vdata.load_cifar10(empty)
    folder, *_ = _cifar_folder(tmp_path)
    with pytest.raises(vdata.DataError, match="needs 50 images of classes 0 and 1"):
        vdata.load_cifar10(folder, per_class=50)


def _idx(arr, magic):
    header = magic.to_bytes(4, "big") + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def test_mnist_loader_raw_and_gz(tmp_path):
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, size=(20, 28, 28))
    labs = np.array([i % 2 for i in range(20)])
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx(imgs, 2051))
    with gzip.open(tmp_path / "train-labels-idx1-ubyte.gz", "wb") as fh:
        fh.write(_idx(labs, 2049))
    ds = vdata.load_mnist(tmp_path, per_class=4)
    assert ds.X.shape == (784, 8) and set(ds.Y.tolist()) == {1.0, -1.0}
    assert np.allclose(ds.X[:, 0], imgs[0].ravel() / 255.0)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx(imgs, 1234))
    with pytest.raises(vdata.DataError, match="train-images-idx3-ubyte: not an idx file"):
        vdata.load_mnist(tmp_path, per_class=4)


def test_suite_runs_on_a_cifar10_folder(tmp_path):
    folder, *_ = _cifar_folder(tmp_path, n=300)
    out = tmp_path / "r"
    assert main(["--only", "spectrum", "--quick", "--out", str(out), "--data", f"cifar10:{folder}"]) == 0
    assert "CIFAR-10 classes 0/1" in (out / "index.md").read_text()
