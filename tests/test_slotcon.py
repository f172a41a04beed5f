"""SlotCon: its two losses, slot pooling, the prototype picker, and the shared dense pieces
(``DenseConvNet``, ``dense_miou``, ``paste_crop``) it introduced."""

from __future__ import annotations

import math

import pytest
import torch

import contrastkit as ck
from contrastkit.data.synthetic import make_part_scenes, paste_crop, random_crop
from contrastkit.explore import slotcon as explore_slotcon
from contrastkit.methods import slotcon
from contrastkit.metrics import dense_miou
from contrastkit.models import DenseConvNet


def group_loss_reference(s, t, c, ts, tt):
    s, t, c = s.double(), t.double(), c.double()
    total = 0.0
    for p in range(len(s)):
        zt = [math.exp((float(t[p, k]) - float(c[k])) / tt) for k in range(s.shape[1])]
        zs = [math.exp(float(s[p, k]) / ts) for k in range(s.shape[1])]
        for k in range(s.shape[1]):
            total -= zt[k] / sum(zt) * math.log(zs[k] / sum(zs))
    return total / len(s)


def slot_loss_reference(q, k, win_q, win_k, tau):
    qn = torch.nn.functional.normalize(q.double().flatten(0, 1), dim=1)
    kn = torch.nn.functional.normalize(k.double().flatten(0, 1), dim=1)
    wq, wk = win_q.flatten(), win_k.flatten()
    cand = [j for j in range(len(kn)) if wk[j]]
    losses = []
    for i in range(len(qn)):
        if not (wq[i] and wk[i]):
            continue
        logits = [float(qn[i] @ kn[j]) / tau for j in cand]
        m = max(logits)
        lse = m + math.log(sum(math.exp(v - m) for v in logits))
        losses.append(lse - float(qn[i] @ kn[i]) / tau)
    return sum(losses) / len(losses) * 2 * tau


@pytest.mark.parametrize("p,k", [(5, 3), (17, 8)])
@pytest.mark.parametrize("temps", [(0.1, 0.07), (0.5, 0.2)])
def test_group_loss_matches_float64_reference(p, k, temps):
    g = torch.Generator().manual_seed(p + k)
    s, t = torch.rand(p, k, generator=g) * 2 - 1, torch.rand(p, k, generator=g) * 2 - 1
    c = torch.rand(k, generator=g) * 0.2
    got = ck.losses.centred_distillation(s.double(), t.double(), c.double(), *temps)
    assert float(got) == pytest.approx(group_loss_reference(s, t, c, *temps), rel=1e-9)


@pytest.mark.parametrize("n,k,d", [(3, 4, 5), (6, 8, 16)])
@pytest.mark.parametrize("tau", [0.2, 0.5])
def test_slot_contrast_loss_matches_float64_reference(n, k, d, tau):
    g = torch.Generator().manual_seed(n * k)
    q, kk = torch.randn(n, k, d, generator=g), torch.randn(n, k, d, generator=g)
    win_q, win_k = torch.rand(n, k, generator=g) > 0.3, torch.rand(n, k, generator=g) > 0.3
    win_q[0, 0] = win_k[0, 0] = True
    got = ck.losses.slot_contrast_loss(q.double(), kk.double(), win_q, win_k, tau)
    assert float(got) == pytest.approx(slot_loss_reference(q, kk, win_q, win_k, tau), rel=1e-9)


def test_slot_contrast_loss_permutation_invariant_and_empty():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(4, 3, 8, generator=g), torch.randn(4, 3, 8, generator=g)
    win = torch.ones(4, 3, dtype=torch.bool)
    perm = torch.randperm(4, generator=g)
    a = ck.losses.slot_contrast_loss(q, k, win, win)
    b = ck.losses.slot_contrast_loss(q[perm], k[perm], win, win)
    assert float(a) == pytest.approx(float(b), rel=1e-5)
    q.requires_grad_(True)
    none = ck.losses.slot_contrast_loss(q, k, ~win, win)
    assert float(none.detach()) == 0.0
    none.backward()  # a graph even when no slot is shared


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_losses_stable_at_low_temperature(dtype):
    g = torch.Generator().manual_seed(1)
    s = torch.ones(32, 8) - torch.rand(32, 8, generator=g) * 1e-3  # cosines near 1
    t = torch.ones(32, 8)
    loss = ck.losses.centred_distillation(
        s.to(dtype), t.to(dtype), torch.zeros(8, dtype=dtype), 0.01, 0.01
    )
    assert torch.isfinite(loss)
    q = torch.ones(8, 4, 16) + 1e-3 * torch.randn(8, 4, 16, generator=g)
    win = torch.ones(8, 4, dtype=torch.bool)
    loss = ck.losses.slot_contrast_loss(q.to(dtype), q.to(dtype), win, win, 0.01)
    assert torch.isfinite(loss)


def test_losses_name_bad_arguments():
    s = torch.zeros(4, 3)
    with pytest.raises(ValueError, match="student_temperature"):
        ck.losses.centred_distillation(s, s, torch.zeros(3), student_temperature=0.0)
    with pytest.raises(ValueError, match="teacher_temperature"):
        ck.losses.centred_distillation(s, s, torch.zeros(3), teacher_temperature=-1.0)
    with pytest.raises(ValueError, match="teacher_scores"):
        ck.losses.centred_distillation(s, torch.zeros(4, 5), torch.zeros(3))
    with pytest.raises(ValueError, match="center"):
        ck.losses.centred_distillation(s, s, torch.zeros(4))
    q, win = torch.zeros(2, 3, 4), torch.ones(2, 3, dtype=torch.bool)
    with pytest.raises(ValueError, match="temperature"):
        ck.losses.slot_contrast_loss(q, q, win, win, temperature=0)
    with pytest.raises(ValueError, match="q and k"):
        ck.losses.slot_contrast_loss(q, torch.zeros(2, 3, 5), win, win)
    with pytest.raises(ValueError, match="win_q"):
        ck.losses.slot_contrast_loss(q, q, win[:1], win)


def test_slots_pool_assigned_pixels():
    feats = torch.zeros(1, 2, 2, 2)
    feats[0, :, 0, :] = torch.tensor([1.0, 0.0])[:, None]  # top row: feature (1, 0)
    feats[0, :, 1, :] = torch.tensor([0.0, 1.0])[:, None]  # bottom row: feature (0, 1)
    scores = torch.zeros(1, 2, 2, 2)
    scores[0, 0, 0, :] = 1.0  # prototype 0 wins the top row
    scores[0, 1, 1, :] = 1.0  # prototype 1 wins the bottom row
    out = slotcon.slots(feats, scores, temperature=0.01)
    assert torch.allclose(out[0], torch.eye(2), atol=1e-4)
    assert slotcon.wins(scores).tolist() == [[True, True]]


def test_mask_panel_highlights_one_prototype():
    seg = torch.tensor([[[0, 1], [1, 2]]])
    colours = torch.eye(3)
    img = explore_slotcon.mask_panel(seg, 1, colours)
    assert img.shape == (1, 3, 2, 2)
    assert torch.equal(img[0, :, 0, 1], colours[1])  # kept
    assert torch.allclose(img[0, :, 0, 0], 0.25 * colours[0] + 0.55)  # dimmed
    with pytest.raises(ValueError, match="prototype"):
        explore_slotcon.mask_panel(seg, 3, colours)
    with pytest.raises(ValueError, match="seg"):
        explore_slotcon.mask_panel(seg[0], 0, colours)


def test_slotcon_trains_and_segments():
    scenes = make_part_scenes(64, parts_per_scene=36, seed=0)
    ck.seed_everything(0)
    model = slotcon.SlotCon(DenseConvNet(8, (8, 8), kernel_size=(3, 1)), dim=8, n_prototypes=5)
    hist = ck.fit(model, scenes.x, steps=3, batch_size=32, progress=False)
    assert all(math.isfinite(v) for v in hist.loss)
    assert model.segment(scenes.x[:4]).shape == (4, 6, 6)
    assert model.embed(scenes.x[:4]).shape == (4, 8)
    assert model.dense(scenes.x[:4]).shape == (4, 8, 6, 6)
    assert not torch.equal(model.center, torch.zeros(5))
    base = slotcon.PooledSimCLR(DenseConvNet(8, (8,)), dim=8)
    assert torch.isfinite(base.loss(scenes.x[:16]))
    with pytest.raises(ValueError, match="group_weight"):
        slotcon.SlotCon(DenseConvNet(8, (8,)), group_weight=2.0)


def test_dense_conv_net_keeps_the_map():
    net = DenseConvNet(8, (4, 6), kernel_size=(3, 1))
    assert net(torch.randn(2, 8, 5, 5)).shape == (2, 6, 5, 5)
    assert net.out_dim == 6
    with pytest.raises(ValueError, match="kernel_size"):
        DenseConvNet(8, (4, 6), kernel_size=2)
    with pytest.raises(ValueError, match="kernel_size"):
        DenseConvNet(8, (4, 6), kernel_size=(3,))


def test_dense_miou_matching():
    target = torch.tensor([[0, 0, 1, 1, 2, 2]])
    relabelled = torch.tensor([[2, 2, 0, 0, 1, 1]])
    assert dense_miou(relabelled, target, 3) == 1.0
    assert dense_miou(relabelled, target, 3, match="none") == 0.0
    assert dense_miou(target, target, 3, match="none") == 1.0
    split = torch.tensor([[0, 3, 1, 1, 2, 2]])  # class 0 split over two clusters
    assert dense_miou(split, target, 3) == pytest.approx((0.5 + 1 + 1) / 3)
    assert dense_miou(split, target, 3, match="majority") == 1.0
    with pytest.raises(ValueError, match="same shape"):
        dense_miou(target[:, :3], target, 3)
    with pytest.raises(ValueError, match="match"):
        dense_miou(target, target, 3, match="greedy")
    with pytest.raises(ValueError, match="n_classes"):
        dense_miou(target, target, 2)


def test_paste_crop_inverts_random_crop():
    scenes = make_part_scenes(10, seed=0)
    win, corners = random_crop(scenes.x, 4, torch.Generator().manual_seed(0), noise=0.0)
    canvas, valid = paste_crop(win, corners, 6)
    assert canvas.shape == scenes.x.shape and valid.shape == (10, 6, 6)
    assert valid.sum((1, 2)).tolist() == [16] * 10
    mask = valid[:, None].expand_as(canvas)
    assert torch.equal(canvas[mask], scenes.x[mask])
    assert float(canvas[~mask].abs().sum()) == 0.0
    with pytest.raises(ValueError, match="maps"):
        paste_crop(torch.zeros(2, 3, 7, 7), corners, 6)
