"""CreamFL: the client regulariser against a float64 loop, stability, bad input; aggregation
weights; federated rounds run by fit through the method's hooks."""

import math

import pytest
import torch

import contrastkit as ck
from contrastkit.data import make_multimodal
from contrastkit.data.captions import VOCAB
from contrastkit.losses import global_contrast
from contrastkit.methods import creamfl as cf
from contrastkit.methods.clip import CLIP, TextEncoder
from contrastkit.models import MLP


def _reference(z, g_same, g_other, z_old, t):
    unit = [torch.nn.functional.normalize(v.double(), dim=1) for v in (z, g_same, g_other)]
    z, g_same, g_other = unit
    n = len(z)
    inter = 0.0
    for i in range(n):
        logits = [float(z[i] @ g_other[j]) / t for j in range(n)]
        inter += math.log(sum(math.exp(v) for v in logits)) - logits[i]
    total = inter / n
    if z_old is not None:
        old = torch.nn.functional.normalize(z_old.double(), dim=1)
        intra = 0.0
        for i in range(n):
            pos, neg = float(z[i] @ g_same[i]) / t, float(z[i] @ old[i]) / t
            intra += math.log(math.exp(pos) + math.exp(neg)) - pos
        total += intra / n
    return total


@pytest.mark.parametrize("n,d,t", [(1, 3, 0.5), (4, 8, 0.5), (7, 5, 0.1), (6, 16, 1.0)])
@pytest.mark.parametrize("with_old", [True, False])
def test_global_contrast_matches_float64_reference(n, d, t, with_old):
    g = torch.Generator().manual_seed(n * 10 + d)
    z, g_same, g_other, z_old = torch.randn(4, n, d, generator=g, dtype=torch.float64)
    old = z_old if with_old else None
    got = global_contrast(z, g_same, g_other, old, t)
    assert float(got) == pytest.approx(_reference(z, g_same, g_other, old, t), abs=1e-9)


def test_global_contrast_permutation_invariant():
    g = torch.Generator().manual_seed(0)
    z, a, b, o = torch.randn(4, 9, 6, generator=g)
    perm = torch.randperm(9, generator=g)
    assert float(global_contrast(z, a, b, o)) == pytest.approx(
        float(global_contrast(z[perm], a[perm], b[perm], o[perm])), rel=1e-5
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_global_contrast_finite_at_low_temperature(dtype):
    g = torch.Generator().manual_seed(1)
    z, a, b, o = (v.to(dtype) for v in torch.randn(4, 64, 16, generator=g))
    z.requires_grad_()
    loss = global_contrast(z, a, b, o, 0.01)
    loss.backward()
    assert loss.dtype == dtype and torch.isfinite(loss) and torch.isfinite(z.grad).all()


def test_global_contrast_bad_input_names_the_argument():
    z = torch.randn(4, 8)
    with pytest.raises(ValueError, match="g_same"):
        global_contrast(z, torch.randn(3, 8), z)
    with pytest.raises(ValueError, match="g_other"):
        global_contrast(z, z, torch.randn(4, 5))
    with pytest.raises(ValueError, match="z_old"):
        global_contrast(z, z, z, torch.randn(2, 8))
    with pytest.raises(ValueError, match="temperature"):
        global_contrast(z, z, z, None, -1.0)


def test_contrastive_weights_trust_the_client_that_retrieves_its_pair():
    g = torch.Generator().manual_seed(0)
    g_other = torch.nn.functional.normalize(torch.randn(20, 8, generator=g), dim=1)
    good = g_other.clone()  # finds its pair perfectly
    bad = torch.nn.functional.normalize(torch.randn(20, 8, generator=g), dim=1)
    w = cf.contrastive_weights([good * 5, bad * 5], g_other)
    assert w.shape == (2, 20)
    assert torch.allclose(w.sum(0), torch.ones(20))
    assert (w[0] > w[1]).float().mean() > 0.9
    agg, wm = cf.aggregate([good, bad], g_other, "mean")
    assert torch.allclose(agg, (good + bad) / 2) and torch.allclose(wm, torch.full((2, 20), 0.5))
    with pytest.raises(ValueError, match="method"):
        cf.aggregate([good], g_other, "median")
    with pytest.raises(ValueError, match="reps"):
        cf.contrastive_weights([], g_other)


def _clip(width=16):
    return CLIP(MLP(3 * 8 * 8, (32,), width), TextEncoder(len(VOCAB), width), embed_dim=8)


def _federation(**kwargs):
    held = [("image",), ("text",), ("image", "text")]
    priv = make_multimodal(240, 8, seed=0, modalities=("image", "text"), n_clients=3,
                           client_modalities=held)  # fmt: skip
    pub = make_multimodal(64, 8, seed=1, modalities=("image", "text"))
    clients = []
    for k, h in enumerate(held):
        part = priv.for_client(k)
        private = (part["image"], part["text"]) if len(h) == 2 else (part[h[0]], part.y)
        clients.append(cf.Client(_clip(), "pair" if len(h) == 2 else h[0], private))
    fl = cf.CreamFL(_clip(32), clients, pub.tensors(), batch_size=32, local_steps=3,
                    server_steps=3, **kwargs)  # fmt: skip
    return fl, pub.tensors()


def test_fit_runs_the_rounds_through_the_hooks():
    torch.manual_seed(0)
    fl, pub = _federation(rounds=2)
    server, clients = fl.server, list(fl.clients)
    before = [p.detach().clone() for p in server.parameters()]
    client_before = [p.detach().clone() for p in clients[0].parameters()]
    data = (*pub, torch.arange(len(pub[0])))
    hist = ck.fit(fl, data, steps=9, batch_size=16, device="cpu", progress=False,
                  eval_fn=lambda m: {"r1": cf.image_to_text_r1(m, *pub)}, eval_every=3)  # fmt: skip
    assert len(fl.history) == 2  # rounds=2: the third block of server steps has no new round
    rnd = fl.history[0]
    assert rnd.clients == {"image": [0, 2], "text": [1, 2]}
    assert rnd.weights["image"].shape == (2, 64) and rnd.weights["text"].shape == (2, 64)
    assert any(not torch.equal(a, b) for a, b in zip(before, server.parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(client_before, clients[0].parameters()))
    assert all(c.old is not None and not c.old.training for c in clients)
    assert fl.targets["image"].shape == (64, 8) and fl.targets["text"].shape == (64, 8)
    assert [e["step"] for e in hist.evals] == [3, 6, 9]
    assert all(0 <= e["r1"] <= 1 for e in hist.evals)
    assert set(hist.metrics) == {"clip", "distill"} and hist.metrics["distill"][-1] > 0


def test_public_only_server_sees_the_same_batches():
    """The baseline (the server alone, fit on the public pairs) and CreamFL with no distillation
    and no client rounds train the server identically."""
    torch.manual_seed(0)
    fl, pub = _federation(distill_weight=0.0, rounds=0)
    torch.manual_seed(0)
    alone = _clip(32)
    alone.load_state_dict(fl.server.state_dict())
    kw = dict(steps=4, batch_size=16, device="cpu", progress=False, weight_decay=0.0)
    ck.fit(fl, (*pub, torch.arange(len(pub[0]))), **kw)
    ck.fit(alone, pub, **kw)
    assert fl.history == []
    for a, b in zip(fl.server.parameters(), alone.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        cf.Client(_clip(), "audio")
    with pytest.raises(ValueError, match="private"):
        cf.Client(_clip(), "image", (torch.zeros(3, 3, 8, 8), torch.zeros(2)))
    pub = (torch.zeros(4, 3, 8, 8), torch.ones(4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="aggregation"):
        cf.CreamFL(_clip(), [], pub, aggregation="median")
    with pytest.raises(ValueError, match="private data"):
        cf.CreamFL(_clip(), [cf.Client(_clip(), "image")], pub)
    with pytest.raises(TypeError, match="rows"):
        cf.CreamFL(_clip(), [], pub).loss(pub)
