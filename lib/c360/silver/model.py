"""Versioned linkage model files: `person_linkage_v0001.json`, `..._v0002.json`, ... in one folder.

A model is Splink's settings JSON (comparisons, blocking rules, trained m/u and prior) plus c360's own
`c360` block (when, on which records, what evidence training had, whether it is provisional). Versions are
only ever added; `current.json` in the folder names the version runs score with (a retrain held back by the
churn limit leaves a version that never became current; `c360 train --rollback` points back to an older
one). A folder without the pointer (one written before it existed, or a model copied in by hand) uses its
newest version that was not held back. The folder may be a local path or a URI of the warehouse's file
systems (s3://...): every file goes through pyarrow's file systems, like the run reports.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from c360.config import C360Config
from c360.errors import C360Error
from c360.fs import filesystem
from c360.silver.linkage.term_frequencies import Frequencies

NAME = "person_linkage"
PATTERN = re.compile(rf"^{NAME}_v(\d{{4,}})\.json$")
TOTALS = "totals.json"  # in a model's term-frequency folder: the count of non-null values per column
CURRENT = "current.json"  # in the model folder: the version runs score with, when and why it became current


def _read_text(path: str) -> str:
    fs, local = filesystem(path)
    with fs.open_input_stream(local) as stream:
        return stream.read().decode("utf-8")


def _write_text(path: str, text: str) -> None:
    """Write a whole file so that no reader sees half of it (a temporary file moved into place; an object
    store's single PUT is atomic by itself)."""
    fs, local = filesystem(path)
    fs.create_dir(local.rsplit("/", 1)[0], recursive=True)
    if not isinstance(fs, pafs.LocalFileSystem):
        with fs.open_output_stream(local) as out:
            out.write(text.encode("utf-8"))
        return
    tmp = f"{local}.tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, local)


def _exists(path: str) -> bool:
    fs, local = filesystem(path)
    return fs.get_file_info(local).type != pafs.FileType.NotFound


@dataclass(frozen=True)
class ModelFile:
    """One saved model version."""

    version: int
    path: str

    @property
    def folder(self) -> str:
        return self.path.rsplit("/", 1)[0]

    def _document(self) -> dict:
        return json.loads(_read_text(self.path))

    def load(self) -> dict:
        """The Splink settings dictionary (c360's metadata removed)."""
        model = self._document()
        model.pop("c360", None)
        return model

    def metadata(self) -> dict:
        """c360's block: training time and run, records, the spec, training evidence, provisional, held back."""
        return self._document().get("c360", {})

    def annotate(self, **fields: object) -> None:
        """Add fields to c360's block (a retrain held back says so on its candidate); the model stays as is."""
        document = self._document()
        document["c360"] = {**document.get("c360", {}), **fields}
        _write_text(self.path, json.dumps(document, indent=2, default=str))

    @property
    def term_frequencies_dir(self) -> str:
        """The folder beside the model holding its term-frequency tables (`<model>.tf/`)."""
        return self.path[: -len(".json")] + ".tf"

    def term_frequencies(self) -> dict[str, Frequencies] | None:
        """The model version's term-frequency tables by column, or None when none were saved yet."""
        folder = self.term_frequencies_dir
        if not _exists(f"{folder}/{TOTALS}"):
            return None
        totals = json.loads(_read_text(f"{folder}/{TOTALS}"))
        fs, local = filesystem(folder)
        return {column: Frequencies(column, pq.read_table(f"{local}/{column}.parquet", filesystem=fs), total)
                for column, total in totals.items()}

    def save_term_frequencies(self, tables: list[Frequencies]) -> None:
        """Write the tables once; the totals file goes last and marks them complete (a crash before it leaves
        tables a later run writes again). A version that has them keeps them (its frequencies never change)."""
        folder = self.term_frequencies_dir
        if _exists(f"{folder}/{TOTALS}"):
            return
        fs, local = filesystem(folder)
        fs.create_dir(local, recursive=True)
        for table in tables:
            pq.write_table(table.table.cast(pa.schema([("value", pa.string()), ("count", pa.int64())])),
                           f"{local}/{table.column}.parquet", filesystem=fs)
        _write_text(f"{folder}/{TOTALS}", json.dumps({t.column: t.total for t in tables}))


def model_dir(config: C360Config) -> str:
    """The model folder: silver.linkage.model_dir, else <warehouse>/_models/person_linkage."""
    return (config.silver.linkage.model_dir or f"{config.warehouse.rstrip('/')}/_models/{NAME}").rstrip("/")


def versions(folder: str | os.PathLike) -> list[ModelFile]:
    """Every saved version in `folder`, oldest first."""
    folder = os.fspath(folder)
    fs, local = filesystem(folder)
    info = fs.get_file_info(pafs.FileSelector(local, allow_not_found=True))
    found = [(int(m.group(1)), f"{folder}/{i.base_name}") for i in info
             if i.type == pafs.FileType.File and (m := PATTERN.match(i.base_name))]
    return [ModelFile(v, p) for v, p in sorted(found)]


def version(folder: str | os.PathLike, number: int) -> ModelFile:
    """Version `number` of `folder`; a C360Error naming the versions there when it does not exist."""
    folder = os.fspath(folder)
    saved = versions(folder)
    for model in saved:
        if model.version == number:
            return model
    raise C360Error(f"silver: model version {number} does not exist in {folder} "
                    f"(versions: {', '.join(str(m.version) for m in saved) or 'none'})")


def latest(folder: str | os.PathLike) -> ModelFile | None:
    """The version runs score with: the one `current.json` names, else the newest not held back; None
    when there is none."""
    folder = os.fspath(folder)
    pointer = f"{folder}/{CURRENT}"
    if _exists(pointer):
        return version(folder, int(json.loads(_read_text(pointer))["version"]))
    usable = [m for m in versions(folder) if not m.metadata().get("held_back")]
    return usable[-1] if usable else None


def make_current(model: ModelFile, why: str) -> None:
    """Point runs at `model` from now on (its folder's `current.json`)."""
    _write_text(f"{model.folder}/{CURRENT}", json.dumps({
        "version": model.version, "since": datetime.now(timezone.utc).isoformat(), "why": why}))


def rollback(folder: str | os.PathLike) -> tuple[ModelFile, ModelFile]:
    """Make the version before the current one current again (versions held back are passed over); returns
    (the one left, the one now current)."""
    folder = os.fspath(folder)
    now = latest(folder)
    if now is None:
        raise C360Error(f"c360 train --rollback: no model in {folder}")
    earlier = [m for m in versions(folder) if m.version < now.version and not m.metadata().get("held_back")]
    if not earlier:
        raise C360Error(f"c360 train --rollback: model v{now.version} is the first version in {folder}; "
                        "there is none to roll back to")
    make_current(earlier[-1], f"rolled back from v{now.version}")
    return now, earlier[-1]


def save(folder: str | os.PathLike, settings: dict, metadata: dict, current: bool = True) -> ModelFile:
    """Write the next version (atomically) and, with `current`, make it the one runs score with; a
    candidate that must pass the churn limit first is saved with current=False."""
    folder = os.fspath(folder).rstrip("/")
    saved = versions(folder)
    number = (saved[-1].version if saved else 0) + 1
    model = ModelFile(number, f"{folder}/{NAME}_v{number:04d}.json")
    _write_text(model.path, json.dumps({**settings, "c360": {**metadata, "version": number}}, indent=2, default=str))
    if current:
        make_current(model, "trained")
    return model
