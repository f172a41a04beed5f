"""CLSR: the intra-modal loss against a float64 loop, its stability and errors; the method."""

import math

import pytest
import torch

import contrastkit as ck
from contrastkit.data.captions import VOCAB
from contrastkit.explore import clsr as xc
from contrastkit.losses import clip_loss, intra_inter_nce
from contrastkit.methods import clsr as cl


def _reference(a, b, t):
    """A loop over anchors in float64: cross-modal positives, both modalities as negatives."""
    a = torch.nn.functional.normalize(a.double(), dim=1)
    b = torch.nn.functional.normalize(b.double(), dim=1)
    n, total = len(a), 0.0
    for x, y in ((a, b), (b, a)):
        for i in range(n):
            terms = [math.exp(float(x[i] @ y[j]) / t) for j in range(n)]
            terms += [math.exp(float(x[i] @ x[j]) / t) for j in range(n) if j != i]
            total += -math.log(math.exp(float(x[i] @ y[i]) / t) / sum(terms))
    return total / (2 * n)


@pytest.mark.parametrize("n,d,t", [(1, 3, 0.5), (4, 8, 0.1), (7, 5, 0.3), (16, 4, 1.0)])
def test_intra_inter_matches_float64_reference(n, d, t):
    g = torch.Generator().manual_seed(n * 10 + d)
    a, b = torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(n, d, generator=g)
    ref = _reference(a, b, t)
    assert float(intra_inter_nce(a, b.double(), t)) == pytest.approx(ref, rel=1e-9)
    # symmetric in the two modalities, invariant to permuting the pairs
    assert float(intra_inter_nce(b.double(), a, t)) == pytest.approx(ref, rel=1e-9)
    perm = torch.randperm(n, generator=g)
    assert float(intra_inter_nce(a[perm], b.double()[perm], t)) == pytest.approx(ref, rel=1e-9)


def test_intra_inter_is_at_least_clip_and_has_a_gradient():
    a, b = torch.randn(8, 6, requires_grad=True), torch.randn(8, 6)
    loss = intra_inter_nce(a, b, 0.2)
    assert loss >= clip_loss(a, b, 0.2)  # more negatives in every denominator
    loss.backward()
    assert a.grad is not None and torch.isfinite(a.grad).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_intra_inter_stable_at_small_temperature(dtype):
    a = torch.randn(32, 16, dtype=dtype, requires_grad=True)
    b = (a.detach() + 0.01 * torch.randn(32, 16)).to(dtype)
    loss = intra_inter_nce(a, b, 0.01)
    assert loss.dtype == dtype and torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(a.grad).all()
    big = intra_inter_nce(100 * torch.randn(32, 16).to(dtype), torch.randn(32, 16).to(dtype), 0.01)
    assert torch.isfinite(big)


def test_intra_inter_bad_input_names_the_argument():
    a = torch.randn(4, 3)
    with pytest.raises(ValueError, match="temperature"):
        intra_inter_nce(a, a, 0.0)
    with pytest.raises(ValueError, match="a and b"):
        intra_inter_nce(a, torch.randn(5, 3))
    with pytest.raises(ValueError, match="b must be 2-D"):
        intra_inter_nce(a, torch.randn(4))
    with pytest.raises(TypeError, match="a must be a floating"):
        intra_inter_nce(torch.ones(4, 3, dtype=torch.long), a)


def test_separability_on_known_cases():
    z = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    sep = cl.cross_modal_cosine(z, torch.tensor([0, 0, 1, 1]))
    assert sep["nn_same"] == 1.0 and sep["same"] > 0.9 and sep["different"] < 0.2


def test_query_view_sharpens_with_temperature():
    sim = torch.tensor([[0.9, 0.5, 0.4, -0.2]])
    rel = torch.tensor([[True, False, True, False]])
    cold, warm = xc.query_view(sim, rel, 0, 0.01), xc.query_view(sim, rel, 0, 10.0)
    assert cold["index"].tolist() == [0, 1, 2, 3]
    assert cold["relevant_mass"] > 0.99 and warm["relevant_mass"] == pytest.approx(0.5, abs=0.05)
    assert cold["entropy"] < warm["entropy"] <= math.log(4) + 1e-9
    with pytest.raises(ValueError, match="query"):
        xc.query_view(sim, rel, 3, 0.1)
    fig = xc.query_figure(sim, rel, ["a star"], 0.05, 0, 0.01, k=3)
    assert len(fig.data[0].y) == 3 and list(fig.data[0].marker.color)[0] == "seagreen"
    assert "'a star': relevant mass 1.00" in fig.layout.title.text


def test_clsr_trains_and_baseline_is_plain_clip():
    from contrastkit.data import make_multimodal

    data = make_multimodal(256, 8, seed=0, modalities=("audio", "text"))
    audio, tokens = data.tensors()
    model = cl.CLSR(cl.AudioEncoder(64, 32), cl.TextEncoder(len(VOCAB), 32), embed_dim=16)
    hist = ck.fit(
        model, (audio, tokens), steps=30, batch_size=64, lr=3e-3, progress=False, device="cpu"
    )
    assert hist.loss[-1] < hist.loss[0]
    assert set(hist.metrics) == {"inter", "intra", "rec", "temperature"}
    assert len(hist.metrics["rec"]) == len(hist.loss)
    assert model.log_scale.requires_grad
    base = cl.CLSR.baseline(cl.AudioEncoder(64, 32), cl.TextEncoder(len(VOCAB), 32))
    assert not base.log_scale.requires_grad and base.text_to_audio is None
    za, zt = base.encode(audio[:8], tokens[:8])
    base.eval()  # the same BatchNorm statistics as encode(): the loss is clip_loss at t = 0.07
    loss, parts = base.loss((audio[:8], tokens[:8]))
    assert set(parts) == {"inter", "temperature"}
    assert float(loss) == pytest.approx(float(clip_loss(za, zt, 0.07)), rel=1e-4)
    with pytest.raises(ValueError, match="intra_weight"):
        cl.CLSR(cl.AudioEncoder(), cl.TextEncoder(len(VOCAB)), intra_weight=-1)
    with pytest.raises(ValueError, match="audio must be"):
        cl.log_spectrogram(torch.ones(4, 64, dtype=torch.long))
