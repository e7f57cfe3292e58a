"""Data for the suite: the built-in photographs, the synthetic generator, and loaders for CIFAR-10
and MNIST files.

The suite's reference data are real photographs (:func:`photographs`): 32×32 patches of the sample
photographs scikit-image ships, in CIFAR-10's layout and pixel scale, two classes from different
photographs. The synthetic generator (:func:`synthetic`, :func:`synthetic_images`) stays for the
tests and the benchmarks, named as such in every result it gives.

Real data are never downloaded: point ``--data cifar10:PATH`` at the folder holding CIFAR-10's
python batches (``data_batch_1`` …) or ``--data mnist:PATH`` at MNIST's idx files.
Following App. A.1, the first 500 images of class 0 and of class 1 are taken, labelled +1/−1,
pixels scaled to [0, 1]; ``mean_subtract`` removes the mean image.
"""

from __future__ import annotations

import functools
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


# The synthetic CIFAR-like images (tests and benchmarks only): samples of norm PIXEL_SCALE·√d (CIFAR's
# pixels in [0, 1] have an RMS near 0.5), a common direction (K's outlier, Figs. 18–19), a
# power-law spectrum, and classes CLASS_STRENGTH apart along one more direction. Measured, their
# labels avoid K's top directions (0.8% of ‖Y‖² on K's top 10 eigenvectors, against 44% on real
# photographs): they are not a stand-in for real images, which is why the suite runs on
# :func:`photographs`.
PIXEL_SCALE = 0.5
CLASS_STRENGTH = 0.03


def synthetic_images(*, n=1000, d=3072, seed=0, labels="class") -> Dataset:
    """The synthetic CIFAR-like images (d×n), at pixel scale: see :data:`CLASS_STRENGTH`."""
    X, Y = linnet.make_data(
        "cifar-like",
        n=n,
        d=d,
        seed=seed,
        labels=labels,
        class_strength=CLASS_STRENGTH,
        column_norm=PIXEL_SCALE * np.sqrt(d),
    )
    return Dataset(
        f"synthetic CIFAR-like images (n={n}, d={d}, pixel scale, class strength "
        f"{CLASS_STRENGTH}, labels={labels}, seed={seed}; not real images)",
        X,
        Y,
    )


# ---- the built-in photographs ---------------------------------------------------------------
# Two classes cut from different photographs of scikit-image's sample data (BSD-licensed, shipped
# inside its wheel; nothing is downloaded), as CIFAR-10's classes 0 and 1 are different objects.
# PHOTOGRAPHS is the suite's reference set; OTHER_PHOTOGRAPHS, disjoint from it, is for checking
# that a verdict does not hang on the photographs chosen (benchmarks/natural32.py writes it as a
# CIFAR-10 folder for ``--data cifar10:PATH``).
PHOTOGRAPHS = (("astronaut", "chelsea", "coffee"), ("rocket", "motorcycle_left", "hubble_deep_field"))
OTHER_PHOTOGRAPHS = (("retina", "camera", "brick"), ("immunohistochemistry", "moon", "grass"))
PATCH = 64  # each image: a PATCH×PATCH crop at a random place, averaged 2×2 down to 32×32
PHOTO_SEED = 0  # the crops are fixed, as a data set is: the suite's seeds vary the init only
SIDE = 32


def _photograph(name: str) -> np.ndarray:
    """One of scikit-image's sample photographs as an H×W×3 uint8 array (grey ones repeated on the
    three channels)."""
    try:
        import skimage.data as skd
    except ImportError as exc:  # a dependency of the package: only a broken install lacks it
        raise DataError(
            "the built-in photographs need scikit-image (a dependency of linnet): pip install scikit-image"
        ) from exc
    img = skd.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(skd, name)()
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return img[:, :, :3]


def _crops(img: np.ndarray, k: int, rng) -> list[np.ndarray]:
    """``k`` crops of PATCH×PATCH pixels at places drawn by ``rng``, each averaged 2×2 down to
    32×32 and rounded to uint8 in CIFAR-10's channel-first layout (3072 values)."""
    h, w, _ = img.shape
    out = []
    for _ in range(k):
        y, x = rng.integers(0, h - PATCH + 1), rng.integers(0, w - PATCH + 1)
        p = img[y : y + PATCH, x : x + PATCH].astype(np.float64)
        p = p.reshape(SIDE, 2, SIDE, 2, 3).mean(axis=(1, 3))
        out.append(np.clip(np.rint(p), 0, 255).astype(np.uint8).transpose(2, 0, 1).reshape(-1))
    return out


@functools.lru_cache(maxsize=4)
def _cut(classes: tuple, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """(images N×3072 uint8, labels 0/1): ``per_class`` crops of each class, taken from its
    photographs in turn; each photograph's crops come from a stream of its own (seeded by
    PHOTO_SEED, the class and its place), so the first k of a class are the same for every
    ``per_class`` ≥ k, as CIFAR-10's first k images of a class are."""
    images, labels = [], []
    for label, names in enumerate(classes):
        per_photo = -(-per_class // len(names))
        streams = [
            _crops(_photograph(name), per_photo, np.random.default_rng([PHOTO_SEED, label, j]))
            for j, name in enumerate(names)
        ]
        images += [streams[i % len(names)][i // len(names)] for i in range(per_class)]
        labels += [label] * per_class
    return np.stack(images), np.asarray(labels)


def photographs(
    *, per_class: int = 500, side: int = SIDE, classes=PHOTOGRAPHS, mean_subtract: bool = False
) -> Dataset:
    """The built-in reference data: ``per_class`` 32×32 patches of class 0's photographs and of
    class 1's (:data:`PHOTOGRAPHS`), labelled +1/−1, pixels in [0, 1] as CIFAR-10's are loaded
    (App. A.1); ``side`` < 32 averages each patch down to side×side (d = 3·side²)."""
    if per_class < 1:
        raise DataError(f"per_class={per_class}: give at least 1 image per class")
    if side < 1 or SIDE % side:
        raise DataError(f"side={side}: must divide {SIDE} (32, 16, 8, 4, 2 or 1)")
    images, labels = _cut(tuple(map(tuple, classes)), per_class)
    ds = _two_classes(images, labels, per_class, "", "built-in photographs")
    if side != SIDE:
        f = SIDE // side
        X = ds.X.T.reshape(-1, 3, side, f, side, f).mean(axis=(3, 5)).reshape(ds.X.shape[1], -1).T
        ds = Dataset(ds.name, np.ascontiguousarray(X), ds.Y)
    names = " / ".join(", ".join(c) for c in classes)
    name = (
        f"photographs: {2 * per_class} patches {side}×{side} of scikit-image's sample photographs "
        f"(class 0 / 1: {names})"
    )
    return _maybe_center(Dataset(name, ds.X, ds.Y), mean_subtract)


def side_of(d: int) -> int:
    """The side s of a 3×s×s image with d = 3s² pixels (a DataError for any other d)."""
    s = int(round(np.sqrt(d / 3)))
    if 3 * s * s != d:
        raise DataError(f"d={d}: the built-in photographs have d = 3·side² (3072, 768, 192, 48, 12, 3)")
    return s


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


# What a CIFAR-10 python batch holds: a dict of bytes, lists and NumPy arrays. Nothing else may be
# built while unpickling one, so a data folder from elsewhere cannot run code.
_CIFAR_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}


class _CifarUnpickler(pickle.Unpickler):
    """An unpickler restricted to :data:`_CIFAR_GLOBALS` (NumPy's array reconstruction)."""

    def find_class(self, module, name):
        if (module, name) in _CIFAR_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"{module}.{name} is not part of a CIFAR-10 batch (only NumPy arrays, lists and dicts are read)"
        )


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
                batch = _CifarUnpickler(fh, encoding="bytes").load()
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
    """``None`` (the built-in photographs), ``cifar10:PATH`` or ``mnist:PATH`` → a loader, or None
    for the built-in photographs (:func:`photographs`)."""
    if arg is None or arg == "photographs":
        return None
    kind, _, path = arg.partition(":")
    if kind not in ("cifar10", "mnist") or not path:
        raise DataError(f"--data {arg!r}: use cifar10:PATH or mnist:PATH")
    return lambda **kw: (load_cifar10 if kind == "cifar10" else load_mnist)(path, **kw)
