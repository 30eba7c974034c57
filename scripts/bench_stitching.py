"""Deterministic stitching of a batch against a full pass, on the same records in one Spark session.

    python scripts/bench_stitching.py [--records 100000 1000000] [--fraction 0.01] [--seed 42]

Per size: person records with the strong identifiers of c360's person tables (e-mail key, phone, login id,
loyalty id, social handle; names and birth dates that check them), values shared by two to four records the way
one person's records share them, a few hubs (a family e-mail, a shop's phone) and a placeholder e-mail. The
last run's edges and hubs are computed and materialised, then `--fraction` of the records change (a new
e-mail or phone, some deleted, some new), and the bench times what a full silver run does
(`deterministic_edges` over every record) against what an incremental run does (`edges_since`: only the
values a change can move), both materialised, and checks that both give the same edges and hubs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_results  # noqa: E402
from pyspark.sql import Column, DataFrame, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from c360.config import SparkSettings  # noqa: E402
from c360.session import build_session  # noqa: E402
from c360.silver.stitching import deterministic_edges, edges_since  # noqa: E402

RULES = {"email": 3, "phone": 3, "login_id": 2, "loyalty_id": 2, "social_handle": 2}


def records(spark: SparkSession, n: int, seed: int, salt: str = "") -> DataFrame:
    """`n` person records: record i belongs to person i // 2 (about two records a person share values), with
    some values missing, one family e-mail per 500 people, one shop phone per 20,000 records."""
    person = (F.col("id") / 2).cast("long")

    def maybe(value: Column, share: float) -> Column:
        """`value` in about `share` of the records, missing in the rest."""
        return F.when(F.rand(seed) < share, value)
    return spark.range(n).select(
        F.concat(F.lit("src"), (F.col("id") % 4).cast("string"), F.lit(":"), F.col("id").cast("string"), F.lit(salt)).alias("record_key"),
        maybe(F.concat(F.lit("p"), (F.when(F.col("id") % 1000 < 4, F.col("id") / 1000).otherwise(person)).cast("long").cast("string"),
                       F.lit("@mail.de")), 0.8).alias("email_key"),
        maybe(F.concat(F.lit("+49"), F.when(F.col("id") % 20000 == 0, F.lit(0)).otherwise(person).cast("string")), 0.6).alias("phone_e164"),
        maybe(F.concat(F.lit("login"), person.cast("string")), 0.3).alias("login_id"),
        maybe(F.concat(F.lit("loyal"), person.cast("string")), 0.2).alias("loyalty_id"),
        maybe(F.concat(F.lit("@h"), person.cast("string")), 0.2).alias("social_handle"),
        F.concat(F.lit("first"), (person % 997).cast("string")).alias("first_name_key"),
        F.concat(F.lit("last"), (person % 4999).cast("string")).alias("last_name_key"),
        F.lit(None).cast("date").alias("date_of_birth"),
        F.create_map().cast("map<string,string>").alias("identifiers"),
    )


def changed_state(before: DataFrame, fraction: float, seed: int) -> tuple[DataFrame, DataFrame]:
    """(records after a batch, record keys that changed): of `fraction` of the records, a third get another
    e-mail, a third another phone, a sixth are deleted; as many new records again join existing people."""
    picked = before.where(F.rand(seed + 1) < fraction).select("record_key", (F.rand(seed + 2) * 6).cast("int").alias("what"))
    moved = (before.join(picked, "record_key")
             .withColumn("email_key", F.when(F.col("what") < 2, F.concat(F.lit("new."), "email_key")).otherwise(F.col("email_key")))
             .withColumn("phone_e164", F.when(F.col("what").isin(2, 3), F.lit("+490")).otherwise(F.col("phone_e164")))
             .where("what < 5").drop("what"))
    new = records(before.sparkSession, int(before.count() * fraction / 2), seed + 3, salt="n")
    after = before.join(picked, "record_key", "left_anti").unionByName(moved).unionByName(new)
    changed = picked.select("record_key").unionByName(new.select("record_key"))
    return after.localCheckpoint(), changed.localCheckpoint()


def timed(label: str, work) -> tuple[float, tuple[DataFrame, ...]]:  # noqa: ANN001
    started = time.monotonic()
    frames = tuple(f.localCheckpoint() for f in work())
    seconds = time.monotonic() - started
    print(f"  {label}: {seconds:.1f} s", flush=True)
    return seconds, frames


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--fraction", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    settings = SparkSettings(master="local[2]", driver_memory="4g", shuffle_partitions=8,
                             checkpoint_dir=tempfile.mkdtemp(prefix="c360-bench-stitching-"))
    spark = build_session(settings, quiet=True)
    rows = []
    for n in args.records:
        before = records(spark, n, args.seed).localCheckpoint()
        edges_before, hubs_before = (f.localCheckpoint() for f in deterministic_edges(before, RULES))
        after, changed = changed_state(before, args.fraction, args.seed)
        print(f"{n:,} records, {changed.count():,} changed; {edges_before.count():,} edges and {hubs_before.count():,} hubs before")
        full_s, (full_edges, full_hubs) = timed("full pass (deterministic_edges)", lambda: deterministic_edges(after, RULES))
        batch_s, (edges, hubs, _) = timed("batch (edges_since)", lambda: edges_since(after, RULES, changed, hubs_before, edges_before))
        same = (edges.exceptAll(full_edges).isEmpty() and full_edges.exceptAll(edges).isEmpty()
                and hubs.exceptAll(full_hubs).isEmpty() and full_hubs.exceptAll(hubs).isEmpty())
        print(f"  batch / full: {batch_s / full_s:.2f}; same edges and hubs: {same} ({full_edges.count():,} edges)")
        rows.append({"records": n, "changed": changed.count(), "full_s": round(full_s, 1), "batch_s": round(batch_s, 1),
                     "batch_over_full": round(batch_s / full_s, 2), "same_edges_and_hubs": same})
        if not same:
            return 1
    spark.stop()
    bench_results.record("stitching", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
