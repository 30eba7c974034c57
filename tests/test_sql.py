"""SQL over the warehouse: layer.table names resolve to the tables' current snapshots on either engine."""

from __future__ import annotations

from pyspark.sql import SparkSession

from c360.sql import query, referenced, rewrite
from c360.storage import TableStore


def test_rewrite_touches_only_known_table_names() -> None:
    tables = ["bronze.crm", "gold.customer_profile"]
    sql = ("SELECT c.id, 'bronze.crm' AS s -- bronze.crm in a comment\n"
           "FROM bronze.crm c JOIN gold.customer_profile p ON c.id = p.id WHERE x.y = 1 AND `gold`.`customer_profile`.id > 0")
    out = rewrite(sql, tables)
    assert "FROM `c360__bronze__crm` c JOIN `c360__gold__customer_profile` p" in out
    assert "'bronze.crm' AS s -- bronze.crm in a comment" in out
    assert "x.y = 1" in out and "c.id = p.id" in out
    assert referenced(sql, [*tables, "silver.identity_map"]) == tables, "only the tables named, outside literals"
    assert referenced("SELECT 'gold.customer_profile' -- bronze.crm", tables) == []


def test_query_reads_the_current_snapshot(store: TableStore, spark: SparkSession) -> None:
    store.append(spark.createDataFrame([(1, "a"), (2, "b")], "id long, name string"), "bronze.crm")
    store.append(spark.createDataFrame([(1, 10.0)], "id long, amount double"), "gold.sales")
    got = query(store, "SELECT c.name, s.amount FROM bronze.crm c LEFT JOIN gold.sales s USING (id) ORDER BY c.name")
    assert [tuple(r) for r in got.collect()] == [("a", 10.0), ("b", None)]
    store.append(spark.createDataFrame([(3, "c")], "id long, name string"), "bronze.crm")
    assert query(store, "SELECT count(*) FROM bronze.crm").first()[0] == 3
