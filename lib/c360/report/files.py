"""Report folders on the warehouse's file systems (local paths or URIs such as s3://), written through
pyarrow's file systems like the tables are; the last N runs are kept."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow.fs as pafs

from c360.config import C360Config
from c360.fs import filesystem

ASSETS = "_assets"   # files every run's page shares (the plotting library's script)


def reports_root(config: C360Config) -> str:
    """Where run folders go: silver.reports_dir, else <warehouse>/_reports."""
    return (config.silver.reports_dir or f"{config.warehouse.rstrip('/')}/_reports").rstrip("/")


def run_folder(config: C360Config, run_id: str) -> str:
    """The folder of one run's report."""
    return f"{reports_root(config)}/{run_id}"


def _is_local(fs: pafs.FileSystem) -> bool:
    return isinstance(fs, pafs.LocalFileSystem)


@contextmanager
def staged(target: str) -> Iterator[str]:
    """A local folder whose files end up in `target`: the folder itself when it is local, else a temporary
    one copied up when the block ends (Splink writes its charts to local files only)."""
    fs, path = filesystem(target)
    if _is_local(fs):
        os.makedirs(path, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="c360-report-") as local:
        yield local
        fs.create_dir(path, recursive=True)
        pafs.copy_files(local, path, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs)


def write_text(folder: str, name: str, text: str) -> str:
    """Write one file into `folder` (created if missing); returns its full path or URI."""
    fs, path = filesystem(folder)
    fs.create_dir(path, recursive=True)
    with fs.open_output_stream(f"{path}/{name}") as out:
        out.write(text.encode("utf-8"))
    return f"{folder}/{name}"


def read_text(folder: str, name: str) -> str | None:
    """A report file's text, or None when it is not there (local path or URI)."""
    fs, path = filesystem(folder)
    if fs.get_file_info(f"{path}/{name}").type != pafs.FileType.File:
        return None
    with fs.open_input_stream(f"{path}/{name}") as stream:
        return stream.read().decode("utf-8")


def exists(folder: str, name: str) -> bool:
    """Whether a report file is there (local path or URI)."""
    fs, path = filesystem(folder)
    return fs.get_file_info(f"{path}/{name}").type == pafs.FileType.File


def file_names(folder: str) -> list[str]:
    """The names of the files directly in `folder`, sorted."""
    fs, path = filesystem(folder)
    infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    return sorted(i.base_name for i in infos if i.type == pafs.FileType.File)


def run_ids(root: str) -> list[str]:
    """The run folders under `root`, oldest first (run ids sort by their start time)."""
    fs, path = filesystem(root)
    infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    return sorted(i.base_name for i in infos if i.type == pafs.FileType.Directory and not i.base_name.startswith("_"))


def prune(root: str, keep: int) -> list[str]:
    """Delete all but the newest `keep` run folders; returns the run ids deleted."""
    fs, path = filesystem(root)
    old = run_ids(root)[:-keep] if keep > 0 else []
    for run_id in old:
        fs.delete_dir(f"{path}/{run_id}")
    return old


def latest_run(root: str) -> str | None:
    """The newest run whose report was written (its folder holds summary.json)."""
    return next((r for r in reversed(run_ids(root)) if exists(f"{root}/{r}", "summary.json")), None)
