"""A small batch on top of a full load, against a full refresh of the same records, silver stage.

    python scripts/bench_incremental.py --people 66000 660000 [--fraction 0.01] [--work DIR] [--seed 42]

Per size: generates batch 1 for that many people (about 1.5 person records each; person sources only), lands it and
runs the silver stage (a new model is trained: the first load); then writes a later batch whose new and
changed people are `--fraction` of the people, lands it and runs the silver stage again (incremental), and
then `--full-refresh` on the same warehouse and model. Each silver run is its own `c360 run` process (JVM
start included, `driver_memory: 4g`, DuckDB capped at 4 GB). Prints per run the wall time, the seconds per
step and the Delta commits it made per silver table, and the ratio of the batch to the full refresh.
Gold is not incremental yet, so only silver is measured.
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

from c360.datagen.generate import generate  # noqa: E402
from deltalake import DeltaTable  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def write_config(work: Path) -> Path:
    """conf/demo.yaml over `work`'s landing folder and warehouse, person sources only."""
    doc = yaml.safe_load((ROOT / "conf" / "demo.yaml").read_text())
    doc["sources"] = [s for s in doc["sources"] if s["kind"] == "person"]
    for source in doc["sources"]:
        source["path"] = source["path"].replace("../demo/landing", str(work / "landing"))
    doc["gold"].pop("accounts", None)
    doc.update(warehouse=str(work / "warehouse"))
    doc["spark"]["driver_memory"] = "4g"
    doc.setdefault("silver", {}).setdefault("linkage", {})["duckdb_memory_limit"] = "4GB"
    path = work / "c360.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def versions(warehouse: Path) -> dict[str, int]:
    """Delta version of every silver table."""
    folder = warehouse / "silver"
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


def silver(config: Path, warehouse: Path, label: str, *extra: str) -> dict:
    before = versions(warehouse)
    wall, summary = c360(config, "silver", *extra)
    after = versions(warehouse)
    row = {"run": label, "wall_s": wall, "records": summary["person_records"], "mode": summary.get("mode"),
           "seconds_per_step": {k: round(v, 1) for k, v in summary.get("seconds_per_step", {}).items()},
           "commits": {t: v - before.get(t, -1) for t, v in after.items() if v != before.get(t)}}
    print(json.dumps(row), flush=True)
    return row


def bench(people: int, fraction: float, seed: int, work: Path) -> list[dict]:
    """One size: the first load, a batch of `fraction`, then a full refresh of the same warehouse."""
    work.mkdir(parents=True, exist_ok=True)
    config = write_config(work)
    warehouse = work / "warehouse"
    generate(people, work / "landing", seed=seed)
    c360(config, "bronze")
    rows = [silver(config, warehouse, "first load (model trained)")]
    generate(people, work / "landing", seed=seed, batch=2, fraction=fraction)
    c360(config, "bronze")
    rows.append(silver(config, warehouse, f"batch of {fraction:.0%} (incremental)"))
    rows.append(silver(config, warehouse, "full refresh, same model", "--full-refresh"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, nargs="+", default=[66_000])
    parser.add_argument("--fraction", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", default=None, help="work folder (default: a new temporary one)")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="c360-bench-incremental-"))
    results = {people: bench(people, args.fraction, args.seed, work / f"people-{people}") for people in args.people}
    for people, rows in results.items():
        print(f"\n{people:,} people: {'run':<32} {'records':>10} {'seconds':>8}  steps")
        for row in rows:
            steps = ", ".join(f"{k} {v}" for k, v in row["seconds_per_step"].items())
            print(f"{row['run']:<32} {row['records']:>10,} {row['wall_s']:>8}  {steps}")
            print(f"{'':<32} commits: {row['commits']}")
        batch, full = rows[1]["wall_s"], rows[2]["wall_s"]
        print(f"batch / full refresh: {batch / full:.2f} ({batch} s / {full} s)")
    print(f"work folder {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
