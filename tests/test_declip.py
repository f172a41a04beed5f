"""DeCLIP: EDA text views keep words and padding sane, nearest neighbours from the bank,
the loss reduces to CLIP with every extra term off, a few steps reduce the loss."""

import pytest
import torch

import contrastkit as ck
from contrastkit.data import make_multimodal
from contrastkit.data.captions import VOCAB, tokenize
from contrastkit.explore import declip as xd
from contrastkit.losses import clip_loss
from contrastkit.methods import clip as cl
from contrastkit.methods import declip as dc


@pytest.fixture(scope="module")
def pairs():
    return make_multimodal(64, 16, seed=0, modalities=("image", "text"))


def _small(**kwargs):
    ck.seed_everything(0)
    return dc.DeCLIP(
        ck.models.SmallConvNet(widths=(8, 16)), cl.TextEncoder(len(VOCAB), 16), 16, **kwargs
    )


def test_eda_keeps_words_and_padding():
    tokens = tokenize(["a large red star on the left", "the disk"])
    g = torch.Generator().manual_seed(0)
    out = dc.eda(tokens, drop=0.5, swap=0.5, generator=g)
    assert out.shape == tokens.shape and out.dtype == torch.long
    for row, src in zip(out, tokens, strict=True):
        kept = row[row != 0].tolist()
        assert kept and set(kept) <= set(src[src != 0].tolist())  # only its own words, >= 1
    assert torch.equal(dc.eda(tokens, 0.0, 0.0), tokens)  # no augmentation: unchanged
    assert (dc.eda(tokens, 1.0, 0.0) != 0).sum(dim=1).tolist() == [1, 1]  # one word survives
    with pytest.raises(ValueError, match="drop"):
        dc.eda(tokens, drop=1.5)
    with pytest.raises(ValueError, match="int64"):
        dc.eda(tokens.float())


def test_text_views_seeded():
    a = xd.text_views("a large red star on the left", 0.3, 0.3, n=3, seed=1)
    assert a == xd.text_views("a large red star on the left", 0.3, 0.3, n=3, seed=1)
    assert len(a) == 3 and xd.text_views("a red star", 0.0, 0.0, n=1) == ["a red star"]
    shown = xd.views_html("a red star", 0.0, 0.0, n=2)
    assert shown.count("<code>a red star</code>") == 2 and "view 2" in shown


def test_nearest_neighbours():
    bank = torch.eye(4)
    q = torch.tensor([[0.9, 0.1, 0.0, 0.0], [0.0, 0.0, 0.2, 1.0]])
    assert torch.equal(dc.nearest_neighbours(q, bank), bank[[0, 3]])
    assert torch.equal(dc.nearest_neighbours(q, bank[:0]), q)


def test_reduces_to_clip(pairs):
    model = _small(views=1, w_ss=0.0, w_nn=0.0, image_augment=None)
    x, t = pairs.tensors()
    want = clip_loss(
        model.image_proj(model.image_encoder(x)),
        model.text_proj(model.text_encoder(t)),
        model.temperature,
    )
    loss, terms = model.loss((x, t))
    assert float(loss.detach()) == pytest.approx(float(want.detach()), rel=1e-5)
    assert set(terms) == {"mv"} and terms["mv"] == pytest.approx(float(want.detach()), rel=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="w_ss"):
        _small(views=1)
    with pytest.raises(ValueError, match="w_nn"):
        _small(w_nn=-1.0)
    with pytest.raises(TypeError, match="images, tokens"):
        _small().loss(torch.zeros(2, 3, 16, 16))


def test_all_terms_and_training(pairs):
    model = _small(queue_size=32)
    x, t = pairs.tensors()
    model.loss((x[:16], t[:16]))  # fills the bank
    assert int(model.queue.filled) == 16
    loss, terms = model.loss((x[:16], t[:16]))
    assert set(terms) == {"mv", "ss", "nn"} and torch.isfinite(loss)
    model = _small(w_nn=0.0)  # the NN term joins once the bank fills: compare like with like
    hist = ck.fit(
        model, pairs.tensors(), steps=30, batch_size=32, lr=3e-3, device="cpu", progress=False
    )
    assert hist.loss[-1] < hist.loss[0]
    assert set(hist.metrics) == {"mv", "ss"} and len(hist.metrics["mv"]) == len(hist.loss)
