"""Read a source's new files into records, keeping every input record, parsable or not.

Every reader returns the source's own columns plus:
  _source_file   the file (as Spark names it)        _record_ref  where in it ("line 17", "record 3", ...)
  _raw           the record's text (JSON sources)      _corrupt     the text of a record that did not parse
  _error         a reason code found while reading (malformed_record, wrong_type, bad_header, unreadable_file)
Records are parsed against a *frozen* schema (the bronze table's, or the config's declared one) merged with
columns new in these files, so types do not drift from run to run.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict

import pyarrow.parquet as pq
from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from c360.bronze.landing import first_line
from c360.frames import local_frame
from c360.fs import filesystem

CORRUPT = "_corrupt_record"
META_COLUMNS = ("_source_file", "_record_ref", "_raw", "_corrupt", "_error")
CSV_DEFAULTS = {"header": "true", "multiLine": "true", "escape": '"', "mode": "PERMISSIVE"}


def merge_schema(frozen: T.StructType | None, new: T.StructType) -> T.StructType:
    """The frozen schema plus fields only `new` has (recursively in structs); frozen types always win."""
    if frozen is None:
        return new
    fields = list(frozen.fields)
    known = {f.name.lower(): i for i, f in enumerate(fields)}
    for fld in new.fields:
        i = known.get(fld.name.lower())
        if i is None:
            fields.append(T.StructField(fld.name, fld.dataType, True))
        elif isinstance(fields[i].dataType, T.StructType) and isinstance(fld.dataType, T.StructType):
            fields[i] = T.StructField(fields[i].name, merge_schema(fields[i].dataType, fld.dataType), True)
    return T.StructType(fields)


def _position(df: DataFrame, label: str) -> DataFrame:
    """Add _source_file and _record_ref: the record's number within its file (or within a split of a large
    file, then counted from that split's byte offset)."""
    order = Window.partitionBy("_source_file", "_block").orderBy("_seq")
    numbered = df.withColumn("_n", F.row_number().over(order))
    ref = F.when(F.col("_block") == 0, F.concat(F.lit(f"{label} "), F.col("_n").cast("string"))).otherwise(
        F.concat(F.lit("offset "), F.col("_block").cast("string"), F.lit(f" {label} +"), F.col("_n").cast("string")))
    return numbered.withColumn("_record_ref", ref).drop("_n", "_block", "_seq")


def _located(df: DataFrame) -> DataFrame:
    # Spark names files as encoded URIs (a space is %20); decode to the path the ledger uses ('+' stays '+').
    path = F.expr("url_decode(replace(_metadata.file_path, '+', '%2B'))")
    return df.select("*", path.alias("_source_file"),
                     F.col("_metadata.file_block_start").alias("_block"),
                     F.monotonically_increasing_id().alias("_seq"))


def _no_text(*names: str) -> list[Column]:
    """Null string columns for the record-text metadata a format does not have."""
    return [F.lit(None).cast("string").alias(n) for n in names]


def _json_error(corrupt: Column, text: Column) -> Column:
    """Valid JSON that did not fit the frozen schema is a type problem; anything else is malformed."""
    return F.when(corrupt.isNull(), F.lit(None)).when(
        F.get_json_object(text, "$").isNotNull(), F.lit("wrong_type")).otherwise(F.lit("malformed_record"))


def infer_json(spark: SparkSession, files: list[str], multi_line: bool, sampling: float) -> T.StructType:
    """Schema of the files' valid records as Spark infers it (corrupt records ignored)."""
    schema = (spark.read.option("multiLine", multi_line).option("samplingRatio", sampling)
              .option("mode", "PERMISSIVE").json(files).schema)
    return T.StructType([f for f in schema.fields if f.name != CORRUPT])


def read_ndjson(spark: SparkSession, files: list[str], schema: T.StructType) -> DataFrame:
    """One JSON object per line; a line holding a JSON array yields one record per element."""
    lines = _position(_located(spark.read.text(files)), "line")
    lines = lines.withColumn("value", F.regexp_replace("value", "^\ufeff", ""))
    lines = lines.where(F.trim("value") != "")
    with_corrupt = T.StructType([*schema.fields, T.StructField(CORRUPT, T.StringType())])
    opts = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT}
    is_array = F.ltrim("value").startswith("[")
    arrays = lines.where(is_array).select(
        "*", F.posexplode_outer(F.from_json("value", T.ArrayType(schema), opts)).alias("_i", "_rec"))
    arrays = arrays.select(
        *[F.col(f"_rec.`{f.name}`").alias(f.name) for f in schema.fields],
        F.col("_source_file"),
        F.when(F.col("_i").isNull(), F.col("_record_ref")).otherwise(
            F.concat("_record_ref", F.lit(" element "), (F.col("_i") + 1).cast("string"))).alias("_record_ref"),
        F.when(F.col("_rec").isNull(), F.lit(None)).otherwise(F.to_json("_rec")).alias("_raw"),
        F.when(F.col("_rec").isNull(), F.col("value")).alias("_corrupt"),
        F.when(F.col("_rec").isNull(), F.lit("malformed_record")).alias("_error"),
    )
    parsed = lines.where(~is_array).select("*", F.from_json("value", with_corrupt, opts).alias("_rec"))
    objects = parsed.select(
        *[F.col(f"_rec.`{f.name}`").alias(f.name) for f in schema.fields],
        "_source_file", "_record_ref",
        F.col("value").alias("_raw"),
        F.when(F.col(f"_rec.{CORRUPT}").isNotNull(), F.col("value")).alias("_corrupt"),
        _json_error(F.col(f"_rec.{CORRUPT}"), F.col("value")).alias("_error"),
    )
    return objects.unionByName(arrays)


def read_json_documents(spark: SparkSession, files: list[str], schema: T.StructType) -> DataFrame:
    """Whole-file JSON documents (an object or an array of objects, pretty-printed or not)."""
    with_corrupt = T.StructType([*schema.fields, T.StructField(CORRUPT, T.StringType())])
    docs = (spark.read.schema(with_corrupt).option("multiLine", True).option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", CORRUPT).json(files))
    docs = _position(_located(docs), "record")
    data = [F.col(f"`{f.name}`") for f in schema.fields]
    return docs.select(
        *data, "_source_file", "_record_ref",
        F.when(F.col(CORRUPT).isNull(), F.to_json(F.struct(*data))).alias("_raw"),
        F.col(CORRUPT).alias("_corrupt"),
        _json_error(F.col(CORRUPT), F.col(CORRUPT)).alias("_error"),
    )


def _header_columns(line: bytes, options: dict[str, str]) -> list[str]:
    text = line.decode(options.get("encoding", "utf-8"), errors="replace").lstrip("\ufeff")
    if not text:
        return []
    sep = options.get("sep", options.get("delimiter", ","))
    return next(csv.reader(io.StringIO(text), delimiter=sep, quotechar=options.get("quote", '"')), [])


def read_csv(spark: SparkSession, files: list[str], options: dict[str, str], declared: T.StructType | None,
             id_column: str | None) -> DataFrame:
    """CSV files grouped by header (columns can come and go between files), each read by its own header's
    names; a file whose header is unusable has all its records flagged bad_header."""
    opts = {**CSV_DEFAULTS, **{k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in options.items()}}
    groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for file in files:
        groups[tuple(_header_columns(first_line(file), opts))].append(file)
    types = {f.name.lower(): f.dataType for f in (declared.fields if declared else [])}
    frames = []
    for header, group in sorted(groups.items()):
        if not header:
            continue  # empty or zero-byte files: no records
        problem = _header_problem(header, id_column)
        names = [f"_c{i}" for i in range(len(header))] if problem else list(header)
        # read as text and cast after, so a value of the wrong type is wrong_type naming its column (a typed
        # read would call the whole record malformed)
        schema = T.StructType([T.StructField(n, T.StringType()) for n in names] + [T.StructField(CORRUPT, T.StringType())])
        frame = spark.read.options(**opts).option("columnNameOfCorruptRecord", CORRUPT).schema(schema).csv(group)
        frame = _position(_located(frame), "record")
        data = [c for c in names]
        raw = F.concat_ws(opts.get("sep", ","), *[F.coalesce(F.col(f"`{c}`"), F.lit("")) for c in data])
        frame = frame.select(
            *([] if problem else [F.col(f"`{c}`") for c in data]), "_source_file", "_record_ref",
            *_no_text("_raw"),
            F.coalesce(F.col(CORRUPT), raw if problem else F.lit(None)).alias("_corrupt"),
            (F.lit("bad_header") if problem else F.when(F.col(CORRUPT).isNotNull(), F.lit("malformed_record")))
            .alias("_error"),
            F.lit(problem).alias("_detail"),
        )
        typed = T.StructType([T.StructField(n, types[n.lower()]) for n in names if n.lower() in types])
        frames.append(frame if problem else conform(frame, typed))
    return _union(frames)


def _header_problem(header: tuple[str, ...], id_column: str | None) -> str | None:
    lowered = [h.lower() for h in header]
    dupes = sorted({h for h in lowered if lowered.count(h) > 1})
    if dupes:
        return f"duplicated header column(s): {', '.join(dupes)}"
    if id_column and id_column.lower() not in lowered:
        return f"header has no column {id_column!r} (wrong delimiter?): {','.join(header)[:200]}"
    return None


def _cast(df: DataFrame, name: str, target: T.DataType) -> Column:
    """`name` cast to `target`; a pair of types Spark does not cast between (an int column where bronze holds
    dates) goes through text, so each value that does not fit is null and its record marked, instead of the
    whole file failing to plan."""
    direct = F.col(f"`{name}`").cast(target)
    try:
        df.select(direct).schema  # noqa: B018 - analysis only: does Spark allow the cast?
    except AnalysisException:
        return F.col(f"`{name}`").cast("string").cast(target)
    return direct


def conform(df: DataFrame, target: T.StructType) -> DataFrame:
    """Cast columns to the target (frozen) types; a value the cast loses marks its record wrong_type."""
    problems = []
    columns = []
    for fld in target.fields:
        if fld.name not in df.columns:
            continue
        current = df.schema[fld.name].dataType
        if current == fld.dataType:
            columns.append(F.col(f"`{fld.name}`"))
            continue
        cast = _cast(df, fld.name, fld.dataType)
        problems.append(F.when(F.col(f"`{fld.name}`").isNotNull() & cast.isNull(),
                               F.lit(f"{fld.name}: {current.simpleString()} value does not fit "
                                     f"{fld.dataType.simpleString()}")))
        columns.append(cast.alias(fld.name))
    rest = [F.col(f"`{c}`") for c in df.columns if c not in target.fieldNames()]
    if not problems:
        return df.select(*columns, *rest)
    detail = F.concat_ws("; ", *problems)
    # a record that did not parse stays malformed
    bad = ((detail != "") & F.col("_error").isNull()).alias("_cast_bad")
    out = df.select(*columns, *rest, detail.alias("_cast_detail"), bad)
    return (out.withColumn("_error", F.when(F.col("_cast_bad"), F.lit("wrong_type")).otherwise(F.col("_error")))
            .withColumn("_detail", F.when(F.col("_cast_bad"), F.col("_cast_detail")).otherwise(F.col("_detail")))
            .drop("_cast_detail", "_cast_bad"))


def parquet_schema(files: list[str]) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """Files grouped by their Parquet schema, and the files whose footer cannot be read (with the error)."""
    groups: dict[str, list[str]] = defaultdict(list)
    broken = []
    for file in files:
        fs, path = filesystem(file)
        try:
            with fs.open_input_file(path) as handle:
                groups[str(pq.read_schema(handle))].append(file)
        except Exception as exc:  # noqa: BLE001 - any unreadable footer
            broken.append((file, f"unreadable Parquet file: {exc}"[:500]))
    return groups, broken


def read_parquet(spark: SparkSession, files: list[str], frozen: T.StructType | None) -> DataFrame:
    """Parquet files grouped by schema (so a changed type in one file does not fail the others), each group
    conformed to the frozen types; a file whose footer cannot be read becomes one unreadable_file record."""
    groups, broken = parquet_schema(files)
    readers = [spark.read.parquet(*group) for _, group in sorted(groups.items())]
    target = frozen
    for reader in readers:
        target = merge_schema(target, reader.schema)
    frames = []
    for reader in readers:
        frame = _position(_located(reader), "row").select("*", *_no_text("_raw", "_corrupt", "_error", "_detail"))
        frames.append(conform(frame, target) if target is not None else frame)
    if broken:
        frames.append(local_frame(
            spark,
            [(f, "file", None, f, "unreadable_file", d) for f, d in broken],
            "_source_file string, _record_ref string, _raw string, _corrupt string, _error string, _detail string"))
    return _union(frames)


def _union(frames: list[DataFrame]) -> DataFrame | None:
    if not frames:
        return None
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame, allowMissingColumns=True)
    return out


def jdbc_location(url: str, table: str | None, query: str | None) -> str:
    """How a JDBC source is named in bronze and the ledger (never with credentials)."""
    return f"{url.split('?')[0]}#{table or 'query'}"


def read_jdbc(spark: SparkSession, options: dict[str, str], location: str, where: Column | None = None) -> DataFrame:
    """Rows of a database table or query, those `where` holds only (Spark pushes the filter down to the
    database where it can: a comparison of a plain column)."""
    frame = spark.read.format("jdbc").options(**options).load()
    if where is not None:
        frame = frame.where(where)
    frame = frame.withColumn("_seq", F.monotonically_increasing_id())
    return frame.select(
        *[F.col(f"`{c}`") for c in frame.columns if c != "_seq"], F.lit(location).alias("_source_file"),
        F.concat(F.lit("row "), (F.col("_seq") + 1).cast("string")).alias("_record_ref"),
        *_no_text("_raw", "_corrupt", "_error"))
