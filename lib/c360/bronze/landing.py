"""The landing folder as bronze sees it: which files match a source, their size, time and checksum.

Works on any file system pyarrow knows (local, S3, GCS, HDFS, Azure) through its URI. A file that vanishes
between listing and checksumming is reported, not ingested, and not entered in the ledger, so it is picked
up if it comes back.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone

import pyarrow.fs as pafs

from c360.fs import filesystem

CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class LandedFile:
    """One input file: its path as Spark reads it, and what the ledger records about it."""

    path: str
    size: int
    modified_at: datetime
    checksum: str


def _split_glob(pattern: str) -> tuple[pafs.FileSystem, str, str]:
    fs, path = filesystem(pattern)
    parts = path.split("/")
    fixed = []
    for part in parts:
        if any(ch in part for ch in "*?["):
            break
        fixed.append(part)
    return fs, "/".join(fixed) or "/", path


def uri(fs: pafs.FileSystem, path: str) -> str:
    """A path as Spark and the ledger name it (file:/..., s3a://... stays with its scheme)."""
    return f"file:{path}" if isinstance(fs, pafs.LocalFileSystem) else f"{fs.type_name}://{path}"


def list_files(pattern: str) -> list[tuple[str, int, datetime]]:
    """Files matching a glob (``*`` within a folder, ``**`` across folders), sorted by path."""
    fs, base, full = _split_glob(pattern)
    recursive = "**" in full
    try:
        single = fs.get_file_info(base) if base == full else None
        # a path without wildcards may name one file
        infos = ([single] if single is not None and single.type == pafs.FileType.File else
                 fs.get_file_info(pafs.FileSelector(base, recursive=recursive, allow_not_found=True)))
    except (FileNotFoundError, NotADirectoryError):
        return []
    matcher = re.compile(fnmatch.translate(full.replace("**/", "*")))
    found = []
    for info in infos:
        if info.type == pafs.FileType.File and matcher.match(info.path) and not info.base_name.startswith((".", "_")):
            mtime = info.mtime.astimezone(timezone.utc) if info.mtime else datetime.now(timezone.utc)
            found.append((uri(fs, info.path), info.size or 0, mtime))
    return sorted(found)


def checksum(path: str) -> str | None:
    """sha256 of the file's bytes, or None when the file disappeared."""
    fs, local = filesystem(path)
    digest = hashlib.sha256()
    try:
        with fs.open_input_stream(local) as stream:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        return None
    return digest.hexdigest()


def first_line(path: str, limit: int = 1 << 20) -> bytes:
    """The first line of a file (a CSV header), without reading the rest."""
    fs, local = filesystem(path)
    with fs.open_input_stream(local) as stream:
        head = stream.read(limit)
    return head.split(b"\n", 1)[0].rstrip(b"\r")


def land(pattern: str) -> tuple[list[LandedFile], list[str]]:
    """The files of a source with checksums, and the paths that vanished while being read."""
    files, vanished = [], []
    for path, size, mtime in list_files(pattern):
        digest = checksum(path)
        if digest is None:
            vanished.append(path)
        else:
            files.append(LandedFile(path, size, mtime, digest))
    return files, vanished
