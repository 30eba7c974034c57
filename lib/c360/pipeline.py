"""Runs the medallion stages in order over one config, one Spark session and one table store.

A stage is a function ``(RunContext) -> dict`` registered in STAGES; it returns a summary that the CLI
prints. Stages a later part of the project has not built yet are reported as such, not skipped silently.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from pyspark.sql import SparkSession

from c360 import catalog, faults, lock, progress
from c360.config import C360Config
from c360.errors import C360Error
from c360.memory import peak_memory_mib
from c360.report import write_report
from c360.session import EngineChoice
from c360.storage import TableStore

log = logging.getLogger(__name__)
STAGE_ORDER = ("bronze", "silver", "gold")


@dataclass
class RunContext:
    """Everything a stage needs: config, session, store, and this run's identity."""

    config: C360Config
    spark: SparkSession
    store: TableStore
    engine: EngineChoice
    run_id: str
    full_refresh: bool = False
    accept_retrain: bool = False
    """Apply a retrain of the linkage model even when it moves more customers than max_retrain_churn."""

    @property
    def run_number(self) -> int:
        """The Delta transaction version of this run's writes: its start in ms since the epoch, read from the
        run id, so a retry with the same run id is recognised and later runs always count higher."""
        return run_number(self.run_id)


Stage = Callable[[RunContext], dict]
STAGES: dict[str, Stage] = {}


def register(name: str) -> Callable[[Stage], Stage]:
    """Decorator that makes a stage available to `c360 run --stage NAME`."""

    def wrap(fn: Stage) -> Stage:
        STAGES[name] = fn
        return fn

    return wrap


RUN_ID_TIME = "%Y%m%dT%H%M%S.%fZ"


def new_run_id(now: datetime | None = None) -> str:
    """``20261123T181500.123Z-1a2b3c4d``: the start time (ms) and a random suffix."""
    stamp = (now or datetime.now(timezone.utc)).strftime(RUN_ID_TIME)
    return f"{stamp[:-4]}Z-{uuid.uuid4().hex[:8]}"


def run_id_for(started: datetime, key: str) -> str:
    """The run id of an outside run (a scheduler's job run) that started at `started` and is known as `key`:
    the same for every task and retry of that run, so a retry skips what the run already committed."""
    suffix = re.sub(r"[^A-Za-z0-9]", "", key)[-32:]
    if not suffix:
        raise C360Error(f"a run key needs letters or digits (got {key!r})")
    return f"{started.astimezone(timezone.utc).strftime(RUN_ID_TIME)[:-4]}Z-{suffix}"


def run_number(run_id: str) -> int:
    """Milliseconds since the epoch at the run's start, from its id; a C360Error for ids of another shape."""
    try:
        started = datetime.strptime(run_id.split("-")[0][:-1] + "000Z", RUN_ID_TIME).replace(tzinfo=timezone.utc)
    except ValueError:
        raise C360Error(f"run id {run_id!r} must start with its UTC start time, like {new_run_id()}") from None
    return int(started.timestamp() * 1000)


def _last_run(store: TableStore, runs_table: str):  # noqa: ANN202 - a Row or None
    if not store.exists(runs_table):
        return None
    from pyspark.sql import functions as F

    return store.read(runs_table).orderBy(F.desc("finished_at")).select("fingerprint", "summary").first()


def last_fingerprint(store: TableStore, runs_table: str) -> str | None:
    """The input fingerprint the newest run recorded in a stage's runs table (None before the first run).
    Stages that skip unchanged input compare their current fingerprint with it."""
    row = _last_run(store, runs_table)
    return row.fingerprint if row else None


def last_summary(store: TableStore, runs_table: str) -> dict | None:
    """The summary the newest run recorded in a stage's runs table (None before the first run); an
    incremental stage reads where the last run left off from it."""
    row = _last_run(store, runs_table)
    return json.loads(row.summary) if row and row.summary else None


def _load_stages() -> None:
    """Import the stage modules so they register themselves (kept lazy: they pull in heavier imports)."""
    import importlib

    for name in STAGE_ORDER:
        try:
            importlib.import_module(f"c360.{name}.stage")
        except ModuleNotFoundError as exc:
            if exc.name != f"c360.{name}" and exc.name != f"c360.{name}.stage":
                raise


def run(ctx: RunContext, stage: str = "all") -> dict[str, dict]:
    """Run one stage or all available ones in order; returns each stage's summary."""
    _load_stages()
    wanted = STAGE_ORDER if stage == "all" else (stage,)
    if stage != "all" and stage not in STAGE_ORDER:
        raise C360Error(f"unknown stage {stage!r} (choose from {', '.join(STAGE_ORDER)}, all)")
    results: dict[str, dict] = {}
    # every run leaves a report, failed ones included (a stage that raised: its error is the report's failure)
    with lock.holding(ctx.config.warehouse, "run", ctx.run_id, ctx.config.lock, ctx.store), progress.running(ctx.run_id, ctx.spark) as told:
        faults.watch(ctx.store.path)
        try:
            _run_stages(ctx, stage, wanted, told, results)
            catalog.repoint(ctx.spark, ctx.store, ctx.config.gold.catalog)
        except Exception as exc:
            write_report(ctx, results, f"{type(exc).__name__}: {exc}")
            raise
        write_report(ctx, results)
    return results


def _run_stages(ctx: RunContext, stage: str, wanted: tuple[str, ...], told: progress.RunProgress,
                results: dict[str, dict]) -> None:
    """Run the wanted stages in order into `results`, stopping after one that failed."""
    for name in wanted:
        fn = STAGES.get(name)
        if fn is None:
            if stage != "all":
                raise C360Error(f"stage {name!r} is not built yet in this version of c360")
            results[name] = {"status": "not built yet"}
            continue
        started = time.monotonic()
        with told.stage(name):
            summary = fn(ctx)
        summary["seconds"] = round(time.monotonic() - started, 1)
        summary["peak_memory_mib"] = peak_memory_mib(ctx.spark)
        results[name] = summary
        faults.reached("stage", name)
        if summary.get("failed"):
            break  # later stages would build on incomplete input
