"""The CreamFL notebook's explorer: mean aggregation weights over the rounds so far."""

import pytest
import torch

from contrastkit.explore import creamfl as E
from contrastkit.methods.creamfl import Round


def _rounds():
    return [
        Round(weights={"image": torch.tensor([[0.2, 0.4], [0.8, 0.6]])}, clients={"image": [0, 3]}),
        Round(weights={"image": torch.tensor([[0.5, 0.5], [0.5, 0.5]])}, clients={"image": [0, 3]}),
    ]


def test_mean_weights_is_the_slider_logic():
    rounds = _rounds()
    assert E.mean_weights(rounds[:1], "image") == pytest.approx({0: 0.3, 3: 0.7})
    assert E.mean_weights(rounds, "image") == pytest.approx({0: 0.4, 3: 0.6})
    assert E.mean_weights(rounds, "text") == {}


def test_draw_is_a_table_by_client_name():
    names = ["zero", "one", "two", "three"]
    html = E.draw(1, history=_rounds(), names=names)
    assert html.startswith("<table") and "three" in html and "0.7" in html and "one" not in html
