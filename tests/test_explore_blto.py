"""The BLTO experiment and explorer: the victim's probe, the poisoning run, the defence's state."""

import pytest
import torch
import torch.nn.functional as F

import contrastkit as ck
from contrastkit.explore import blto as ex
from contrastkit.methods import blto as bl


def encoder():
    return ck.models.SmallConvNet(widths=(4, 8))


@pytest.fixture
def x():
    return torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(0))


def _old_fit_probe(encoder, x, y, l2=1e-3, max_iter=50):
    """The probe BLTO used to fit by hand (before metrics.fit_linear_probe): the reference."""
    encoder.eval()
    with torch.no_grad():
        z = encoder(x).float()
    mean, std = z.mean(0), z.std(0).clamp_min(1e-6)
    zs = (z - mean) / std
    linear = torch.nn.Linear(z.shape[1], int(y.max()) + 1)
    torch.nn.init.zeros_(linear.weight)
    torch.nn.init.zeros_(linear.bias)
    opt = torch.optim.LBFGS(
        linear.parameters(), lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe"
    )

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(linear(zs), y) + l2 * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return lambda images: linear((encoder(images).float() - mean) / std).argmax(1)


def test_victim_predictor_is_the_old_probe_and_keeps_modes():
    torch.manual_seed(0)
    enc = encoder()
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(40, 3, 8, 8, generator=g), torch.arange(40) % 3
    enc.train()
    predict = ex.victim_predictor(enc, x, y)
    assert enc.training  # eval mode only for the features
    q = torch.rand(10, 3, 8, 8, generator=g)
    got = predict(q)
    assert enc.training
    want = _old_fit_probe(enc, x, y)(q)
    assert torch.equal(got, want)


def test_trigger_state_is_pure(x):
    torch.manual_seed(0)
    enc = encoder()
    y = torch.tensor([0, 1, 0, 1, 0, 1])
    predict = ex.victim_predictor(enc, x, y)
    assert predict(x).shape == (6,)
    gen = bl.TriggerGenerator(0.1, 8)
    with torch.no_grad():
        gen.pattern.fill_(3.0)
    before = [p.clone() for p in enc.parameters()]
    s1 = ex.trigger_state(predict, x, y, gen, target=0, eps=0.1, sigma=0.5)
    s2 = ex.trigger_state(predict, x, y, gen, target=0, eps=0.1, sigma=0.5)
    assert set(s1) == {"images", "sigma", "clean_acc", "asr"}
    assert torch.equal(s1["images"], s2["images"]) and s1["asr"] == s2["asr"]
    assert all(torch.equal(a, b) for a, b in zip(before, enc.parameters(), strict=True))
    assert torch.equal(ex.trigger_state(predict, x, y, gen, 0, 0.0, 0.0)["images"], x)
    assert (s1["images"] - x).abs().max() <= 0.1 + 1e-6
    assert 0 <= s1["asr"] <= 1 and 0 <= s1["clean_acc"] <= 1
    d = ex.defence_state(predict, x, y, x, target=0, sigma=0.0)
    assert d["clean_acc"] == pytest.approx(float((predict(x) == y).float().mean()))
    fig = ex.draw(predict, x, y, gen, 0, 0.1, 0.5, n_show=4)
    assert fig.data[0].type == "image" and fig.layout.title.text.startswith("eps=26/255")


def test_poisoning_experiment_runs_every_victim():
    data = ck.make_shapes(120, image_size=8, seed=0, background="plain")
    train, test = data.split(40, seed=0)
    triggers = {"patch": bl.patch_trigger, "random pattern": lambda v: bl.pattern_trigger(v, 0.1)}
    out = ex.poisoning_experiment(
        train, test, triggers, target=0, rate=0.05, make_encoder=encoder, steps=1, batch_size=16,
        lr=1e-3, device="cpu", defended=("patch", "weak"), surrogate=encoder(),
    )  # fmt: skip
    assert list(out["victims"]) == ["clean", "patch", "patch, defended", "random pattern"]
    assert set(out["results"]["patch"]) >= {"ASR", "target shift", "ASR on clean victim"}
    assert len(out["poisoned"]) == round(0.05 * len(train))
    assert set(out["surrogate_shift"]) == set(triggers)
