"""Erasure at size: one person and a batch of 1,000 from a warehouse of N people, and what a lookup pays for
file statistics without person fields.

    python scripts/bench_erase.py --people 100000 [--batch 1000] [--work DIR]

Generates N people once (with events) into the work folder and builds the warehouse with one `c360 run`
(kept: a second call reuses it). Each erasure runs on its own copy of that warehouse as one `c360 erase`
process (JVM start included; the process's own summary gives the erase's steps): first one customer with
records in at least three sources (`--customer-id`), then `--batch` customers at once (`--requests`).
Prints and records the wall time, rows removed per table, the bytes of data files each table gained (the
files the erase rewrote, which remain after its purge) and the files and log entries the purge removed.
Then times lookups of one customer by customer id and by e-mail on gold.customer_interactions and
gold.customer_profile as c360 writes them (no statistics for person fields) and on copies written with
statistics for every column.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_results  # noqa: E402
from bench_incremental import write_config  # noqa: E402
from c360.datagen.generate import generate  # noqa: E402
import pyarrow as pa  # noqa: E402
from deltalake import DeltaTable  # noqa: E402

SALT_ENV = "C360_ERASURE_SALT"


def build(people: int, seed: int, work: Path) -> Path:
    """The warehouse of `people` generated people after one `c360 run` (built once per work folder)."""
    config = write_config(work, person_only=False)
    done = work / "built.json"
    if not done.exists():
        if not (work / "landing" / "truth" / "manifest_b01.json").exists():
            generate(people, work / "landing", seed=seed)
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "c360.cli", "run", "--config", str(config)], check=True,
                       stdout=subprocess.DEVNULL)
        done.write_text(json.dumps({"seconds": round(time.monotonic() - started, 1)}))
    return config


def copy(work: Path, name: str) -> Path:
    """A fresh copy of the built warehouse with its config."""
    target = work / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(work / "warehouse", target / "warehouse")
    text = (work / "c360.yaml").read_text().replace(str(work / "warehouse"), str(target / "warehouse"))
    (target / "c360.yaml").write_text(text)
    return target / "c360.yaml"


def customers(warehouse: Path, count: int) -> list[str]:
    """`count` customers with records in at least three sources (as many as there are, if fewer)."""
    dt = DeltaTable(str(warehouse / "silver" / "identity_map"))
    table = dt.to_pyarrow_table(columns=["customer_id", "source"])
    sources: dict[str, set[str]] = {}
    for cid, source in zip(table["customer_id"].to_pylist(), table["source"].to_pylist()):
        sources.setdefault(cid, set()).add(source)
    rich = sorted(c for c, s in sources.items() if len(s) >= 3)
    return rich[:: max(1, len(rich) // count)][:count]


def data_bytes(warehouse: Path, since: float) -> dict[str, int]:
    """Per table, the bytes of its current data files written after `since` (epoch seconds)."""
    out = {}
    for layer in ("bronze", "silver", "gold", "privacy"):
        for folder in sorted((warehouse / layer).glob("*/_delta_log")):
            dt = DeltaTable(str(folder.parent))
            actions = pa.table(dt.get_add_actions(flatten=True)).to_pydict()
            fresh = sum(size for size, at in zip(actions["size_bytes"], actions["modification_time"])
                        if (at.timestamp() if hasattr(at, "timestamp") else at / 1000) >= since)
            if fresh:
                out[f"{layer}.{folder.parent.name}"] = fresh
    return out


def erase(config: Path, *who: str) -> dict:
    """One `c360 erase` process: its wall time, summary and bytes written per table."""
    warehouse = config.parent / "warehouse"
    started, since = time.monotonic(), time.time()
    done = subprocess.run([sys.executable, "-m", "c360.cli", "erase", "--config", str(config), *who],
                          stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"c360 erase failed (exit {done.returncode}; its log is above)")
    summary = json.loads(done.stdout)
    return {"wall_s": round(time.monotonic() - started, 1), "customers": summary["customers"],
            "records": summary["records"], "events": summary["events"], "rows_removed": summary["rows_removed"],
            "bytes_written": data_bytes(warehouse, since - 1),
            "purge": {t: p for t, p in summary["purged"].items()}, "report_files": summary["report_files"],
            "term_frequency_values": summary["term_frequency_values"]}


def lookups(config: Path, customer: str, email: str) -> list[dict]:
    """Median seconds of 5 lookups per table and key, as written and on a copy with statistics for every column."""
    from pyspark.sql import functions as F

    from c360.config import load_config
    from c360.session import session_for
    from c360.storage import open_store
    from c360.storage.statistics import STATS_COLUMNS

    settings = load_config(str(config))
    spark, engine = session_for(settings, quiet=True)
    store = open_store(spark, engine.name, settings.warehouse)
    rows = []
    for table in ("gold.customer_interactions", "gold.customer_profile"):
        frame = store.read(table)
        every = ",".join(f.name for f in frame.schema.fields if f.dataType.typeName() in ("string", "double", "long",
                                                                                             "integer", "timestamp"))
        full = f"bench.{table.split('.')[1]}_all_stats"
        store.overwrite(frame, full, properties={STATS_COLUMNS: every})
        for name, target in (("person fields without statistics", table), ("every column with statistics", full)):
            for key, value in (("customer_id", customer), ("email", email)):
                if key not in frame.columns:
                    continue
                times = []
                for _ in range(5):
                    started = time.monotonic()
                    store.read(target).where(F.col(key) == value).count()
                    times.append(time.monotonic() - started)
                rows.append({"table": table, "statistics": name, "lookup_by": key, "median_s": round(statistics.median(times), 3)})
                print(json.dumps(rows[-1]), flush=True)
    return rows


def prepared(doc: str, name: str, **more: int) -> tuple[argparse.Namespace, Path]:
    """The arguments (--people, --seed, --work and `more` integer options with their defaults) and the work
    folder with the warehouse built; the salt set for the c360 processes."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000)
    for option, default in more.items():
        parser.add_argument(f"--{option}", type=int, default=default)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", default=None, help="work folder (default: a new temporary one)")
    args = parser.parse_args()
    os.environ.setdefault(SALT_ENV, "benchmark salt, not a secret")
    work = Path(args.work or tempfile.mkdtemp(prefix=f"c360-bench-{name}-"))
    work.mkdir(parents=True, exist_ok=True)
    build(args.people, args.seed, work)
    return args, work


def main() -> int:
    args, work = prepared(__doc__, "erase", batch=1000)
    chosen = customers(work / "warehouse", args.batch + 1)
    one = erase(copy(work, "one"), "--customer-id", chosen[0])
    print(json.dumps({"erase": "1 subject", **one}), flush=True)
    requests = work / "requests.csv"
    with requests.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["request_id", "customer_id"])
        writer.writerows((f"r{i}", c) for i, c in enumerate(chosen[1:], start=1))
    many = erase(copy(work, "batch"), "--requests", str(requests))
    print(json.dumps({"erase": f"{len(chosen) - 1} subjects", **many}), flush=True)
    profile = DeltaTable(str(work / "warehouse" / "gold" / "customer_profile")).to_pyarrow_table(columns=["customer_id", "email"])
    pick = next(i for i, e in enumerate(profile["email"].to_pylist()) if e)
    looked = lookups(work / "c360.yaml", profile["customer_id"][pick].as_py(), profile["email"][pick].as_py())
    built = json.loads((work / "built.json").read_text())["seconds"]
    print(f"\n{args.people:,} people (built by one c360 run in {built} s)")
    for label, result in (("1 subject", one), (f"{len(chosen) - 1} subjects", many)):
        print(f"erase {label:<15} {result['wall_s']:>7} s  {result['records']:,} records, {result['events']:,} events; "
              f"bytes written {sum(result['bytes_written'].values()):,}")
        for table, size in sorted(result["bytes_written"].items()):
            print(f"  {table:<40} {size:>14,} bytes  rows removed {result['rows_removed'].get(table, 0):,}")
    bench_results.record("erase", [{"people": args.people, "erase": "1 subject", **one},
                                   {"people": args.people, "erase": f"{len(chosen) - 1} subjects", **many},
                                   *({"people": args.people, "lookup": True, **row} for row in looked)])
    print(f"work folder {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
