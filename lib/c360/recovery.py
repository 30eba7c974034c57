"""Completing a stage run that died between two of its writes: undo what it wrote, then redo the run.

A stage that writes several tables cannot commit them atomically (each Delta table has its own log). One
that dies after some of them leaves a mix of the new and the old. For silver that mix is harmful, because
the next run reads its own last output as state: the identity map as the previous ids, the match pairs as
the last run's links. A run that found the identity map already moved would record no merge and write no
redirect.

So each run records, when it has finished, the versions of its tables and its Delta transaction version
(its summary's `finished`). Every write of a run carries that transaction (app id and version). The next run
first restores each table on which a later transaction of the same app committed, the dead run's, to the
version before the dead run's first commit: commits of anyone else made before it (a compaction, a correction
by hand) stay; another writer's commit between the dead run's commits stops the run with a message, since it
cannot be separated from them. It then takes the same changes again. Its own transaction version must pass
the dead run's, because a retry with the same run id would otherwise skip its writes as already done.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from c360.errors import C360Error
from c360.storage import TableStore, Txn
from c360.storage.base import COMMENT_OPERATIONS

log = logging.getLogger(__name__)


def finished(store: TableStore, tables: Iterable[str], txn: Txn) -> dict:
    """What a run records when it has finished: the current version of each of `tables` that exists, and
    its transaction version."""
    return {"versions": {t: v for t in tables if (v := store.version(t)) is not None}, "txn": txn.version}


def undo_unfinished(store: TableStore, last: Mapping | None, app_id: str) -> dict[str, int]:
    """Undo the commits a later transaction of `app_id` made (a run that died midway) on each table of the
    last finished run (`last`: what `finished` recorded, or None): the table goes back to the version just
    before the dead run's first commit, so commits of anyone else made before it (a compaction, a row
    corrected by hand) stay. Returns {table: version restored to}; a C360Error when another writer committed
    between the dead run's commits, which cannot be separated from them."""
    undone: dict[str, int] = {}
    if not last:
        return undone
    for table, version in sorted(last["versions"].items()):
        done = store.txn_version(table, app_id) if store.exists(table) else None
        if done is None or done <= last["txn"]:
            continue
        back = _before_dead_run(store, table, version, app_id, last["txn"])
        if back is not None and store.restore(table, back):
            undone[table] = back
    if undone:
        log.warning("a run after the last finished one stopped midway; restored %s", undone)
    return undone


def _before_dead_run(store: TableStore, table: str, finished_at: int, app_id: str, txn: int) -> int | None:
    """The version of `table` before the first commit of a transaction of `app_id` past `txn` (after the
    version `finished_at` the last finished run left), or None when there is none."""
    history = sorted((c for c in store.history(table) if c.version > finished_at), key=lambda c: c.version)
    dead = [c.version for c in history if store.commit_transactions(table, c.version).get(app_id, -1) > txn]
    if not dead:
        return None
    # a RESTORE among them is an earlier recovery's (a retry that died as well), not another writer's
    # and a column description (the stage writes them after its data) changes no row: undoing it loses nothing
    mixed = [c for c in history if c.version > dead[0] and c.version not in dead
             and c.operation != "RESTORE" and c.operation not in COMMENT_OPERATIONS]
    if mixed:
        raise C360Error(
            f"{table}: a run of {app_id} stopped midway, and {mixed[0].operation} at version {mixed[0].version} by "
            f"another writer came between its commits (versions {', '.join(map(str, dead))}); c360 cannot undo the "
            f"dead run without losing that commit. Restore the table by hand (it was whole at version {dead[0] - 1}) "
            "and apply that change again, then run again")
    return dead[0] - 1


def transaction(store: TableStore, txn: Txn, undone: Iterable[str]) -> Txn:
    """`txn`, or one past the transaction version the dead run left on the `undone` tables: a retry with the
    same run id must write again what was undone, not skip it as done."""
    left = [v for t in undone if (v := store.txn_version(t, txn.app_id)) is not None]
    return txn if not left or max(left) < txn.version else Txn(txn.app_id, max(left) + 1)
