# Databricks notebook source
# MAGIC %md
# MAGIC # c360 · silver identity resolution
# MAGIC Builds the silver tables from bronze (person records, match pairs, identity map, interactions), shows
# MAGIC how records were linked, and, when a ground-truth file is given, how well. Schedule it after the bronze
# MAGIC notebook with the widget `config` (and optionally `truth`); locally and in the tests it reads the
# MAGIC `C360_CONFIG` and `C360_TRUTH` environment variables.
# MAGIC The job of `databricks.yml` also passes `job_started_ms` and `job_run_id`: every task and retry of one job run
# MAGIC is then one c360 run id, so a retried task skips the writes its run already committed.

# COMMAND ----------

import json

from pyspark.sql import functions as F

from c360 import notebook, pipeline
from c360.silver.evaluation import evaluate, format_report

config_path = notebook.parameter(globals().get("dbutils"), "config", "C360_CONFIG", "../conf/demo.yaml")
truth_path = notebook.parameter(globals().get("dbutils"), "truth", "C360_TRUTH")
ctx = notebook.open_run(config_path, globals().get("dbutils"))
spark, store = ctx.spark, ctx.store
results = pipeline.run(ctx, "silver")
print(json.dumps(results, indent=2, default=str))

# COMMAND ----------

# MAGIC %md How each record was linked, and the largest customers:

# COMMAND ----------

identity = store.read("silver.identity_map")
identity.groupBy("match_method").count().orderBy(F.desc("count")).show(truncate=False)
identity.groupBy("customer_id").agg(F.count("*").alias("records"), F.collect_set("source").alias("sources")) \
    .orderBy(F.desc("records"), "customer_id").show(5, truncate=False)

# COMMAND ----------

quality = None
if truth_path:
    truth = spark.read.csv(truth_path, header=True).select(
        F.concat_ws(":", "source", "source_record_id").alias("record_key"), "true_id")
    quality = evaluate(identity, truth)
    print(format_report(quality))
