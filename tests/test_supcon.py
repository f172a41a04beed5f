"""SupCon: the loss uses both views and labels, reduces to SimCLR without labels, learns; the
partial labels and the false-negative share."""

import pytest
import torch

import contrastkit as ck
from contrastkit.methods import supcon as sc
from contrastkit.methods.simclr import SimCLR


def _small(cls=sc.SupCon, **kwargs):
    ck.seed_everything(0)
    return cls(ck.models.SmallConvNet(widths=(8, 16)), proj_dim=16, **kwargs)


@pytest.fixture(scope="module")
def shapes():
    return ck.make_shapes(256, image_size=16, seed=0)


def test_loss_is_finite_and_uses_labels(shapes):
    model = _small(temperature=0.1)
    x, y = shapes.x[:64], shapes.y[:64]
    torch.manual_seed(1)
    with_labels = model.loss((x, y))
    torch.manual_seed(1)
    shuffled = model.loss((x, y[torch.randperm(64)]))
    assert torch.isfinite(with_labels) and with_labels.requires_grad
    assert not torch.isclose(with_labels, shuffled)


def test_without_labels_it_is_simclr(shapes):
    x = shapes.x[:32]
    supcon, simclr = _small(temperature=0.5), _small(SimCLR, temperature=0.5)
    torch.manual_seed(2)
    a = supcon.loss((x, torch.full((32,), -1)))
    torch.manual_seed(2)
    b = simclr.loss(x)
    assert torch.allclose(a, b, atol=1e-6)


def test_unlabelled_images_get_unique_labels():
    y = torch.tensor([3, -1, 3, -1, 0, -1])
    out = sc._labels_or_instances(y)
    assert out[[0, 2, 4]].tolist() == [3, 3, 0]
    fresh = out[[1, 3, 5]]
    assert len(set(fresh.tolist())) == 3 and not set(fresh.tolist()) & {0, 3}
    assert torch.equal(sc._labels_or_instances(torch.tensor([1, 2])), torch.tensor([1, 2]))


def test_bare_tensor_batch_is_refused(shapes):
    with pytest.raises(TypeError, match="labelled batches"):
        _small().loss(shapes.x[:8])


def test_a_few_steps_reduce_the_loss(shapes):
    model = _small(temperature=0.1)
    hist = ck.fit(model, shapes, steps=40, batch_size=64, lr=3e-3, progress=False)
    first, last = sum(hist.loss[:2]) / 2, sum(hist.loss[-2:]) / 2
    assert last < first - 0.2
    assert ck.embed(model, shapes.x[:10]).shape == (10, 16)


def test_mask_labels():
    y = torch.arange(1000) % 10
    half = sc.mask_labels(y, 0.5, seed=0)
    kept = half >= 0
    assert 400 < int(kept.sum()) < 600 and torch.equal(half[kept], y[kept])
    assert (half[~kept] == -1).all()
    assert torch.equal(sc.mask_labels(y, 1.0), y) and (sc.mask_labels(y, 0.0) == -1).all()
    assert torch.equal(sc.mask_labels(y, 0.5, seed=0), half)
    with pytest.raises(ValueError, match="fraction"):
        sc.mask_labels(y, 1.5)


def test_false_negative_share():
    y = torch.arange(100) % 10  # 10 balanced classes, 10 images each
    assert sc.false_negative_share(y) == pytest.approx(9 / 99)
    assert sc.false_negative_share(torch.arange(10)) == 0.0
    assert sc.false_negative_share(torch.zeros(5)) == 1.0
