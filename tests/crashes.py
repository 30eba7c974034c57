"""The crash matrix (c360.faults): chains of `c360 run` and `c360 maintain` processes killed with SIGKILL at
named places, each next process taking up what the last left, checked against clean runs over the same input.
Shared by tests/test_crashes.py and scripts/bench_faults.py.

A chain's first load dies at the places of `first_load`; a second batch lands on that unfinished first load
and its runs die at `batch`; one more run completes; maintenance dies at `maintain` and one more completes.
Each process writes through the engine its step names, so a chain may alternate engines over one warehouse
(one engine's process taking up what the other's left). Every chain runs in its own thread, the clean runs
meanwhile in the caller's, so process starts overlap. After the runs and again after maintenance, every table must hold what the clean runs' tables hold
(row counts and a checksum of every column, history columns left out), and no Delta transaction may have
been committed twice.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from c360 import pipeline
from c360.config import parse_config
from c360.datagen.generate import generate
from c360.session import EngineChoice
from c360.silver.model import NAME
from c360.storage import TableStore, open_store
from tests.bronze.test_stage import demo_config

SOURCES = ("crm_contacts", "shop_customers", "loyalty_members", "shop_orders")
FIRST_LOAD = ("files:bronze.crm_contacts", "write:bronze._ingest_log#2", "stage:bronze",
              "write:silver.identity_map", "write:gold.customer_xref")
BATCH = ("files:silver.person_records",)
MAINTAIN = ("write:*#3",)
MAINTAIN_COMMAND = ("maintain", "--retain-hours", "0")
EVERY_PLACE = {"first_load": FIRST_LOAD, "batch": BATCH, "maintain": MAINTAIN}
# columns that say when and by which run a row was written, not what it holds (`table.column` or any table's)
HISTORY = {"run_id", "_run_id", "ingested_at", "_ingested_at", "quarantined_at", "customer_created_at", "assigned_at",
           "as_of", "linked_at", "gold.customer_profile.updated_at",
           "gold.customer_metrics.days_since_last_seen"}  # measured from the run's as_of
LEDGER_STATUS = {"recovered": "ingested"}  # a file whose rows a killed run had committed is logged as recovered


def config_for(project_root: Path, root: Path, name: str, engine: str) -> Path:
    """A config over the shared landing in `root` and the warehouse `root/name` (with the stored test model),
    writing through `engine`: `root/name/c360.<engine>.yaml`."""
    doc = demo_config(project_root, root, engine=engine, sources=SOURCES)
    doc["warehouse"] = str(root / name / "warehouse")
    doc["silver"]["linkage"]["retrain"] = "never"
    doc["spark"].update(shuffle_partitions=2, driver_memory="1g")  # tiny data: fewer, smaller tasks start faster
    models = root / name / "warehouse" / "_models" / NAME
    models.mkdir(parents=True, exist_ok=True)
    shutil.copy(project_root / "tests" / "silver" / "data" / f"{NAME}_v0001.json", models)
    path = root / name / f"c360.{engine}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def die_at(config: Path, place: str | None, command: tuple[str, ...] = ("run",)) -> dict:
    """Run `c360 <command>` in its own process group, to be killed at `place` (None: to finish). What
    happened: killed there or finished as asked (`as_asked`), seconds, and the end of stderr otherwise."""
    env = {k: v for k, v in os.environ.items() if k != "C360_KILL_AT"} | ({"C360_KILL_AT": place} if place else {})
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "c360.cli", *command, "--config", str(config)], env=env,
                          capture_output=True, text=True, timeout=1800, start_new_session=True)
    killed = done.returncode == -signal.SIGKILL and "C360_KILL_AT: killed" in done.stderr
    as_asked = killed if place else done.returncode == 0
    return {"command": command[0], "place": place or "(completes)", "as_asked": as_asked,
            "seconds": round(time.monotonic() - started, 1), **({} if as_asked else {"stderr": done.stderr[-3000:]})}


Step = tuple[str, str | None]
"""One process of a chain: (the engine it writes with, the place it is killed at; None: it completes)."""


def plan(engine: str, places: dict[str, tuple[str, ...]] = EVERY_PLACE) -> dict[str, list[Step]]:
    """A chain on one engine: killed at `places`, the batch and maintenance each completed by one more process."""
    return {part: [(engine, p) for p in found] + ([(engine, None)] if part != "first_load" and found else [])
            for part, found in places.items()}


def chain(configs: dict[str, Path], steps: list[Step], command: tuple[str, ...]) -> list[dict]:
    """One `c360 <command>` process per step; stops at the first that did not do as asked."""
    done = []
    for engine, place in steps:
        done.append({"engine": engine, **die_at(configs[engine], place, command)})
        if not done[-1]["as_asked"]:
            break
    return done


def fingerprint(store: TableStore) -> dict[str, int]:
    """`table.column` -> an order-free checksum of the column's values (`table` -> its row count), every table
    but runs' own bookkeeping (whose rows are run summaries), history columns left out."""
    out = {}
    for table in store.list_tables():
        if table.endswith("._runs"):
            continue
        frame = store.read(table)
        if table == "bronze._ingest_log":
            frame = frame.replace(LEDGER_STATUS, subset=["status"])
        sums = [F.coalesce(F.sum(F.xxhash64(F.array_sort(F.map_entries(F.col(f"`{f.name}`")))
                                            if isinstance(f.dataType, T.MapType) else F.col(f"`{f.name}`"))
                                 .cast("decimal(38,0)")), F.lit(0)).alias(f"{table}.{f.name}")
                for f in frame.schema.fields if f.name not in HISTORY and f"{table}.{f.name}" not in HISTORY]
        out.update({k: int(v) for k, v in frame.agg(F.count("*").alias(table), *sums).first().asDict().items()})
    return out


def committed_twice(store: TableStore) -> list[tuple[str, str, int]]:
    """(table, app, transaction) committed to a table more than once (none may be)."""
    twice = []
    for table in store.list_tables():
        seen = [(app, txn) for commit in store.history(table)
                for app, txn in store.commit_transactions(table, commit.version).items()]
        twice += [(table, app, txn) for app, txn in sorted(set(seen)) if seen.count((app, txn)) > 1]
    return twice


def differences(got: dict[str, int], expected: dict[str, int]) -> list[str]:
    """The tables and columns whose count or checksum differ from the clean runs'."""
    return sorted(k for k in got.keys() | expected.keys() if got.get(k) != expected.get(k))


def crash_matrix(project_root: Path, root: Path, spark: SparkSession, chains: dict[str, dict[str, list[Step]]],
                 people: int) -> dict:
    """Run each chain (name -> its steps in parts first_load, batch, maintain: see `plan`) on a warehouse of
    its own, against clean runs over the same landing; returns every process and, per chain, what differs
    from the clean runs and what was committed twice."""
    generate(people, root / "landing", seed=11)
    clean_path = config_for(project_root, root, "clean", "delta-rs")
    clean_config = parse_config(yaml.safe_load(clean_path.read_text()), clean_path)
    clean = open_store(spark, "delta-rs", clean_config.warehouse)

    def clean_run() -> None:
        ctx = pipeline.RunContext(clean_config, spark, clean, EngineChoice("delta-rs", "test"), pipeline.new_run_id())
        pipeline.run(ctx, "all")

    configs = {name: {e: config_for(project_root, root, name, e) for e in {e for part in steps.values() for e, _ in part}}
               for name, steps in chains.items()}
    crashed = {name: open_store(spark, "delta-rs", str(root / name / "warehouse")) for name in chains}
    runs: dict[str, list[dict]] = {name: [] for name in chains}

    def overlapped(pool: ThreadPoolExecutor, part: str, command: tuple[str, ...], meanwhile=None) -> None:  # noqa: ANN001
        """Every chain's steps of `part` in threads, `meanwhile` in this one (process starts overlap)."""
        futures = {n: pool.submit(chain, configs[n], chains[n].get(part, []), command) for n in chains}
        if meanwhile:
            meanwhile()
        for name, done in futures.items():
            runs[name] += done.result()

    with ThreadPoolExecutor(len(chains)) as pool:
        overlapped(pool, "first_load", ("run",), clean_run)
        generate(people, root / "landing", seed=11, batch=2, fraction=0.3)
        overlapped(pool, "batch", ("run",), clean_run)
        expected = fingerprint(clean)
        after_runs = {n: differences(fingerprint(crashed[n]), expected) for n in chains}
        overlapped(pool, "maintain", MAINTAIN_COMMAND)
    return {"chains": {name: {"processes": runs[name], "differences_after_runs": after_runs[name],
                              "differences_after_maintain": differences(fingerprint(crashed[name]), expected),
                              "committed_twice": committed_twice(crashed[name])} for name in chains}}
