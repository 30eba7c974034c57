"""The source contract: what makes a record fit for bronze, and the reason when it is not.

Pure DataFrame -> DataFrame functions. A record breaks the contract when it did not parse, holds invalid
UTF-8, is larger than the limit, lacks its record id, has an event time that does not parse (or none, for
interaction sources), or repeats a record id and time already seen in the same file. Such records go to quarantine
with the reason; all others land in bronze as they came, plus ingest metadata.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.utils import AnalysisException

from c360.bronze.readers import META_COLUMNS
from c360.config import BronzeSettings, SourceConfig
from c360.errors import ConfigError
from c360.privacy.suppression import SUPPRESSED_REASON

# Formats tried for timestamps written without an offset, first match wins (day-first before month-first).
NAIVE_FORMATS = (
    "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd HH:mm:ss.SSS", "yyyy-MM-dd'T'HH:mm:ss.SSS",
    "yyyy-MM-dd HH:mm", "yyyy-MM-dd", "dd.MM.yyyy HH:mm:ss", "dd.MM.yyyy HH:mm", "dd.MM.yyyy",
    "dd/MM/yyyy HH:mm:ss", "dd/MM/yyyy", "yyyy/MM/dd HH:mm:ss", "yyyy/MM/dd", "MM/dd/yyyy HH:mm:ss",
)
REASONS = ("malformed_record", "wrong_type", "bad_header", "unreadable_file", "invalid_encoding",
           "record_too_large", "missing_record_id", "missing_updated_at", "unparsable_updated_at",
           "duplicate_record_id")
REPLACEMENT_CHAR = "\ufffd"


def data_columns(df: DataFrame) -> list[str]:
    """The source's own columns of a bronze frame (c360's ingest columns and helpers left out)."""
    return [c for c in df.columns if c not in META_COLUMNS and not c.startswith("_")]


def parse_timestamp(value: Column, dtype: T.DataType, zone: str) -> Column:
    """Any common way of writing an instant -> a UTC timestamp (null when it does not parse).

    Strings with an offset or Z are exact; strings without one are read in `zone`; 10/13-digit numbers are
    epoch seconds/milliseconds."""
    if isinstance(dtype, (T.TimestampType, T.TimestampNTZType)):
        return value.cast("timestamp") if isinstance(dtype, T.TimestampType) else F.to_utc_timestamp(value, zone)
    if isinstance(dtype, T.DateType):
        return F.to_utc_timestamp(value.cast("timestamp"), zone)
    if isinstance(dtype, T.NumericType):
        return F.when(F.abs(value) > 100_000_000_000, F.timestamp_millis(value.cast("long"))).otherwise(
            F.timestamp_seconds(value.cast("long")))
    text = F.trim(value.cast("string"))
    naive = F.coalesce(*[F.try_to_timestamp(text, F.lit(fmt)) for fmt in NAIVE_FORMATS])
    return (F.when(text.rlike(r"^\d{13}$"), F.timestamp_millis(text.cast("long")))
            .when(text.rlike(r"^\d{10}$"), F.timestamp_seconds(text.cast("long")))
            .when(text.rlike(r"(Z|[+-]\d\d:?\d\d)$"), F.try_to_timestamp(text))
            .otherwise(F.to_utc_timestamp(naive, zone)))


def _resolve(df: DataFrame, expression: str, source: SourceConfig, key: str) -> tuple[Column, T.DataType]:
    """A config expression as a column, with a ConfigError naming the source and key if it does not fit."""
    if not data_columns(df):  # every record failed before its columns were known (e.g. bad headers)
        return F.lit(None).cast("string"), T.StringType()
    column = F.expr(expression)
    try:
        dtype = df.select(column.alias("x")).schema["x"].dataType
    except AnalysisException as exc:
        raise ConfigError(
            f"source {source.name}: {key} {expression!r} does not fit the source's columns "
            f"({', '.join(data_columns(df))}): {str(exc).splitlines()[0]}"
        ) from None
    return column, dtype


def record_text(df: DataFrame) -> Column:
    """The record as text: its raw form where kept, else its JSON form."""
    data = data_columns(df)
    as_json = F.to_json(F.struct(*[F.col(f"`{c}`") for c in data])) if data else F.lit(None).cast("string")
    return F.coalesce(F.col("_corrupt"), F.col("_raw"), as_json)


def apply_contract(df: DataFrame, source: SourceConfig, settings: BronzeSettings,
                   partitions: int | None = None) -> DataFrame:
    """Add _record_id, _updated_at, _record_hash and, for records that break the contract, _reason/_detail;
    `partitions`: how many parts the duplicate check spreads the records over (Spark's shuffle partitions
    when None)."""
    if "_detail" not in df.columns:
        df = df.withColumn("_detail", F.lit(None).cast("string"))
    id_col, _ = _resolve(df, source.id, source, "id")
    if source.deleted:
        _, kind = _resolve(df, source.deleted, source, "deleted")
        if data_columns(df) and not isinstance(kind, T.BooleanType):
            raise ConfigError(f"source {source.name}: deleted {source.deleted!r} must be a condition (true or false "
                              f"per record), not a {kind.simpleString()}")
    out = df.withColumn("_text", record_text(df)).withColumn("_record_id", F.trim(id_col.cast("string")))
    if source.updated_at:
        raw_ts, ts_type = _resolve(out, source.updated_at, source, "updated_at")
        out = out.withColumn("_ts_raw", raw_ts.cast("string")).withColumn(
            "_updated_at", parse_timestamp(raw_ts, ts_type, source.timezone))
    else:
        out = out.withColumn("_ts_raw", F.lit(None).cast("string")).withColumn(
            "_updated_at", F.lit(None).cast("timestamp"))
    reason = (F.when(F.col("_error").isNotNull(), F.col("_error"))
              .when(F.col("_text").contains(REPLACEMENT_CHAR), F.lit("invalid_encoding"))
              .when(F.octet_length("_text") > settings.max_record_bytes, F.lit("record_too_large"))
              .when(F.col("_record_id").isNull() | (F.col("_record_id") == ""), F.lit("missing_record_id")))
    if source.updated_at:
        reason = reason.when(F.col("_ts_raw").isNotNull() & F.col("_updated_at").isNull(),
                             F.lit("unparsable_updated_at"))
        if source.kind == "interaction":
            reason = reason.when(F.col("_updated_at").isNull(), F.lit("missing_updated_at"))
    out = out.withColumn("_reason", reason).withColumn(
        "_record_hash", F.sha2(F.col("_text"), 256))
    return _flag_duplicates(out, partitions)


def _flag_duplicates(df: DataFrame, partitions: int | None = None) -> DataFrame:
    """A record id seen more than once in one file *with the same updated_at* is a repeat (or two conflicting
    versions of one moment): one lands (the last in the file), the others are quarantined with a pointer to
    it. Versions at different times, and versions in different deliveries (files), are history: all land."""
    ok = F.col("_reason").isNull()
    key = ("_source_file", "_record_id", "_updated_at")
    if partitions:
        # each part is held whole while the records are cached: sized by the input, not a fixed count
        df = df.repartition(partitions, *key)
    by_key = Window.partitionBy(*key).orderBy(*[p.desc() for p in _position_in_file()], F.col("_record_hash"))
    ranked = df.withColumn("_rank", F.when(ok, F.row_number().over(by_key)))
    kept = F.first(F.when(F.col("_rank") == 1, F.concat_ws(" ", "_source_file", "_record_ref")), ignorenulls=True)
    ranked = ranked.withColumn("_kept", F.when(ok, kept.over(Window.partitionBy(*key))))
    duplicate = ok & (F.col("_rank") > 1)
    return (ranked
            .withColumn("_detail", F.when(duplicate, F.concat(F.lit("the record at "), F.col("_kept"),
                                                              F.lit(" has the same id and time and was kept")))
                        .otherwise(F.col("_detail")))
            .withColumn("_reason", F.when(duplicate, F.lit("duplicate_record_id")).otherwise(F.col("_reason")))
            .drop("_rank", "_kept"))


def _position_in_file() -> list[Column]:
    """A record's place in its file as numbers, from its _record_ref ("record 17", "offset 4096 line +3",
    "line 5 element 2"), so "record 10" comes after "record 9" (as text it would not)."""
    ref = F.col("_record_ref")
    number = [F.regexp_extract(ref, pattern, 1).cast("long") for pattern in
              (r"^offset (\d+)", r"(\d+)(?: element \d+)?$", r" element (\d+)$")]
    return [F.coalesce(n, F.lit(0)) for n in number]


def bronze_rows(df: DataFrame, run_id: str, ingested_at: Column, keep_raw: bool) -> DataFrame:
    """The records that fit, as they came, plus ingest metadata."""
    data = [F.col(f"`{c}`") for c in data_columns(df)]
    meta = [F.lit(run_id).alias("_run_id"), ingested_at.alias("_ingested_at"), F.col("_source_file"),
            F.col("_file_checksum"), F.col("_record_ref"), F.col("_record_id"), F.col("_record_hash"),
            F.col("_updated_at")]
    if keep_raw:
        meta.append(F.col("_raw"))
    return df.where(F.col("_reason").isNull()).select(*data, *meta)


QUARANTINE_SCHEMA = T.StructType([
    T.StructField("source", T.StringType()), T.StructField("source_file", T.StringType()),
    T.StructField("file_checksum", T.StringType()), T.StructField("record_ref", T.StringType()),
    T.StructField("record_hash", T.StringType()), T.StructField("raw", T.StringType()), T.StructField("reason", T.StringType()),
    T.StructField("detail", T.StringType()), T.StructField("run_id", T.StringType()),
    T.StructField("quarantined_at", T.TimestampType()),
])


def quarantine_rows(df: DataFrame, source: str, run_id: str, at: Column) -> DataFrame:
    """The records that broke the contract, with where they were and why."""
    return df.where(F.col("_reason").isNotNull() & (F.col("_reason") != SUPPRESSED_REASON)).select(
        F.lit(source).alias("source"), F.col("_source_file").alias("source_file"),
        F.col("_file_checksum").alias("file_checksum"), F.col("_record_ref").alias("record_ref"),
        F.col("_record_hash").alias("record_hash"), F.col("_text").alias("raw"), F.col("_reason").alias("reason"), F.col("_detail").alias("detail"),
        F.lit(run_id).alias("run_id"), at.alias("quarantined_at"),
    )
