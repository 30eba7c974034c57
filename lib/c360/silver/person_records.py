"""`silver.person_records`: one row per source person record, canonical fields standardised.

Pure transform of one person source's bronze rows: keep each record's latest version (bronze keeps every
version) unless the source marks it deleted or a deletions source holds a tombstone for it, map the source's columns onto canonical fields with the config's expressions, then standardise
(see `standardise`). The originals stay beside the match keys so gold can show what a source really said.
"""

from __future__ import annotations

from functools import lru_cache

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from c360.config import PERSON_FIELDS, SourceConfig
from c360.silver import standardise as std

COLUMNS = (
    "record_key", "source", "source_record_id", "source_priority", "updated_at",
    "first_name", "last_name", "full_name", "first_name_key", "last_name_key",
    "email", "email_key", "phone", "phone_e164", "date_of_birth", "gender",
    "street", "street_key", "city", "city_key", "postcode", "postcode_key", "region", "country",
    "company", "company_key", "job_title", "social_handle", "login_id", "loyalty_id", "cookie_id",
    "consent_email", "consent_phone", "consent_tracking", "identifiers", "dq_flags",
)

# Up to this many bronze rows of a source, its phones are parsed in the driver's process (std.with_phones_parsed_here):
# at about 30 microseconds a number that is at most a few seconds, and it saves starting Spark's Python workers.
PHONES_HERE_MAX = 100_000


def latest_versions(bronze: DataFrame) -> DataFrame:
    """Each record id's newest row: by `_updated_at`, then by when it was ingested, then by the file it came
    in (deliveries named in order, as most exports are: two versions with one time that land in one run
    resolve as they would have landing one by one), then by hash."""
    delivery = [F.col("_source_file").desc()] if "_source_file" in bronze.columns else []
    order = Window.partitionBy("_record_id").orderBy(
        F.col("_updated_at").desc_nulls_last(), F.col("_ingested_at").desc(), *delivery, F.col("_record_hash").desc())
    return bronze.withColumn("_n", F.row_number().over(order)).where("_n = 1").drop("_n")


def live(latest: DataFrame, source: SourceConfig, tombstones: DataFrame | None = None) -> DataFrame:
    """The records whose newest version the source does not mark as deleted (its `deleted` condition) and
    that have no tombstone at or after that version (see tombstoned)."""
    if source.deleted:
        latest = latest.where(~F.coalesce(F.expr(source.deleted).cast("boolean"), F.lit(False)))
    return latest if tombstones is None else latest.join(tombstoned(latest, tombstones), "_record_id", "left_anti")


def tombstoned(latest: DataFrame, tombstones: DataFrame) -> DataFrame:
    """(_record_id) of the records of `latest` (their newest versions) that a tombstone of a deletions
    source (bronze rows: _record_id, _updated_at, _ingested_at) deletes: one dated at or after the version
    when both carry a time, else one that landed at or after it. A version newer than every tombstone
    brings the record back; a tombstone that arrives late for an older version does not delete a newer one."""
    t = tombstones.select("_record_id", F.col("_updated_at").alias("_t_at"), F.col("_ingested_at").alias("_t_landed"))
    v = latest.select("_record_id", "_updated_at", "_ingested_at")
    dated = F.col("_t_at").isNotNull() & F.col("_updated_at").isNotNull()
    wins = F.when(dated, F.col("_t_at") >= F.col("_updated_at")).otherwise(F.col("_t_landed") >= F.col("_ingested_at"))
    return v.join(t, "_record_id").where(wins).select("_record_id").distinct()


def identifier_map(source: SourceConfig) -> Column:
    """The source's configured free identifiers as a map name -> value, empty values left out."""
    ids = source.fields.identifiers
    identifiers = (F.map_from_arrays(F.array(*[F.lit(k) for k in ids]), F.array(*[F.expr(v).cast("string") for v in ids.values()]))
                   if ids else F.create_map().cast("map<string,string>"))
    return F.map_filter(identifiers, lambda _, v: v.isNotNull() & (F.trim(v) != ""))


def mapped_fields(bronze: DataFrame, source: SourceConfig) -> DataFrame:
    """Canonical fields from the source's expressions (unmapped ones null), identifiers as a map."""
    mapping = source.fields.mapped()
    fields = [(F.expr(mapping[name]).cast("string") if name in mapping else F.lit(None).cast("string")).alias(name)
              for name in PERSON_FIELDS]
    return bronze.select(
        F.concat(F.lit(f"{source.name}:"), F.col("_record_id")).alias("record_key"),
        F.lit(source.name).alias("source"), F.col("_record_id").alias("source_record_id"),
        F.lit(source.priority).alias("source_priority"), F.col("_updated_at").alias("updated_at"),
        *fields, identifier_map(source).alias("identifiers"))


def _region(default_country: str) -> Column:
    """The country a phone number without a country code is read in: the record's, else the default."""
    return F.coalesce(F.col("_iso"), F.lit(default_country))


def _parsing(default_country: str, phones_parsed: bool) -> list[Column]:
    """The costly parts of standardisation, computed once per record: the chosen name parts, the e-mail,
    the phone in E.164 (`phones_parsed`: already in `_e164`, see std.with_phones_parsed_here) and the birth
    date (later columns read them several times)."""
    split_first, split_last = std.split_full_name(F.col("_full"))
    no_parts = F.col("first_name").isNull() & F.col("last_name").isNull()
    dob, dob_flag = std.date_of_birth(F.col("date_of_birth"))
    phone = F.col("_e164") if phones_parsed else std.phone_e164(F.col("phone"), _region(default_country))
    return [std.clean_text(F.when(no_parts, split_first).otherwise(F.col("first_name"))).alias("_first"),
            std.clean_text(F.when(no_parts, split_last).otherwise(F.col("last_name"))).alias("_last"),
            std.email_clean(F.col("email")).alias("_email"), phone.alias("_phone"),
            dob.alias("_dob"), dob_flag.alias("_dob_flag")]


def _standard() -> list[Column]:
    """The canonical columns, from the mapped fields and the parsed parts."""
    first, last = std.title_case(F.col("_first")), std.title_case(F.col("_last"))
    phone_flag = F.when(F.col("phone").isNotNull() & (F.trim("phone") != "") & F.col("_phone").isNull(), F.lit("invalid_phone"))
    email_flag = F.when(F.col("email").isNotNull() & (F.trim("email") != "") & F.col("_email").isNull(), F.lit("invalid_email"))
    return [
        F.col("record_key"), F.col("source"), F.col("source_record_id"), F.col("source_priority"), F.col("updated_at"),
        first.alias("first_name"), last.alias("last_name"),
        F.coalesce(F.col("_full"), std.clean_text(F.concat_ws(" ", first, last))).alias("full_name"),
        std.name_key(F.col("_first")).alias("first_name_key"), std.name_key(F.col("_last")).alias("last_name_key"),
        F.col("_email").alias("email"), std.email_key(F.col("_email")).alias("email_key"),
        std.clean_text(F.col("phone")).alias("phone"), F.col("_phone").alias("phone_e164"),
        F.col("_dob").alias("date_of_birth"), F.upper(F.substring(F.trim("gender"), 1, 1)).alias("gender"),
        std.clean_text(F.col("street")).alias("street"), std.street_key(F.col("street")).alias("street_key"),
        std.display_name(F.col("city")).alias("city"), std.name_key(F.col("city")).alias("city_key"),
        std.clean_text(F.col("postcode")).alias("postcode"), std.postcode_key(F.col("postcode")).alias("postcode_key"),
        std.clean_text(F.col("region")).alias("region"), F.col("_iso").alias("country"),
        std.clean_text(F.col("company")).alias("company"), std.name_key(F.col("company")).alias("company_key"),
        std.clean_text(F.col("job_title")).alias("job_title"), std.social_handle(F.col("social_handle")).alias("social_handle"),
        F.lower(std.clean_text(F.col("login_id"))).alias("login_id"),
        F.upper(std.clean_text(F.col("loyalty_id"))).alias("loyalty_id"), std.clean_text(F.col("cookie_id")).alias("cookie_id"),
        *[std.consent(F.col(c)).alias(c) for c in ("consent_email", "consent_phone", "consent_tracking")],
        F.col("identifiers"),
        F.filter(F.array(F.col("_dob_flag"), phone_flag, email_flag), lambda f: f.isNotNull()).alias("dq_flags"),
    ]


@lru_cache(maxsize=8)
def _expressions(default_country: str, application: str,
                 phones_parsed: bool) -> tuple[Column, list[Column], list[Column]]:
    """Standardisation's column expressions, built once per Spark application, default country and way of
    parsing phones: they name columns only, so every source and run can use them, and building them takes
    thousands of calls into the JVM (about a second per source and run)."""
    return std.clean_text(F.col("full_name")), _parsing(default_country, phones_parsed), _standard()


def standardised(records: DataFrame, default_country: str, phones_here: bool = False) -> DataFrame:
    """Standardise mapped canonical fields; names come from `full_name` where first/last are missing.
    `phones_here`: parse the phones in the driver's process (for few records; see
    std.with_phones_parsed_here), else in Spark's Python workers; both give the same values."""
    application = records.sparkSession.sparkContext.applicationId
    full, parsing, standard = _expressions(default_country, application, phones_here)
    out = std.with_country_code(records.withColumn("_full", full), "country", "_iso")
    if phones_here:
        out = std.with_phones_parsed_here(out, "phone", _region(default_country), "_e164")
    return out.select("*", *parsing).select(*standard)  # in the order of COLUMNS


def person_records(bronze: DataFrame, source: SourceConfig, default_country: str,
                   tombstones: DataFrame | None = None, phones_here: bool = False) -> DataFrame:
    """Bronze rows of one person source -> its silver person records (one per live source record);
    `tombstones`: the bronze rows of its deletions sources, if it has any; `phones_here`: see standardised."""
    return standardised(mapped_fields(live(latest_versions(bronze), source, tombstones), source), default_country,
                        phones_here)
