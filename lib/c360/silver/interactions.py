"""`silver.interactions`: every event of every interaction source in one shape, deduplicated, with the
identifiers that tie it to a person, and anonymous web sessions stitched to the login that follows.

Pure transforms. An event's identifiers (standardised e-mail, phone, login, loyalty id, social handle,
cookie and the source's free identifiers) are what linkage later resolves to a customer. A cookie that logs
in as exactly one login id lends that login to all its events, also the ones before the login; a cookie seen
with several logins (a shared computer) is left unstitched and reported. An incremental run stitches again
the events of the cookies its new events carry (`restitch`): a cookie that logs in later lends its login to
its earlier events, one that logs in as a second person takes it back.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from c360.config import SourceConfig
from c360.silver import standardise as std
from c360.silver.person_records import identifier_map

COLUMNS = ("event_id", "source", "occurred_at", "channel", "event_type", "amount", "currency", "summary",
           "attributes", "email_key", "phone", "phone_local", "login_id", "loyalty_id", "social_handle", "cookie_id",
           "identifiers", "stitched_by")


def _mapped(source: SourceConfig, name: str, cast: str = "string") -> F.Column:
    expression = source.fields.mapped().get(name)
    return (F.expr(expression) if expression else F.lit(None)).cast(cast).alias(name)


def interaction_records(bronze: DataFrame, source: SourceConfig, default_country: str = "DE") -> DataFrame:
    """Bronze rows of one interaction source -> one row per event id (its latest version); phones in E.164
    (numbers without a country code read in `default_country`), so they match person records' phones."""
    latest = Window.partitionBy("_record_id").orderBy(F.col("_ingested_at").desc(), F.col("_record_hash").desc())
    rows = bronze.withColumn("_n", F.row_number().over(latest)).where("_n = 1")
    email = _mapped(source, "email")
    return rows.select(
        F.col("_record_id").alias("event_id"), F.lit(source.name).alias("source"),
        F.col("_updated_at").alias("occurred_at"),
        _mapped(source, "channel"), _mapped(source, "event_type"), _mapped(source, "amount", "double"),
        _mapped(source, "currency"), _mapped(source, "summary"), _mapped(source, "attributes"),
        std.email_key(email).alias("email_key"),
        std.phone_e164(_mapped(source, "phone"), F.lit(default_country)).alias("phone"),
        std.phone_local(_mapped(source, "phone")).alias("phone_local"),
        F.lower(std.clean_text(_mapped(source, "login_id"))).alias("login_id"),
        F.upper(std.clean_text(_mapped(source, "loyalty_id"))).alias("loyalty_id"),
        std.social_handle(_mapped(source, "social_handle")).alias("social_handle"),
        std.clean_text(_mapped(source, "cookie_id")).alias("cookie_id"),
        identifier_map(source).alias("identifiers"),
        F.lit(None).cast("string").alias("stitched_by"),
    )


def stitch_cookies(events: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Fill `login_id` on every event of a cookie that logged in as exactly one login (stitched_by =
    'cookie'); returns the events and the cookies left unstitched because they saw several logins."""
    logins = (events.where(F.col("cookie_id").isNotNull() & F.col("login_id").isNotNull())
              .groupBy("cookie_id").agg(F.collect_set("login_id").alias("logins")))
    single = logins.where(F.size("logins") == 1).select("cookie_id", F.col("logins")[0].alias("_login"))
    shared = logins.where(F.size("logins") > 1).select("cookie_id", F.array_sort("logins").alias("logins"))
    joined = events.join(single, "cookie_id", "left")
    stitched = joined.select(
        *[c for c in COLUMNS if c not in ("login_id", "stitched_by", "cookie_id")], "cookie_id",
        F.coalesce("login_id", "_login").alias("login_id"),
        F.when(F.col("login_id").isNull() & F.col("_login").isNotNull(), F.lit("cookie"))
        .otherwise(F.col("stitched_by")).alias("stitched_by"),
    )
    return stitched.select(*COLUMNS), shared



def _lent_back(events: DataFrame) -> DataFrame:
    """Stored events with the logins cookie stitching lent them taken back: login_id as the source said."""
    lent = F.col("stitched_by") == "cookie"
    return events.select(*[F.when(lent, F.lit(None)).otherwise(F.col(c)).alias(c) if c in ("login_id", "stitched_by")
                           else F.col(c) for c in COLUMNS])


def restitch(stored: DataFrame, changed: DataFrame) -> DataFrame:
    """The events to write when `changed` events (new and changed, as interaction_records gives them) arrive:
    them and every stored event of a cookie they carry, stitched again over all of that cookie's events."""
    cookies = changed.where(F.col("cookie_id").isNotNull()).select("cookie_id").distinct()
    earlier = (stored.join(cookies, "cookie_id", "left_semi")
               .join(changed.select("source", "event_id"), ["source", "event_id"], "left_anti"))
    stitched, _ = stitch_cookies(_lent_back(earlier).unionByName(changed.select(*COLUMNS)))
    return stitched


def cookies_with_several_logins(events: DataFrame) -> int:
    """Cookies of stitched events (silver.interactions) left unstitched because they logged in as several people."""
    own = events.where(F.col("cookie_id").isNotNull() & F.col("login_id").isNotNull()
                       & F.col("stitched_by").isNull())
    return own.groupBy("cookie_id").agg(F.countDistinct("login_id").alias("n")).where("n > 1").count()
