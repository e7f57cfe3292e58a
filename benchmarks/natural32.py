"""A CIFAR-10-format folder of real 32×32 photographs the suite has never seen, for
``python -m validation --data cifar10:FOLDER`` (the README's check on other real images).

Class 0: patches of scikit-image's astronaut, chelsea (a cat) and coffee photographs; class 1:
patches of its rocket, motorcycle and Hubble deep-field photographs. Each patch is 64×64 pixels at
a random place, averaged 2×2 down to 32×32, written channel-first as uint8 like CIFAR-10's
``data_batch_1`` (a pickled dict with b"data" (N, 3072) and b"labels"). The photographs come from
the scikit-image wheel (BSD-licensed sample data), read with Pillow; nothing else is downloaded.

    pip download scikit-image==0.24.0 --no-deps -d /tmp/pkgs
    python benchmarks/natural32.py /tmp/pkgs/scikit_image-0.24.0-*.whl OUT_FOLDER
"""

from __future__ import annotations

import io
import os
import pickle
import sys
import zipfile

import numpy as np
from PIL import Image

CLASSES = (
    ("astronaut.png", "chelsea.png", "coffee.png"),
    ("rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg"),
)
PER_CLASS = 600


def patches(img: np.ndarray, k: int, rng) -> np.ndarray:
    h, w, _ = img.shape
    out = np.empty((k, 32, 32, 3))
    for i in range(k):
        y, x = rng.integers(0, h - 64), rng.integers(0, w - 64)
        p = img[y : y + 64, x : x + 64, :3].astype(np.float64)
        out[i] = p.reshape(32, 2, 32, 2, 3).mean(axis=(1, 3))
    return out


def main(wheel: str, folder: str) -> None:
    rng = np.random.default_rng(0)
    images, labels = [], []
    with zipfile.ZipFile(wheel) as z:
        for label, names in enumerate(CLASSES):
            for j, name in enumerate(names):
                img = np.asarray(Image.open(io.BytesIO(z.read(f"skimage/data/{name}"))).convert("RGB"))
                k = PER_CLASS // len(names) + (1 if j < PER_CLASS % len(names) else 0)
                images.append(patches(img, k, rng))
                labels += [label] * k
    X = np.concatenate(images)
    order = rng.permutation(X.shape[0])
    X, y = X[order], np.asarray(labels)[order]
    data = np.clip(np.rint(X), 0, 255).astype(np.uint8).transpose(0, 3, 1, 2).reshape(len(y), 3072)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "data_batch_1"), "wb") as fh:
        pickle.dump({b"data": data, b"labels": y.tolist()}, fh)
    print(f"wrote {len(y)} images ({np.bincount(y).tolist()} per class) to {folder}/data_batch_1")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
