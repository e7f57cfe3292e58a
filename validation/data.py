"""Data for the suite: the built-in synthetic sets and loaders for CIFAR-10 and MNIST files.

Real data are never downloaded: point ``--data cifar10:PATH`` at the folder holding CIFAR-10's
python batches (``data_batch_1`` …) or ``--data mnist:PATH`` at MNIST's idx files.
Following App. A.1, the first 500 images of class 0 and of class 1 are taken, labelled +1/−1,
pixels scaled to [0, 1]; ``mean_subtract`` removes the mean image.
"""

from __future__ import annotations

import gzip
import os
import pickle
from dataclasses import dataclass

import numpy as np

import linnet


class DataError(ValueError):
    """A data file is missing or malformed; the message names the path."""


@dataclass(frozen=True)
class Dataset:
    name: str
    X: np.ndarray  # d×n
    Y: np.ndarray


def synthetic(kind="cifar-like", *, n=1000, d=3072, seed=0, labels="class", column_norm=None) -> Dataset:
    X, Y = linnet.make_data(kind, n=n, d=d, seed=seed, labels=labels, column_norm=column_norm)
    return Dataset(f"{kind} (n={n}, d={d}, labels={labels}, seed={seed})", X, Y)


# The built-in images, at App. A.1's scale and with a class signal like CIFAR-10's classes 0/1:
# samples of norm PIXEL_SCALE·√d (CIFAR's pixels in [0, 1] have an RMS near 0.5, so ‖x‖ ≈ 0.5·√3072,
# nearly the same for every image: App. C's footnote), a common direction (the mean image: K's
# outlier, Figs. 18–19), a power-law spectrum, and classes CLASS_STRENGTH apart along one more
# direction. The generator's default class strength 0.5 put the labels on K's second eigenvector
# (λ₁/λ₂ ≈ 4), which a network fits in a few steps with no progressive sharpening to speak of; at
# 0.03 the class direction's variance (≈ 1e-3) sits near the 130th eigenvalue of the power law at
# d = 3072, so the labels spread over many of K's eigenvectors (as CIFAR's do: App. D.2.1).
PIXEL_SCALE = 0.5
CLASS_STRENGTH = 0.03


def synthetic_images(*, n=1000, d=3072, seed=0, labels="class") -> Dataset:
    """The built-in CIFAR-like images (d×n), at pixel scale: see :data:`CLASS_STRENGTH`."""
    X, Y = linnet.make_data("cifar-like", n=n, d=d, seed=seed, labels=labels, class_strength=CLASS_STRENGTH,
                            column_norm=PIXEL_SCALE * np.sqrt(d))
    return Dataset(f"synthetic CIFAR-like images (n={n}, d={d}, pixel scale, class strength "
                   f"{CLASS_STRENGTH}, labels={labels}, seed={seed}; not CIFAR-10)", X, Y)


def _two_classes(images, labels, per_class, name, path):
    images = np.asarray(images)
    labels = np.asarray(labels).ravel()
    idx0 = np.flatnonzero(labels == 0)[:per_class]
    idx1 = np.flatnonzero(labels == 1)[:per_class]
    if idx0.size < per_class or idx1.size < per_class:
        raise DataError(
            f"{path}: needs {per_class} images of classes 0 and 1, found {idx0.size} and {idx1.size}"
        )
    idx = np.concatenate([idx0, idx1])
    X = images[idx].reshape(idx.size, -1).astype(np.float64).T / 255.0
    Y = np.where(labels[idx] == 0, 1.0, -1.0)
    return Dataset(name, X, Y)


def load_cifar10(path, *, per_class: int = 500, mean_subtract: bool = False) -> Dataset:
    """First ``per_class`` images of classes 0 and 1 from CIFAR-10's python-pickle batches."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise DataError(f"{path}: not a folder; give the folder holding CIFAR-10's data_batch_1 … 5")
    images, labels = [], []
    files = [os.path.join(path, f"data_batch_{i}") for i in range(1, 6)]
    if not os.path.exists(files[0]):
        raise DataError(f"{files[0]}: missing; expected CIFAR-10's python batches (cifar-10-batches-py)")
    for f in files:
        if not os.path.exists(f):
            break
        try:
            with open(f, "rb") as fh:
                batch = pickle.load(fh, encoding="bytes")
            data = np.asarray(batch[b"data"], dtype=np.uint8)
            lab = np.asarray(batch[b"labels"])
        except Exception as exc:  # noqa: BLE001 - any unpickling problem is a malformed file
            raise DataError(f"{f}: not a CIFAR-10 python batch ({type(exc).__name__}: {exc})") from exc
        if data.ndim != 2 or data.shape[1] != 3072 or lab.shape[0] != data.shape[0]:
            raise DataError(
                f"{f}: expected data of shape (N, 3072) and N labels, got {data.shape} and {lab.shape}"
            )
        images.append(data)
        labels.append(lab)
        if sum((np.concatenate(labels) == c).sum() >= per_class for c in (0, 1)) == 2:
            break
    ds = _two_classes(np.concatenate(images), np.concatenate(labels), per_class, "CIFAR-10 classes 0/1", path)
    return _maybe_center(ds, mean_subtract)


def _read_idx(path, magic):
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    if len(raw) < 8 or int.from_bytes(raw[:4], "big") != magic:
        raise DataError(f"{path}: not an idx file with magic number {magic}")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DataError(f"{path}: header says {dims} but holds {body.size} bytes")
    return body.reshape(dims)


def load_mnist(path, *, per_class: int = 500, mean_subtract: bool = False) -> Dataset:
    """First ``per_class`` digits 0 and 1 from MNIST's train idx files (optionally gzipped)."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise DataError(f"{path}: not a folder; give the folder holding train-images-idx3-ubyte")

    def find(stem):
        for name in (stem, stem + ".gz"):
            f = os.path.join(path, name)
            if os.path.exists(f):
                return f
        raise DataError(f"{os.path.join(path, stem)}: missing (also looked for .gz)")

    images = _read_idx(find("train-images-idx3-ubyte"), 2051)
    labels = _read_idx(find("train-labels-idx1-ubyte"), 2049)
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{path}: {images.shape[0]} images but {labels.shape[0]} labels")
    return _maybe_center(_two_classes(images, labels, per_class, "MNIST digits 0/1", path), mean_subtract)


def _maybe_center(ds: Dataset, mean_subtract: bool) -> Dataset:
    if not mean_subtract:
        return ds
    return Dataset(ds.name + ", mean subtracted", ds.X - ds.X.mean(axis=1, keepdims=True), ds.Y)


def normalise_columns(ds: Dataset, norm: float) -> Dataset:
    """Scale every sample to the same norm (the suite's step sizes are set for norm 0.2)."""
    X = ds.X * (norm / np.maximum(np.linalg.norm(ds.X, axis=0, keepdims=True), 1e-300))
    return Dataset(ds.name + f", columns scaled to norm {norm}", X, ds.Y)


def parse_data_arg(arg: str | None):
    """``None`` (built-in synthetic), ``cifar10:PATH`` or ``mnist:PATH`` → a loader or None."""
    if arg is None or arg == "synthetic":
        return None
    kind, _, path = arg.partition(":")
    if kind not in ("cifar10", "mnist") or not path:
        raise DataError(f"--data {arg!r}: use cifar10:PATH or mnist:PATH")
    return lambda **kw: (load_cifar10 if kind == "cifar10" else load_mnist)(path, **kw)
