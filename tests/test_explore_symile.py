"""The Symile notebook's explorer: the XOR set's information terms against p."""

import pytest

from contrastkit.data import xor_information
from contrastkit.explore import symile as xs


def test_information_figure():
    acc = {"symile": {0.0: 0.03, 1.0: 0.98}, "clip": {0.0: 0.03, 1.0: 0.04}}
    fig = xs.information_figure(acc, 5, 0.8)
    info = xor_information(5, 0.8)
    assert list(fig.data[0].x) == list(xs.INFORMATION)
    assert fig.data[0].y == pytest.approx([info[k] for k in xs.INFORMATION])
    title = fig.layout.title.text
    assert "trained at p=1.0: Symile 0.980, CLIP 0.040" in title
    assert f"Bayes accuracy {0.8 + 0.2 / 32:.3f}" in title
