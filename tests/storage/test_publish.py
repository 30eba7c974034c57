"""Tables are published as the rows that changed: one MERGE per table, a change data feed of real changes."""

from __future__ import annotations

from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from c360.storage.publish import TableKey, differences, publish
from c360.storage import TableStore

SCHEMA = "customer_id string, version long, attributes map<string,string>, emails array<string>"
KEY = TableKey(("customer_id",), "version")


def changed_rows(new, published, key: TableKey):  # noqa: ANN001, ANN201
    upserts, tombstones = differences(new, published, key)
    return upserts.unionByName(tombstones)


def test_changed_rows_are_new_changed_and_tombstones(spark: SparkSession) -> None:
    published = spark.createDataFrame([("C1", 1, {"a": "1"}, ["x@e.de"]), ("C2", 1, {"a": "2"}, []),
                                       ("C3", 1, None, None)], SCHEMA)
    new = spark.createDataFrame([("C1", 1, {"a": "1"}, ["x@e.de"]),      # unchanged
                                 ("C2", 2, {"a": "2", "b": "3"}, []),     # changed (a map value)
                                 ("C4", 1, None, ["y@e.de"])], SCHEMA)    # new; C3 is gone
    expected = spark.createDataFrame([("C2", 2, {"a": "2", "b": "3"}, []), ("C4", 1, None, ["y@e.de"]),
                                      ("C3", None, None, None)], SCHEMA)
    assert_df_equality(changed_rows(new, published, KEY).orderBy("customer_id"), expected.orderBy("customer_id"),
                       ignore_nullable=True)


def test_nullable_keys_compare_null_safely(spark: SparkSession) -> None:
    schema = "old_customer_id string, new_customer_id string, kind string"
    key = TableKey(("old_customer_id", "new_customer_id"), "kind", ("new_customer_id",))
    published = spark.createDataFrame([("C1", None, "retire"), ("C2", "C3", "merge")], schema)
    new = spark.createDataFrame([("C1", None, "retire"), ("C2", "C4", "merge")], schema)
    expected = spark.createDataFrame([("C2", "C4", "merge"), ("C2", "C3", None)], schema)
    assert_df_equality(changed_rows(new, published, key), expected, ignore_row_order=True, ignore_nullable=True)


def test_publish_commits_only_changes_and_the_feed_shows_them(store: TableStore, spark: SparkSession) -> None:
    first = spark.createDataFrame([("C1", 1, {"a": "1"}, ["x"]), ("C2", 1, None, []), ("C3", 1, None, None)], SCHEMA)
    assert publish(store, first, "gold.people", KEY) == {"written": "whole", "upserted": 3, "deleted": 0}
    second = spark.createDataFrame([("C1", 1, {"a": "1"}, ["x"]), ("C2", 2, {"b": "2"}, []), ("C4", 1, None, None)], SCHEMA)
    assert publish(store, second, "gold.people", KEY) == {"written": "changes", "upserted": 2, "deleted": 1}
    assert_df_equality(store.read("gold.people").orderBy("customer_id"), second.orderBy("customer_id"), ignore_nullable=True)
    feed = {(r["customer_id"], r["_change_type"]) for r in store.changes("gold.people", 1).collect()}
    assert feed == {("C2", "update_preimage"), ("C2", "update_postimage"), ("C4", "insert"), ("C3", "delete")}
    version = store.version("gold.people")
    assert publish(store, second, "gold.people", KEY) == {"written": "nothing", "upserted": 0, "deleted": 0}
    assert store.version("gold.people") == version, "unchanged content: no commit"


def test_a_scoped_publish_changes_only_the_keys_in_scope(store: TableStore, spark: SparkSession) -> None:
    first = spark.createDataFrame([("C1", 1, None, []), ("C2", 1, None, []), ("C3", 1, None, [])], SCHEMA)
    publish(store, first, "silver.people", KEY)
    scope = spark.createDataFrame([("C2",), ("C3",), ("C5",)], "customer_id string")
    rows = spark.createDataFrame([("C2", 2, None, []), ("C5", 1, None, [])], SCHEMA)  # C3 gone, C1 out of scope
    assert publish(store, rows, "silver.people", KEY, scope=scope) == {"written": "changes", "upserted": 2, "deleted": 1}
    expected = spark.createDataFrame([("C1", 1, None, []), ("C2", 2, None, []), ("C5", 1, None, [])], SCHEMA)
    assert_df_equality(store.read("silver.people").orderBy("customer_id"), expected, ignore_nullable=True)


def test_a_scope_of_part_of_the_key_takes_every_row_of_those_keys(store: TableStore, spark: SparkSession) -> None:
    """Contact permissions are keyed by customer and channel and scoped by customer: a customer's channel
    that is gone is deleted, another customer's rows stay."""
    schema = "customer_id string, channel string, address string"
    key = TableKey(("customer_id", "channel"), "address")
    publish(store, spark.createDataFrame([("C1", "email", "a@x"), ("C1", "phone", "+1"), ("C2", "email", "b@x")], schema),
            "gold.contacts", key)
    scope = spark.createDataFrame([("C1",)], "customer_id string")
    rows = spark.createDataFrame([("C1", "email", "new@x")], schema)
    assert publish(store, rows, "gold.contacts", key, scope=scope) == {"written": "changes", "upserted": 1, "deleted": 1}
    assert sorted(tuple(r) for r in store.read("gold.contacts").collect()) == [("C1", "email", "new@x"),
                                                                              ("C2", "email", "b@x")]


def test_a_table_made_without_the_feed_gets_it_on_its_next_publish(store: TableStore, spark: SparkSession) -> None:
    store.overwrite(spark.createDataFrame([("C1", 1, None, [])], SCHEMA), "gold.old_people")  # an older c360's table
    assert store.properties("gold.old_people").get("delta.enableChangeDataFeed") != "true"
    publish(store, spark.createDataFrame([("C1", 2, None, [])], SCHEMA), "gold.old_people", KEY)
    since = store.version("gold.old_people")  # the MERGE: the commit after the property's
    assert {(r["customer_id"], r["_change_type"]) for r in store.changes("gold.old_people", since).collect()} == {
        ("C1", "update_preimage"), ("C1", "update_postimage")}


def test_rows_sharing_a_key_never_stop_a_merge_one_is_kept_and_counted(store: TableStore, spark: SparkSession) -> None:
    publish(store, spark.createDataFrame([("C1", 1, None, None), ("C2", 1, None, None)], SCHEMA), "gold.people", KEY)
    twice = spark.createDataFrame([("C1", 2, None, None), ("C1", 3, None, None),   # a changed key, sent twice
                                   ("C5", 1, None, ["a"]), ("C5", 1, None, ["b"]),   # a new key, sent twice
                                   ("C2", 1, None, None)], SCHEMA)
    done = publish(store, twice, "gold.people", KEY)
    assert done == {"written": "changes", "upserted": 2, "deleted": 0, "duplicate_keys": 2}
    kept = {r.customer_id: r for r in store.read("gold.people").collect()}
    assert sorted(kept) == ["C1", "C2", "C5"] and store.read("gold.people").count() == 3
    again = publish(store, twice, "gold.people", KEY)  # the same rule keeps the same rows: nothing changes
    assert again["written"] == "nothing" and {r.customer_id: r for r in store.read("gold.people").collect()} == kept


def test_rows_of_keys_the_table_lacks_are_appended_and_the_feed_shows_inserts(store: TableStore,
                                                                             spark: SparkSession) -> None:
    """A batch of new events (new customers) within its scope is an append: the same rows and feed a MERGE
    gives, without a MERGE's read of every column of the table."""
    publish(store, spark.createDataFrame([("C1", 1, None, [])], SCHEMA), "silver.events", KEY)
    before = store.version("silver.events")
    rows = spark.createDataFrame([("C2", 1, None, ["a"]), ("C3", 1, {"k": "v"}, None), ("C9", None, None, None)], SCHEMA)
    scope = rows.select("customer_id")
    assert publish(store, rows, "silver.events", KEY, scope=scope) == {"written": "changes", "upserted": 2, "deleted": 0}
    assert [c.operation for c in store.history("silver.events", 1)] == ["WRITE"], "an append, not a MERGE"
    assert sorted(r.customer_id for r in store.read("silver.events").collect()) == ["C1", "C2", "C3"], \
        "a row without `present` is no row, as in a MERGE"
    assert {(r["customer_id"], r["_change_type"]) for r in store.changes("silver.events", before + 1).collect()} == {
        ("C2", "insert"), ("C3", "insert")}
    real = rows.where("version IS NOT NULL")
    assert publish(store, real, "silver.events", KEY, scope=real.select("customer_id"))["written"] == "nothing", \
        "a re-run changes nothing"

    twice = spark.createDataFrame([("C4", 1, None, ["a"]), ("C4", 1, None, ["b"])], SCHEMA)
    assert publish(store, twice, "silver.events", KEY, scope=twice.select("customer_id"))["duplicate_keys"] == 1, \
        "new keys sent twice go the MERGE's way: one row is kept"
    assert store.read("silver.events").where("customer_id = 'C4'").count() == 1
    astray = spark.createDataFrame([("C1", 5, None, [])], SCHEMA)  # a row outside its scope: the MERGE's way
    publish(store, astray, "silver.events", KEY, scope=spark.createDataFrame([("C7",)], "customer_id string"))
    assert [r.version for r in store.read("silver.events").where("customer_id = 'C1'").collect()] == [5]


def _lineage(described: bool) -> T.StructType:
    """A profile's schema with a map of structs; `described`: its nested fields carry column comments, as
    columns read from a table with descriptions do on delta-spark."""
    meta = {"comment": "the person source it came from"} if described else {}
    value = T.StructType([T.StructField("source", T.StringType(), True, meta), T.StructField("at", T.TimestampType())])
    return T.StructType([T.StructField("customer_id", T.StringType()), T.StructField("version", T.LongType()),
                         T.StructField("lineage", T.MapType(T.StringType(), value))])


def test_a_table_one_engine_published_takes_the_others_scoped_publish(stores: dict[str, TableStore],
                                                                       spark: SparkSession) -> None:
    """Columns are compared by name and type: field metadata (the comments nested fields bring along on
    delta-spark) makes no other columns, so a scoped publish merges into a table the other engine wrote."""
    first = spark.createDataFrame([("C1", 1, {"email": ("crm", None)}), ("C2", 1, {})], _lineage(False))
    publish(stores["delta-rs"], first, "gold.profiles", KEY)
    scope = spark.createDataFrame([("C2",)], "customer_id string")
    rows = spark.createDataFrame([("C2", 2, {"email": ("shop", None)})], _lineage(True))
    assert publish(stores["delta-spark"], rows, "gold.profiles", KEY, scope=scope)["written"] == "changes"
    assert sorted(r.version for r in stores["delta-rs"].read("gold.profiles").collect()) == [1, 2]
