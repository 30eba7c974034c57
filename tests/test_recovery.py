"""Undoing a run that died between its writes: only the commits of a later run of the same app are undone
(anyone else's before them stay, and one between them stops the run with a message), and a retry under the
same run id writes again instead of skipping (both engines)."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from c360.errors import C360Error
from c360.recovery import finished, transaction, undo_unfinished
from c360.storage import MergeSpec, TableStore, Txn

TABLE = "silver.state"
SCHEMA = "id int, value string"
APP = "c360/silver"


def _rows(store: TableStore) -> list[tuple]:
    return sorted(tuple(r) for r in store.read(TABLE).collect())


def test_a_later_run_of_the_app_is_undone_and_other_commits_are_not(store: TableStore, spark: SparkSession) -> None:
    store.overwrite(spark.createDataFrame([(1, "a"), (2, "b")], SCHEMA), TABLE, txn=Txn(APP, 5))
    last = finished(store, [TABLE, "silver.never_written"], Txn(APP, 5))
    assert last == {"versions": {TABLE: 0}, "txn": 5}
    assert undo_unfinished(store, None, APP) == {} and undo_unfinished(store, last, APP) == {}
    store.append(spark.createDataFrame([(3, "c")], SCHEMA), TABLE)  # by hand, or by another app
    store.compact(TABLE)
    assert undo_unfinished(store, last, APP) == {}, "not a run of this app: it stays"
    before_dead_run = store.version(TABLE)
    store.merge(spark.createDataFrame([(1, "A")], SCHEMA), TABLE, MergeSpec(keys=("id",)), txn=Txn(APP, 9))
    assert store.commit_transactions(TABLE, store.version(TABLE)) == {APP: 9}
    assert undo_unfinished(store, last, APP) == {TABLE: before_dead_run}
    assert _rows(store) == [(1, "a"), (2, "b"), (3, "c")], "the row added by hand survives; the dead run's MERGEs go"
    # the dead run had id 9: its retry must not skip its writes as already committed
    assert transaction(store, Txn(APP, 9), [TABLE]) == Txn(APP, 10)
    assert transaction(store, Txn(APP, 12), [TABLE]) == Txn(APP, 12)
    assert transaction(store, Txn(APP, 9), []) == Txn(APP, 9)


def test_another_writer_between_the_dead_runs_commits_stops_the_run(store: TableStore, spark: SparkSession) -> None:
    store.overwrite(spark.createDataFrame([(1, "a")], SCHEMA), TABLE, txn=Txn(APP, 5))
    last = finished(store, [TABLE], Txn(APP, 5))
    store.merge(spark.createDataFrame([(1, "A")], SCHEMA), TABLE, MergeSpec(keys=("id",)), txn=Txn(APP, 9))
    store.append(spark.createDataFrame([(2, "by hand")], SCHEMA), TABLE)
    # its retry (a later transaction) died too, after the hand-made commit
    store.merge(spark.createDataFrame([(1, "AA")], SCHEMA), TABLE, MergeSpec(keys=("id",)), txn=Txn(APP, 10))
    with pytest.raises(C360Error, match=r"silver.state: a run of c360/silver stopped midway, and WRITE at version 2 "
                                        r"by another writer came between its commits \(versions 1, 3\)"):
        undo_unfinished(store, last, APP)
    assert _rows(store) == [(1, "AA"), (2, "by hand")], "nothing is restored when the commits cannot be separated"
