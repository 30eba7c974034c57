"""Versioned linkage model files: `person_linkage_v0001.json`, `..._v0002.json`, ... in one folder.

A model is Splink's settings JSON (comparisons, blocking rules, trained m/u and prior) plus c360's own
`c360` block (when, on how many records, how long training took). Runs predict with the newest version;
`c360 train` adds a version instead of overwriting one, so a run can always say which model linked it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from c360.config import C360Config
from c360.silver.linkage.term_frequencies import Frequencies

NAME = "person_linkage"
PATTERN = re.compile(rf"^{NAME}_v(\d{{4,}})\.json$")
TOTALS = "totals.json"  # in a model's term-frequency folder: the count of non-null values per column


@dataclass(frozen=True)
class ModelFile:
    """One saved model version."""

    version: int
    path: Path

    def load(self) -> dict:
        """The Splink settings dictionary (c360's metadata removed)."""
        model = json.loads(self.path.read_text(encoding="utf-8"))
        model.pop("c360", None)
        return model

    def metadata(self) -> dict:
        return json.loads(self.path.read_text(encoding="utf-8")).get("c360", {})

    @property
    def term_frequencies_dir(self) -> Path:
        """The folder beside the model holding its term-frequency tables (`<model>.tf/`)."""
        return self.path.with_suffix(".tf")

    def term_frequencies(self) -> dict[str, Frequencies] | None:
        """The model version's term-frequency tables by column, or None when none were saved yet."""
        folder = self.term_frequencies_dir
        if not (folder / TOTALS).is_file():
            return None
        totals = json.loads((folder / TOTALS).read_text(encoding="utf-8"))
        return {column: Frequencies(column, pq.read_table(folder / f"{column}.parquet"), total)
                for column, total in totals.items()}

    def save_term_frequencies(self, tables: list[Frequencies]) -> None:
        """Write the tables once, atomically (a folder renamed into place, so a crash never leaves half of
        them); a version that already has tables keeps them (a model's frequencies never change)."""
        if self.term_frequencies_dir.exists():
            return
        tmp = Path(tempfile.mkdtemp(prefix=".tf-", dir=self.path.parent))
        try:
            for table in tables:
                pq.write_table(table.table.cast(pa.schema([("value", pa.string()), ("count", pa.int64())])),
                               tmp / f"{table.column}.parquet")
            (tmp / TOTALS).write_text(json.dumps({t.column: t.total for t in tables}), encoding="utf-8")
            try:
                tmp.rename(self.term_frequencies_dir)
            except OSError:
                if not self.term_frequencies_dir.exists():  # another run saved them first: theirs stand
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def model_dir(config: C360Config) -> Path:
    return Path(config.silver.linkage.model_dir or os.path.join(config.warehouse, "_models", NAME))


def latest(folder: Path) -> ModelFile | None:
    """The newest model version in `folder`, or None."""
    if not folder.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := PATTERN.match(p.name))]
    return ModelFile(*max(found)) if found else None


def save(folder: Path, settings: dict, metadata: dict) -> ModelFile:
    """Write the next version atomically (temp file + rename, so a crash never leaves half a model)."""
    folder.mkdir(parents=True, exist_ok=True)
    current = latest(folder)
    version = (current.version if current else 0) + 1
    path = folder / f"{NAME}_v{version:04d}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({**settings, "c360": {**metadata, "version": version}}, indent=2, default=str),
                   encoding="utf-8")
    tmp.replace(path)
    return ModelFile(version, path)
