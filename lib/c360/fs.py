"""File-system paths as c360 passes them around: local paths as they are, URIs for remote stores."""

from __future__ import annotations

from urllib.parse import unquote

import pyarrow.fs as pafs


def is_local(path: str) -> bool:
    """Whether `path` is on this machine's disk (a plain path or a file: URI), without contacting any store."""
    return path.startswith("file:") or "://" not in path


def filesystem(path: str) -> tuple[pafs.FileSystem, str]:
    """The file system and its own path for ``/x``, ``file:/x``, ``file:///x`` or ``s3://b/k`` (local paths
    are taken as they are, spaces and all, not parsed as URIs)."""
    if path.startswith("file:"):
        local = path[len("file:"):]
        while local.startswith("//"):
            local = local[1:]
        return pafs.LocalFileSystem(), local
    if is_local(path):
        return pafs.LocalFileSystem(), path
    return pafs.FileSystem.from_uri(path)


def decoded(uri: str) -> str:
    """A percent-encoded file URI (as Delta logs and delta-rs give them) as the plain path Spark opens."""
    return unquote(uri)
