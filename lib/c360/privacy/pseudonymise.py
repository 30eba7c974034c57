"""Pseudonymised copies of gold tables for analysts who need counts and segments, not names.

`gold.pseudonymised` names gold tables that are also published as `analytics.<table>`: the same rows and
keys, with every personal column (see table_registry.personal: names, contact details, birth dates,
addresses, free text) replaced by its salted SHA-256, an array's elements each. Ids, dates, codes,
segments and metrics stay, so counts per segment are the gold table's. A value hashes the same in every
column and table (the golden e-mail, the profile's e-mail list and the contact permission's address), so
analysts can still join and count distinct values, and a hash cannot be reversed by hashing guesses
without the salt: the one of `privacy.salt_env`, which erasure uses too and which never leaves the
environment. The copies are published with gold's rows in the same MERGE scope, so an erasure's gold run
removes the person from them as well.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from c360.errors import C360Error
from c360.privacy.suppression import hashed
from c360.table_registry import BY_NAME, personal

LAYER = "analytics"
KIND = "pseudonym"


def analytics_table(gold_table: str) -> str:
    """`gold.<t>` -> `analytics.<t>`."""
    return f"{LAYER}.{gold_table.split('.', 1)[1]}"


def check(names: list[str]) -> None:
    """A C360Error naming the gold tables `gold.pseudonymised` lists that do not exist."""
    known = sorted(t.split(".", 1)[1] for t in BY_NAME if t.startswith("gold."))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise C360Error(f"gold.pseudonymised: {', '.join(unknown)}: not a gold table (gold tables: {', '.join(known)})")


def pseudonym(value: Column, secret: str) -> Column:
    """The salted SHA-256 of a value read as text; null stays null."""
    return F.when(value.isNotNull(), hashed(KIND, value.cast("string"), secret=secret))


def pseudonymise(frame: DataFrame, gold_table: str, secret: str) -> DataFrame:
    """`frame` (rows of `gold_table`) with every personal column hashed (see module)."""
    spec = {c.name: c for c in BY_NAME[gold_table].columns}
    out = []
    for name in frame.columns:
        column = F.col(f"`{name}`")
        if name not in spec or not personal(spec[name]):
            out.append(column)
        elif spec[name].type.startswith("array"):
            out.append(F.transform(column, lambda v: pseudonym(v, secret)).alias(name))
        else:
            out.append(pseudonym(column, secret).alias(name))
    return frame.select(*out)
