"""Faults measured: lock races, readers during a gold run, processes killed at named places, damaged input.

1. Lock races: two processes race for the warehouse lock `--lock-rounds` times on a local folder and on a real
   S3 API (moto's server on loopback), every fifth holder "killed" holding it (its lease must run out before
   anyone takes it over). Printed: rounds, holdings, takeovers of a dead holder's lock, epochs taken twice and
   overlapping holders (both must be 0).
2. Readers during a run: a warehouse of `--people` people after a first full run and a second batch through
   silver; while gold takes the batch in a thread, readers query `c360 sql`'s view of gold in a loop, asking
   whether `customer_profile` and `customer_xref` hold the same customers. Printed: queries and inconsistent
   answers as readers see them by default (the last completed run: must be 0) and with `--latest` (tables as
   they stand, for comparison).
3. Kill points: the crash matrix of tests/crashes.py on both Delta engines over `--kill-people` people: every
   place a `c360 run` or `c360 maintain` process is killed with SIGKILL, then the runs that complete. Printed
   per engine: places tried and killed there, the tables and columns that differ from clean runs afterwards
   and transactions committed twice (both must be none), seconds per process.
4. Damaged input: c360.datagen.damage writes `--damage-records` records (CSV, NDJSON, Parquet) with one row in
   a hundred damaged in 24 ways and a manifest; `c360 run --stage bronze` lands them, and bronze is reconciled
   against the manifest. Printed: damaged rows, matched in quarantine with the manifest's reason, missing,
   wrong reason, unexpected, good rows in bronze against the manifest's, seconds, and the new table versions
   a second run made (must be 0).

Results go through bench_results (`faults`: 1 and 2, `crashes`: 3, `damage`: 4).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import bench_results  # noqa: E402

from c360 import pipeline  # noqa: E402
from c360.config import parse_config  # noqa: E402
from c360.datagen.generate import generate  # noqa: E402
from c360.session import session_for  # noqa: E402
from c360.sql import query  # noqa: E402
from c360.storage import open_store  # noqa: E402

BENCHMARKS = {"faults": ("lock race", "readers during a gold run"), "crashes": ("kill points",),
              "damage": ("damaged landing",)}
LEASE = 0.6
GAP = 0.25
DISAGREE = ("SELECT (SELECT count(*) FROM (SELECT customer_id FROM gold.customer_profile EXCEPT "
            "SELECT customer_id FROM gold.customer_xref)) + (SELECT count(*) FROM (SELECT customer_id FROM "
            "gold.customer_xref EXCEPT SELECT customer_id FROM gold.customer_profile)) AS apart")


def race(where: str, rounds: int, work: Path) -> list[dict]:
    """Two racers (tests/lock/racer.py) for `rounds` rounds; every holding they logged."""
    starts = [time.time() + 3 + i * GAP for i in range(rounds)]
    logs = [work / f"racer{i}.json" for i in range(2)]
    racers = [subprocess.Popen([sys.executable, "-m", "tests.lock.racer", where, str(log), str(LEASE), *map(str, starts)],
                               cwd=ROOT) for log in logs]
    if [r.wait() for r in racers] != [0, 0]:
        raise SystemExit("a racer failed")
    return [dict(h, racer=i) for i, log in enumerate(logs) for h in json.loads(log.read_text())]


def judged(store: str, rounds: int, held: list[dict]) -> dict:
    """The race's figures: epochs taken twice and holders that overlapped must both be 0."""
    epochs = [h["epoch"] for h in held]
    spans = sorted((h["took"], h["renewed"] + LEASE if h["died"] else h["let_go"]) for h in held)
    overlapping = sum(1 for (_, end), (start, _) in zip(spans, spans[1:]) if start < end - 1e-3)
    return {"check": "lock race", "store": store, "rounds": rounds, "holdings": len(held),
            "dead_holders_taken_over": sum(1 for h in held if h["died"] and h["epoch"] < max(epochs)),
            "epochs_taken_twice": len(epochs) - len(set(epochs)), "overlapping_holders": overlapping}


def lock_races(rounds: int, work: Path) -> list[dict]:
    """The race on a local folder and on moto's S3 server."""
    from tests.lock.conftest import BUCKET, client
    from moto.server import ThreadedMotoServer

    local = work / "local"
    local.mkdir(parents=True)
    rows = [judged("local", rounds, race(str(local / "_lock"), rounds, local))]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client(endpoint).create_bucket(Bucket=BUCKET)
        remote = work / "s3"
        remote.mkdir()
        rows.append(judged("s3 (moto server)", rounds, race(endpoint, rounds, remote)))
    finally:
        server.stop()
    return rows


def _config(work: Path):  # noqa: ANN202 - C360Config
    doc = yaml.safe_load((ROOT / "conf" / "demo.yaml").read_text())
    for source in doc["sources"]:
        source["path"] = source["path"].replace("../demo/landing", str(work / "landing"))
    doc.update(warehouse=str(work / "warehouse"), engine="delta-rs")
    return parse_config(doc, work / "c360.yaml")


def readers(people: int, work: Path) -> dict:
    """Readers in a loop while gold takes a batch; their inconsistent answers, pinned and latest."""
    generate(people, work / "landing", seed=7)
    config = _config(work)
    spark, engine = session_for(config, quiet=True)
    store = open_store(spark, engine.name, config.warehouse)

    def ctx() -> pipeline.RunContext:
        return pipeline.RunContext(config, spark, store, engine, pipeline.new_run_id())

    pipeline.run(ctx(), "all")
    generate(people, work / "landing", seed=7, batch=2, fraction=0.2)
    for stage in ("bronze", "silver"):
        pipeline.run(ctx(), stage)
    done: dict = {}
    started = time.monotonic()
    writer = threading.Thread(target=lambda: done.update(pipeline.run(ctx(), "gold")))
    writer.start()
    answers = {"pinned": [], "latest": []}
    while writer.is_alive():
        answers["pinned"].append(query(store, DISAGREE).first()["apart"])
        answers["latest"].append(query(store, DISAGREE, latest=True).first()["apart"])
    writer.join()
    return {"check": "readers during a gold run", "people": people, "gold_s": round(time.monotonic() - started, 1),
            "gold_mode": done["gold"]["mode"]["why"], "queries": len(answers["pinned"]),
            "inconsistent": sum(1 for a in answers["pinned"] if a), "queries_latest": len(answers["latest"]),
            "inconsistent_latest": sum(1 for a in answers["latest"] if a)}


def kill_points(people: int, work: Path) -> list[dict]:
    """The crash matrix on both engines (delta-spark when its jars are found)."""
    import os

    from tests.crashes import crash_matrix, plan

    config = _config(work)
    spark, _ = session_for(config, quiet=True)
    engines = ("delta-rs", "delta-spark") if os.environ.get("C360_DELTA_JARS") else ("delta-rs",)
    started = time.monotonic()
    result = crash_matrix(ROOT, work, spark, {e: plan(e) for e in engines}, people)
    rows = []
    for engine, found in result["chains"].items():
        kills = [p for p in found["processes"] if p["place"] != "(completes)"]
        rows.append({"check": "kill points", "engine": engine, "people": people,
                     "places": [f"{p['command']} {p['place']}" for p in kills],
                     "tried": len(kills), "killed_there": sum(p["as_asked"] for p in kills),
                     "completed_after": sum(p["as_asked"] for p in found["processes"] if p["place"] == "(completes)"),
                     "differences_after_runs": found["differences_after_runs"],
                     "differences_after_maintain": found["differences_after_maintain"],
                     "committed_twice": len(found["committed_twice"]),
                     "seconds_per_process": [p["seconds"] for p in found["processes"]],
                     "matrix_s": round(time.monotonic() - started, 1)})
    return rows


def damaged(records: int, work: Path) -> dict:
    """A damaged landing through `c360 run --stage bronze`, reconciled against its manifest; then once more."""
    from c360.config import load_config
    from c360.datagen.damage import WAYS, reconcile, write_damaged

    started = time.monotonic()
    manifest = write_damaged(work, records)
    written_s = time.monotonic() - started

    def bronze() -> float:
        begun = time.monotonic()
        subprocess.run([sys.executable, "-m", "c360.cli", "run", "--stage", "bronze", "--config",
                        str(work / "c360.yaml")], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.monotonic() - begun

    first_s = bronze()
    config = load_config(work / "c360.yaml")
    spark, engine = session_for(config, quiet=True)
    store = open_store(spark, engine.name, config.warehouse)
    found = reconcile(store, manifest)
    versions = {t: store.version(t) for t in store.list_tables("bronze")}
    second_s = bronze()
    again = sum(1 for t, v in versions.items() if store.version(t) != v)
    return {"check": "damaged landing", "records": records, "damaged_rows": manifest["damaged_rows"],
            "damaged_share": manifest["damaged_share"], "ways": len(manifest["ways"]), "ways_known": len(WAYS),
            "quarantine_entries_expected": found["damaged_entries"], "matched": found["matched"],
            "missing": found["missing"], "wrong_reason": found["wrong_reason"], "unexpected": found["unexpected"],
            "good_expected": found["good_expected"], "good_in_bronze": found["good_in_bronze"],
            "reconciled": found["ok"], "examples": found["examples"], "write_s": round(written_s, 1),
            "bronze_s": round(first_s, 1), "second_run_s": round(second_s, 1), "second_run_new_versions": again}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock-rounds", type=int, default=200)
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--kill-people", type=int, default=200)
    parser.add_argument("--damage-records", type=int, default=1_000_000)
    parser.add_argument("--checks", nargs="+", default=["lock", "readers", "kills", "damage"],
                        choices=["lock", "readers", "kills", "damage"])
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "c360-bench-faults"))
    args = parser.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    rows = []
    if "lock" in args.checks:
        rows += lock_races(args.lock_rounds, work / "lock")
    if "readers" in args.checks:
        rows.append(readers(args.people, work / "readers"))
    if "kills" in args.checks:
        rows += kill_points(args.kill_people, work / "kills")
    if "damage" in args.checks:
        rows.append(damaged(args.damage_records, work / "damage"))
    for row in rows:
        print(json.dumps(row))
    for name, checks in BENCHMARKS.items():  # one results file per part, so the docs show each part's newest
        part = [r for r in rows if r["check"] in checks]
        if part:
            bench_results.record(name, part)
    return 0


if __name__ == "__main__":
    sys.exit(main())
