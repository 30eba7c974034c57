# Databricks notebook source
# MAGIC %md
# MAGIC # c360 · bronze ingestion
# MAGIC Lands every source of a c360 config in `<warehouse>/bronze/<source>` and reports per source what was
# MAGIC read, written and quarantined. Schedule it as a notebook task with the widget `config` set to the YAML
# MAGIC file; locally (and in the test suite) it takes the `C360_CONFIG` environment variable.

# COMMAND ----------

import json
import os

try:
    dbutils.widgets.text("config", "")  # type: ignore[name-defined]  # noqa: F821 - Databricks only
    config_path = dbutils.widgets.get("config")  # type: ignore[name-defined]  # noqa: F821
except NameError:
    config_path = os.environ.get("C360_CONFIG", "../conf/demo.yaml")

# COMMAND ----------

from c360 import pipeline
from c360.config import load_config
from c360.session import session_for
from c360.storage import open_store

config = load_config(config_path)
spark, engine = session_for(config)
store = open_store(spark, engine.name, config.warehouse)
print(f"engine: {engine.name} ({engine.reason})")

# COMMAND ----------

ctx = pipeline.RunContext(config, spark, store, engine, pipeline.new_run_id())
results = pipeline.run(ctx, "bronze")
print(json.dumps(results, indent=2, default=str))

# COMMAND ----------

# MAGIC %md Quarantined records by source and reason (empty when everything landed):

# COMMAND ----------

if store.exists("bronze._quarantine"):
    store.read("bronze._quarantine").groupBy("source", "reason").count().orderBy("source").show(truncate=False)
