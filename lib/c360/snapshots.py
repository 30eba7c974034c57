"""What readers see: the tables as the last completed runs left them, never half a run.

A stage commits its tables one after another, so a reader between two commits would see, say, a new identity
map beside the previous profiles. Each silver and gold run records, once it has finished, the version of
every table it wrote (its row in silver._runs or gold._runs: see recovery.finished); an erasure or a purge
moves those bookmarks over its own commits. Readers (`c360 sql`, `c360 sql-server`) read those versions by
Delta time travel: silver's tables as the last completed silver run left them, gold's and analytics' as the
last completed gold run did. Other tables (bronze, steward, privacy) are read as they stand. A pinned
version no longer readable (vacuumed past its retention) is read as it stands, with a warning.
"""

from __future__ import annotations

import json
import logging

from pyspark.sql import DataFrame

from c360.storage import TableStore

log = logging.getLogger(__name__)

RUNS = ("silver._runs", "gold._runs")


def completed(store: TableStore) -> dict[str, int]:
    """Table -> the version the last completed silver or gold run left it at."""
    pinned: dict[str, int] = {}
    for runs in RUNS:
        if not store.exists(runs):
            continue
        for row in store.read(runs).orderBy("finished_at", ascending=False).select("summary").collect():
            finished = json.loads(row["summary"]).get("finished")
            if finished:
                pinned.update({t: int(v) for t, v in finished["versions"].items() if t not in RUNS})
                break
    return pinned


def read(store: TableStore, table: str, pinned: dict[str, int] | None) -> tuple[DataFrame, int | None]:
    """`table` as readers see it (its pinned version, or as it stands without one or with `pinned` None),
    and the version read (None: as it stands)."""
    version = (pinned or {}).get(table)
    if version is None:
        return store.read(table), None
    # read by version even when it is the current one: a run may commit the next between a check and the read
    try:
        frame = store.read(table, version=version)
        frame.schema  # noqa: B018 - resolves the snapshot now, so a vacuumed version fails here
        return frame, version
    except Exception as exc:  # noqa: BLE001 - either engine's error for a version whose files are gone
        log.warning("%s: version %d of the last completed run cannot be read (%s); reading it as it stands",
                    table, version, str(exc).splitlines()[0])
        return store.read(table), None
