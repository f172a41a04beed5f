"""Multimodal tuples and the XOR set: seeded, shapes, labels, masks, and the XOR property."""

import math

import pytest
import torch

from contrastkit.data import captions as cap
from contrastkit.data import make_multimodal, make_xor, xor_information
from contrastkit.data import multimodal as mm
from contrastkit.data.shapes import make_shapes

ALL = ("image", "text", "audio", "table", "video")


@pytest.fixture(scope="module")
def data():
    return make_multimodal(240, 16, seed=3, modalities=ALL, video_frames=3)


def test_seeded(data):
    again = make_multimodal(240, 16, seed=3, modalities=ALL, video_frames=3)
    for m in ALL:
        assert torch.equal(again[m], data[m]), m
    other = make_multimodal(240, 16, seed=4, modalities=ALL, video_frames=3)
    assert not torch.equal(other["audio"], data["audio"])


def test_shapes_and_types(data):
    n = len(data)
    assert data["image"].shape == (n, 3, 16, 16)
    assert data["text"].dtype == torch.long and data["text"].shape[0] == n
    assert data["audio"].shape == (n, 64)
    assert data["table"].shape == (n, len(mm.TABLE_COLUMNS))
    assert data["video"].shape == (n, 3, 3, 16, 16)
    assert data.mask.shape == (n, 5) and data.mask.all() and data.matched.all()
    assert data.tensors("text", "image")[1] is data["image"]
    assert len(data.tensors()) == 5
    with pytest.raises(KeyError, match="audio"):
        make_multimodal(20, 16, seed=0, modalities=("image",))["audio"]


def test_image_text_are_captioned_shapes_and_video_starts_at_the_image(data):
    ref = cap.make_captioned_shapes(240, 16, seed=3)
    assert torch.equal(data["image"], ref.x) and torch.equal(data["text"], ref.tokens)
    assert torch.equal(data.y, ref.y) and data.texts == ref.texts
    assert torch.equal(data["image"], make_shapes(240, 16, seed=3).x)
    assert torch.equal(data["video"][:, 0], data["image"])  # frame 0 is the image
    assert (data["video"][:, 2] - data["video"][:, 0]).abs().amax(dim=(1, 2, 3)).min() > 0.1


def test_audio_pitch_is_the_class_and_table_the_factors():
    d = make_multimodal(300, 16, seed=0, modalities=("image", "audio", "table"), audio_noise=0.0)
    spectrum = torch.fft.rfft(d["audio"], dim=1).abs()  # (N, 33): peak near the class pitch
    peak = spectrum.argmax(dim=1).float()
    pitch = torch.tensor(mm.AUDIO_CYCLES)[d.y]
    assert ((peak - pitch).abs() <= 1.5).float().mean() > 0.95
    clean = make_multimodal(300, 16, seed=0, modalities=("table",), table_noise=0.0)
    assert torch.allclose(clean["table"][:, :3], d.factors["colour"])
    assert torch.allclose(clean["table"][:, 3:5], d.factors["position"])
    assert (d["table"] - clean["table"]).std() == pytest.approx(0.05, rel=0.2)


def test_missing_noisy_domains_clients():
    d = make_multimodal(
        600, 16, seed=1, modalities=("image", "text", "audio"), missing=0.3, noisy=0.2,
        n_domains=3, n_clients=4, client_alpha=0.2,
    )  # fmt: skip
    assert d.mask[:, 0].all()  # the first modality is never missing
    assert 0.6 < d.mask[:, 1:].float().mean() < 0.8
    assert (d["text"][~d.mask[:, 1]] == cap.PAD).all()
    assert (d["audio"][~d.mask[:, 2]] == 0).all()
    assert (~d.matched).sum() == 120
    assert d.domain.tolist() == sorted(d.domain.tolist())
    assert d.domain.bincount().tolist() == [200, 200, 200]
    assert d.for_domain(1).domain.eq(1).all()
    # the style changes with the domain: plain backgrounds in block 0, textured in block 1
    assert (d.for_domain(0).factors["background"] == 0).all()
    assert (d.for_domain(1).factors["background"] > 0).all()
    assert sorted(d.client.unique().tolist()) == [0, 1, 2, 3]
    # class skew: each client holds a few classes mostly (alpha = 0.2)
    top = [d.for_client(k).y.bincount(minlength=10).float() for k in range(4)]
    assert sum(float(t.topk(3).values.sum() / t.sum()) for t in top) / 4 > 0.6
    train, test = d.split(100, seed=0)
    assert len(train) == 500 and len(test) == 100 and test.mask.shape == (100, 3)


def test_client_modalities_mask():
    d = make_multimodal(
        200, 16, seed=0, modalities=("image", "text"), n_clients=2,
        client_modalities=[("image",), ("image", "text")],
    )  # fmt: skip
    assert not d.mask[d.client == 0, 1].any() and d.mask[d.client == 1].all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"modalities": ("image", "smell")}, "modalities"),
        ({"modalities": ("image", "image")}, "modalities"),
        ({"missing": 1.0}, "missing"),
        ({"noisy": -0.1}, "noisy"),
        ({"n_domains": 0}, "n_domains"),
        ({"n_clients": 2, "client_modalities": [("image",)]}, "client_modalities"),
        ({"client_alpha": 0.0}, "client_alpha"),
        ({"audio_length": 16}, "audio_length"),
        ({"video_frames": 1}, "video_frames"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_multimodal(20, 16, seed=0, **kwargs)


# ---------------------------------------------------------------------------------------------
# XOR
# ---------------------------------------------------------------------------------------------


def _codes(v):
    return (v.long() * (2 ** torch.arange(v.shape[1]))).sum(1)


def _empirical_mi(x, y):
    """Plug-in mutual information (bits) of two discrete code vectors."""
    joint = torch.zeros(int(x.max()) + 1, int(y.max()) + 1, dtype=torch.float64)
    joint.index_put_((x, y), torch.ones(len(x), dtype=torch.float64), accumulate=True)
    joint /= joint.sum()
    px, py = joint.sum(1, keepdim=True), joint.sum(0, keepdim=True)
    nz = joint > 0
    return float((joint[nz] * (joint[nz] / (px @ py)[nz]).log2()).sum())


def test_xor_definition_and_seed():
    x = make_xor(2000, d=5, p=1.0, seed=0)
    assert x.a.shape == x.b.shape == x.c.shape == (2000, 5) and x.switch.all()
    assert torch.equal((x.a + x.b) % 2, x.c)
    assert torch.equal(make_xor(2000, d=5, p=1.0, seed=0).b, x.b)
    half = make_xor(4000, d=5, p=0.5, seed=0)
    assert torch.equal(half.c[~half.switch], half.a[~half.switch])
    assert 0.45 < half.switch.float().mean() < 0.55
    assert half.bayes_accuracy == pytest.approx(0.5 + 0.5 / 32)


def test_xor_every_pair_independent_the_triple_not():
    x = make_xor(100_000, d=2, p=1.0, seed=1)
    a, b, c = _codes(x.a), _codes(x.b), _codes(x.c)
    k = 4
    for u, v in ((a, b), (a, c), (b, c)):
        assert _empirical_mi(u, v) < 0.002  # independent: plug-in bias only
    assert _empirical_mi(b, a * k + c) == pytest.approx(2.0, abs=0.01)  # (a, c) fixes b
    exact = xor_information(2, 1.0)
    assert exact["I(a;b)"] == exact["I(a;c)"] == exact["I(b;c)"] == pytest.approx(0.0, abs=1e-9)
    assert exact["I(b;a,c)"] == pytest.approx(2.0) and exact["TC"] == pytest.approx(2.0)


def test_xor_information_between_the_extremes():
    zero = xor_information(3, 0.0)  # c = a: b is unrelated to everything
    assert zero["I(a;c)"] == pytest.approx(3.0) and zero["I(b;a,c)"] == pytest.approx(0.0)
    half = xor_information(3, 0.5)
    assert half["I(b;c)"] == pytest.approx(0.0, abs=1e-9) and 0 < half["I(b;a,c)"] < 3
    assert not math.isnan(half["TC"])


def test_xor_noise_and_bad_arguments():
    noisy = make_xor(100, d=3, p=1.0, seed=0, noise=0.1)
    assert not torch.equal(noisy.a, noisy.a.round())
    for kwargs, match in (({"d": 0}, "d must"), ({"p": 1.5}, "p must"), ({"noise": -1}, "noise")):
        with pytest.raises(ValueError, match=match):
            make_xor(10, **{"d": 2, "p": 1.0, **kwargs})
    with pytest.raises(ValueError, match="d must"):
        xor_information(7, 0.5)
