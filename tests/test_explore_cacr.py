"""The CACR explorer: the weights on the circle and the figure the sliders redraw."""

import math

import pytest

from contrastkit.explore import cacr as ex


def test_weights_and_draw():
    w_pos, w_neg, caption = ex.weights(1.0, 0.9)
    assert int(w_pos.argmax()) == 2 and float(w_neg[0]) == pytest.approx(float(w_neg.max()))
    assert float(w_pos.sum()) == pytest.approx(1.0) and float(w_neg.sum()) == pytest.approx(1.0)
    assert caption.endswith(f"(max {math.log(8):.2f})")
    fig = ex.draw(0.0, 0.0)
    assert [t.name for t in fig.data][1:] == ["query", "positives (pi+)", "negatives (pi-)"]
    assert len(set(fig.data[3].marker.size)) == 1  # uniform weights: equal sizes
    assert fig.layout.title.text == ex.weights(0.0, 0.0)[2]
