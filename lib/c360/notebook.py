"""What every c360 notebook starts with: its parameters and a run context.

On Databricks a notebook's parameters are widgets (`dbutils` exists in the notebook's globals only, so the
notebook passes it in); anywhere else, including the test suite, they come from environment variables.
"""

from __future__ import annotations

import os
from typing import Any

from c360 import pipeline


def parameter(dbutils: Any, name: str, env: str, default: str = "") -> str:
    """The widget `name` on Databricks (`dbutils` given), else the environment variable `env`, else `default`."""
    if dbutils is not None:
        dbutils.widgets.text(name, "")
        return dbutils.widgets.get(name) or default
    return os.environ.get(env, default)


def open_run(config_path: str) -> pipeline.RunContext:
    """Load the config, build the session and store, and give the notebook's run a new id."""
    from c360.config import load_config
    from c360.session import session_for
    from c360.storage import open_store

    config = load_config(config_path)
    spark, engine = session_for(config)
    print(f"engine: {engine.name} ({engine.reason})")
    return pipeline.RunContext(config, spark, open_store(spark, engine.name, config.warehouse), engine,
                               pipeline.new_run_id())
