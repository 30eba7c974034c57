"""Deterministic identity stitching: records that share a strong identifier are the same person.

Strong identifiers are the standardised e-mail key, E.164 phone, login id, loyalty id, social handle and any
configured free identifier. Each rule names an identifier and the most records one value may link
(`max_records`): a value shared by more is a *hub* (``info@company.com``, a family e-mail, a placeholder
such as ``test@test.com``, a shop's own phone number) and is reported instead of used, because one hub
would chain unrelated people into one customer.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

# identifier -> the person_records column holding it (free identifiers come from the `identifiers` map)
COLUMNS = {"email": "email_key", "phone": "phone_e164", "login_id": "login_id", "loyalty_id": "loyalty_id",
           "social_handle": "social_handle"}
PLACEHOLDERS = ("test@test.com", "noemail@noemail.com", "none@none.com", "no@email.com", "example@example.com")


def identifier_values(records: DataFrame, identifiers: list[str]) -> DataFrame:
    """(record_key, identifier, value) for every non-empty value of the given identifiers."""
    parts = []
    for name in identifiers:
        column = F.col(COLUMNS[name]) if name in COLUMNS else F.col("identifiers").getItem(name)
        parts.append(records.select("record_key", F.lit(name).alias("identifier"), column.cast("string").alias("value")))
    values = parts[0]
    for part in parts[1:]:
        values = values.unionByName(part)
    return values.where(F.col("value").isNotNull() & (F.trim("value") != "")).distinct()


def hubs(values: DataFrame, rules: Mapping[str, int]) -> DataFrame:
    """Identifier values shared by more records than their rule allows, plus known placeholders:
    (identifier, value, records, reason)."""
    limits = values.sparkSession.createDataFrame(list(rules.items()), "identifier string, max_records int")
    counted = values.groupBy("identifier", "value").agg(F.countDistinct("record_key").alias("records"))
    counted = counted.join(F.broadcast(limits), "identifier")
    placeholder = (F.col("identifier") == "email") & F.col("value").isin(*PLACEHOLDERS)
    return counted.where((F.col("records") > F.col("max_records")) | placeholder).select(
        "identifier", "value", "records",
        F.when(placeholder, F.lit("placeholder")).otherwise(F.lit("shared_by_too_many")).alias("reason"))


def names_agree(records: DataFrame) -> DataFrame:
    """(record_key, _first, _last, _dob) used to check that two records sharing an identifier do not
    contradict each other: a family e-mail or a shared office phone is not proof of one person."""
    def column(name: str) -> Column:
        return F.col(name) if name in records.columns else F.lit(None).cast("string")
    return records.select("record_key", column("first_name_key").alias("_first"), column("last_name_key").alias("_last"),
                          column("date_of_birth").cast("string").alias("_dob"))


def _compatible(a: str, b: str) -> Column:
    """No contradiction between two records: first names equal (or one missing), last names equal or one
    missing, dates of birth equal or one missing. Nicknames and typos are left to probabilistic linkage."""
    def same(column: str) -> Column:
        return F.col(f"{a}.{column}").isNull() | F.col(f"{b}.{column}").isNull() | (F.col(f"{a}.{column}") == F.col(f"{b}.{column}"))
    return same("_first") & same("_last") & same("_dob")


def deterministic_edges(records: DataFrame, rules: Mapping[str, int]) -> tuple[DataFrame, DataFrame]:
    """Edges (record_key_l, record_key_r, method) between records sharing a usable identifier value and not
    contradicting each other on name or date of birth, and the hub values left out. A usable value is shared
    by at most its rule's `max_records`, so linking all pairs of its records stays small."""
    values = identifier_values(records, list(rules))
    left_out = hubs(values, rules)
    usable = values.join(left_out.select("identifier", "value"), ["identifier", "value"], "left_anti")
    usable = usable.join(names_agree(records), "record_key")
    x, y = usable.alias("x"), usable.alias("y")
    edges = (x.join(y, (F.col("x.identifier") == F.col("y.identifier")) & (F.col("x.value") == F.col("y.value"))
                    & (F.col("x.record_key") < F.col("y.record_key")))
             .where(_compatible("x", "y"))
             .select(F.col("x.record_key").alias("record_key_l"), F.col("y.record_key").alias("record_key_r"),
                     F.concat(F.lit("exact:"), F.col("x.identifier")).alias("method")))
    # one row per pair, naming every identifier that linked it
    edges = edges.groupBy("record_key_l", "record_key_r").agg(
        F.concat_ws(",", F.array_sort(F.collect_set("method"))).alias("method"))
    return edges, left_out
