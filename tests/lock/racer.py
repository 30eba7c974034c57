"""One contender of the lock race (tests/lock/test_race.py), run as its own process.

At each given start time it tries to take the lock at once; holding it, it records the time it took and let
go of it in its own log, and every fifth round it "dies" holding it (no release: the next rounds find a lease
that runs out and take it over).

    python -m tests.lock.racer <local folder | s3 endpoint> <log file> <lease seconds> <start>...
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from c360.errors import C360Error
from c360.lock.lease import Lease
from c360.lock.local import LocalLockStore


def main(where: str, log: str, lease_seconds: float, starts: list[float]) -> None:
    if where.startswith("http"):
        from tests.lock.conftest import s3_store

        store = s3_store(where, "race/_lock")
    else:
        store = LocalLockStore(Path(where))
    held = []
    for round_no, start in enumerate(starts):
        time.sleep(max(0.0, start - time.time()))
        lease = Lease(store, "race", f"round {round_no}", lease_seconds)
        try:
            lease.acquire(0)
        except C360Error:
            continue
        took = time.time()
        time.sleep(0.05)
        lease.check()
        dies = round_no % 5 == 4
        if dies:
            lease._stop.set()  # noqa: SLF001 - killed holding it: no renewal, no release
        else:
            lease.release()
        held.append({"round": round_no, "epoch": lease.epoch, "took": took, "let_go": time.time(), "died": dies,
                     "renewed": lease._renewed})  # noqa: SLF001 - a dead holder's lease runs out from here
    Path(log).write_text(json.dumps(held))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), [float(s) for s in sys.argv[4:]])
