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

from c360.frames import local_frame

# identifier -> the person_records column holding it (free identifiers come from the `identifiers` map)
COLUMNS = {"email": "email_key", "phone": "phone_e164", "login_id": "login_id", "loyalty_id": "loyalty_id",
           "social_handle": "social_handle"}
PLACEHOLDERS = ("test@test.com", "noemail@noemail.com", "none@none.com", "no@email.com", "example@example.com")


def _held_values(records: DataFrame, identifiers: list[str]) -> DataFrame:
    """(record_key, identifier, value) for every non-empty value of the given identifiers, by a narrow pass
    over `records` (a record holds at most one value per identifier)."""
    parts = []
    for name in identifiers:
        column = F.col(COLUMNS[name]) if name in COLUMNS else F.col("identifiers").getItem(name)
        parts.append(records.select("record_key", F.lit(name).alias("identifier"), column.cast("string").alias("value")))
    values = parts[0]
    for part in parts[1:]:
        values = values.unionByName(part)
    return values.where(F.col("value").isNotNull() & (F.trim("value") != ""))


def identifier_values(records: DataFrame, identifiers: list[str]) -> DataFrame:
    """(record_key, identifier, value) for every non-empty value of the given identifiers."""
    return _held_values(records, identifiers).distinct()


def hubs(values: DataFrame, rules: Mapping[str, int]) -> DataFrame:
    """Identifier values shared by more records than their rule allows, plus known placeholders:
    (identifier, value, records, reason)."""
    limits = local_frame(values.sparkSession, list(rules.items()), "identifier string, max_records int")
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


def _pairs(x: DataFrame, y: DataFrame, ordered: bool = True) -> DataFrame:
    """Edges (record_key_l < record_key_r, method naming every identifier that linked them) between the
    records of `x` and `y` (usable values with names) that share a value and do not contradict each other;
    `ordered`: `x` and `y` are the same records, so each pair is joined once (x's key the smaller)."""
    x, y = x.alias("x"), y.alias("y")
    other = F.col("x.record_key") < F.col("y.record_key") if ordered else F.col("x.record_key") != F.col("y.record_key")
    edges = (x.join(y, (F.col("x.identifier") == F.col("y.identifier")) & (F.col("x.value") == F.col("y.value")) & other)
             .where(_compatible("x", "y"))
             .select(F.least("x.record_key", "y.record_key").alias("record_key_l"),
                     F.greatest("x.record_key", "y.record_key").alias("record_key_r"),
                     F.concat(F.lit("exact:"), F.col("x.identifier")).alias("method")))
    return edges.groupBy("record_key_l", "record_key_r").agg(
        F.concat_ws(",", F.array_sort(F.collect_set("method"))).alias("method"))


def _usable(records: DataFrame, values: DataFrame, rules: Mapping[str, int]) -> tuple[DataFrame, DataFrame]:
    """(usable `values` of `records` with the names that check them, hub values left out)."""
    left_out = hubs(values, rules)
    usable = values.join(left_out.select("identifier", "value"), ["identifier", "value"], "left_anti")
    return usable.join(names_agree(records), "record_key"), left_out


def deterministic_edges(records: DataFrame, rules: Mapping[str, int]) -> tuple[DataFrame, DataFrame]:
    """Edges (record_key_l, record_key_r, method) between records sharing a usable identifier value and not
    contradicting each other on name or date of birth, and the hub values left out. A usable value is shared
    by at most its rule's `max_records`, so linking all pairs of its records stays small."""
    usable, left_out = _usable(records, identifier_values(records, list(rules)), rules)
    return _pairs(usable, usable), left_out


def edges_since(records: DataFrame, rules: Mapping[str, int], changed: DataFrame, hubs_before: DataFrame,
                edges_before: DataFrame) -> tuple[DataFrame, DataFrame, DataFrame]:
    """The same edges and hubs as `deterministic_edges(records, rules)` from the last run's (`hubs_before`,
    `edges_before`) and the records that changed since (`changed`: record_key, deleted ones included): a
    pair's edge can only move when one of its records changed or a value it shares became a hub or stopped
    being one. Returns (edges, hubs, focus): focus is the record keys whose edges were recomputed.

    Only values that can have moved are counted again: those a changed record holds now and the last run's
    hubs (a value a changed record left lost a holder, which can only end its being a hub). Every other
    value keeps its count, so the work follows the change, not the table: narrow passes over the records
    that keep the holders of those values, no count over every identifier value."""
    identifiers = list(rules)
    values = _held_values(records, identifiers)
    now_held = _held_values(records.join(changed, "record_key", "left_semi"), identifiers).select("identifier", "value")
    touched = now_held.unionByName(hubs_before.select("identifier", "value")).distinct().localCheckpoint()
    near = values.join(touched, ["identifier", "value"], "left_semi").localCheckpoint()
    left_out = hubs(near, rules).localCheckpoint()
    flipped = (left_out.select("identifier", "value").exceptAll(hubs_before.select("identifier", "value"))
               .unionByName(hubs_before.select("identifier", "value").exceptAll(left_out.select("identifier", "value"))))
    holders = near.join(flipped, ["identifier", "value"], "left_semi")
    focus = changed.select("record_key").unionByName(holders.select("record_key")).distinct().localCheckpoint()
    kept = edges_before.select("record_key_l", "record_key_r", "method")
    for side in ("record_key_l", "record_key_r"):
        kept = kept.join(focus.select(F.col("record_key").alias(side)), side, "left_anti")
    # a value no change touched is no hub now (every hub before was touched): the new hubs are all to leave out
    mine = values.join(focus, "record_key", "left_semi").join(left_out.select("identifier", "value"), ["identifier", "value"], "left_anti")
    partners = values.join(mine.select("identifier", "value").distinct(), ["identifier", "value"], "left_semi")
    named = names_agree(records)
    fresh = _pairs(mine.join(named, "record_key"), partners.join(named, "record_key"), ordered=False)
    return kept.select("record_key_l", "record_key_r", "method").unionByName(fresh), left_out, focus
