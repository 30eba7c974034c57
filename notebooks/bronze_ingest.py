# Databricks notebook source
# MAGIC %md
# MAGIC # c360 · bronze ingestion
# MAGIC Lands every source of a c360 config in `<warehouse>/bronze/<source>` and reports per source what was
# MAGIC read, written and quarantined. Schedule it as a notebook task with the widget `config` set to the YAML
# MAGIC file; locally (and in the test suite) it takes the `C360_CONFIG` environment variable.
# MAGIC The job of `databricks.yml` also passes `job_started_ms` and `job_run_id`: every task and retry of one job run
# MAGIC is then one c360 run id, so a retried task skips the writes its run already committed.

# COMMAND ----------

import json

from c360 import notebook, pipeline

config_path = notebook.parameter(globals().get("dbutils"), "config", "C360_CONFIG", "../conf/demo.yaml")
ctx = notebook.open_run(config_path, globals().get("dbutils"))
store = ctx.store

# COMMAND ----------

results = pipeline.run(ctx, "bronze")
print(json.dumps(results, indent=2, default=str))

# COMMAND ----------

# MAGIC %md Quarantined records by source and reason (empty when everything landed):

# COMMAND ----------

if store.exists("bronze._quarantine"):
    store.read("bronze._quarantine").groupBy("source", "reason").count().orderBy("source").show(truncate=False)
