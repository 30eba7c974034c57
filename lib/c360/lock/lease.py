"""The lease protocol of the warehouse lock, on any LockStore (see base).

Each taking of the lock creates the next **epoch** object, `epoch-000000000042.json`, only if it does not
exist: of two writers contending for one epoch, exactly one wins. The object names its holder (what, id,
host, process, start) and when it last renewed its lease. The lock is held by the highest epoch unless that
object says it was released, its lease ran out (not renewed for `lease_seconds`: the holder was killed or
lost the store), or its process is gone (same host). Taking over a lock creates the next epoch.

A holder renews from a background thread every third of its lease. Before each commit (`check`) it makes
sure no higher epoch exists and its own lease has not run out, so a holder that was paused past its lease
and taken over stops before it writes again (fencing); every commit carries the epoch in its metadata (see
storage). Expiry is judged by the wall clocks of the hosts involved, which must agree to well within a lease.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import time
from datetime import datetime, timezone

from c360.errors import C360Error
from c360.lock.base import LockStore

log = logging.getLogger(__name__)

EPOCH = re.compile(r"^epoch-(\d{12})\.json$")
KEEP = 2  # epoch objects kept: the holder's and the one before it (who held last, for a person looking)


class LockLost(C360Error):
    """The holder's lock was taken over (or its lease ran out) before a commit: the work stops unwritten."""


def epoch_name(epoch: int) -> str:
    """The object of one epoch (zero-padded, so names sort as epochs do)."""
    return f"epoch-{epoch:012d}.json"


def _process_gone(holder: dict) -> bool:
    """Whether the holder ran on this host in a process that no longer exists."""
    if holder.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(holder.get("pid", 0)), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError, OverflowError):
        return False
    return False


def free_because(holder: dict, now: float) -> str | None:
    """Why the lock `holder` describes is free (released, lease ran out, process gone), or None."""
    if holder.get("released"):
        return "released"
    if now - float(holder.get("renewed_at", 0)) > float(holder.get("lease_seconds", 0)):
        return "its lease ran out"
    return "its process is gone" if _process_gone(holder) else None


def describe(holder: dict, where: str) -> str:
    """Who holds the lock, for a message."""
    return (f"{holder.get('what')} {holder.get('id')} holds the warehouse lock {where} (host {holder.get('host')}, "
            f"process {holder.get('pid')}, since {holder.get('since')}, epoch {holder.get('epoch')})")


class Lease:
    """One holder's claim on a warehouse's lock: take it, renew it, check it before commits, release it."""

    def __init__(self, store: LockStore, what: str, ident: str, lease_seconds: float) -> None:
        self.store, self.what, self.ident, self.lease_seconds = store, what, ident, lease_seconds
        self.epoch = 0
        self.since = ""
        self._renewed = 0.0
        self._lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- reading the store -----------------------------------------------------------------------------

    def epochs(self) -> list[int]:
        """Every epoch whose object exists, in order."""
        return sorted(int(m.group(1)) for n in self.store.names() if (m := EPOCH.match(n)))

    def holder(self, epoch: int) -> dict | None:
        """What epoch `epoch`'s object says (None when it is gone or unreadable)."""
        body = self.store.read(epoch_name(epoch))
        try:
            return json.loads(body) if body else None
        except json.JSONDecodeError:
            return None

    def _newer(self) -> list[int]:
        """The epochs after this holder's: someone took the lock over."""
        return [e for e in self.epochs() if e > self.epoch]

    def _record(self, renewed_at: float, released: bool = False) -> bytes:
        return json.dumps({"epoch": self.epoch, "what": self.what, "id": self.ident, "host": socket.gethostname(),
                           "pid": os.getpid(), "since": self.since, "renewed_at": renewed_at,
                           "lease_seconds": self.lease_seconds, "released": released}).encode()

    # --- taking and giving back ------------------------------------------------------------------------

    def try_take(self) -> dict | None:
        """Take the lock if it is free; None when taken, else what its holder's object says."""
        top = max(self.epochs(), default=0)
        if top:
            holder = self.holder(top)
            if holder is None or free_because(holder, time.time()) is None:
                return holder or {"what": "a writer", "id": "?", "epoch": top}
        self.since = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.epoch, renewed = top + 1, time.time()
        if self.store.create(epoch_name(self.epoch), self._record(renewed)):
            self._renewed = renewed
            return None
        self.epoch = 0
        return self.holder(top + 1) or {"what": "a writer", "id": "?", "epoch": top + 1}

    def acquire(self, wait_seconds: float) -> None:
        """Take the lock, waiting up to `wait_seconds` for it; a C360Error naming the holder after that."""
        deadline = time.monotonic() + wait_seconds
        while True:
            holder = self.try_take()
            if holder is None:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                waited = f" after waiting {wait_seconds:g} s (lock.wait_seconds)" if wait_seconds else ""
                raise C360Error(f"the warehouse is busy{waited}: {describe(holder, self.store.where)}. It is taken "
                                f"over once its holder stops renewing it for {holder.get('lease_seconds', '?')} s "
                                "(lock.lease_seconds), at once when its process on this host is gone")
            time.sleep(min(1.0, max(0.05, left)))
        for old in self.epochs()[:-KEEP]:
            self.store.remove(epoch_name(old))
        self._thread = threading.Thread(target=self._renewing, name=f"c360-lock-{self.epoch}", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Stop renewing and mark the lock released (unless it was taken over meanwhile)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._lost is None and max(self.epochs(), default=0) == self.epoch:
            self.store.replace(epoch_name(self.epoch), self._record(time.time(), released=True))

    # --- holding ---------------------------------------------------------------------------------------

    def _renewing(self) -> None:
        while not self._stop.wait(self.lease_seconds / 3):
            try:
                newer = self._newer()
                if newer:
                    self._lost = f"epoch {newer[-1]} took the lock over"
                    return
                renewed = time.time()
                self.store.replace(epoch_name(self.epoch), self._record(renewed))
                self._renewed = renewed
            except Exception as exc:  # noqa: BLE001 - a store that cannot be reached: check() sees the lease run out
                log.warning("lock: could not renew epoch %d on %s: %s", self.epoch, self.store.where, exc)

    def check(self) -> None:
        """Before a commit: raise LockLost when another epoch took the lock over or this lease ran out."""
        if self._lost is None and time.time() - self._renewed > self.lease_seconds:
            self._lost = f"its lease of {self.lease_seconds:g} s ran out (not renewed since {self._renewed:.0f})"
        if self._lost is None:
            newer = self._newer()
            if newer:
                self._lost = f"epoch {newer[-1]} took the lock over"
        if self._lost is not None:
            raise LockLost(f"{self.what} {self.ident} lost the warehouse lock {self.store.where} (epoch {self.epoch}): "
                           f"{self._lost}; it stops before committing. Run it again")

    def metadata(self) -> dict[str, str]:
        """What every commit made under this lock carries."""
        return {"c360.lock_epoch": str(self.epoch), "c360.lock_holder": f"{self.what} {self.ident}"}
