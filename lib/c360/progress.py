"""What a run is doing, told on stderr while it runs.

On a terminal a live display (rich) shows the stage, the step and how far along the stage is; anywhere else
(a scheduler, a CI log, a pipe) each step is a plain log line. Every log line carries the run id, so the lines
of concurrent or retried runs can be told apart, and stdout stays free for the JSON summary. Spark's UI names
the same steps: a step sets the job group and description of the jobs it starts. Log lines say what runs and
how much, never a record's values: names, e-mails and phones are personal data.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TextIO

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

log = logging.getLogger(__name__)

PLAIN_FORMAT = "%(asctime)s %(levelname)s run=%(run_id)s %(name)s: %(message)s"
QUIET_LOGGERS = ("py4j", "deltalake", "splink")
_RUN_ID: ContextVar[str] = ContextVar("c360_run_id", default="-")
_CONSOLE: Console | None = None   # the terminal's console when the live display is on


class RunIdFilter(logging.Filter):
    """Puts the current run id on every log record (`%(run_id)s`), whichever logger wrote it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = _RUN_ID.get()
        return True


def configure_logging(debug: bool = False, stream: TextIO | None = None) -> None:
    """Log lines to `stream` (stderr) with the run id: through rich on a terminal, so they print above the
    live display, and as plain lines anywhere else."""
    global _CONSOLE
    stream = stream or sys.stderr
    if stream.isatty():
        _CONSOLE = Console(file=stream)
        handler: logging.Handler = RichHandler(console=_CONSOLE, show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("run=%(run_id)s %(name)s: %(message)s"))
    else:
        _CONSOLE = None
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
    handler.addFilter(RunIdFilter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)


class RunProgress:
    """The stage and step a run is in: a live bar on a terminal, log lines otherwise, Spark job
    descriptions always (when a session is given)."""

    def __init__(self, run_id: str, spark: object | None = None) -> None:
        self.run_id = run_id
        self.spark = spark
        self.stage_name = ""
        self.done = 0
        self.plan: list[str] | None = None
        self._bar: Progress | None = None
        self._task: int | None = None

    @contextmanager
    def stage(self, name: str) -> Iterator[RunProgress]:
        """Report a stage: its start, its steps against its plan (a live bar on a terminal) and its end."""
        self.stage_name, self.done, self.plan = name, 0, None
        log.info("stage %s: starting", name)
        started = time.monotonic()
        if _CONSOLE is not None:
            self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=_CONSOLE, transient=True)
            self._task = self._bar.add_task(f"{name}: starting", total=None)
            self._bar.start()
        try:
            yield self
        finally:
            if self._bar is not None:
                self._bar.stop()
                self._bar = self._task = None
            self._describe(None)
            log.info("stage %s: finished in %.1fs", name, time.monotonic() - started)

    @property
    def total(self) -> int | None:
        return len(self.plan) if self.plan is not None else None

    def expect(self, steps: Sequence[str]) -> None:
        """The steps the stage may take, in order, before its first step: the bar's total and the `step i/n`
        of the log lines. A step a run leaves out (no model, no interaction source) is passed over."""
        self.plan = list(steps)
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, total=self.total)

    def _position(self, name: str) -> int:
        """Where step `name` stands: its next place in the plan; a step taken again (a second scoring) or not
        planned stays where the stage is, so the count never runs past its total."""
        if self.plan is None:
            return self.done + 1
        try:
            return self.plan.index(name, self.done) + 1
        except ValueError:
            return max(self.done, 1)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Report one step of the current stage by its place in the stage's plan."""
        at = self._position(name)
        position = f"{at}/{self.total}" if self.plan is not None else f"{at}"
        log.info("stage %s: step %s %s", self.stage_name, position, name)
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=f"{self.stage_name}: {name}")
        self._describe(name)
        started = time.monotonic()
        try:
            yield
        finally:
            self.done = max(self.done, at)
            if self._bar is not None and self._task is not None:
                self._bar.update(self._task, completed=self.done)
            log.debug("stage %s: %s took %.1fs", self.stage_name, name, time.monotonic() - started)

    def _describe(self, step: str | None) -> None:
        """Name the Spark jobs that follow after this run, stage and step (Spark's UI shows it)."""
        context = getattr(self.spark, "sparkContext", None) if self.spark is not None else None
        if context is not None:
            what = f"c360 {self.stage_name}" + (f": {step}" if step else "")
            context.setJobGroup(f"c360 {self.run_id}", what, interruptOnCancel=False)


_CURRENT: ContextVar[RunProgress | None] = ContextVar("c360_progress", default=None)


@contextmanager
def running(run_id: str, spark: object | None = None) -> Iterator[RunProgress]:
    """Make `run_id` the run of every log line and step report inside the block."""
    progress = RunProgress(run_id, spark)
    run_token, progress_token = _RUN_ID.set(run_id), _CURRENT.set(progress)
    try:
        yield progress
    finally:
        _CURRENT.reset(progress_token)
        _RUN_ID.reset(run_token)


def current() -> RunProgress | None:
    """The progress of the run this code runs in, if any."""
    return _CURRENT.get()


@contextmanager
def step(name: str) -> Iterator[None]:
    """Report a step of the current stage (nothing outside a run)."""
    progress = current()
    if progress is None or not progress.stage_name:
        yield
        return
    with progress.step(name):
        yield


def expect(steps: Sequence[str]) -> None:
    """Tell the current stage which steps it may take, in order (nothing outside a run)."""
    progress = current()
    if progress is not None:
        progress.expect(steps)
