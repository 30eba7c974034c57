"""Completing a stage run that died between two of its writes: undo what it wrote, then redo the run.

A stage that writes several tables cannot commit them atomically (each Delta table has its own log). One
that dies after some of them leaves a mix of the new and the old. For silver that mix is harmful, because
the next run reads its own last output as state: the identity map as the previous ids, the match pairs as
the last run's links. A run that found the identity map already moved would record no merge and write no
redirect.

So each run records, when it has finished, the versions of its tables and its Delta transaction version
(its summary's `finished`). Every write of a run carries that transaction (app id and version). The next run
first restores each table on which a later transaction of the same app committed: the dead run's. It leaves
alone commits of anyone else, such as a compaction or a correction made by hand. It then takes the same
changes again from the state the last finished run left. Its own transaction version must pass the dead
run's, because a retry with the same run id would otherwise skip its writes as already done.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from c360.storage import TableStore, Txn

log = logging.getLogger(__name__)


def finished(store: TableStore, tables: Iterable[str], txn: Txn) -> dict:
    """What a run records when it has finished: the current version of each of `tables` that exists, and
    its transaction version."""
    return {"versions": {t: v for t in tables if (v := store.version(t)) is not None}, "txn": txn.version}


def undo_unfinished(store: TableStore, last: Mapping | None, app_id: str) -> dict[str, int]:
    """Restore each table of the last finished run (`last`: what `finished` recorded, or None) on which a
    later transaction of `app_id` committed: a run that died midway. Returns {table: version restored to}."""
    undone: dict[str, int] = {}
    if not last:
        return undone
    for table, version in sorted(last["versions"].items()):
        done = store.txn_version(table, app_id) if store.exists(table) else None
        if done is not None and done > last["txn"]:
            store.restore(table, version)
            undone[table] = version
    if undone:
        log.warning("a run after the last finished one stopped midway; restored %s", undone)
    return undone


def transaction(store: TableStore, txn: Txn, undone: Iterable[str]) -> Txn:
    """`txn`, or one past the transaction version the dead run left on the `undone` tables: a retry with the
    same run id must write again what was undone, not skip it as done."""
    left = [v for t in undone if (v := store.txn_version(t, txn.app_id)) is not None]
    return txn if not left or max(left) < txn.version else Txn(txn.app_id, max(left) + 1)
