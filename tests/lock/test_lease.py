"""The lock's store contract on each engine (a local folder, S3 through moto's server), and the lease on
top of it: a second writer fails naming the holder or waits, a released or expired lock is taken over at
the next epoch, a holder whose lock was taken over cannot commit, a dead local process's lock goes at once."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from c360.config import LockSettings
from c360.errors import C360Error
from c360.lock import FOLDER, holding, store_for
from c360.lock.base import LockStore
from c360.lock.lease import Lease, LockLost, epoch_name


def test_the_store_creates_once_reads_replaces_lists_and_removes(lock_store: LockStore) -> None:
    assert lock_store.names() == [] and lock_store.read("a.json") is None
    assert lock_store.create("a.json", b"first") is True
    assert lock_store.create("a.json", b"second") is False, "an existing object is never created again"
    assert lock_store.read("a.json") == b"first"
    lock_store.replace("a.json", b"third")
    lock_store.create("b.json", b"x")
    assert lock_store.read("a.json") == b"third" and lock_store.names() == ["a.json", "b.json"]
    lock_store.remove("a.json")
    lock_store.remove("a.json")
    assert lock_store.names() == ["b.json"]


def test_a_second_writer_fails_naming_the_holder_then_takes_the_released_lock(lock_store: LockStore) -> None:
    first = Lease(lock_store, "run", "20261207T080000.000Z-aaaa", lease_seconds=30)
    first.acquire(0)
    with pytest.raises(C360Error, match=r"busy: run 20261207T080000.000Z-aaaa holds the warehouse lock .* epoch 1\)"):
        Lease(lock_store, "erase", "e1", lease_seconds=30).acquire(0)
    first.check()
    first.release()
    second = Lease(lock_store, "erase", "e2", lease_seconds=30)
    second.acquire(0)
    assert second.epoch == 2 and json.loads(lock_store.read(epoch_name(2)))["what"] == "erase"
    second.release()
    assert json.loads(lock_store.read(epoch_name(2)))["released"] is True


def test_a_writer_waits_for_the_lock_up_to_its_limit(lock_store: LockStore) -> None:
    holder = Lease(lock_store, "maintain", "m1", lease_seconds=30)
    holder.acquire(0)
    threading.Timer(0.6, holder.release).start()
    waiting = Lease(lock_store, "run", "r1", lease_seconds=30)
    started = time.monotonic()
    waiting.acquire(10)
    assert 0.5 < time.monotonic() - started < 5 and waiting.epoch == 2
    with pytest.raises(C360Error, match=r"busy after waiting 0.3 s \(lock.wait_seconds\)"):
        Lease(lock_store, "erase", "e1", lease_seconds=30).acquire(0.3)
    waiting.release()


def test_a_lock_not_renewed_is_taken_over_and_its_holder_cannot_commit(lock_store: LockStore) -> None:
    stalled = Lease(lock_store, "run", "stalled", lease_seconds=0.6)
    stalled.acquire(0)
    stalled._stop.set()  # its renewals stop, as in a process paused or cut off from the store  # noqa: SLF001
    time.sleep(1.0)
    taker = Lease(lock_store, "run", "taker", lease_seconds=30)
    taker.acquire(0)
    assert taker.epoch == stalled.epoch + 1
    with pytest.raises(LockLost, match="stalled lost the warehouse lock"):
        stalled.check()
    stalled.release()  # taken over: it leaves the newer epoch alone
    taker.check()
    assert json.loads(lock_store.read(epoch_name(taker.epoch)))["released"] is False
    taker.release()


def test_a_lease_renewed_in_time_is_kept(lock_store: LockStore) -> None:
    holder = Lease(lock_store, "run", "r1", lease_seconds=0.6)
    holder.acquire(0)
    time.sleep(1.5)  # two and a half leases: renewed every 0.2 s
    holder.check()
    with pytest.raises(C360Error, match="busy"):
        Lease(lock_store, "run", "r2", lease_seconds=0.6).acquire(0)
    holder.release()


def test_a_lock_left_by_a_dead_local_process_is_taken_over_at_once(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    folder = tmp_path / FOLDER
    folder.mkdir()
    (folder / epoch_name(7)).write_text(json.dumps({
        "epoch": 7, "what": "run", "id": "old", "host": socket.gethostname(), "pid": int(dead.stdout),
        "renewed_at": time.time(), "lease_seconds": 600, "released": False}))
    with holding(str(tmp_path), "maintain", "m1") as lease:
        assert lease.epoch == 8


def test_the_lock_goes_where_the_warehouse_is(tmp_path: Path) -> None:
    assert store_for(str(tmp_path)).where == str(tmp_path / FOLDER)
    assert store_for(f"file://{tmp_path}").where == str(tmp_path / FOLDER)
    assert store_for("s3a://bucket/wh/").where == "s3://bucket/wh/_lock"
    for other in ("dbfs:/mnt/wh", "abfss://c@a.dfs.core.windows.net/wh", "gs://b/wh"):
        assert store_for(other) is None
    with holding("dbfs:/mnt/wh", "run", "r", LockSettings()) as lease:
        assert lease is None
