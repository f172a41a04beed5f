"""The Mod-X notebook's explorer: the rows the phase slider shows."""

import pytest
import torch

from contrastkit.explore import modx as E


def _inputs():
    r1 = {"a": torch.tensor([[0.5, 0.1], [0.2, 0.6]]), "b": torch.tensor([[0.5, 0.1], [0.4, 0.5]])}
    return r1, {"a": [0.0, 20.0], "b": [0.0, 12.0]}


def test_phase_view_is_the_slider_logic():
    r1, rot = _inputs()
    rows = E.phase_view(r1, rot, 1)
    assert [r["method"] for r in rows] == ["a", "b"]
    assert rows[0]["R@1 domain 0"] == pytest.approx(0.2)
    assert rows[1]["mean R@1 seen"] == pytest.approx(0.45)
    assert rows[0]["rotation"] == 20.0
    with pytest.raises(ValueError, match="phase"):
        E.phase_view(r1, rot, 2)


def test_draw_is_a_table_of_the_rows():
    r1, rot = _inputs()
    html = E.draw(1, r1=r1, rotation=rot)
    assert html.startswith("<table") and "mean R@1 seen" in html and "0.45" in html
