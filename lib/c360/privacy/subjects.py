"""Who an erasure request names: the customers an identifier leads to, their records, their events.

A request names a person by customer id, e-mail, phone or a source record. An e-mail or phone is compared
as silver compares it (the e-mail's match key, the phone in E.164), a customer id through the `merge`
redirects (an id merged away still finds its person; a `split` leads to someone else and is never
followed). The subject is every record of the customers found, and every event that is theirs: those on
their timeline, and unattributed events that carry an identifier value only they hold (an anonymous
click of their cookie, an event whose e-mail matched no customer when it came). A request that leads to
several customers (a family e-mail) names nobody until one of them is named.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from c360.errors import C360Error
from c360.frames import local_frame
from c360.gold.attribution import event_identifiers, record_identifier_values
from c360.silver.standardise import email_key, phone_e164

KINDS = ("customer_id", "email", "phone", "record")
REQUEST_SCHEMA = "request string, kind string, value string, source string"


@dataclass(frozen=True)
class Request:
    """One erasure request: `kind` (customer_id, email, phone, record) and its value; a record also names
    its source. `request` is its label in messages (the CSV's request_id, or the value's kind)."""

    request: str
    kind: str
    value: str
    source: str | None = None


def read_requests(path: str) -> list[Request]:
    """The requests of a CSV with a header: request_id (optional) and, per row, one of customer_id, email,
    phone or source + source_id. A row naming none or several is an error naming its line."""
    file = Path(path)
    if not file.is_file():
        raise C360Error(f"--requests: file not found: {path}")
    found = []
    with file.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            given = {k: (row.get(k) or "").strip() for k in ("customer_id", "email", "phone", "source", "source_id")}
            named = [k for k in ("customer_id", "email", "phone") if given[k]] + (["record"] if given["source_id"] else [])
            if len(named) != 1 or (named == ["record"]) != bool(given["source"]):
                raise C360Error(f"{path}, line {line}: name exactly one of customer_id, email, phone or "
                                "source with source_id")
            label = (row.get("request_id") or "").strip() or f"line {line}"
            kind = named[0]
            value = given["source_id"] if kind == "record" else given[kind]
            found.append(Request(label, kind, value, given["source"] or None))
    if not found:
        raise C360Error(f"{path}: no requests (expected a header and one row per person)")
    return found


def requests_frame(spark: SparkSession, requests: list[Request]) -> DataFrame:
    """The requests as a DataFrame (request, kind, value, source)."""
    return local_frame(spark, [(r.request, r.kind, r.value, r.source) for r in requests], REQUEST_SCHEMA)


def customers_named(requests: DataFrame, identity_map: DataFrame, records: DataFrame, redirects: DataFrame | None,
                    default_country: str) -> DataFrame:
    """(request, customer_id) for every customer each request leads to (none: it finds nobody)."""
    ids = identity_map.select("record_key", "customer_id")
    by_record = (requests.where("kind = 'record'").select("request", F.concat("source", F.lit(":"), "value").alias("record_key"))
                 .join(ids, "record_key").select("request", "customer_id"))
    email = (requests.where("kind = 'email'").select("request", email_key(F.col("value")).alias("email_key"))
             .join(records.select("record_key", "email_key"), "email_key"))
    phone = (requests.where("kind = 'phone'")
             .select("request", phone_e164(F.col("value"), F.lit(default_country)).alias("phone_e164"))
             .join(records.select("record_key", "phone_e164"), "phone_e164"))
    by_value = email.select("request", "record_key").unionByName(phone.select("request", "record_key")).join(ids, "record_key")
    named = requests.where("kind = 'customer_id'").select("request", F.col("value").alias("customer_id"))
    live = named.join(ids.select("customer_id").distinct(), "customer_id", "left_semi")
    found = by_record.unionByName(by_value.select("request", "customer_id")).unionByName(live.select("request", "customer_id"))
    if redirects is not None:
        merged = (named.join(redirects.where("kind = 'merge'"), F.col("customer_id") == F.col("old_customer_id"))
                  .select("request", F.col("new_customer_id").alias("customer_id")))
        found = found.unionByName(merged)
    return found.distinct()


def subject_records(customers: DataFrame, identity_map: DataFrame) -> DataFrame:
    """(record_key, source, source_record_id, customer_id) of every record of the `customers`."""
    return identity_map.join(customers.select("customer_id").distinct(), "customer_id").select(
        "record_key", "source", "source_record_id", "customer_id")


def identifier_values(records: DataFrame) -> DataFrame:
    """(kind, value) of every identifier the person `records` hold, their cookie ids included."""
    cookies = records.where(F.col("cookie_id").isNotNull()).select(F.lit("cookie").alias("kind"), F.col("cookie_id").alias("value"))
    return record_identifier_values(records).select("kind", "value").unionByName(cookies).distinct()


def subject_events(customers: DataFrame, timeline: DataFrame | None, events: DataFrame, subject: DataFrame,
                   others: DataFrame) -> DataFrame:
    """(source, event_id) of the subject's events: those on the `customers`' timeline, and events on nobody's
    timeline carrying an identifier value the `subject`'s person records hold and none of the `others` do."""
    keys = ["source", "event_id"]
    attributed = timeline.select(*keys) if timeline is not None else events.limit(0).select(*keys)
    theirs = (timeline.join(customers.select("customer_id").distinct(), "customer_id", "left_semi").select(*keys)
              if timeline is not None else attributed)
    only = identifier_values(subject).join(identifier_values(others), ["kind", "value"], "left_anti")
    loose = events.join(attributed, keys, "left_anti")
    cookies = loose.where(F.col("cookie_id").isNotNull()).select(*keys, F.lit("cookie").alias("kind"),
                                                                F.col("cookie_id").alias("value"))
    carrying = event_identifiers(loose).unionByName(cookies).join(F.broadcast(only), ["kind", "value"], "left_semi")
    return theirs.unionByName(carrying.select(*keys)).distinct()


def candidates(scored: DataFrame, subject: DataFrame, identity_map: DataFrame) -> DataFrame:
    """Records scored at even odds or better against one of the `subject`'s records (record_key) but not
    in their customers: (subject_record, candidate_record, candidate_customer, match_probability), for an
    operator to confirm before they are erased too."""
    mine = subject.select("record_key")
    ends = []
    for near, far in (("record_key_l", "record_key_r"), ("record_key_r", "record_key_l")):
        ends.append(scored.join(mine.withColumnRenamed("record_key", near), near, "left_semi")
                    .select(F.col(near).alias("subject_record"), F.col(far).alias("candidate_record"), "match_probability"))
    pairs = ends[0].unionByName(ends[1]).join(mine.withColumnRenamed("record_key", "candidate_record"),
                                              "candidate_record", "left_anti")
    owners = identity_map.select(F.col("record_key").alias("candidate_record"), F.col("customer_id").alias("candidate_customer"))
    return pairs.where(F.col("match_probability") >= 0.5).join(owners, "candidate_record", "left")
