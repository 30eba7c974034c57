"""Undoing a run that died between its writes: only data commits after the last finished run's versions are
restored (maintenance stays), and a retry under the same run id writes again instead of skipping (both
engines)."""

from __future__ import annotations

from pyspark.sql import SparkSession

from c360.recovery import finished_versions, transaction, undo_unfinished
from c360.storage import MergeSpec, TableStore, Txn

TABLE = "silver.state"
SCHEMA = "id int, value string"


def test_data_written_after_the_last_finished_run_is_restored_and_maintenance_is_not(store: TableStore,
                                                                                     spark: SparkSession) -> None:
    store.overwrite(spark.createDataFrame([(1, "a"), (2, "b")], SCHEMA), TABLE, txn=Txn("c360/silver", 5))
    store.append(spark.createDataFrame([(3, "c")], SCHEMA), TABLE)
    finished = finished_versions(store, [TABLE, "silver.never_written"])
    assert finished == {TABLE: 1}
    store.compact(TABLE)
    assert undo_unfinished(store, finished) == {}, "a compaction changes no rows"
    store.merge(spark.createDataFrame([(1, "A")], SCHEMA), TABLE, MergeSpec(keys=("id",)), txn=Txn("c360/silver", 9))
    assert undo_unfinished(store, finished) == {TABLE: 1}
    assert sorted(tuple(r) for r in store.read(TABLE).collect()) == [(1, "a"), (2, "b"), (3, "c")]
    # the dead run had id 9: its retry must not skip its writes as already committed
    assert transaction(store, Txn("c360/silver", 9), [TABLE]) == Txn("c360/silver", 10)
    assert transaction(store, Txn("c360/silver", 12), [TABLE]) == Txn("c360/silver", 12)
    assert transaction(store, Txn("c360/silver", 9), []) == Txn("c360/silver", 9)
