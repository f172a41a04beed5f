"""Synthetic vectors with a class hierarchy and part scenes: seeded, shaped, labelled."""

from __future__ import annotations

import pytest
import torch

from contrastkit.data.synthetic import (
    hierarchy_view,
    make_hierarchy,
    make_part_scenes,
    part_presence,
    random_crop,
)


def test_hierarchy_shapes_labels_and_seed():
    d = make_hierarchy(600, n_coarse=4, n_fine=3, content=5, style=2, noise=7, seed=1)
    assert d.x.shape == (600, 14) and d.keep == 7
    assert torch.equal(d.fine // 3, d.coarse)
    assert set(d.fine.tolist()) == set(range(12))
    assert torch.equal(
        d.x, make_hierarchy(600, n_coarse=4, n_fine=3, content=5, style=2, noise=7, seed=1).x
    )
    assert not torch.equal(
        d.x, make_hierarchy(600, n_coarse=4, n_fine=3, content=5, style=2, noise=7, seed=2).x
    )


def test_hierarchy_content_carries_the_classes():
    d = make_hierarchy(3000, content=8, seed=0)
    content = d.x[:, :8]
    means = torch.stack([content[d.coarse == c].mean(0) for c in range(10)])
    spread_between = means.var(0).mean()
    spread_within = torch.stack([content[d.coarse == c].var(0).mean() for c in range(10)]).mean()
    assert spread_between > spread_within  # coarse classes are separable in the content part
    style_means = torch.stack([d.x[d.coarse == c, 8:16].mean(0) for c in range(10)])
    assert style_means.abs().max() < 0.3  # style says nothing about the class


def test_hierarchy_view_keeps_content_and_redraws_noise():
    d = make_hierarchy(400, seed=0)
    torch.manual_seed(0)
    v = hierarchy_view(d.x, d.keep, jitter=0.1)
    assert v.shape == d.x.shape
    assert (v[:, : d.keep] - d.x[:, : d.keep]).abs().mean() < 0.1
    corr = torch.corrcoef(torch.stack([v[:, -1], d.x[:, -1]]))[0, 1]
    assert abs(float(corr)) < 0.2
    with pytest.raises(ValueError, match="keep"):
        hierarchy_view(d.x, 0)


def test_part_scenes_shapes_parts_and_classes():
    s = make_part_scenes(
        500,
        grid=6,
        channels=8,
        n_parts=12,
        n_classes=6,
        parts_per_scene=5,
        parts_per_class=3,
        seed=0,
    )
    assert s.x.shape == (500, 8, 6, 6) and s.ids.shape == (500, 6, 6) and s.n_parts == 12
    assert ((s.ids >= 0).flatten(1).sum(1) == 5).all()  # five parts in distinct cells
    for k in range(50):  # every part of a scene belongs to its class's kinds
        present = set(s.ids[k][s.ids[k] >= 0].tolist())
        assert present <= set(s.kinds[s.y[k]].tolist())
    assert torch.equal(s.x, make_part_scenes(500, seed=0).x)
    presence = part_presence(s.ids, 12)
    assert presence.shape == (500, 12) and presence.sum(1).min() >= 1


def test_random_crop_windows_and_errors():
    s = make_part_scenes(50, seed=0)
    win, (i, j) = random_crop(s.x, 4, torch.Generator().manual_seed(0), noise=0.0)
    assert win.shape == (50, 8, 4, 4)
    k = 7
    assert torch.equal(win[k], s.x[k, :, i[k] : i[k] + 4, j[k] : j[k] + 4])
    with pytest.raises(ValueError, match="size"):
        random_crop(s.x, 7)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: make_hierarchy(0), "n"),
        (lambda: make_hierarchy(10, n_fine=0), "n_fine"),
        (lambda: make_part_scenes(10, parts_per_scene=40), "parts_per_scene"),
        (lambda: make_part_scenes(10, parts_per_class=20), "parts_per_class"),
    ],
)
def test_bad_sizes_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()
