"""UNIMO: the multi-positive CMCL loss against a float64 loop, stability, bad input; one
positive and no rewrites is CLIP's loss; the rewriter changes exactly one fact; the method
trains with and without unpaired data; the swap test and the caption browser's function."""

import math

import pytest
import torch

import contrastkit as ck
from contrastkit.data.captions import VOCAB, decode, make_captioned_shapes
from contrastkit.explore import unimo as xu
from contrastkit.losses import clip_loss, cmcl_loss
from contrastkit.methods import clip as cl
from contrastkit.methods import unimo as um


def _reference(v, w, u, tau):
    def unit(r):
        s = math.sqrt(sum(x * x for x in r))
        return [x / s for x in r]

    def dot(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    def lse(xs):
        top = max(xs)
        return top + math.log(sum(math.exp(x - top) for x in xs))

    v = [unit(r) for r in v.tolist()]
    n, p = len(w), len(w[0])
    w = [[unit(r) for r in row] for row in w.tolist()]
    u = [] if u is None else [[unit(r) for r in row] for row in u.tolist()]
    flat = [(j, t) for j in range(n) for t in w[j]]
    i2t = 0.0
    for i in range(n):
        allv = [dot(v[i], t) / tau for _, t in flat] + [
            dot(v[i], t) / tau for t in (u[i] if u else [])
        ]
        posv = [dot(v[i], t) / tau for j, t in flat if j == i]
        i2t += (lse(allv) - lse(posv)) / n
    t2i = 0.0
    for j, t in flat:
        row = [dot(v[k], t) / tau for k in range(n)]
        t2i += (lse(row) - row[j]) / (n * p)
    return (i2t + t2i) / 2


@pytest.mark.parametrize("n,p,k", [(1, 1, 0), (3, 2, 4), (5, 1, 2)])
@pytest.mark.parametrize("tau", [0.05, 0.5])
def test_matches_float64_loop(n, p, k, tau):
    g = torch.Generator().manual_seed(n + p + k)
    v = torch.randn(n, 6, generator=g, dtype=torch.float64)
    w = torch.randn(n, p, 6, generator=g, dtype=torch.float64)
    u = torch.randn(n, k, 6, generator=g, dtype=torch.float64) if k else None
    got = cmcl_loss(v, w, u, tau)
    assert got.dtype == torch.float64
    assert float(got) == pytest.approx(_reference(v, w, u, tau), rel=1e-9)


def test_one_positive_no_negatives_is_clip():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 8, 16, generator=g)
    assert float(cmcl_loss(a, b[:, None], None, 0.07)) == pytest.approx(
        float(clip_loss(a, b, 0.07)), rel=1e-5
    )


def test_hard_negatives_raise_the_loss():
    g = torch.Generator().manual_seed(1)
    a, b, u = (
        torch.randn(8, 16, generator=g),
        torch.randn(8, 2, 16, generator=g),
        torch.randn(8, 3, 16, generator=g),
    )
    assert float(cmcl_loss(a, b, u, 0.1)) > float(cmcl_loss(a, b, None, 0.1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_finite_at_small_temperature(dtype):
    g = torch.Generator().manual_seed(2)
    v = (torch.randn(16, 32, generator=g) * 50).to(dtype).requires_grad_()
    w = (torch.randn(16, 3, 32, generator=g) * 50).to(dtype)
    u = (torch.randn(16, 4, 32, generator=g) * 50).to(dtype)
    loss = cmcl_loss(v, w, u, 0.01)
    assert loss.dtype == dtype and torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(v.grad).all()


def test_bad_input_names_the_argument():
    v, w, u = torch.randn(4, 8), torch.randn(4, 2, 8), torch.randn(4, 3, 8)
    with pytest.raises(ValueError, match="temperature"):
        cmcl_loss(v, w, u, 0.0)
    with pytest.raises(ValueError, match="image"):
        cmcl_loss(torch.randn(4, 2, 8), w, u)
    with pytest.raises(ValueError, match="positives"):
        cmcl_loss(v, torch.randn(4, 8), u)
    with pytest.raises(ValueError, match="positives"):
        cmcl_loss(v, torch.randn(5, 2, 8), u)
    with pytest.raises(ValueError, match="negatives"):
        cmcl_loss(v, w, torch.randn(4, 8))
    with pytest.raises(ValueError, match="negatives"):
        cmcl_loss(v, w, torch.randn(4, 3, 7))


def test_rewrite_swaps_exactly_one_fact():
    data = make_captioned_shapes(20, 16, seed=0, length=16)
    para, neg = um.rewrite(data.attributes, data.classes, 2, 2, seed=0, length=16)
    assert para.shape == (20, 2, 16) and neg.shape == (20, 8, 16)
    facts = set(VOCAB.content_words())

    def content(text):
        return sorted(w for w in VOCAB.split(text) if w in facts)

    for i in range(20):
        truth = content(data.texts[i])
        for p in decode(para[i]):
            assert content(p) == truth
        for k, text in enumerate(decode(neg[i])):
            assert content(text) != truth, (um.SWAP_FACTORS[k % 4], text, data.texts[i])
    with pytest.raises(ValueError, match="n_swaps"):
        um.rewrite(data.attributes, data.classes, 1, 0)


def _small(n=64):
    data = make_captioned_shapes(n, 16, seed=0, background="plain", length=16)
    para, neg = um.rewrite(data.attributes, data.classes, 1, 1, seed=0, length=16)
    return data, para, neg


def _towers():
    return ck.models.SmallConvNet(widths=(8, 16)), cl.TextEncoder(len(VOCAB), 16)


@pytest.mark.parametrize("unpaired", [False, True])
def test_method_trains(unpaired):
    data, para, neg = _small()
    kw = (
        {
            "unpaired_images": data.x[:32],
            "unpaired_texts": torch.stack([para[:32, 0], data.tokens[:32]], 1),
            "unpaired_batch": 16,
        }
        if unpaired
        else {}
    )
    ck.seed_everything(0)
    model = um.UNIMO(*_towers(), embed_dim=16, **kw)
    hist = ck.fit(model, (data.x, data.tokens, para, neg), steps=3, batch_size=16, progress=False)
    assert all(math.isfinite(x) for x in hist.loss)


def test_method_bad_input():
    with pytest.raises(ValueError, match="unpaired_weight"):
        um.UNIMO(*_towers(), unpaired_weight=-1)
    with pytest.raises(ValueError, match="unpaired_texts"):
        um.UNIMO(*_towers(), unpaired_texts=torch.zeros(4, 3, 16, dtype=torch.long))
    with pytest.raises(TypeError, match="UNIMO needs"):
        um.UNIMO(*_towers()).loss((torch.zeros(2, 3, 16, 16),))


def test_swap_test_and_caption_scores():
    data, _, neg = _small(32)
    model = um.UNIMO(*_towers(), embed_dim=16)
    out = um.swap_test(model, data.x, data.tokens, neg)
    assert set(out) == {*um.SWAP_FACTORS, "mean"} and all(0 <= v <= 1 for v in out.values())
    with pytest.raises(ValueError, match="negatives"):
        um.swap_test(model, data.x, data.tokens, neg[:5])
    model.train()
    s = xu.caption_scores(model, data.x[0], [data.texts[0]] + decode(neg[0]), 16)
    assert s.shape == (5,) and torch.all(s.abs() <= 1 + 1e-5) and model.training
    fig = xu.caption_figure({"UNIMO": model}, data.x, data.texts, neg, 16, 0, "UNIMO")
    assert list(fig.data[0].x) == [data.texts[0]] + decode(neg[0])
    assert fig.data[0].y == pytest.approx(s.tolist(), abs=1e-6)
    assert fig.layout.title.text.startswith("UNIMO: true caption wins")
