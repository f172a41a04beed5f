"""HBI: the WTI score and the Banzhaf interaction against float64 loops, the Banzhaf KL
(reference, stability, errors), the model's two poolings, and training."""

import itertools
import math

import pytest
import torch

import contrastkit as ck
from contrastkit.explore import hbi as explore_hbi
from contrastkit.methods import hbi


def wti_loop(sim, ww, fw, words, frames):
    """f(T, V) for one pair, in float64, by the definition."""
    words, frames = list(words), list(frames)
    if not words or not frames:
        return 0.0
    sim, ww, fw = sim.double(), ww.double(), fw.double()
    w = torch.softmax(ww[words], 0)
    u = torch.softmax(fw[frames], 0)
    t2v = sum(w[i] * max(sim[t, v] for v in frames) for i, t in enumerate(words))
    v2t = sum(u[j] * max(sim[t, v] for t in words) for j, v in enumerate(frames))
    return float((t2v + v2t) / 2)


@pytest.fixture
def game():
    g = torch.Generator().manual_seed(0)
    return (
        torch.randn(2, 4, 3, generator=g),
        torch.randn(2, 4, generator=g),
        torch.randn(2, 3, generator=g),
    )


def test_wti_matches_the_definition_with_masks(game):
    sim, ww, fw = game
    word_mask = torch.tensor([[True, True, False, True], [True, False, False, False]])
    frame_mask = torch.tensor([[True, False, True], [False, True, True]])
    out = hbi.wti_score(sim, ww, fw, word_mask, frame_mask)
    for b in range(2):
        words = [i for i in range(4) if word_mask[b, i]]
        frames = [i for i in range(3) if frame_mask[b, i]]
        assert float(out[b]) == pytest.approx(
            wti_loop(sim[b], ww[b], fw[b], words, frames), abs=1e-6
        )
    empty = hbi.wti_score(sim, ww, fw, torch.zeros(2, 4, dtype=torch.bool), None)
    assert torch.equal(empty, torch.zeros(2))


def test_banzhaf_with_many_samples_matches_the_exact_enumeration(game):
    sim, ww, fw = game
    b, words, frames = 0, 4, 3
    players = [("w", i) for i in range(words)] + [("f", j) for j in range(frames)]

    def worth(coalition):
        return wti_loop(
            sim[b],
            ww[b],
            fw[b],
            [i for k, i in coalition if k == "w"],
            [j for k, j in coalition if k == "f"],
        )

    exact = torch.zeros(words, frames, dtype=torch.float64)
    for t in range(words):
        for v in range(frames):
            others = [p for p in players if p not in (("w", t), ("f", v))]
            total = 0.0
            for r in range(len(others) + 1):
                for c in itertools.combinations(others, r):
                    c = list(c)
                    total += (
                        worth(c + [("w", t), ("f", v)])
                        - worth(c + [("w", t)])
                        - worth(c + [("f", v)])
                        + worth(c)
                    )
            exact[t, v] = total / 2 ** len(others)
    est = hbi.banzhaf_interaction(
        sim, ww, fw, samples=4000, generator=torch.Generator().manual_seed(1)
    )
    assert est.shape == (2, 4, 3)
    assert torch.allclose(est[0].double(), exact, atol=0.03)
    # padding words interact with nothing
    mask = torch.tensor([[True, True, True, False]] * 2)
    assert (hbi.banzhaf_interaction(sim, ww, fw, mask, samples=8)[:, 3] == 0).all()
    with pytest.raises(ValueError, match="samples"):
        hbi.banzhaf_interaction(sim, ww, fw, samples=0)


def kl_loop(sim, target, mask, t):
    sim, target = sim.double() / t, target.double() / t
    rows, cols = [], []
    for b in range(sim.shape[0]):
        real = [i for i in range(sim.shape[1]) if mask[b, i]]
        for i in real:
            p, q = torch.softmax(target[b, i], 0), torch.softmax(sim[b, i], 0)
            rows.append(float((p * (p.log() - q.log())).sum()))
        for v in range(sim.shape[2]):
            p, q = torch.softmax(target[b, real, v], 0), torch.softmax(sim[b, real, v], 0)
            cols.append(float((p * (p.log() - q.log())).sum()))
    return (sum(rows) / len(rows) + sum(cols) / len(cols)) / 2


@pytest.mark.parametrize(
    ("n", "words", "frames", "t"), [(1, 3, 2, 1.0), (3, 5, 4, 0.1), (2, 6, 8, 0.5)]
)
def test_banzhaf_kl_matches_a_float64_loop(n, words, frames, t):
    g = torch.Generator().manual_seed(n + words)
    sim, target = (
        torch.randn(n, words, frames, generator=g),
        torch.randn(n, words, frames, generator=g),
    )
    mask = torch.ones(n, words, dtype=torch.bool)
    mask[0, -1] = False
    out = hbi.banzhaf_kl(sim, target, mask, t)
    assert float(out) == pytest.approx(kl_loop(sim, target, mask, t), rel=1e-4, abs=1e-6)
    assert float(hbi.banzhaf_kl(target, target, mask, t)) == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_banzhaf_kl_is_stable_at_small_temperature(dtype):
    g = torch.Generator().manual_seed(0)
    sim = (
        torch.nn.functional.normalize(torch.randn(4, 6, 8, generator=g), dim=-1)
        .to(dtype)
        .requires_grad_()
    )
    target = torch.randn(4, 6, 8, generator=g).to(dtype)
    loss = hbi.banzhaf_kl(sim, target, None, 0.01)
    loss.backward()
    assert torch.isfinite(loss.float()) and torch.isfinite(sim.grad.float()).all()
    assert loss.dtype == dtype


def test_banzhaf_kl_bad_input_names_the_argument():
    sim = torch.randn(2, 3, 4)
    with pytest.raises(ValueError, match="temperature"):
        hbi.banzhaf_kl(sim, sim, None, 0.0)
    with pytest.raises(ValueError, match="target"):
        hbi.banzhaf_kl(sim, torch.randn(2, 3, 5), None, 0.1)
    with pytest.raises(ValueError, match="sim"):
        hbi.banzhaf_kl(torch.randn(3, 4), torch.randn(3, 4), None, 0.1)


def tiny_batch():
    g = torch.Generator().manual_seed(0)
    video = torch.rand(6, 4, 3, 8, 8, generator=g)
    text = torch.randint(1, 20, (6, 5), generator=g)
    text[0, 3:] = 0  # padding
    return video, text


@pytest.mark.parametrize(
    "kwargs", [{"pooling": "mean"}, {"banzhaf_weight": 0.0}, {"banzhaf_weight": 1.0, "samples": 4}]
)
def test_model_scores_shapes_and_training(kwargs):
    torch.manual_seed(0)
    model = hbi.HBI(4, 20, dim=16, **kwargs)
    video, text = tiny_batch()
    model.train()
    s = model.similarity(video, text)
    assert s.shape == (6, 6)
    assert all(m.training for m in model.modules())  # similarity restores every module's mode
    hist = ck.fit(model, (video, text), steps=15, batch_size=6, lr=3e-3, progress=False)
    assert all(math.isfinite(v) for v in hist.loss)
    assert hist.loss[-1] < hist.loss[0]
    assert ck.embed(model, video).shape == (6, 16)
    if kwargs.get("banzhaf_weight", 0) > 0:
        assert len(hist.metrics["banzhaf_kl"]) == len(hist.loss)
        assert min(hist.metrics["banzhaf_kl"]) >= 0
        loss, parts = model.loss((video, text))
        assert parts["banzhaf_kl"] == pytest.approx(parts["banzhaf_kl_level1"])
    else:
        assert hist.metrics == {}
    assert 0.0 <= ck.metrics.recall_at_k(s, 1) <= ck.metrics.recall_at_k(s, 5) <= 1.0
    with pytest.raises(ValueError, match="pooling"):
        hbi.HBI(4, 20, pooling="max")


def test_interaction_map_is_seeded():
    torch.manual_seed(0)
    model = hbi.HBI(4, 20, dim=16)
    video, text = tiny_batch()
    s1, b1 = model.interaction_map(video, text, samples=8, seed=3)
    s2, b2 = model.interaction_map(video, text, samples=8, seed=3)
    assert s1.shape == b1.shape == (6, 5, 4)
    assert torch.equal(b1, b2) and torch.equal(s1, s2)
    assert (b1[0, 3:] == 0).all()


def test_merge_tokens_shapes_determinism_and_cover():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 7, 5, generator=g)
    mask = torch.ones(3, 7, dtype=torch.bool)
    mask[1, 5:] = False
    for adjacent in (True, False):
        merged, assign = hbi.merge_tokens(x, 3, mask, adjacent=adjacent)
        again = hbi.merge_tokens(x.clone(), 3, mask, adjacent=adjacent)
        assert merged.shape == (3, 3, 5) and assign.shape == (3, 7)
        assert torch.equal(assign, again[1]) and torch.equal(merged, again[0])
        # every real token joins one of the groups, every group has a member, padding none
        assert ((assign >= 0) & (assign < 3))[mask].all() and (assign[~mask] == -1).all()
        assert hbi.group_mask(assign, 3).all()
        for b in range(3):  # merged tokens are the means of their members
            for k in range(3):
                assert torch.allclose(merged[b, k], x[b][assign[b] == k].mean(0), atol=1e-6)
        if adjacent:  # contiguous segments, numbered in order
            diffs = assign[0, 1:] - assign[0, :-1]
            assert ((diffs == 0) | (diffs == 1)).all()
    # as many groups as tokens: nothing merges; one group: everything does
    assert torch.equal(hbi.merge_tokens(x, 7)[1], torch.arange(7).expand(3, 7))
    assert (hbi.merge_tokens(x, 1)[1] == 0).all()
    # fewer real tokens than groups: empty groups are zero and masked out
    merged, assign = hbi.merge_tokens(x, 6, mask)
    assert not hbi.group_mask(assign, 6)[1, 5] and (merged[1, 5] == 0).all()


@pytest.mark.parametrize("adjacent", [True, False])
def test_merge_tokens_merges_identical_tokens_first(adjacent):
    a, b, c = torch.eye(3)
    # tokens 1 and 2 are identical (up to scale); the rest are orthogonal to them
    x = torch.stack([a, b, 2 * b, c, a + c])[None]
    assign = hbi.merge_tokens(x, 4, adjacent=adjacent)[1][0]
    assert assign[1] == assign[2] and len(set(assign.tolist())) == 4
    if not adjacent:  # any two groups may merge: the identical but far-apart tokens go first
        y = torch.stack([a, b, c, a])[None]
        assert hbi.merge_tokens(y, 3, adjacent=False)[1][0].tolist() == [0, 1, 2, 0]
        # neighbours only: the two a's cannot meet, so a neighbouring pair merges instead
        assert hbi.merge_tokens(y, 3, adjacent=True)[1][0, 3] == 2


def test_merge_tokens_bad_input_names_the_argument():
    x = torch.randn(2, 4, 3)
    with pytest.raises(ValueError, match="groups"):
        hbi.merge_tokens(x, 0)
    with pytest.raises(ValueError, match="groups"):
        hbi.merge_tokens(x, 2.5)
    with pytest.raises(ValueError, match="tokens"):
        hbi.merge_tokens(torch.randn(4, 3), 2)
    with pytest.raises(ValueError, match="mask"):
        hbi.merge_tokens(x, 2, torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask"):
        hbi.merge_tokens(x, 2, torch.ones(2, 4))


def test_merge_tokens_passes_gradients_to_members():
    x = torch.randn(1, 6, 4, requires_grad=True)
    merged, _ = hbi.merge_tokens(x, 2)
    merged.sum().backward()
    assert torch.isfinite(x.grad).all() and (x.grad != 0).all()


def test_two_level_training_and_level_view():
    torch.manual_seed(0)
    model = hbi.HBI(4, 20, dim=16, levels=2, events=2, phrases=2, samples=4)
    video, text = tiny_batch()
    model.train()
    hist = ck.fit(model, (video, text), steps=10, batch_size=6, lr=3e-3, progress=False)
    assert all(math.isfinite(v) for v in hist.loss)
    kls = [hist.metrics[f"banzhaf_kl_level{i}"][-1] for i in (1, 2)]
    assert min(kls) >= 0 and hist.metrics["banzhaf_kl"][-1] == pytest.approx(sum(kls))
    words = [f"w{i}" for i in range(20)]
    level_view = explore_hbi.level_view
    v1 = level_view(model, video[0], text[0], level=1, samples=8, seed=1, words=words)
    assert all(m.training for m in model.modules())  # the view restores every module's mode
    v2 = level_view(model, video[0], text[0], level=2, samples=8, seed=1, words=words)
    again = level_view(model, video[0], text[0], level=2, samples=8, seed=1, words=words)
    assert torch.equal(v2["banzhaf"], again["banzhaf"]) and v2["rows"] == again["rows"]
    n_real = int((text[0] != 0).sum())  # 3 real words, 4 frames
    assert v1["sim"].shape == v1["banzhaf"].shape == (n_real, 4)
    assert len(v1["rows"]) == n_real and len(v1["cols"]) == 4
    assert v2["sim"].shape == (2, 2) and len(v2["rows"]) == 2 and len(v2["cols"]) == 2
    # the level-2 labels are the members of each group, and every member appears once
    assert sorted(" ".join(v2["rows"]).split()) == sorted(r.split(" [")[0] for r in v1["rows"])
    assert v1["rows"][0].startswith(words[int(text[0, 0])])
    assert v2["cols"][0].startswith("f0") and v2["cols"][-1].endswith("f3")
    assert sorted(set(v1["frame_group"])) == [0, 1] and len(v1["word_group"]) == n_real
    with pytest.raises(ValueError, match="level"):
        level_view(model, video[0], text[0], level=3)
    with pytest.raises(ValueError, match="levels"):
        hbi.HBI(4, 20, levels=3)
    with pytest.raises(ValueError, match="events"):
        hbi.HBI(4, 20, events=5)
