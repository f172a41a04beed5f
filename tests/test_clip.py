"""CLIP: text encoder ignores padding, symmetric loss with a learned and clamped temperature,
a few steps reduce the loss; the zero-shot and retrieval helpers behind the notebook's controls."""

import math

import pytest
import torch

import contrastkit as ck
from contrastkit.data.captions import VOCAB, make_captioned_shapes, tokenize
from contrastkit.methods import clip as cl


@pytest.fixture(scope="module")
def pairs():
    return make_captioned_shapes(200, image_size=16, seed=0)


def _small(**kwargs):
    ck.seed_everything(0)
    return cl.CLIP(
        ck.models.SmallConvNet(widths=(8, 16)), cl.TextEncoder(len(VOCAB), 16), 16, **kwargs
    )


@pytest.mark.parametrize("kind", ["mean", "gru"])
def test_text_encoder_ignores_padding(kind):
    torch.manual_seed(0)
    enc = cl.TextEncoder(len(VOCAB), 8, kind=kind).eval()
    short = tokenize(["a red star", "the disk at the top"])
    padded = torch.cat([short, torch.zeros(2, 4, dtype=torch.long)], dim=1)
    assert torch.allclose(enc(short), enc(padded), atol=1e-6)
    assert enc(tokenize("a star")).shape == (1, 8)
    with pytest.raises(ValueError, match="int64"):
        enc(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="kind"):
        cl.TextEncoder(10, 8, kind="lstm")


def test_mean_encoder_is_order_blind_and_gru_is_not():
    torch.manual_seed(0)
    a, b = tokenize("a red star"), tokenize("star red a")
    mean, gru = cl.TextEncoder(len(VOCAB), 8).eval(), cl.TextEncoder(len(VOCAB), 8, "gru").eval()
    assert torch.allclose(mean(a), mean(b), atol=1e-6)
    assert not torch.allclose(gru(a), gru(b), atol=1e-4)


def test_loss_is_symmetric_clip_loss(pairs):
    model = _small(temperature=0.1)
    x, t = pairs.x[:32], pairs.tokens[:32]
    loss = model.loss((x, t))
    a = model.image_proj(model.image_encoder(x))
    b = model.text_proj(model.text_encoder(t))
    assert torch.isfinite(loss)
    assert torch.allclose(loss, ck.clip_loss(a, b, 0.1), atol=1e-5)
    assert torch.allclose(loss, ck.clip_loss(b, a, 0.1), atol=1e-5)
    with pytest.raises(TypeError, match="tokens"):
        model.loss(x)


def test_temperature_is_learned_and_clamped(pairs):
    model = _small()
    assert float(model.temperature.detach()) == pytest.approx(0.07)
    loss = model.loss((pairs.x[:32], pairs.tokens[:32]))
    loss.backward()
    assert model.log_scale.grad is not None and model.log_scale.grad != 0
    with torch.no_grad():
        model.log_scale.fill_(10.0)  # 1/t = e^10 > 100
    assert float(model.temperature.detach()) == pytest.approx(0.01)  # clamped in use ...
    model.after_step(0)
    assert float(model.log_scale.detach()) == pytest.approx(math.log(100))  # and in the parameter
    fixed = _small(temperature=0.2, learn_temperature=False)
    assert not fixed.log_scale.requires_grad
    assert float(fixed.temperature) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="temperature"):
        _small(temperature=0.0)


def test_a_few_steps_reduce_the_loss(pairs):
    model = _small()
    hist = ck.fit(model, pairs.pairs(), steps=40, batch_size=64, lr=3e-3, progress=False)
    first, last = sum(hist.loss[:2]) / 2, sum(hist.loss[-2:]) / 2
    assert last < first - 0.3
    assert ck.embed(model, pairs.x[:5]).shape == (5, 16)


def test_class_prompts():
    classes = ["disk", "ell", "half_moon"]
    assert cl.class_prompts(classes) == ["a disk", "an ell", "a half moon"]
    assert cl.class_prompts(classes, "a photo of a {}")[1] == "a photo of an ell"
    assert cl.class_prompts(["ell"], "the {}") == ["the ell"]
    for template in cl.PROMPT_TEMPLATES:
        for prompt in cl.class_prompts(ck.data.SHAPE_NAMES, template):
            assert 1 not in tokenize(prompt).tolist(), prompt  # no unknown words
    with pytest.raises(ValueError, match="template"):
        cl.class_prompts(classes, "a shape")


def test_zero_shot_and_retrieval_helpers(pairs):
    model = _small()
    x, y = pairs.x[:50], pairs.y[:50]
    out = cl.zero_shot(model, x, y, pairs.classes, "a photo of a {}")
    assert 0 <= out["accuracy"] <= 1 and out["pred"].shape == (50,)
    assert out["accuracy"] == pytest.approx(float((out["pred"] == y).float().mean()))
    assert out["per_class"].shape == (10,) and out["prompts"][0] == "a photo of a disk"
    prompts = tokenize(out["prompts"])
    assert torch.equal(out["pred"], model.similarity(x, prompts).argmax(1))
    idx, score = cl.top_images(model, x, tokenize("a red star"), k=5)
    assert idx.shape == score.shape == (5,) and (score[:-1] >= score[1:]).all()
    sims = model.similarity(x, tokenize("a red star")[None])[:, 0]
    assert torch.allclose(score, sims.sort(descending=True).values[:5])
    idx, score = cl.top_captions(model, x[:4], pairs.tokens[:20], k=3)
    assert idx.shape == (4, 3) and (score[:, :-1] >= score[:, 1:]).all()
    assert int(idx.max()) < 20
