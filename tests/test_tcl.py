"""TCL: the local-global loss against a float64 loop, stability, bad input; the method's terms,
its teacher, and the notebook's pure helpers."""

import math

import pytest
import torch

import contrastkit as ck
from contrastkit.data import make_multimodal
from contrastkit.data.captions import VOCAB
from contrastkit.losses import clip_loss, local_global_nce
from contrastkit.methods import clip as cl
from contrastkit.methods import tcl as T
from contrastkit.utils import eval_mode


def _reference(g, local, mask, tau):
    def unit(r):
        s = math.sqrt(sum(x * x for x in r))
        return [x / s for x in r]

    g = [unit(r) for r in g.double().tolist()]
    local = [[unit(r) for r in row] for row in local.double().tolist()]
    mask = mask.tolist()
    n, m = len(g), len(local[0])

    def dot(u, v):
        return sum(x * y for x, y in zip(u, v, strict=True))

    total = 0.0
    for i in range(n):
        negs = [dot(g[i], local[k][j]) / tau for k in range(n) if k != i
                for j in range(m) if mask[k][j]]  # fmt: skip
        row = []
        for j in range(m):
            if not mask[i][j]:
                continue
            pos = dot(g[i], local[i][j]) / tau
            top = max([pos, *negs])
            lse = top + math.log(sum(math.exp(x - top) for x in [pos, *negs]))
            row.append(lse - pos)
        total += sum(row) / len(row)
    return total / n


def _inputs(seed=0, n=6, m=5, d=8):
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(n, m, generator=g) > 0.4
    mask[:, 0] = True
    return torch.randn(n, d, generator=g), torch.randn(n, m, d, generator=g), mask


@pytest.mark.parametrize("tau", [0.07, 0.5])
def test_local_global_matches_float64_loop(tau):
    g, local, mask = _inputs()
    got = local_global_nce(g.double(), local.double(), mask, tau)
    assert float(got) == pytest.approx(_reference(g, local, mask, tau), rel=1e-9)
    full = torch.ones_like(mask)
    assert float(local_global_nce(g, local, None, tau)) == pytest.approx(
        _reference(g, local, full, tau), rel=1e-5
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_local_global_finite_at_small_temperature(dtype):
    g, local, mask = _inputs(1)
    g, local = (g * 50).to(dtype).requires_grad_(), (local * 50).to(dtype).requires_grad_()
    loss = local_global_nce(g, local, mask, 0.01)
    loss.backward()
    assert loss.dtype == dtype and torch.isfinite(loss)
    assert torch.isfinite(g.grad).all() and torch.isfinite(local.grad).all()


def test_local_global_bad_input_names_argument():
    g, local, mask = _inputs()
    with pytest.raises(ValueError, match="temperature"):
        local_global_nce(g, local, mask, 0.0)
    with pytest.raises(ValueError, match="local"):
        local_global_nce(g, local[:, :, :4], mask)
    with pytest.raises(ValueError, match="local"):
        local_global_nce(g, local[0])
    with pytest.raises(ValueError, match="mask"):
        local_global_nce(g, local, mask.float())
    with pytest.raises(ValueError, match="mask"):
        local_global_nce(g, local, torch.zeros_like(mask))
    with pytest.raises(ValueError, match="g"):
        local_global_nce(g[:1], local[:1])


def test_own_locals_give_lower_loss():
    g, local, _ = _inputs(2)
    aligned = g[:, None, :] + 0.1 * local  # each sample's locals point at its own global
    assert local_global_nce(g, aligned) < local_global_nce(g, local)


def _model(**kw):
    return T.TCL(ck.models.SmallConvNet(widths=(8, 16)), cl.TextEncoder(len(VOCAB), 16), 8, **kw)


def test_trains_with_teacher_update():
    data = make_multimodal(64, 16, seed=0, modalities=("image", "text"), background="plain")
    ck.seed_everything(0)
    model = _model()
    before = [p.clone() for p in model.teacher.target.parameters()]
    hist = ck.fit(model, data.tensors(), steps=3, batch_size=32, progress=False)
    assert all(math.isfinite(v) for v in hist.loss)
    after = list(model.teacher.target.parameters())
    assert any(not torch.equal(b, a) for b, a in zip(before, after, strict=True))
    assert all(not p.requires_grad for p in after)


def test_plain_itc_is_clip_loss():
    data = make_multimodal(16, 16, seed=0, modalities=("image", "text"), background="plain")
    model = _model(w_imc=0, w_lmi=0, augment=None, word_drop=0.0)
    x, tok = data.tensors()
    with torch.no_grad():
        a = model.image_proj(model.image_encoder(x))
        b = model.text_proj(model.text_encoder(tok))
        expected = float(clip_loss(a, b, model.temperature))
        assert float(model.loss((x, tok))) == pytest.approx(expected)


def test_parts_shapes_and_global_equals_encoder():
    model = _model()
    x = torch.rand(4, 3, 16, 16)
    model.eval()
    g, patches = T.TCL.image_parts(model.image_encoder, model.image_proj, model.patch_proj, x)
    assert patches.shape == (4, 16, 8)
    assert torch.allclose(g, model.image_proj(model.image_encoder(x)), atol=1e-6)
    tok = torch.tensor([[3, 4, 0], [5, 0, 0]])
    gt, words, mask = T.TCL.text_parts(model.text_encoder, model.text_proj, model.token_proj, tok)
    assert gt.shape == (2, 8) and words.shape == (2, 3, 8) and mask.sum() == 3


def test_bad_arguments():
    with pytest.raises(ValueError, match="w_imc"):
        _model(w_imc=-1)
    with pytest.raises(ValueError, match="word_drop"):
        _model(word_drop=1.0)
    with pytest.raises(TypeError, match="needs"):
        _model().loss(torch.zeros(2, 3, 16, 16))


def test_helpers():
    tok = torch.tensor([[3, 4, 5, 6]] * 50)
    dropped = T.word_dropout(tok, 0.5, torch.Generator().manual_seed(0))
    assert (dropped[:, 0] == 3).all() and 0 < (dropped == 0).float().mean() < 0.75
    ids = T.attribute_ids({"a": torch.tensor([0, 1, 0]), "b": torch.tensor([2, 2, 2])}, ("a", "b"))
    assert ids.tolist()[0] == ids.tolist()[2] != ids.tolist()[1]
    model = _model()
    x = make_multimodal(20, 16, seed=0, modalities=("image",), background="plain")["image"]
    model.train()
    r = T.view_reid(model, x, seed=0)
    assert 0.0 <= r <= 1.0 and r == T.view_reid(model, x, seed=0)
    assert all(m.training for m in model.modules())  # view_reid restores every module's mode
    with eval_mode(model):
        assert T.view_reid(model, x, seed=0) == r
