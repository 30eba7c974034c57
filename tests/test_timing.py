"""Stopwatch: seconds per step, added up when a step runs twice, kept when the step fails."""

from __future__ import annotations

import time

import pytest

from c360 import progress
from c360.timing import Stopwatch


def test_steps_add_up_in_the_order_they_first_ran() -> None:
    watch = Stopwatch()
    for name in ("read", "write", "read"):
        with watch.step(name):
            time.sleep(0.06)
    assert list(watch.seconds) == ["read", "write"]
    assert watch["read"] >= 0.1 and watch["missing"] == 0.0


def test_a_failed_step_still_counts() -> None:
    watch = Stopwatch()
    with pytest.raises(RuntimeError), watch.step("boom"):
        raise RuntimeError("x")
    assert "boom" in watch.seconds


def test_timings_inside_a_step_are_not_reported_as_progress() -> None:
    with progress.running("run-t") as told, told.stage("silver"):
        progress.expect(["writes"])
        outer, inner = Stopwatch(), Stopwatch(report=False)
        with outer.step("writes"):
            for table in ("silver.a", "silver.b"):
                with inner.step(table):
                    pass
        assert progress.current().done == 1, "only the stage's own step counts"
    assert list(inner.seconds) == ["silver.a", "silver.b"]
