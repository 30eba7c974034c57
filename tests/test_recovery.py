"""Undoing a run that died between its writes: only the commits of a later run of the same app are restored
(anyone else's stay), and a retry under the same run id writes again instead of skipping (both engines)."""

from __future__ import annotations

from pyspark.sql import SparkSession

from c360.recovery import finished, transaction, undo_unfinished
from c360.storage import MergeSpec, TableStore, Txn

TABLE = "silver.state"
SCHEMA = "id int, value string"
APP = "c360/silver"


def test_a_later_run_of_the_app_is_undone_and_other_commits_are_not(store: TableStore, spark: SparkSession) -> None:
    store.overwrite(spark.createDataFrame([(1, "a"), (2, "b")], SCHEMA), TABLE, txn=Txn(APP, 5))
    last = finished(store, [TABLE, "silver.never_written"], Txn(APP, 5))
    assert last == {"versions": {TABLE: 0}, "txn": 5}
    assert undo_unfinished(store, None, APP) == {} and undo_unfinished(store, last, APP) == {}
    store.append(spark.createDataFrame([(3, "c")], SCHEMA), TABLE)  # by hand, or by another app
    store.compact(TABLE)
    assert undo_unfinished(store, last, APP) == {}, "not a run of this app: it stays"
    store.merge(spark.createDataFrame([(1, "A")], SCHEMA), TABLE, MergeSpec(keys=("id",)), txn=Txn(APP, 9))
    assert undo_unfinished(store, last, APP) == {TABLE: 0}
    assert sorted(tuple(r) for r in store.read(TABLE).collect()) == [(1, "a"), (2, "b")]
    # the dead run had id 9: its retry must not skip its writes as already committed
    assert transaction(store, Txn(APP, 9), [TABLE]) == Txn(APP, 10)
    assert transaction(store, Txn(APP, 12), [TABLE]) == Txn(APP, 12)
    assert transaction(store, Txn(APP, 9), []) == Txn(APP, 9)
