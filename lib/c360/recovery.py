"""Completing a stage run that died between two of its writes: undo what it wrote, then redo the run.

A stage that writes several tables cannot commit them atomically (each Delta table has its own log). One
that dies after some of them leaves a mix of the new and the old. For silver that mix is harmful, because
the next run reads its own last output as state: the identity map as the previous ids, the match pairs as
the last run's links. A run that found the identity map already moved would record no merge and write no
redirect.

So each run records the versions of its tables when it finished (its summary's `outputs`), and the next run
first restores every table that has data commits after that version (maintenance commits, such as a
compaction, a vacuum or a property, do not count). It then takes the same changes again from the state the
last finished run left. The run's Delta transaction version must then pass the dead run's, because a retry
with the same run id would otherwise skip its writes as already done.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from c360.storage import Commit, TableStore, Txn

log = logging.getLogger(__name__)
# operations that leave a table's rows as they were
MAINTENANCE = ("OPTIMIZE", "VACUUM", "SET TBLPROPERTIES")


def finished_versions(store: TableStore, tables: Iterable[str]) -> dict[str, int]:
    """The current version of each of `tables` that exists: what a run records when it has finished."""
    return {t: v for t in tables if (v := store.version(t)) is not None}


def _maintenance(commit: Commit) -> bool:
    return commit.operation.startswith(MAINTENANCE)


def undo_unfinished(store: TableStore, finished: Mapping[str, int]) -> dict[str, int]:
    """Restore each table of `finished` (the last finished run's versions) that has data commits since:
    those of a run that died midway. Returns {table: version restored to}."""
    undone = {}
    for table, version in sorted(finished.items()):
        if store.exists(table) and store.refused_since(table, version, _maintenance) is not None:
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
