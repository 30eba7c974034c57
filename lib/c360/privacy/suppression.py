"""Keeping erased people erased: salted hashes of what was erased, and the suppression list bronze honours.

An erasure keeps no identifier in clear: the erasure log and the suppression list hold SHA-256 hashes of
the value with a secret salt, so they prove what was erased and recognise it when it comes again without
telling anyone holding the tables what it was. The salt comes from an environment variable the config
names (`privacy.salt_env`), never from the config itself; without it nothing is erased, and a bronze run
with a suppression list stops with a message rather than land an erased person again.

The list holds each erased source record (source, record id): a landing file delivering one of them again
has that record dropped before anything is written, counted as `suppressed` in the run summary and the
ingest log (input = bronze + quarantine + suppressed). Erased e-mails and phones are listed too, but a
new record that only shares one is not dropped (numbers are recycled, families share e-mails): silver
counts such records in its summary for a person to review.
"""

from __future__ import annotations

import os

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from c360.config import C360Config
from c360.errors import C360Error
from c360.storage import TableStore

ERASURES = "privacy.erasures"
SUPPRESSED = "privacy.suppressed"
SUPPRESSED_REASON = "erased_earlier"
"""The `_reason` bronze marks a re-delivered erased record with: neither written nor quarantined."""
SEPARATOR = "\u001f"


def salt(config: C360Config) -> str:
    """The salt from the environment variable `privacy.salt_env` names; a C360Error saying so without it."""
    name = config.privacy.salt_env
    value = os.environ.get(name, "")
    if len(value) < 16:
        raise C360Error(f"the privacy salt is missing: set the environment variable {name} to a secret of at least 16 "
                        "characters (the same one for every run and erase of this warehouse; keep it in a secret store; "
                        "c360 erase and gold.pseudonymised use it)")
    return value


def hashed(kind: str, *parts: Column, secret: str) -> Column:
    """The salted SHA-256 of a value of `kind` (record, email, phone, customer_id) made of `parts`."""
    return F.sha2(F.concat_ws(SEPARATOR, F.lit(secret), F.lit(kind), *parts), 256)


def record_hash(source: Column, record_id: Column, secret: str) -> Column:
    """The salted hash of one source record (source, record id): what the suppression list holds."""
    return hashed("record", source, record_id, secret=secret)


def suppressed_records(store: TableStore, source: str) -> DataFrame | None:
    """(hash) of the erased records of `source`; None when none of it was erased."""
    if not store.exists(SUPPRESSED):
        return None
    hashes = store.read(SUPPRESSED).where((F.col("kind") == "record") & (F.col("source") == source)).select("hash")
    return None if hashes.isEmpty() else hashes


def mark_suppressed(checked: DataFrame, source: str, hashes: DataFrame, secret: str) -> DataFrame:
    """Bronze's checked records with those on the suppression list marked (`_reason` SUPPRESSED_REASON)."""
    hit = record_hash(F.lit(source), F.col("_record_id"), secret)
    listed = F.broadcast(hashes.select(F.col("hash").alias("_suppressed_hash"), F.lit(True).alias("_suppressed")))
    marked = checked.join(listed, hit == F.col("_suppressed_hash"), "left")
    return (marked.withColumn("_reason", F.when(F.col("_suppressed"), F.lit(SUPPRESSED_REASON)).otherwise(F.col("_reason")))
            .drop("_suppressed_hash", "_suppressed"))


def identifier_hashes(store: TableStore) -> DataFrame | None:
    """(kind, hash) of every erased e-mail and phone; None before the first erasure."""
    if not store.exists(SUPPRESSED):
        return None
    return store.read(SUPPRESSED).where(F.col("kind").isin("email", "phone")).select("kind", "hash")


def sharing_erased(records: DataFrame, hashes: DataFrame, secret: str) -> int:
    """How many of the person `records` (email_key, phone_e164) hold an e-mail or phone of an erased person."""
    held = (records.select(F.lit("email").alias("kind"), hashed("email", F.col("email_key"), secret=secret).alias("hash"),
                           "record_key").where(F.col("email_key").isNotNull())
            .unionByName(records.select(F.lit("phone").alias("kind"),
                                        hashed("phone", F.col("phone_e164"), secret=secret).alias("hash"), "record_key")
                         .where(F.col("phone_e164").isNotNull())))
    return held.join(F.broadcast(hashes), ["kind", "hash"], "left_semi").select("record_key").distinct().count()
