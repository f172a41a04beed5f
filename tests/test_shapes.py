"""make_shapes: seeded, well-formed, factors consistent with the pixels, inputs checked.

No timing assertions here (design: throughput belongs to benchmarks/); the calibration numbers
live in the module docstring.
"""

import math

import pytest
import torch

from contrastkit.data.base import ImageData
from contrastkit.data.shapes import BACKGROUND_NAMES, SCALE_RANGE, SHAPE_NAMES, make_shapes


@pytest.fixture(scope="module")
def data():
    return make_shapes(1000, 16, seed=0)


def test_same_seed_same_tensors_other_seed_differs():
    a, b = make_shapes(200, 16, seed=3), make_shapes(200, 16, seed=3)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert all(torch.equal(a.factors[k], b.factors[k]) for k in a.factors)
    c = make_shapes(200, 16, seed=4)
    assert not torch.equal(a.x, c.x)


def test_shapes_dtypes_and_range(data):
    assert isinstance(data, ImageData) and data.name == "shapes"
    assert data.x.shape == (1000, 3, 16, 16) and data.x.dtype == torch.float32
    assert data.y.shape == (1000,) and data.y.dtype == torch.int64
    assert 0 <= data.x.min() and data.x.max() <= 1
    assert data.classes == SHAPE_NAMES and len(SHAPE_NAMES) == 10
    assert make_shapes(8, 9, seed=0).x.shape == (8, 3, 9, 9)  # odd sizes work too


def test_every_class_present_and_labels_in_range(data):
    assert torch.equal(data.y.unique(), torch.arange(10))
    few = make_shapes(300, 16, seed=1, n_classes=4)
    assert few.y.min() >= 0 and few.y.max() < 4 and few.classes == SHAPE_NAMES[:4]


def test_factors_have_the_documented_shapes_and_ranges(data):
    f, n = data.factors, len(data)
    assert f["colour"].shape == (n, 3) and 0 <= f["colour"].min() and f["colour"].max() <= 1
    assert f["position"].shape == (n, 2) and f["position"].abs().max() <= 1
    assert f["scale"].shape == (n,)
    assert SCALE_RANGE[0] <= f["scale"].min() and f["scale"].max() <= SCALE_RANGE[1]
    assert f["rotation"].shape == (n,)
    assert 0 <= f["rotation"].min() and f["rotation"].max() < 2 * math.pi
    assert f["background"].shape == (n,) and f["background"].dtype == torch.int64
    assert f["background"].min() >= 1 and f["background"].max() < len(BACKGROUND_NAMES)
    assert "subclass" not in f and "multi_hot" not in f
    plain = make_shapes(50, 16, seed=0, background="plain")
    assert (plain.factors["background"] == 0).all()


def test_pixels_agree_with_factors(data):
    """At the object's centre the pixel has the object's colour (catches frame/flip bugs)."""
    solid_centre = [SHAPE_NAMES.index(s) for s in ("disk", "square", "cross", "star", "bar")]
    idx = torch.isin(data.y, torch.tensor(solid_centre)).nonzero().squeeze(1)
    size = data.x.shape[-1]
    pos = data.factors["position"][idx]
    col = ((pos[:, 0] + 1) / 2 * size).floor().long().clamp(0, size - 1)
    row = ((1 - pos[:, 1]) / 2 * size).floor().long().clamp(0, size - 1)  # y points up
    pixel = data.x[idx, :, row, col]  # (M, 3)
    assert torch.allclose(pixel, data.factors["colour"][idx], atol=1e-4)


def test_object_stands_out_from_background():
    d = make_shapes(200, 16, seed=2, background="plain", contrast=0.5)
    # the image's colours span at least the object-to-background distance
    spread = (d.x.amax((2, 3)) - d.x.amin((2, 3))).norm(dim=1)
    assert (spread > 0.45).float().mean() > 0.95


def test_fine_grained_subclasses_refine_the_classes():
    d = make_shapes(600, 16, seed=0, fine_grained=True)
    sub = d.factors["subclass"]
    assert sub.shape == (600,) and sub.dtype == torch.int64
    assert torch.equal(sub // 3, d.y)
    assert torch.equal(sub.unique(), torch.arange(30))
    coarse = make_shapes(600, 16, seed=0)
    assert torch.equal(coarse.y, d.y)  # the variant is drawn on top of the same factors


def test_multi_object_multi_hot_includes_the_label():
    d = make_shapes(300, 32, seed=0, n_objects=3, n_classes=6)
    mh, oc = d.factors["multi_hot"], d.factors["object_class"]
    assert mh.shape == (300, 6) and mh.dtype == torch.float32 and oc.shape == (300, 3)
    assert (mh[torch.arange(300), d.y] == 1).all()
    assert ((mh.sum(1) >= 1) & (mh.sum(1) <= 3)).all()
    assert torch.equal(mh, torch.zeros(300, 6).scatter_(1, oc, 1.0))
    assert torch.equal(oc[:, -1], d.y)  # the labelled object is the last (largest) one


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"n": 0}, "n"),
        ({"n": -5}, "n"),
        ({"image_size": 7}, "image_size"),
        ({"n_classes": 1}, "n_classes"),
        ({"n_classes": 11}, "n_classes"),
        ({"background": "noise"}, "background"),
        ({"n_objects": 0}, "n_objects"),
        ({"contrast": 0.0}, "contrast"),
    ],
)
def test_bad_inputs_raise_naming_the_argument(kwargs, name):
    args = {"n": 10, "image_size": 16, **kwargs}
    with pytest.raises(ValueError, match=rf"^{name} "):
        make_shapes(**args)
