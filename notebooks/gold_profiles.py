# Databricks notebook source
# MAGIC %md
# MAGIC # c360 · gold profiles
# MAGIC Builds the gold tables from silver (golden profiles with lineage, cross-reference, timeline, metrics,
# MAGIC households, accounts), after the data-quality gates pass, and shows one customer's 360 view. Schedule it
# MAGIC after the silver notebook with the widget `config`; locally and in the tests it reads `C360_CONFIG`.
# MAGIC The job of `databricks.yml` also passes `job_started_ms` and `job_run_id`: every task and retry of one job run
# MAGIC is then one c360 run id, so a retried task skips the writes its run already committed.

# COMMAND ----------

import json

from pyspark.sql import functions as F

from c360 import notebook, pipeline
from c360.errors import C360Error
from c360.sql import query

config_path = notebook.parameter(globals().get("dbutils"), "config", "C360_CONFIG", "../conf/demo.yaml")
ctx = notebook.open_run(config_path, globals().get("dbutils"))
store = ctx.store
results = pipeline.run(ctx, "gold")
print(json.dumps(results, indent=2, default=str))
if results["gold"].get("failed"):
    raise C360Error("; ".join(results["gold"]["failed"]))  # fail the workflow task: previous gold stays

# COMMAND ----------

# MAGIC %md The active customer with the most source records: golden values, where each came from, timeline.

# COMMAND ----------

active = store.read("gold.customer_metrics").where("interactions_total > 0").select("customer_id")
profile = (store.read("gold.customer_profile").join(active, "customer_id")
           .orderBy(F.desc("source_record_count"), "customer_id").first())
customer_id = profile["customer_id"]
print({k: profile[k] for k in ("customer_id", "first_name", "last_name", "email", "city", "sources", "household_id")})
for field, origin in sorted(profile["lineage"].items()):
    print(f"  {field:<14} from {origin['source']:<16} ({origin['rule']}, record updated {origin['updated_at']})")

# COMMAND ----------

timeline = query(store, f"SELECT occurred_at, source, channel, event_type, amount, summary FROM gold.customer_interactions "
                        f"WHERE customer_id = '{customer_id}' ORDER BY occurred_at")
timeline.show(20, truncate=60)
segments = query(store, "SELECT segment, count(*) AS customers, round(sum(revenue_total), 2) AS revenue "
                        "FROM gold.customer_metrics GROUP BY segment ORDER BY revenue DESC")
segments.show(truncate=False)
