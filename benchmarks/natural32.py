"""A CIFAR-10-format folder of real 32×32 photographs other than the suite's built-in ones, for
``python -m validation --data cifar10:FOLDER``: the check that a verdict does not hang on the
photographs the built-in data are cut from.

Class 0 and class 1 are cut from :data:`validation.data.OTHER_PHOTOGRAPHS` (scikit-image's sample
photographs, disjoint from the built-in :data:`validation.data.PHOTOGRAPHS`) exactly as the
built-in data are (64×64 crops averaged 2×2 down to 32×32, uint8, channel-first), and written as
CIFAR-10's ``data_batch_1`` (a pickled dict with b"data" (N, 3072) and b"labels"). Nothing is
downloaded.

    python -m benchmarks.natural32 OUT_FOLDER [--per-class 600]
"""

from __future__ import annotations

import argparse
import os
import pickle

import numpy as np

from validation import data as vdata

PER_CLASS = 600


def write(folder: str, *, per_class: int = PER_CLASS) -> str:
    """Write ``per_class`` images of each class to ``folder/data_batch_1``; returns its path."""
    ds = vdata.photographs(per_class=per_class, classes=vdata.OTHER_PHOTOGRAPHS)
    data = np.rint(ds.X.T * 255).astype(np.uint8)  # the crops as cut: uint8, channel-first
    labels = np.where(ds.Y > 0, 0, 1)
    order = np.random.default_rng(0).permutation(labels.size)  # CIFAR's classes are interleaved
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "data_batch_1")
    with open(path, "wb") as fh:
        pickle.dump({b"data": data[order], b"labels": labels[order].tolist()}, fh)
    return path


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.natural32", description=__doc__)
    p.add_argument("folder")
    p.add_argument("--per-class", type=int, default=PER_CLASS)
    args = p.parse_args(argv)
    path = write(args.folder, per_class=args.per_class)
    print(f"wrote {2 * args.per_class} images ({args.per_class} per class) to {path}")


if __name__ == "__main__":
    main()
