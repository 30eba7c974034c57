"""One writer at a time on a warehouse: a run, `c360 maintain` and `c360 erase` each hold its lock.

The lock lives beside the tables, in `<warehouse>/_lock/`, as a lease (see lease): a second writer waits up
to `lock.wait_seconds` and then fails naming the holder; a lock its holder stopped renewing (killed, cut
off) is taken over after `lock.lease_seconds`, at once on the same host when its process is gone; a holder
that lost its lock stops before its next commit, and every commit carries the lock's epoch. It works on a
local or shared POSIX file system (local) and on S3 or any store with S3's conditional writes (s3); on
other file systems (dbfs:/, abfss://, gs://) writers are not locked, and the log says so.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from c360.config import LockSettings
from c360.lock.base import LockStore
from c360.lock.lease import Lease, LockLost
from c360.lock.local import LocalLockStore

if TYPE_CHECKING:
    from c360.storage import TableStore

__all__ = ["FOLDER", "Lease", "LockLost", "LockStore", "holding", "store_for"]
log = logging.getLogger(__name__)

FOLDER = "_lock"


def store_for(warehouse: str) -> LockStore | None:
    """The lock's store for a warehouse folder or URI: local paths and file: URIs, s3:// and s3a:// URIs;
    None for other file systems."""
    if warehouse.startswith("file:"):
        return LocalLockStore(Path(warehouse.removeprefix("file://").removeprefix("file:")) / FOLDER)
    found = re.match(r"^s3a?://([^/]+)/?(.*)$", warehouse)
    if found:
        from c360.lock.s3 import S3LockStore

        return S3LockStore(found.group(1), f"{found.group(2).rstrip('/')}/{FOLDER}".lstrip("/"))
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:", warehouse):
        return None
    return LocalLockStore(Path(warehouse) / FOLDER)


@contextmanager
def holding(warehouse: str, what: str, ident: str, settings: LockSettings | None = None,
            tables: TableStore | None = None, store: LockStore | None = None) -> Iterator[Lease | None]:
    """Hold the warehouse's lock while the block runs (see the module); `tables`, the block's table store,
    checks the lease before every commit and records its epoch with it. `store` replaces the warehouse's
    own lock store (tests)."""
    settings = settings or LockSettings()
    store = store or store_for(warehouse)
    if store is None:
        log.warning("lock: %s is on a file system c360 cannot lock; make sure one writer runs at a time", warehouse)
        yield None
        return
    lease = Lease(store, what, ident, settings.lease_seconds)
    lease.acquire(settings.wait_seconds)
    if tables is not None:
        tables.fence = lease
    try:
        yield lease
    finally:
        if tables is not None:
            tables.fence = None
        lease.release()
