"""Readers see whole runs: `c360 sql` and `c360 sql-server` (asked over JDBC on loopback by beeline) read each
table as the last completed silver or gold run left it, while a gold run writes its tables one after another;
`latest` reads them as they stand. A run over input already taken commits nothing."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from c360 import pipeline, snapshots
from c360.datagen.generate import generate
from c360.session import EngineChoice
from c360.sql import query
from c360.sql_server import register_snapshots
from c360.storage import TableStore
from tests.sql_server import beeline, sql_server
from tests.privacy.people import landed_warehouse

SOURCES = ("crm_contacts", "shop_customers", "loyalty_members", "shop_orders")
ROUNDS = 10  # beeline's queries, one after another from when the gold run starts (about 2 s each)
# customers of the profile without xref rows, and the other way round: 0 whenever both come from one run
DISAGREE = ("SELECT (SELECT count(*) FROM (SELECT customer_id FROM gold.customer_profile EXCEPT "
            "SELECT customer_id FROM gold.customer_xref)) + (SELECT count(*) FROM (SELECT customer_id FROM "
            "gold.customer_xref EXCEPT SELECT customer_id FROM gold.customer_profile)) AS apart, "
            "(SELECT count(*) FROM gold.customer_profile) AS profiles")


def jdbc_readers(port: int, script: Path, rounds: int) -> subprocess.Popen:
    """beeline asking the server DISAGREE `rounds` times in a row, started now (answers as CSV on stdout)."""
    script.write_text((DISAGREE + ";\n") * rounds)
    return subprocess.Popen([str(beeline()), "-u", f"jdbc:hive2://localhost:{port}/", "--outputformat=csv2",
                             "--silent=true", "--showHeader=false", "-f", str(script)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def test_sql_reads_the_tables_of_completed_runs(store: TableStore, spark: SparkSession) -> None:
    store.append(spark.createDataFrame([(1, "a")], "id long, name string"), "gold.sales")
    runs = spark.createDataFrame([("r1", json.dumps({"finished": {"versions": {"gold.sales": 0}, "txn": 1}}))],
                                 "run_id string, summary string").selectExpr("*", "current_timestamp() AS finished_at")
    store.append(runs, "gold._runs")
    store.append(spark.createDataFrame([(2, "b")], "id long, name string"), "gold.sales")  # a run in progress
    assert snapshots.completed(store) == {"gold.sales": 0}
    assert query(store, "SELECT count(*) FROM gold.sales").first()[0] == 1
    assert query(store, "SELECT count(*) FROM gold.sales", latest=True).first()[0] == 2
    known: dict = {}
    assert "gold.sales" in register_snapshots(store, known) and known["gold.sales"] == 0
    assert spark.sql("SELECT count(*) FROM global_temp.sales").first()[0] == 1
    assert register_snapshots(store, known, latest=True) == ["gold.sales"] and known["gold.sales"] == 1


@pytest.mark.slow
def test_readers_during_a_gold_run_only_see_whole_runs(project_root: Path, tmp_path: Path, spark: SparkSession) -> None:
    config, store = landed_warehouse(project_root, tmp_path, "delta-rs", spark, SOURCES, people=60)

    def ctx() -> pipeline.RunContext:
        return pipeline.RunContext(config, spark, store, EngineChoice("delta-rs", "test"), pipeline.new_run_id())

    first = threading.Thread(target=lambda: pipeline.run(ctx(), "all"))
    first.start()  # while the server starts
    done: dict = {}
    with sql_server(tmp_path / "c360.yaml", refresh_seconds=1) as port:
        first.join()
        before = query(store, DISAGREE).first()
        generate(60, tmp_path / "landing", seed=5, batch=2, fraction=0.3)
        for stage in ("bronze", "silver"):
            pipeline.run(ctx(), stage)
        remote = jdbc_readers(port, tmp_path / "queries.sql", rounds=ROUNDS)
        writer = threading.Thread(target=lambda: done.update(pipeline.run(ctx(), "gold")))
        writer.start()
        answers = []
        while writer.is_alive() or not answers:
            answers.append(tuple(query(store, DISAGREE).first()))
            time.sleep(1.0)  # leave the run a core (a query reads a snapshot of two tables: about 1 s)
        writer.join()
        out, _ = remote.communicate(timeout=600)
    # one "apart,profiles" line per answer, after whatever beeline's console prints before it on the line
    served = [(int(m[1]), int(m[2])) for line in out.splitlines() if (m := re.search(r"(\d+),(\d+)\s*$", line))]
    assert len(served) == ROUNDS and all(apart == 0 for apart, _ in served), out[-2000:]
    assert done["gold"]["mode"]["incremental"] is True and done["gold"]["published"], done["gold"]
    assert all(apart == 0 for apart, _ in answers), answers
    after = query(store, DISAGREE).first()
    assert {profiles for _, profiles in answers + served} <= {before["profiles"], after["profiles"]}, (answers, served)
    assert after["apart"] == 0 and after["profiles"] != before["profiles"]
    versions = {t: store.version(t) for t in store.list_tables()}
    again = pipeline.run(ctx(), "all")  # the same input once more: no table gets a new version
    assert {t: store.version(t) for t in store.list_tables()} == versions, again
