"""The AdaInf explorer: the inflation view and its figure."""

import pytest

from contrastkit.explore import adainf as ex
from contrastkit.generators import LatentLevelsGenerator


def test_inflation_view_is_pure_and_tracks_quality():
    gen = LatentLevelsGenerator(seed=0)
    real = gen.sample(300, seed=1)
    a = ex.inflation_view(real.x, real.y, gen, 0.0, n=300)
    b = ex.inflation_view(real.x, real.y, gen, 0.0, n=300, basis=a["basis"])
    assert a["real"].shape == (300, 2) and a["gen"].shape == (300, 2) and a["gen_y"].shape == (300,)
    assert a["agreement"] == b["agreement"] and (a["gen"] == b["gen"]).all()  # pure
    good = ex.inflation_view(real.x, real.y, gen, 1.0, n=300, basis=a["basis"])
    assert good["agreement"] == pytest.approx(good["real_agreement"], abs=0.05)
    assert a["agreement"] < good["agreement"]  # a poor generator blurs the classes
    assert (good["real"] == a["real"]).all()  # same basis: only the generated points move
    with pytest.raises(ValueError, match="quality"):
        ex.inflation_view(real.x, real.y, gen, -0.1)


def test_draw_shows_real_and_generated_rows():
    gen = LatentLevelsGenerator(seed=0)
    real = gen.sample(100, seed=1)
    basis = ex.inflation_view(real.x, real.y, gen, 0.5, n=100)["basis"]
    fig = ex.draw(real.x, real.y, gen, basis, 0.5, n=100)
    assert [len(t.x) for t in fig.data] == [100, 100]
    assert fig.layout.title.text.startswith("quality 0.5: agreement")
