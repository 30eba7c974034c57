"""Seconds per named step of a stage, for its run summary: where a long run spends its time.

Spark is lazy, so a step's seconds are those of the actions taken inside it (the stages materialise their
intermediate frames with checkpoints, which puts each step's work inside its own block).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from c360 import progress


class Stopwatch:
    """Adds up wall-clock seconds per step name, in the order the steps first ran; each step is also
    reported as the run's progress (c360.progress)."""

    def __init__(self, report: bool = True) -> None:
        """`report`: also report each step as the run's progress (False for timings inside one step)."""
        self.seconds: dict[str, float] = {}
        self.report = report

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time one step and add its seconds to the stopwatch (repeated steps add up)."""
        started = time.monotonic()
        try:
            if self.report:
                with progress.step(name):
                    yield
            else:
                yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.monotonic() - started, 1)

    def __getitem__(self, name: str) -> float:
        return self.seconds.get(name, 0.0)
