"""Benchmark and truth check of the gold stage on a warehouse that has silver (e.g. after bench_silver.py).

    python scripts/bench_gold.py --config conf/demo.yaml --truth demo/landing/truth

Prints: gold stage seconds (a full rebuild), rows per table, unresolved events by reason; against the
generator's truth: the share of timeline events that belong to the customer's person (the person most of
its records belong to), the share of a person's events that reach their customer, golden birth-date
accuracy, household pairwise precision/recall; and how fast one customer's timeline reads (median of 20
random customers, with the number of files Spark opened), which the clustering by customer id is for.
"""

from __future__ import annotations

import argparse
import glob
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_results  # noqa: E402
from pyspark.sql import DataFrame, Window  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from c360 import pipeline  # noqa: E402
from c360.config import load_config  # noqa: E402
from c360.session import session_for  # noqa: E402
from c360.storage import open_store  # noqa: E402


def owners(store, truth: DataFrame) -> DataFrame:  # noqa: ANN001
    """customer_id -> the true person most of its records belong to."""
    xref = store.read("gold.customer_xref").join(truth, ["source", "source_record_id"])
    ranked = xref.groupBy("customer_id", "true_id").count().withColumn(
        "r", F.row_number().over(Window.partitionBy("customer_id").orderBy(F.desc("count"), "true_id")))
    return ranked.where("r = 1").select("customer_id", F.col("true_id").alias("owner"))


def household_scores(store, owner: DataFrame, people: DataFrame) -> dict:  # noqa: ANN001
    """Pairwise precision and recall of gold households against the generator's, over customers mapped to
    the person owning them (pairs of people who both have a profile)."""
    members = (store.read("gold.customer_profile").select("customer_id", "household_id").join(owner, "customer_id")
               .join(people.select(F.col("true_id").alias("owner"), F.col("household_id").alias("true_household")), "owner"))
    frame = members.toPandas()
    housed = frame[frame["household_id"].notna()]
    pairs = housed.merge(housed, on="household_id").query("owner_x < owner_y")
    precision = (pairs["true_household_x"] == pairs["true_household_y"]).mean() if len(pairs) else float("nan")
    truth_pairs = frame.merge(frame, on="true_household").query("owner_x < owner_y")
    found = (truth_pairs["household_id_x"].notna() & (truth_pairs["household_id_x"] == truth_pairs["household_id_y"]))
    return {"gold_households": int(frame["household_id"].nunique()), "pairs": len(pairs),
            "precision": round(float(precision), 4), "recall": round(float(found.mean()), 4) if len(truth_pairs) else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--truth", required=True, help="the generator's truth folder")
    args = parser.parse_args()
    config = load_config(args.config)
    spark, engine = session_for(config, quiet=True)
    store = open_store(spark, engine.name, config.warehouse)
    ctx = pipeline.RunContext(config, spark, store, engine, pipeline.new_run_id(), full_refresh=True)
    started = time.monotonic()
    summary = pipeline.run(ctx, "gold")["gold"]
    seconds = time.monotonic() - started
    if summary.get("failed"):
        print(json.dumps(summary, indent=2))
        return 1
    print(f"gold stage: {seconds:.1f}s (full rebuild) on {engine.name}")
    for table, rows in summary["tables"].items():
        print(f"  gold.{table:<26} {rows:>12,} rows")
    print(f"  unresolved interactions by reason: {summary['unresolved_interactions']}")

    truth_dir = Path(args.truth)
    records = spark.read.csv(sorted(glob.glob(str(truth_dir / "person_records_b*.csv"))), header=True)
    events = spark.read.csv(sorted(glob.glob(str(truth_dir / "events_b*.csv"))), header=True)
    owner = owners(store, records)
    timeline = store.read("gold.customer_interactions").join(events, ["source", "event_id"]).join(owner, "customer_id")
    row = timeline.agg(F.count("*").alias("n"), F.sum((F.col("owner") == F.col("true_id")).cast("int")).alias("ok")).first()
    print(f"timeline precision: {row.ok / row.n:.4f} of {row.n:,} events belong to their customer's person")
    per_source = (timeline.groupBy("source").agg(F.avg((F.col("owner") == F.col("true_id")).cast("int")).alias("precision"))
                  .orderBy("source").collect())
    print("  by source: " + ", ".join(f"{r.source} {r.precision:.4f}" for r in per_source))
    reached = events.join(owner.withColumnRenamed("owner", "true_id"), "true_id").join(
        store.read("gold.customer_interactions").select("source", "event_id", F.col("customer_id").alias("got")),
        ["source", "event_id"], "left")
    recall = reached.agg(F.avg((F.col("got") == F.col("customer_id")).cast("int")).alias("r")).first().r
    print(f"timeline recall: {recall:.4f} of the events of people with a profile reach a customer they own")

    people = spark.read.parquet(*sorted(glob.glob(str(truth_dir / "people_b*.parquet")))).dropDuplicates(["true_id"])
    dob = (store.read("gold.customer_profile").where(F.col("date_of_birth").isNotNull()).join(owner, "customer_id")
           .join(people.select(F.col("true_id").alias("owner"), F.to_date("date_of_birth").alias("true_dob")), "owner"))
    d = dob.agg(F.avg((F.col("date_of_birth") == F.col("true_dob")).cast("int")).alias("a"), F.count("*").alias("n")).first()
    print(f"golden date_of_birth equals the person's true one: {d.a:.4f} of {d.n:,} profiles with one")
    households = household_scores(store, owner, people)
    print(f"households (pairwise vs the generator's): {households}")

    ids = [r.customer_id for r in store.read("gold.customer_metrics").where("interactions_total > 0")
           .orderBy(F.rand(7)).limit(20).collect()]
    table = store.read("gold.customer_interactions")
    files = len(table.inputFiles())
    times = []
    for cid in ids:
        t0 = time.monotonic()
        table.where(F.col("customer_id") == cid).orderBy("occurred_at").collect()
        times.append(time.monotonic() - t0)
    print(f"one customer's timeline: median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms "
          f"(20 customers; table in {files} files)")
    bench_results.record("gold", [{"engine": engine.name, "gold_s": round(seconds, 1), "tables": summary["tables"],
                                   "timeline_precision": round(row.ok / row.n, 4), "timeline_recall": round(recall, 4),
                                   "golden_birth_date_accuracy": round(d.a, 4), "households": households,
                                   "timeline_read_median_ms": round(statistics.median(times) * 1000),
                                   "timeline_files": files}])
    return 0


if __name__ == "__main__":
    sys.exit(main())
