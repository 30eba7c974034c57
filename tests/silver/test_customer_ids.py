"""The customer id lifecycle: stable ids, merges, splits, retirements and their redirects."""

from __future__ import annotations

from datetime import datetime

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession

from c360.silver import customer_ids
from c360.silver.customer_ids import REDIRECT_SCHEMA, lifecycle
T0, T1, T2 = datetime(2026, 1, 1), datetime(2026, 6, 1), datetime(2026, 12, 1)


def clusters(spark: SparkSession, groups: str) -> DataFrame:
    """(record_key, component) of one-letter records grouped as in 'abc d': the label is the smallest key."""
    return spark.createDataFrame([(k, min(g)) for g in groups.split() for k in g], "record_key string, component string")


def previous(spark: SparkSession, ids: dict[str, str], created: dict[str, datetime] | None = None) -> DataFrame:
    """An earlier identity map: record -> id, each id created at `created` (default T0)."""
    rows = [(k, v, (created or {}).get(v, T0)) for k, v in ids.items()]
    return spark.createDataFrame(rows, customer_ids.IDS_SCHEMA)


def as_dict(ids: DataFrame) -> dict[str, str]:
    return {r["record_key"]: r["customer_id"] for r in ids.collect()}


def redirects(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    """Redirect rows; those without `by` are the linkage's."""
    return spark.createDataFrame([(*r, "c360") if len(r) == 5 else r for r in rows], REDIRECT_SCHEMA)


def test_ids_are_opaque_and_stable(spark: SparkSession) -> None:
    first = lifecycle(clusters(spark, "ab cd"), None, None, "run1", T0)
    ids = as_dict(first.ids)
    assert ids["a"] == ids["b"] != ids["c"] == ids["d"]
    assert all(i.startswith("C") and len(i) == 21 and i[1:] != "a" for i in ids.values())
    assert {r["customer_created_at"] for r in first.ids.collect()} == {T0}
    again = lifecycle(clusters(spark, "ab cd"), first.ids, first.table, "run2", T1)
    assert as_dict(again.ids) == ids and again.table.isEmpty()
    assert {r["customer_created_at"] for r in again.ids.collect()} == {T0}, "a kept id keeps its creation time"


def test_a_merge_keeps_the_larger_customer_and_redirects_the_other(spark: SparkSession) -> None:
    before = previous(spark, {"a": "C1", "b": "C1", "c": "C1", "d": "C2"})
    got = lifecycle(clusters(spark, "abcde"), before, None, "r", T1)
    assert set(as_dict(got.ids).values()) == {"C1"}, "the merged cluster keeps the id with most of its records"
    assert_df_equality(got.redirects, redirects(spark, [("C2", "C1", "merge", "r", T1)]), ignore_nullable=True)


def test_moves_of_customers_holding_a_newly_labelled_record_are_the_stewards(spark: SparkSession) -> None:
    before = previous(spark, {"a": "C1", "b": "C1", "c": "C2", "d": "C3", "e": "C4"})
    touched = spark.createDataFrame([("c",)], "record_key string")
    got = lifecycle(clusters(spark, "abc d e"), before, None, "r", T1, touched=touched)
    assert_df_equality(got.redirects, redirects(spark, [("C2", "C1", "merge", "r", T1, "steward")]), ignore_nullable=True)
    assert got.churn["customers_moved_by_steward"] == 1


def test_a_merge_of_equal_customers_keeps_the_one_created_first(spark: SparkSession) -> None:
    before = previous(spark, {"a": "C9", "b": "C1"}, created={"C9": T0, "C1": T1})
    got = lifecycle(clusters(spark, "ab"), before, None, "r", T2)
    assert set(as_dict(got.ids).values()) == {"C9"}


def test_a_split_leaves_the_id_with_the_larger_part(spark: SparkSession) -> None:
    before = previous(spark, {"a": "C1", "b": "C1", "c": "C1"})
    got = lifecycle(clusters(spark, "a bc"), before, None, "r", T1)
    ids = as_dict(got.ids)
    assert ids["b"] == ids["c"] == "C1" and ids["a"] != "C1"
    assert_df_equality(got.redirects, redirects(spark, [("C1", ids["a"], "split", "r", T1)]), ignore_nullable=True)
    created = {r["customer_id"]: r["customer_created_at"] for r in got.ids.collect()}
    assert created == {"C1": T0, ids["a"]: T1}


def test_an_id_that_loses_its_cluster_lives_on_where_it_still_has_records(spark: SparkSession) -> None:
    # C2's larger part (d, e) joins the bigger C1; its smaller part (f) keeps C2 rather than a new id
    before = previous(spark, {"a": "C1", "b": "C1", "c": "C1", "d": "C2", "e": "C2", "f": "C2"})
    got = lifecycle(clusters(spark, "abcde f"), before, None, "r", T1)
    assert as_dict(got.ids) == {"a": "C1", "b": "C1", "c": "C1", "d": "C1", "e": "C1", "f": "C2"}
    assert_df_equality(got.redirects, redirects(spark, [("C2", "C1", "split", "r", T1)]), ignore_nullable=True)


def test_deleted_records_retire_their_id(spark: SparkSession) -> None:
    before = previous(spark, {"a": "C1", "b": "C2"})
    got = lifecycle(clusters(spark, "a"), before, None, "r", T1)
    assert as_dict(got.ids) == {"a": "C1"}
    assert_df_equality(got.redirects, redirects(spark, [("C2", None, "retire", "r", T1)]), ignore_nullable=True)


def test_chains_collapse_to_the_id_that_holds_the_records_now(spark: SparkSession) -> None:
    history = redirects(spark, [("C0", "C2", "merge", "r1", T0), ("C5", "C2", "split", "r1", T0),
                                ("C6", "C3", "merge", "r1", T0), ("C7", "C3", "split", "r1", T0)])
    # C2 merges into C1 and C3 retires in this run
    before = previous(spark, {"a": "C1", "b": "C1", "c": "C2", "d": "C3"})
    got = lifecycle(clusters(spark, "abc"), before, history, "r2", T1)
    expected = redirects(spark, [("C0", "C1", "merge", "r1", T0), ("C5", "C1", "split", "r1", T0),
                                 ("C6", None, "retire", "r2", T1),
                                 ("C2", "C1", "merge", "r2", T1), ("C3", None, "retire", "r2", T1)])
    assert_df_equality(got.table, expected, ignore_row_order=True, ignore_nullable=True)


def test_an_id_that_comes_back_drops_its_redirect(spark: SparkSession) -> None:
    # C2 split off from C1 earlier; now it merges back into C1: C1 no longer points at anyone
    history = redirects(spark, [("C1", "C2", "split", "r1", T0)])
    before = previous(spark, {"a": "C1", "b": "C1", "c": "C2"})
    got = lifecycle(clusters(spark, "abc"), before, history, "r2", T1)
    assert_df_equality(got.table, redirects(spark, [("C2", "C1", "merge", "r2", T1)]), ignore_nullable=True)


def test_a_new_id_never_reuses_one_handed_out_before(spark: SparkSession) -> None:
    first = lifecycle(clusters(spark, "abc"), None, None, "r1", T0)
    old = first.ids.first()["customer_id"]
    # 'a' splits off; the piece {b, c} keeps the old id, and 'a' (whose key seeded it) gets another one
    after = as_dict(lifecycle(clusters(spark, "a bc"), first.ids, None, "r2", T1).ids)
    assert after["b"] == after["c"] == old and after["a"] != old
    # an id merged away long ago (only in the redirect table) is not handed out again either
    history = redirects(spark, [(old, "C9", "merge", "r2", T1)])
    again = as_dict(lifecycle(clusters(spark, "abc"), None, history, "r3", T2).ids)
    assert again["a"] != old


def test_matching_finishes_conflict_chains_on_the_driver(spark: SparkSession, monkeypatch) -> None:
    monkeypatch.setattr(customer_ids, "SPARK_ROUNDS", 1)
    # round 1 gives {a..d} to C1; C2 then takes the cluster of e, C3 that of g (its only one left)
    before = previous(spark, {"a": "C1", "b": "C1", "c": "C1", "d": "C2", "e": "C2", "f": "C3", "g": "C3"})
    got = lifecycle(clusters(spark, "abcd ef g"), before, None, "r", T1)
    assert as_dict(got.ids) == {"a": "C1", "b": "C1", "c": "C1", "d": "C1", "e": "C2", "f": "C2", "g": "C3"}


def test_churn_counts_each_kind_of_change(spark: SparkSession) -> None:
    before = previous(spark, {"a": "C1", "b": "C1", "c": "C2", "d": "C3", "e": "C4", "f": "C4"})
    got = lifecycle(clusters(spark, "abc ef g"), before, None, "r", T1)
    ids = as_dict(got.ids)
    assert ids["g"] not in ("C1", "C2", "C3", "C4")
    assert got.churn == {
        "customers_created": 1, "customers_merged": 1, "customers_split": 0, "customers_retired": 1,
        "records_reassigned": 1, "customers_moved_by_steward": 0}
