"""Real datasets: scikit-learn's bundled digits, and CIFAR-10 / STL-10 read from ``data/``.

Nothing here downloads. CIFAR-10 and STL-10 are read in their official formats from the data
root: ``$CONTRASTKIT_DATA`` if set, else the ``data/`` folder
of the repository. When they are absent the error says how to get them.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .base import ImageData

__all__ = ["data_root", "load_digits", "load_cifar10", "load_stl10"]

CIFAR10_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
STL10_CLASSES = [
    "airplane",
    "bird",
    "car",
    "cat",
    "deer",
    "dog",
    "horse",
    "monkey",
    "ship",
    "truck",
]


def data_root(root: str | Path | None = None) -> Path:
    """Where real datasets live: ``root``, else ``$CONTRASTKIT_DATA``, else the repo's ``data/``."""
    if root is not None:
        return Path(root)
    if os.environ.get("CONTRASTKIT_DATA"):
        return Path(os.environ["CONTRASTKIT_DATA"])
    return Path(__file__).resolve().parents[2] / "data"


def load_digits(image_size: int = 8, device: str | torch.device = "cpu") -> ImageData:
    """scikit-learn's bundled handwritten digits: 1,797 grey 8x8 images in ``[0, 1]``, 10 classes.

    Real, tiny and always available offline. Raw-pixel kNN already scores ~0.98 here, so use it
    for mechanics, not to show that self-supervision beats raw pixels (``shapes`` does that).

    Args:
        image_size: resize (bilinear) to this side, e.g. 32 to feed a ConvNet.
    """
    from sklearn.datasets import load_digits as sk_digits

    if image_size < 8:
        raise ValueError(f"image_size must be >= 8, got {image_size}")
    d = sk_digits()
    x = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16.0  # (1797, 1, 8, 8)
    if image_size != 8:
        x = F.interpolate(x, size=image_size, mode="bilinear", align_corners=False).clamp(0, 1)
    y = torch.tensor(d.target, dtype=torch.long)
    return ImageData(x, y, [str(i) for i in range(10)], name="digits").to(device)


def _missing(name: str, root: Path, how: str) -> FileNotFoundError:
    return FileNotFoundError(
        f"{name} not found under {root}. contrastkit never downloads data at run time. "
        f"To use it, {how} (or set CONTRASTKIT_DATA to the folder that holds it). "
        "The offline datasets 'shapes' and 'digits' need nothing."
    )


def load_cifar10(
    train: bool = True, root: str | Path | None = None, device: str | torch.device = "cpu"
) -> ImageData:
    """CIFAR-10 from ``<root>/cifar-10-batches-py`` (the official Python pickle format).

    Read directly rather than through ``torchvision.datasets.CIFAR10``: torchvision insists on
    the archive's MD5 sums, which would make the reader untestable on a small file.

    Raises:
        FileNotFoundError: with instructions, when the files are not there.
    """
    base = data_root(root) / "cifar-10-batches-py"
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    if not all((base / f).is_file() for f in names):
        raise _missing(
            "CIFAR-10",
            base.parent,
            "download cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html "
            f"yourself and extract it into {base.parent}",
        )
    xs, ys = [], []
    for f in names:
        with open(base / f, "rb") as fh:
            batch = pickle.load(fh, encoding="bytes")
        xs.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        ys.extend(batch[b"labels"])
    x = torch.from_numpy(np.concatenate(xs)).float() / 255.0  # (N, 3, 32, 32)
    y = torch.tensor(ys, dtype=torch.long)
    return ImageData(x, y, list(CIFAR10_CLASSES), name="cifar10").to(device)


def load_stl10(
    split: str = "train", root: str | Path | None = None, device: str | torch.device = "cpu"
) -> ImageData:
    """STL-10 (96x96) from ``<root>/stl10_binary`` (the official binary format).

    ``split`` in train / test / unlabeled; the unlabeled split has label -1 everywhere
    (100,000 images: 11 GB as float32, so load it in pieces if you need it).
    """
    if split not in ("train", "test", "unlabeled"):
        raise ValueError(f"split must be 'train', 'test' or 'unlabeled', got {split!r}")
    base = data_root(root) / "stl10_binary"
    x_file = base / f"{split}_X.bin"
    if not x_file.is_file():
        raise _missing(
            "STL-10",
            base.parent,
            "download stl10_binary.tar.gz from https://cs.stanford.edu/~acoates/stl10/ "
            f"yourself and extract it into {base.parent}",
        )
    raw = np.fromfile(x_file, dtype=np.uint8).reshape(-1, 3, 96, 96)
    x = torch.from_numpy(raw.transpose(0, 1, 3, 2).copy()).float() / 255.0  # stored column-major
    y_file = base / f"{split}_y.bin"
    if y_file.is_file():
        y = torch.from_numpy(np.fromfile(y_file, dtype=np.uint8).astype(np.int64) - 1)  # 1..10
    else:
        y = torch.full((len(x),), -1, dtype=torch.long)
    return ImageData(x, y, list(STL10_CLASSES), name="stl10").to(device)
