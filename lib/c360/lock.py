"""One writer at a time on a warehouse: a run, `c360 maintain` and `c360 erase` each hold its lock file.

The lock is `<warehouse>/_lock.json`, created exclusively (the file system refuses a second creator) and
naming its holder: what it is doing, the run or erasure id, host, process and start. A second writer fails
at once with that holder's name. A lock whose process is gone (same host, no such process) is taken over;
one held from another host must be removed by hand after checking that its holder is gone. Warehouses on an
object store are not locked here: the object store needs a conditional write, which this lock does not use.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from c360.errors import C360Error

LOCK = "_lock.json"


def _local(warehouse: str) -> Path | None:
    """The warehouse as a local folder, or None on an object store or another file system (s3://, dbfs:/)."""
    if warehouse.startswith("file:"):
        return Path(warehouse.removeprefix("file://").removeprefix("file:"))
    return None if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:", warehouse) else Path(warehouse)


def _alive(holder: dict) -> bool:
    """Whether the lock's holder may still run (always, for a holder on another host)."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder.get("pid", 0)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


def _take(path: Path, holder: dict) -> None:
    """Create the lock file, or fail naming who holds it; a dead holder's lock is taken over."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            with os.fdopen(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY), "w") as out:
                json.dump(holder, out)
            return
        except FileExistsError:
            try:
                other = json.loads(path.read_text() or "{}")
            except (OSError, json.JSONDecodeError):
                other = {}
            if other and _alive(other):
                raise C360Error(
                    f"the warehouse is busy: {other.get('what')} {other.get('id')} holds {path} (host {other.get('host')}, "
                    f"process {other.get('pid')}, since {other.get('since')}); wait for it to finish, or remove the "
                    "file if that process is gone") from None
            path.unlink(missing_ok=True)
    raise C360Error(f"could not take the warehouse lock {path}")


@contextmanager
def holding(warehouse: str, what: str, ident: str) -> Iterator[None]:
    """Hold the warehouse's lock while the block runs (see the module)."""
    folder = _local(warehouse)
    if folder is None:
        yield
        return
    path = folder / LOCK
    holder = {"what": what, "id": ident, "host": socket.gethostname(), "pid": os.getpid(),
              "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    _take(path, holder)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
