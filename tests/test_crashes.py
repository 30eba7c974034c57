"""Crash safety, proven (see tests/crashes.py): `c360 run` and `c360 maintain` processes killed with SIGKILL
at named places, each next process taking up what the last left; afterwards every table holds what clean runs
over the same input hold and no Delta transaction was committed twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from tests.crashes import BATCH, FIRST_LOAD, MAINTAIN, crash_matrix

PEOPLE = 40
# one warehouse, the engines taking turns: each engine is killed at some places and takes up what the other
# left. The first load dies once per stage: between a source's table and ledger commits, between two silver
# commits, between two gold publishes (a chain per engine killed at every place, also while bronze writes
# Parquet and between stages, costs ~6 and ~10 minutes: scripts/bench_faults.py runs those)
RS, SPARK = "delta-rs", "delta-spark"
IN_THE_SUITE = tuple(place for place in FIRST_LOAD if place.startswith("write:"))  # one per stage
ALTERNATING = {"first_load": list(zip((RS, SPARK, RS), IN_THE_SUITE)),
               "batch": [(RS, BATCH[0]), (SPARK, None)],
               "maintain": [(RS, MAINTAIN[0]), (RS, None)]}


@pytest.mark.slow
def test_killed_runs_complete_as_a_clean_run(project_root: Path, tmp_path: Path, spark: SparkSession,
                                             delta_spark_available: bool) -> None:
    steps = ALTERNATING if delta_spark_available else {
        part: [(RS, place) for _, place in found] for part, found in ALTERNATING.items()}
    found = crash_matrix(project_root, tmp_path, spark, {"alternating": steps}, PEOPLE)["chains"]["alternating"]
    processes = found["processes"]
    assert [(p["engine"], None if p["place"] == "(completes)" else p["place"]) for p in processes] == \
        [step for part in steps.values() for step in part]
    assert all(p["as_asked"] for p in processes), [p for p in processes if not p["as_asked"]]
    assert found["differences_after_runs"] == [] and found["differences_after_maintain"] == [], found
    assert found["committed_twice"] == [], found["committed_twice"]
    print([(p["engine"], p["place"], p["seconds"]) for p in processes])
