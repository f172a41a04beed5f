"""The moco notebook's explorer: how stale a queue is, in closed form, and its figure."""

import pytest

from contrastkit.explore import moco as xmoco

# ---------------------------------------------------------------------- explorer_state


def test_explorer_counts_batches_and_their_decay():
    s = xmoco.explorer_state(100, 32, 0.5, {(100, 0.5): 0.7, (32, 0.5): 0.6, (100, 0.0): 0.1})
    assert s["batches"] == 4 and s["age"] == [1, 2, 3, 4] and s["oldest"] == 4
    assert s["kept"] == [0.5, 0.25, 0.125, 0.0625] and s["oldest_kept"] == 0.0625
    assert s["horizon"] == 2.0 and s["knn"] == 0.7
    assert xmoco.explorer_state(100, 32, 0.0, {(100, 0.0): 0.1})["knn"] == 0.1
    assert xmoco.explorer_state(100, 32, 0.9, {(100, 0.0): 0.1})["knn"] is None
    assert xmoco.explorer_state(7, 32, 0.5)["knn"] is None


def test_explorer_without_a_queue_has_in_batch_negatives_and_nothing_stale():
    s = xmoco.explorer_state(0, 32, 0.99, {(0, 0.99): 0.4, (4096, 0.99): 0.5})
    assert s["negatives"] == 31 and s["batches"] == 0 and s["age"] == [] and s["kept"] == []
    assert s["oldest"] == 0 and s["oldest_kept"] == 1.0 and s["knn"] == 0.4
    assert xmoco.explorer_state(4096, 32, 0.99)["negatives"] == 4096


def test_explorer_momentum_extremes():
    frozen = xmoco.explorer_state(64, 32, 1.0)
    assert frozen["kept"] == [1.0, 1.0] and frozen["horizon"] == float("inf")
    copy = xmoco.explorer_state(64, 32, 0.0)
    assert copy["kept"] == [0.0, 0.0] and copy["horizon"] == 1.0
    slow, fast = xmoco.explorer_state(1024, 32, 0.99), xmoco.explorer_state(1024, 32, 0.9)
    assert slow["oldest_kept"] > 0.7 > 0.05 > fast["oldest_kept"]


def test_explorer_validates():
    with pytest.raises(ValueError, match="queue_size"):
        xmoco.explorer_state(-1, 32, 0.9)
    with pytest.raises(ValueError, match="batch_size"):
        xmoco.explorer_state(64, 0, 0.9)
    with pytest.raises(ValueError, match="momentum"):
        xmoco.explorer_state(64, 32, 1.5)


def test_draw_plots_the_decay_and_names_it():
    fig = xmoco.draw(100, 0.5, 32, {(100, 0.5): 0.7})
    assert list(fig.data[0].x) == [1, 2, 3, 4] and list(fig.data[0].y) == [0.5, 0.25, 0.125, 0.0625]
    assert (
        "100 negatives in 4 batches" in fig.layout.title.text
        and "kNN 0.700" in fig.layout.title.text
    )
    assert xmoco.draw(0, 0.99, 32).layout.title.text.startswith("no queue: 31 in-batch")
