"""The mPLUG-2 notebook's explorer: the module map per sharing toggle."""

from contrastkit.explore import mplug2 as xm


def test_sharing_map_toggles():
    both = xm.sharing_map(True, True)
    assert both["video spatial"] == both["image spatial"] == "S"
    assert both["text universal"] == both["video universal"] == "U"
    none = xm.sharing_map(False, False)
    assert none["video spatial"] != none["image spatial"]
    assert len({none[k] for k in none if "universal" in k}) == 3


def test_sharing_html_counts_modules():
    assert "4 distinct modules" in xm.sharing_html(True, True)
    assert "through: S, U" in xm.sharing_html(True, True)
    assert "through: nothing" in xm.sharing_html(False, False)
    assert "7 distinct modules" in xm.sharing_html(False, False)
