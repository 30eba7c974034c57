"""A small batch on top of a full load, against a full refresh of the same records, silver and gold stages.

    python scripts/bench_incremental.py --people 66000 660000 [--fraction 0.01] [--person-only] [--work DIR]

Per size: generates batch 1 for that many people (about 1.5 person records each, with their events unless
`--person-only`), lands it and runs silver (a new model is trained: the first load) and gold; then writes a
later batch whose new and changed people are `--fraction` of the people (events in proportion), lands it
and runs silver and gold again (incremental), and then both with `--full-refresh` on the same warehouse and
model. Each stage run is its own `c360 run` process (JVM start included, `driver_memory: 4g`, DuckDB capped
at 4 GB). Prints per run the wall time, the seconds per step and the Delta commits it made per table, and
the ratio of the batch to the full refresh per stage and for both.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_results  # noqa: E402
from c360.datagen.generate import generate  # noqa: E402
from deltalake import DeltaTable  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def write_config(work: Path, person_only: bool, engine: str | None = None) -> Path:
    """conf/demo.yaml over `work`'s landing folder and warehouse (person sources with their deletions, and
    interaction sources unless `person_only`), on `engine` (None: the demo's choice)."""
    doc = yaml.safe_load((ROOT / "conf" / "demo.yaml").read_text())
    kinds = ("person", "deletions") if person_only else ("person", "deletions", "interaction")
    doc["sources"] = [s for s in doc["sources"] if s["kind"] in kinds]
    for source in doc["sources"]:
        source["path"] = source["path"].replace("../demo/landing", str(work / "landing"))
    doc["gold"].pop("accounts", None)
    doc.update(warehouse=str(work / "warehouse"))
    if engine:
        doc["engine"] = engine
    doc["spark"]["driver_memory"] = "4g"
    doc.setdefault("silver", {}).setdefault("linkage", {})["duckdb_memory_limit"] = "4GB"
    path = work / "c360.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def versions(warehouse: Path, layer: str) -> dict[str, int]:
    """Delta version of every table of `layer`."""
    folder = warehouse / layer
    return {p.name: DeltaTable(str(p)).version() for p in sorted(folder.iterdir()) if (p / "_delta_log").is_dir()} \
        if folder.is_dir() else {}


def c360(config: Path, stage: str, *extra: str) -> tuple[float, dict]:
    """One `c360 run` process: its wall time and the stage's summary."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "c360.cli", "run", "--config", str(config), "--stage", stage, *extra],
                          stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"c360 run --stage {stage} failed (exit {done.returncode}; its log is above)")
    return round(time.monotonic() - started, 1), json.loads(done.stdout)["stages"][stage]


def stage(config: Path, warehouse: Path, name: str, label: str, *extra: str) -> dict:
    """One run of stage `name`: wall time, mode, seconds per step, commits per table."""
    before = versions(warehouse, name)
    wall, summary = c360(config, name, *extra)
    after = versions(warehouse, name)
    row = {"stage": name, "run": label, "wall_s": wall, "mode": summary.get("mode"),
           "records": summary.get("person_records", summary.get("tables", {}).get("customer_profile")),
           "seconds_per_step": {k: round(v, 1) for k, v in summary.get("seconds_per_step", {}).items()},
           "commits": {t: v - before.get(t, -1) for t, v in after.items() if v != before.get(t)}}
    print(json.dumps(row), flush=True)
    return row


def both(config: Path, warehouse: Path, label: str, *extra: str) -> list[dict]:
    return [stage(config, warehouse, name, label, *extra) for name in ("silver", "gold")]


def bench(people: int, fraction: float, seed: int, work: Path, person_only: bool) -> list[dict]:
    """One size: the first load, a batch of `fraction`, then a full refresh of the same warehouse."""
    work.mkdir(parents=True, exist_ok=True)
    config = write_config(work, person_only)
    warehouse = work / "warehouse"
    generate(people, work / "landing", seed=seed)
    c360(config, "bronze")
    rows = both(config, warehouse, "first load (model trained)")
    generate(people, work / "landing", seed=seed, batch=2, fraction=fraction)
    c360(config, "bronze")
    rows += both(config, warehouse, f"batch of {fraction:.0%} (incremental)")
    rows += both(config, warehouse, "full refresh, same model", "--full-refresh")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, nargs="+", default=[66_000])
    parser.add_argument("--fraction", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--person-only", action="store_true", help="person sources only (no events)")
    parser.add_argument("--work", default=None, help="work folder (default: a new temporary one)")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="c360-bench-incremental-"))
    results = {people: bench(people, args.fraction, args.seed, work / f"people-{people}", args.person_only)
               for people in args.people}
    for people, rows in results.items():
        print(f"\n{people:,} people: {'stage':<7} {'run':<32} {'rows':>10} {'seconds':>8}  steps")
        for row in rows:
            steps = ", ".join(f"{k} {v}" for k, v in row["seconds_per_step"].items())
            print(f"{row['stage']:<7} {row['run']:<32} {row['records'] or 0:>10,} {row['wall_s']:>8}  {steps}")
            print(f"{'':<40} commits: {row['commits']}")
        batch = {r["stage"]: r["wall_s"] for r in rows if "incremental" in r["run"]}
        full = {r["stage"]: r["wall_s"] for r in rows if r["run"].startswith("full refresh")}
        for name in ("silver", "gold"):
            print(f"{name} batch / full refresh: {batch[name] / full[name]:.2f} ({batch[name]} s / {full[name]} s)")
        total_batch, total_full = sum(batch.values()), sum(full.values())
        print(f"both stages: {total_batch / total_full:.2f} ({total_batch:.1f} s / {total_full:.1f} s)")
    bench_results.record("incremental", [{"people": people, **row} for people, rows in results.items() for row in rows])
    print(f"work folder {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
