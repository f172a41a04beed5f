"""The MLVGM-views explorer: the view explorer's state and its figure."""

import pytest

from contrastkit.explore import mlvgm_views as ex
from contrastkit.generators import LatentLevelsGenerator


@pytest.fixture
def gen():
    return LatentLevelsGenerator(seed=0)


def test_view_explorer_is_pure_and_tracks_the_levels(gen):
    a = ex.view_explorer(gen, ["mid", "local"], None, n=6, n_views=4, seed=0)
    assert a["anchors"].shape == (6, 2) and a["views"].shape == (6, 4, 2)
    assert a["y"].shape == (6,) and a["view_y"].shape == (6, 4)
    b = ex.view_explorer(gen, ["mid", "local"], None, n=6, n_views=4, basis=a["basis"], seed=0)
    assert (a["views"] == b["views"]).all() and a["distance"] == b["distance"]
    assert a["same_class"] == 1.0  # the class lives in the global level
    control = ex.view_explorer(gen, ["global"], None, n=60, n_views=4, basis=a["basis"], seed=0)
    assert control["same_class"] < 0.3
    walk = ex.view_explorer(gen, ["local"], 0.1, n=6, n_views=4, basis=a["basis"], seed=0)
    assert walk["distance"] < a["distance"]
    assert ex.view_explorer(gen, [], None, n=6, n_views=2)["distance"] < 0.05


def test_view_explorer_checks_the_scale(gen):
    with pytest.raises(ValueError, match="scale"):
        ex.view_explorer(gen, ["local"], -1.0)


def test_draw_reads_the_level_flags(gen):
    basis = ex.view_explorer(gen, ["local"], None)["basis"]
    fig = ex.draw(gen, basis, scale=0.0, **{"global": False, "mid": True, "local": True})
    assert [t.name for t in fig.data] == ["views", "anchors"]
    assert fig.layout.title.text.startswith("redraw ['mid', 'local']: same class 1.00")
    walk = ex.draw(gen, basis, scale=0.5, **{"global": False, "mid": False, "local": True})
    assert "(walk eps=0.5)" in walk.layout.title.text
