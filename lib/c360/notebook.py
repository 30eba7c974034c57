"""What every c360 notebook starts with: its parameters and a run context.

On Databricks a notebook's parameters are widgets (`dbutils` exists in the notebook's globals only, so the
notebook passes it in); anywhere else, including the test suite, they come from environment variables.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

from c360 import pipeline
from c360.errors import C360Error


def parameter(dbutils: Any, name: str, env: str, default: str = "") -> str:
    """The widget `name` on Databricks (`dbutils` given), else the environment variable `env`, else `default`."""
    if dbutils is not None:
        dbutils.widgets.text(name, "")
        return dbutils.widgets.get(name) or default
    return os.environ.get(env, default)


def run_id(dbutils: Any) -> str:
    """This notebook run's c360 run id: the `run_id` parameter as given; else one minted from the job run's
    start time and id (`job_started_ms`, `job_run_id`: a job passes them to every task and every retry alike,
    so the tasks of one job run are one c360 run and a retried task skips the writes it committed); else new."""
    given = parameter(dbutils, "run_id", "C360_RUN_ID")
    if given:
        pipeline.run_number(given)   # refuse an id of another shape before anything runs
        return given
    started, job_run = parameter(dbutils, "job_started_ms", "C360_JOB_STARTED_MS"), parameter(dbutils, "job_run_id", "C360_JOB_RUN_ID")
    if started and job_run:
        try:
            at = datetime.fromtimestamp(int(started) / 1000, tz=timezone.utc)
        except ValueError:
            raise C360Error(f"job_started_ms must be milliseconds since the epoch (got {started!r})") from None
        return pipeline.run_id_for(at, job_run)
    return pipeline.new_run_id()


def open_run(config_path: str, dbutils: Any = None) -> pipeline.RunContext:
    """Load the config, build the session and store, and give the notebook's run its id (see `run_id`)."""
    from c360.config import load_config
    from c360.session import session_for
    from c360.storage import open_store

    config = load_config(config_path)
    spark, engine = session_for(config)
    print(f"engine: {engine.name} ({engine.reason})")
    return pipeline.RunContext(config, spark, open_store(spark, engine.name, config.warehouse), engine, run_id(dbutils))
