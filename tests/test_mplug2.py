"""mPLUG-2: module sharing (one spatial encoder, one universal layer) against separate towers;
the loss is clip_loss on the module outputs; repeated video pairs are dropped; recall; toggles."""

import pytest
import torch

import contrastkit as ck
from contrastkit.data import make_multimodal
from contrastkit.data.captions import VOCAB
from contrastkit.losses import clip_loss
from contrastkit.methods import clip as cl
from contrastkit.methods import mplug2 as mp


def _model(shared):
    torch.manual_seed(0)
    return mp.MPLUG2(ck.models.SmallConvNet(widths=(8, 16)), cl.TextEncoder(len(VOCAB), 16),
                     width=16, embed_dim=8, shared=shared)  # fmt: skip


def _batch(n=6):
    img = make_multimodal(n, 16, seed=0, modalities=("image", "text"))
    vid = make_multimodal(n, 16, seed=1, modalities=("video", "text"), video_frames=3)
    return img["image"], img["text"], vid["video"], vid["text"], torch.arange(n)


def test_shared_modules_are_one_instance_and_separate_are_not():
    m, s = _model(True), _model(False)
    assert m.frame_encoder is m.image_encoder
    assert m.universal["image"] is m.universal["video"] is m.universal["text"]
    assert s.frame_encoder is not s.image_encoder
    assert len({id(u) for u in s.universal.values()}) == 3
    assert mp.n_parameters(s) > mp.n_parameters(m)  # the baseline has more parameters


def test_loss_is_clip_loss_on_module_outputs():
    m = _model(True)
    x, t, v, vt, ids = _batch()
    m.eval()  # BatchNorm in eval mode, so the two forward passes agree
    tau = m.temperature
    expected = clip_loss(m.raw_image(x), m.raw_text(t), tau) + clip_loss(
        m.raw_video(v), m.raw_text(vt), tau
    )
    assert torch.allclose(m.loss((x, t, v, vt, ids)), expected, atol=1e-6)
    assert torch.allclose(m.loss((x, t)), clip_loss(m.raw_image(x), m.raw_text(t), tau))


def test_repeated_video_pairs_are_dropped():
    ids = torch.tensor([3, 1, 3, 2, 1])
    (kept,) = mp.first_occurrences(ids, torch.arange(5))
    assert kept.tolist() == [0, 1, 3]


def test_shared_gradient_reaches_spatial_encoder_from_video_only():
    m = _model(True)
    _, _, v, vt, _ = _batch()
    m.video_weight = 1.0
    loss = clip_loss(m.raw_video(v), m.raw_text(vt), m.temperature)
    loss.backward()
    assert m.image_encoder.net[0].weight.grad.abs().sum() > 0
    s = _model(False)
    clip_loss(s.raw_video(v), s.raw_text(vt), s.temperature).backward()
    assert s.image_encoder.net[0].weight.grad is None


def test_fit_runs_and_encodes():
    m = _model(True)
    hist = ck.fit(m, _batch(16), steps=3, batch_size=8, seed=0, progress=False)
    assert hist.loss and all(torch.isfinite(torch.tensor(hist.loss)))
    x, t, v, vt, _ = _batch(4)
    z = m.encode("video", v)
    assert z.shape == (4, 8) and torch.allclose(z.norm(dim=1), torch.ones(4), atol=1e-5)
    assert m.similarity("image", x, t).shape == (4, 4)


def test_bad_inputs():
    m = _model(True)
    x, t, v, _, _ = _batch(4)
    with pytest.raises(TypeError, match="batches"):
        m.loss((x,))
    with pytest.raises(ValueError, match="B, F, C, H, W"):
        m.raw_video(x)
    with pytest.raises(ValueError, match="temperature"):
        mp.MPLUG2(ck.models.SmallConvNet(), cl.TextEncoder(len(VOCAB)), temperature=0)
