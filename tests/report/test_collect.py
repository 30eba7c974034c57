"""The report's one line on the linkage model (provisional, a retrain due, held back or done) and on deferred
purges waiting too long."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from c360.report.collect import model_note, purge_note


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


def test_purges_pending_past_the_window_are_named() -> None:
    now = datetime(2026, 12, 7, tzinfo=timezone.utc)
    pending = [{"erasure_id": "e-old", "at": now - timedelta(days=31)}, {"erasure_id": "e-new", "at": now - timedelta(days=3)}]
    assert purge_note([], 30, now) is None
    assert purge_note(pending[1:], 30, now) is None
    note = purge_note(pending, 30, now)
    assert note.startswith("1 erasure(s) wait for their purge longer than privacy.purge_window_days (30)")
    assert "e-old" in note and "e-new" not in note and "c360 maintain" in note
