"""Faults measured: lock races and readers during a gold run.

1. Lock races: two processes race for the warehouse lock `--lock-rounds` times on a local folder and on a real
   S3 API (moto's server on loopback), every fifth holder "killed" holding it (its lease must run out before
   anyone takes it over). Printed: rounds, holdings, takeovers of a dead holder's lock, epochs taken twice and
   overlapping holders (both must be 0).
2. Readers during a run: a warehouse of `--people` people after a first full run and a second batch through
   silver; while gold takes the batch in a thread, readers query `c360 sql`'s view of gold in a loop, asking
   whether `customer_profile` and `customer_xref` hold the same customers. Printed: queries and inconsistent
   answers as readers see them by default (the last completed run: must be 0) and with `--latest` (tables as
   they stand, for comparison).

Results go through bench_results (`faults`).
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock-rounds", type=int, default=200)
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "c360-bench-faults"))
    args = parser.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    rows = lock_races(args.lock_rounds, work / "lock")
    rows.append(readers(args.people, work / "readers"))
    for row in rows:
        print(json.dumps(row))
    bench_results.record("faults", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
