"""The files beside the tables that can show an erased person: model term frequencies and report pages.

Each model version keeps the term frequencies of its match keys (`<model>.tf/<column>.parquet`: full names,
surnames, cities, companies). A value only the erased people held is dropped from every version; values
others hold stay, and so do the totals, so every remaining pair scores as before (a value missing from the
table scores like a value seen once, which nobody left holds). Run reports keep Splink's waterfall and
cluster-studio pages, which show records; every report file that holds a subject's e-mail, phone or record
id is deleted.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.fs import filesystem
from c360.pipeline import RunContext
from c360.privacy.lookup import Subjects
from c360.report.files import reports_root
from c360.silver import model as model_store
from c360.silver.linkage.keys import linkage_input
from c360.silver.tables import RECORDS


def scrub(ctx: RunContext, found: Subjects) -> dict:
    """Drop the subjects' own term-frequency values and delete report files showing them; how many of each."""
    dropped = scrub_term_frequencies(ctx, found.person_rows)
    removed = scrub_reports(reports_root(ctx.config), _values(found))
    return {"term_frequency_values": dropped, "report_files": len(removed), "report_files_removed": removed}


def _values(found: Subjects) -> list[str]:
    """The texts that show a subject: their e-mails, phones (in E.164 and as written, when that is one token)
    and record ids."""
    rows = found.person_rows.select("email", "phone", "phone_e164").collect()
    texts = {v for r in rows for v in r if v} | {r["source_record_id"] for r in found.records.collect()}
    return sorted(t for t in texts if len(t) >= 4)


def scrub_term_frequencies(ctx: RunContext, subject_rows: DataFrame) -> int:
    """Remove from every model version's term-frequency tables the values only the subjects hold; returns
    how many values went."""
    folder = model_store.model_dir(ctx.config)
    saved = {m: tables for m in model_store.versions(folder) if (tables := m.term_frequencies())}
    if not saved:
        return 0
    others = linkage_input(ctx.store.read(RECORDS).join(subject_rows.select("record_key"), "record_key", "left_anti"))
    theirs = linkage_input(subject_rows)
    removed = 0
    columns = {c for tables in saved.values() for c in tables}
    only = {c: {r[0] for r in theirs.select(c).where(F.col(c).isNotNull()).distinct()
                .join(others.select(c).distinct(), c, "left_anti").collect()} for c in columns}
    for model, tables in saved.items():
        fs, local = filesystem(model.term_frequencies_dir)
        for column, frequencies in tables.items():
            if not only[column]:
                continue
            table = frequencies.table
            keep = pc.invert(pc.is_in(table["value"], value_set=pa.array(sorted(only[column]))))
            kept = table.filter(keep)
            if kept.num_rows < table.num_rows:
                removed += table.num_rows - kept.num_rows
                pq.write_table(kept, f"{local}/{column}.parquet", filesystem=fs)
    return removed


TOKEN = re.compile(rb"[A-Za-z0-9@._+\-]+")
"""What can be an e-mail, a phone in E.164 or a record id in a page: the text between other characters."""


def tokens(text: bytes) -> set[str]:
    """The tokens of `text`, each also without trailing or leading dots, dashes and underscores (an e-mail
    ending a sentence)."""
    found = {t.decode("utf-8", "replace") for t in TOKEN.findall(text)}
    return found | {t.strip("._-") for t in found}


def scrub_reports(folder: str, values: list[str]) -> list[str]:
    """Delete every file under the reports `folder` that holds one of `values` as a whole token; returns
    their paths relative to the folder (one pass over each file, however many values)."""
    wanted = {v for v in values if TOKEN.fullmatch(v.encode())}
    if not wanted:
        return []
    fs, root = filesystem(folder)
    removed = []
    for info in fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True)):
        if info.type != pafs.FileType.File:
            continue
        with fs.open_input_stream(info.path) as stream:
            if tokens(stream.read()) & wanted:
                fs.delete_file(info.path)
                removed.append(info.path[len(root) + 1:])
    return sorted(removed)
