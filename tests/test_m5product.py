"""M5Product / SCALE: the self-harmonised weights, learned agreement weights, corruption, method."""

import pytest
import torch

import contrastkit as ck
from contrastkit.methods import m5product as m5
from contrastkit.models import MLP


def _four_same_one_orthogonal():
    return torch.tensor([[[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])


def test_scale_gives_the_orthogonal_modality_the_top_weight():
    w = m5.scale_weights(_four_same_one_orthogonal())  # (1, 5)
    assert w.argmax().item() == 4 and w[0, 4] == pytest.approx(1.0, abs=1e-6)
    # by hand for the four identical ones: row (1,1,1,1,0) * softmax -> all equal, normalised
    soft = torch.softmax(torch.tensor([1.0, 1, 1, 1, 0]), dim=0)
    row = torch.tensor([1.0, 1, 1, 1, 0]) * soft
    assert w[0, 0] == pytest.approx(float(row[0] / row.norm()), rel=1e-6)


def test_agreement_weights_push_the_outlier_down_and_respect_the_mask():
    h = _four_same_one_orthogonal()
    w = m5.agreement_weights(h, None, sharpness=5.0)
    assert w.argmin().item() == 4 and w.sum().item() == pytest.approx(1.0)
    mask = torch.tensor([[True, False, True, True, True]])
    w = m5.agreement_weights(h, mask, sharpness=5.0, bias=torch.zeros(5))
    assert w[0, 1] == 0 and w.sum().item() == pytest.approx(1.0)
    assert m5.scale_weights(h, mask)[0, 1] == 0
    g = m5.similarity_graph(h, mask)
    assert g[0, 1].abs().sum() == 0 and g[0, 0, 0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="mask"):
        m5.scale_weights(h, torch.ones(1, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="h must be"):
        m5.agreement_weights(torch.randn(5, 2), None, 1.0)


def test_corruption_and_noise_modality_are_seeded_and_recorded():
    inputs = {"a": torch.randn(100, 4), "t": torch.randint(2, 20, (100, 6))}
    mask = torch.ones(100, 2, dtype=torch.bool)
    mask[:10, 1] = False
    out, bad = m5.corrupt_entries(inputs, mask, 0.3, seed=1, vocab_size=20)
    again, bad2 = m5.corrupt_entries(inputs, mask, 0.3, seed=1, vocab_size=20)
    assert torch.equal(bad, bad2) and torch.equal(out["a"], again["a"])
    assert bad.sum() == 30 and bad.sum(1).max() == 1 and not (bad & ~mask).any()
    assert not torch.equal(out["a"][bad[:, 0]], inputs["a"][bad[:, 0]])
    assert torch.equal(out["a"][~bad[:, 0]], inputs["a"][~bad[:, 0]])
    with pytest.raises(ValueError, match="vocab_size"):
        m5.corrupt_entries(inputs, mask, 0.3, seed=1)
    with pytest.raises(ValueError, match="fraction"):
        m5.corrupt_entries(inputs, mask, 1.0)
    more = m5.add_noise_modality(inputs, "sensor", 8, seed=0)
    assert more["sensor"].shape == (100, 8) and list(more)[-1] == "sensor"
    with pytest.raises(ValueError, match="name"):
        m5.add_noise_modality(more, "sensor")


@pytest.mark.parametrize("weighting", m5.WEIGHTINGS)
def test_method_trains_with_missing_modalities(weighting):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(256, 4, generator=g)  # a shared latent seen by three modalities
    xs = [
        z @ torch.randn(4, 6, generator=g) + 0.1 * torch.randn(256, 6, generator=g)
        for _ in range(3)
    ]
    mask = torch.rand(256, 3, generator=g) > 0.3
    mask[:, 0] = True
    model = m5.M5Product([MLP(6, (32,), 16) for _ in range(3)], embed_dim=8, weighting=weighting)
    hist = ck.fit(
        model, (*xs, mask), steps=40, batch_size=64, lr=3e-3, progress=False, device="cpu"
    )
    assert hist.loss[-1] < hist.loss[0]
    fused, h, w = model.embed_all(xs, mask)
    assert fused.shape == (256, 8) and h.shape == (256, 3, 8)
    assert torch.allclose(w.sum(1), torch.ones(256), atol=1e-5) and (w[~mask] == 0).all()
    assert model.bias.requires_grad == (weighting == "agreement")
    with pytest.raises(TypeError, match="mask"):
        model.loss(xs)
    with pytest.raises(ValueError, match="weighting"):
        m5.M5Product([MLP(6, (8,), 4)] * 2, weighting="mean")
