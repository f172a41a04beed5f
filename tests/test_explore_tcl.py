"""The TCL notebook's explorer: the objective in words and the HTML the toggles show."""

from contrastkit.explore import tcl as E


def test_loss_terms():
    assert E.loss_terms(0, 0) == "CMA  (plain ITC)"
    assert E.loss_terms(1, 0.5) == "CMA + 1 IMC + 0.5 LMI"


def test_draw_names_the_objective_and_its_numbers():
    rows = {"ITC": {"view re-id": 0.8}, "TCL": {"view re-id": 0.9123}}
    html = E.draw(True, True, rows=rows, weights=(1.0, 0.5))
    assert "CMA + 1 IMC + 0.5 LMI" in html and "view re-id 0.912" in html
    assert "plain ITC" in E.draw(False, False, rows=rows, weights=(1.0, 0.5))
    assert "not trained" in E.draw(True, False, rows=rows, weights=(1.0, 0.5))
