"""Transparency at size: a subject access export from a warehouse of N people, and what pseudonymised
analytics copies add to a gold run.

    python scripts/bench_transparency.py --people 100000 [--work DIR]

Builds (or reuses) the warehouse of `scripts/bench_erase.py` in the work folder and works on a copy of it,
each step one `c360` process the way an operator starts it (JVM start included):

1. `c360 run --stage gold --full-refresh`: gold computed whole (profiles, timeline, the consent rule, contact
   permissions), the baseline.
2. `c360 export-subject` of a customer with records in at least three sources, by e-mail, as JSON and as
   HTML: seconds, bytes, tables and rows in the export.
3. The same full gold run with `gold.pseudonymised` naming the profile, metrics, timeline and contact
   permissions: the difference to 1 is what the analytics copies cost.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_results  # noqa: E402
from bench_erase import copy, customers, prepared  # noqa: E402
from deltalake import DeltaTable  # noqa: E402

COPIES = ["customer_profile", "customer_metrics", "customer_interactions", "contact_permissions"]


def c360(*args: str) -> tuple[float, str]:
    """One c360 process: its wall seconds and stdout (its log goes to our stderr)."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "c360.cli", *args], stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"c360 {args[0]} failed (exit {done.returncode}; its log is above)")
    return round(time.monotonic() - started, 1), done.stdout


def gold_run(config: Path) -> dict:
    """A full gold run: wall seconds and the gold summary's own steps."""
    wall, out = c360("run", "--config", str(config), "--stage", "gold", "--full-refresh")
    gold = json.loads(out)["stages"]["gold"]
    return {"wall_s": wall, "seconds_per_step": gold.get("seconds_per_step", {}), "tables": gold.get("tables", {}),
            "tracking_events_withheld": gold.get("tracking_events_withheld")}


def export(config: Path, email: str, fmt: str) -> dict:
    """One export-subject process: seconds, bytes and (for JSON) tables and rows in the export."""
    target = config.parent / f"subject.{fmt}"
    wall, _ = c360("export-subject", "--config", str(config), "--email", email, "--output", str(target), "--format", fmt)
    row = {"export": fmt, "wall_s": wall, "bytes": target.stat().st_size}
    if fmt == "json":
        held = json.loads(target.read_text())["held_in"]
        row |= {"tables": len(held), "rows": sum(held.values())}
    return row


def main() -> int:
    args, work = prepared(__doc__, "transparency")
    config = copy(work, "transparency")
    rows = [{"people": args.people, "run": "gold, full", **gold_run(config)}]
    print(json.dumps(rows[-1]), flush=True)
    ids = DeltaTable(str(config.parent / "warehouse" / "silver" / "identity_map")).to_pyarrow_table(
        columns=["record_key", "customer_id"]).to_pydict()
    records = DeltaTable(str(config.parent / "warehouse" / "silver" / "person_records")).to_pyarrow_table(
        columns=["record_key", "email"]).to_pydict()
    email_of = {k: e for k, e in zip(records["record_key"], records["email"]) if e}
    rich = set(customers(config.parent / "warehouse", 50))
    email = next(email_of[k] for k, c in zip(ids["record_key"], ids["customer_id"]) if c in rich and k in email_of)
    for fmt in ("json", "html"):
        rows.append({"people": args.people, **export(config, email, fmt)})
        print(json.dumps(rows[-1]), flush=True)
    doc = yaml.safe_load(config.read_text())
    doc.setdefault("gold", {})["pseudonymised"] = COPIES
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    rows.append({"people": args.people, "run": "gold, full, with analytics copies", **gold_run(config)})
    print(json.dumps(rows[-1]), flush=True)
    base, with_copies = rows[0]["wall_s"], rows[-1]["wall_s"]
    print(f"\n{args.people:,} people: gold full {base} s, with analytics copies {with_copies} s "
          f"(x{with_copies / base:.2f}); export JSON {rows[1]['wall_s']} s ({rows[1]['tables']} tables, "
          f"{rows[1]['rows']} rows), HTML {rows[2]['wall_s']} s")
    bench_results.record("transparency", rows)
    print(f"work folder {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
