"""Real-data loaders: digits (bundled), CIFAR-10 / STL-10 on small files in the real format."""

import pickle

import numpy as np
import pytest
import torch

from contrastkit import data


def test_digits():
    d = data.load_digits()
    assert d.x.shape == (1797, 1, 8, 8) and d.y.shape == (1797,)
    assert 0.0 <= float(d.x.min()) and float(d.x.max()) <= 1.0
    assert d.num_classes == 10
    assert data.load_digits(image_size=32).x.shape == (1797, 1, 32, 32)


def _write_cifar(root, n=7):
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"labels": list(rng.integers(0, 10, n)),
        }
        with open(base / name, "wb") as fh:
            pickle.dump(batch, fh)
    return batch


def test_cifar10_reads_the_official_format(tmp_path):
    last = _write_cifar(tmp_path)
    train = data.load_cifar10(train=True, root=tmp_path)
    test = data.load_cifar10(train=False, root=tmp_path)
    assert train.x.shape == (35, 3, 32, 32) and test.x.shape == (7, 3, 32, 32)
    # pixel (channel 0, row 0, col 1) of image 0 is byte 1 of its row, channel-major
    assert float(test.x[0, 0, 0, 1]) == pytest.approx(last[b"data"][0, 1] / 255)
    assert float(test.x[0, 1, 0, 0]) == pytest.approx(last[b"data"][0, 1024] / 255)
    assert test.y.tolist() == [int(v) for v in last[b"labels"]]


def test_stl10_reads_the_official_format(tmp_path):
    base = tmp_path / "stl10_binary"
    base.mkdir()
    img = np.zeros((2, 3, 96, 96), dtype=np.uint8)
    img[0, 0, 5, 10] = 200  # channel 0, row 5, column 10
    img.transpose(0, 1, 3, 2).tofile(base / "test_X.bin")  # the format stores columns first
    np.array([1, 10], dtype=np.uint8).tofile(base / "test_y.bin")
    d = data.load_stl10("test", root=tmp_path)
    assert d.x.shape == (2, 3, 96, 96)
    assert float(d.x[0, 0, 5, 10]) == pytest.approx(200 / 255)
    assert d.y.tolist() == [0, 9]


def test_missing_real_data_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="never downloads"):
        data.load_cifar10(root=tmp_path)
    with pytest.raises(FileNotFoundError, match="stl10"):
        data.load_stl10(root=tmp_path)
    with pytest.raises(ValueError, match="split"):
        data.load_stl10("valid", root=tmp_path)


def test_load_by_name_and_unknown():
    d = data.load("digits")
    assert d.name == "digits"
    with pytest.raises(ValueError, match="unknown dataset"):
        data.load("imagenet")


def test_imagedata_split_and_validation():
    d = data.load_digits()
    tr, te = d.split(100, seed=1)
    assert len(tr) == 1697 and len(te) == 100
    with pytest.raises(ValueError, match="y must be"):
        data.ImageData(torch.zeros(3, 1, 2, 2), torch.zeros(2, dtype=torch.long), ["a"])
