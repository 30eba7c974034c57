"""The report's one line on the linkage model: provisional, a retrain due, held back or done."""

from __future__ import annotations

from c360.report.collect import model_note


def test_the_model_line_says_what_needs_attention() -> None:
    assert model_note({}) is None
    assert model_note({"model": {"version": 2, "provisional": False}, "retrain": {"due": [], "action": "none"}}) is None
    thin = {"version": 1, "provisional": True, "provisional_reasons": ["its prior rule found 3 pairs"]}
    assert model_note({"model": thin, "retrain": {"due": [], "action": "none"}}) == \
        "Model v1 is provisional: its prior rule found 3 pairs."
    assert model_note({"model": thin, "retrain": {"due": ["model v1 never saw source b"], "action": "reported"}}) == \
        "A retrain of the model is due: model v1 never saw source b."
    assert model_note({"model": {"version": 2}, "retrain": {"due": ["x"], "action": "retrained"}}) == \
        "Model v2 was trained in this run: x."
    assert "held back by the churn limit" in model_note({"model": {}, "retrain": {"due": ["x"], "action": "held back"}})
