"""Account hierarchy: parent and ultimate parent, loops and unknown parents flagged, never followed forever."""

from __future__ import annotations

from pyspark.sql import SparkSession

from c360.gold.accounts import hierarchy

SCHEMA = "account_id string, account_name string, parent_account_id string, source string, updated_at timestamp"


def test_ultimate_parent_depth_and_issues(spark: SparkSession) -> None:
    accounts = spark.createDataFrame([
        ("a1", "Holding", None, "crm", None), ("a2", "Sub", "a1", "crm", None), ("a3", "SubSub", "a2", "crm", None),
        ("x", "Loop X", "y", "crm", None), ("y", "Loop Y", "x", "crm", None), ("o", "Orphan", "gone", "crm", None),
    ], SCHEMA)
    rows = {r.account_id: r for r in hierarchy(accounts).collect()}
    assert (rows["a3"].ultimate_parent_account_id, rows["a3"].hierarchy_depth, rows["a3"].hierarchy_path) == (
        "a1", 2, ["a1", "a2", "a3"])
    assert (rows["a1"].ultimate_parent_account_id, rows["a1"].hierarchy_depth, rows["a1"].hierarchy_issue) == ("a1", 0, None)
    assert rows["x"].hierarchy_issue == rows["y"].hierarchy_issue == "cycle"
    assert (rows["o"].hierarchy_issue, rows["o"].ultimate_parent_account_id) == ("unknown_parent", "o")
