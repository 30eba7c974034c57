"""`gold.accounts`: B2B accounts with their parent and ultimate parent, linked from profiles, never copied.

Accounts come from a reference source (e.g. CRM accounts; latest version of each). The ultimate parent is
found by following `parent_account_id` until an account has none; a chain that loops (A -> B -> A) or
points at an unknown account stops there and is flagged, never loops forever. Profiles hold `account_ids`
(the accounts their contact records belong to), so an account renamed in the CRM is renamed everywhere.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.checkpoint import checkpoint
from c360.config import AccountSettings, SourceConfig
from c360.silver.person_records import identifier_map, latest_versions

MAX_DEPTH = 32
COLUMNS = ("account_id", "account_name", "parent_account_id", "ultimate_parent_account_id", "hierarchy_depth",
           "hierarchy_path", "hierarchy_issue", "source", "updated_at")


def account_rows(bronze: DataFrame, source: SourceConfig, settings: AccountSettings) -> DataFrame:
    """account_id, account_name, parent_account_id, updated_at from the reference source's bronze rows."""
    ids = identifier_map(source)
    name = F.expr(source.fields.company) if source.fields.company else F.lit(None)
    return latest_versions(bronze).select(
        ids[settings.id_identifier].alias("account_id"), name.cast("string").alias("account_name"),
        ids[settings.parent_identifier].alias("parent_account_id"), F.lit(source.name).alias("source"),
        F.col("_updated_at").alias("updated_at")).where(F.col("account_id").isNotNull())


def hierarchy(accounts: DataFrame) -> DataFrame:
    """Adds ultimate parent, depth (0: top level), path from the top, and `hierarchy_issue` (cycle,
    unknown_parent, too_deep) to the account rows."""
    parents = accounts.select(F.col("account_id").alias("_pid"), F.col("parent_account_id").alias("_next"))
    walk = accounts.select("account_id", F.col("parent_account_id").alias("_cur"),
                           F.array("account_id").alias("_path"), F.lit(None).cast("string").alias("_issue"))
    for _ in range(MAX_DEPTH):
        step = walk.join(parents, walk["_cur"] == parents["_pid"], "left")
        active = F.col("_cur").isNotNull() & F.col("_issue").isNull()
        issue = (F.when(active & F.col("_pid").isNull(), F.lit("unknown_parent"))
                 .when(active & F.array_contains("_path", F.col("_cur")), F.lit("cycle")).otherwise(F.col("_issue")))
        advance = active & issue.isNull()
        walk = checkpoint(step.select(
            "account_id", F.when(advance, F.col("_next")).when(active, F.lit(None)).otherwise(F.col("_cur")).alias("_cur"),
            F.when(advance, F.concat("_path", F.array("_cur"))).otherwise(F.col("_path")).alias("_path"),
            issue.alias("_issue")))
        if walk.where(F.col("_cur").isNotNull() & F.col("_issue").isNull()).isEmpty():
            break
    walk = walk.withColumn("_issue", F.when(F.col("_cur").isNotNull() & F.col("_issue").isNull(), F.lit("too_deep"))
                           .otherwise(F.col("_issue")))
    return accounts.join(walk, "account_id").select(
        "account_id", "account_name", "parent_account_id",
        F.element_at("_path", -1).alias("ultimate_parent_account_id"),
        (F.size("_path") - 1).alias("hierarchy_depth"), F.reverse("_path").alias("hierarchy_path"),
        F.col("_issue").alias("hierarchy_issue"), "source", "updated_at")
