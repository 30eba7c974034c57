"""Bronze ingestion throughput and peak driver memory at a given number of people.

    python scripts/bench_bronze.py --people 100000 [--engine delta-rs] [--work DIR] [--driver-memory 8g]

Generates the landing data once per size and seed (kept under --work for reuse), ingests it into a fresh
warehouse, re-runs to show that an unchanged landing folder costs only the listing, and prints records/s per
source and overall, with the JVM's peak RSS (local mode: the driver and its executors), the JVM heap
pools' peak, and the Python driver's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_results  # noqa: E402
from c360 import pipeline  # noqa: E402
from c360.config import parse_config  # noqa: E402
from c360.datagen.generate import generate  # noqa: E402
from c360.memory import peak_memory_mib  # noqa: E402
from c360.session import session_for  # noqa: E402
from c360.storage import open_store  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def jvm_memory(spark) -> dict[str, float]:  # noqa: ANN001
    """Peak RSS of the JVM process and of this Python process (as the run summaries report them) and the
    summed peak usage of the JVM's heap pools, in MiB."""
    pools = spark._jvm.java.lang.management.ManagementFactory.getMemoryPoolMXBeans()
    heap = sum(p.getPeakUsage().getUsed() for p in pools if str(p.getType()) == "Heap memory") / 2**20
    peak = peak_memory_mib(spark)
    return {"jvm_peak_rss_mib": peak["jvm"], "jvm_heap_peak_mib": round(heap), "python_peak_rss_mib": peak["python"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--engine", default="delta-rs", choices=["delta-rs", "delta-spark", "auto"])
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "c360-bench"))
    parser.add_argument("--driver-memory", default="8g")
    args = parser.parse_args()

    work = Path(args.work)
    landing = work / f"landing-{args.people}-{args.seed}"
    if not (landing / "truth" / "manifest_b01.json").exists():
        started = time.monotonic()
        generate(args.people, landing, seed=args.seed)
        print(f"generated {args.people:,} people in {time.monotonic() - started:.0f}s")
    manifest = json.loads((landing / "truth" / "manifest_b01.json").read_text())
    warehouse = work / f"warehouse-{args.people}-{args.engine}"
    shutil.rmtree(warehouse, ignore_errors=True)

    demo = __import__("yaml").safe_load((ROOT / "conf" / "demo.yaml").read_text())
    for source in demo["sources"]:
        source["path"] = source["path"].replace("../demo/landing", str(landing))
    demo.update(warehouse=str(warehouse), engine=args.engine)
    demo["spark"]["driver_memory"] = args.driver_memory
    config = parse_config(demo, ROOT / "conf" / "bench.yaml")
    spark, engine = session_for(config, quiet=True)
    store = open_store(spark, engine.name, config.warehouse)

    timings = {}
    for attempt in ("first run", "re-run"):
        ctx = pipeline.RunContext(config, spark, store, engine, pipeline.new_run_id())
        started = time.monotonic()
        result = pipeline.run(ctx, "bronze")["bronze"]
        timings[attempt] = (time.monotonic() - started, result)

    seconds, result = timings["first run"]
    total = 0
    rows = []
    print(f"\nbronze ingestion, {args.people:,} people, engine {engine.name}, 2 cores")
    print(f"{'source':<18}{'records':>12}{'expected':>12}{'seconds':>9}{'records/s':>12}")
    for name, summary in result["sources"].items():
        expected = manifest["sources"][name]["records"]
        total += summary.get("records", 0)
        rate = summary.get("records", 0) / max(summary["seconds"], 1e-9)
        print(f"{name:<18}{summary.get('records', 0):>12,}{expected:>12,}{summary['seconds']:>9.1f}{rate:>12,.0f}")
        rows.append({"people": args.people, "engine": engine.name, "source": name, "records": summary.get("records", 0),
                     "expected": expected, "seconds": round(summary["seconds"], 1), "records_per_s": round(rate)})
    print(f"{'all sources':<18}{total:>12,}{'':>12}{seconds:>9.1f}{total / seconds:>12,.0f}")
    print(f"re-run of the unchanged landing folder: {timings['re-run'][0]:.1f}s "
          f"({sum(s.get('records', 0) for s in timings['re-run'][1]['sources'].values())} records)")
    memory = jvm_memory(spark)
    print("peak memory: " + ", ".join(f"{k} {v:,}" for k, v in memory.items()))
    rows.append({"people": args.people, "engine": engine.name, "source": "all sources", "records": total,
                 "seconds": round(seconds, 1), "records_per_s": round(total / seconds),
                 "rerun_s": round(timings["re-run"][0], 1), "peak_memory": memory})
    bench_results.record("bronze", rows)
    mismatched = [n for n, s in result["sources"].items() if s.get("records") != manifest["sources"][n]["records"]]
    if mismatched:
        print(f"MISMATCH against the generator's counts: {', '.join(mismatched)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
