"""Keeping the tables fast as runs pile up: compaction, the timeline clustered by customer, and vacuum.

Incremental runs MERGE a few rows into large tables. Delta rewrites every file a MERGE touches (copy on
write) and appends add small files, so file counts grow run by run and the rows of one customer's timeline
spread over more and more files. `c360 maintain` compacts every table's small files into large ones (a
commit without data changes: the change data feed and the incremental runs' change detection ignore it),
with `--zorder` rewrites the customer tables clustered by customer id (every file, so weekly rather than
daily), and vacuums files older than the retention that no version within it reads.
"""

from __future__ import annotations

import time

from c360.config import LAYERS
from c360.storage import TableStore

# tables read one customer at a time: clustering them by customer lets a read skip most files
ZORDER = {"gold.customer_interactions": ("customer_id",), "gold.customer_xref": ("customer_id",),
          "silver.identity_map": ("customer_id",)}


def maintain(store: TableStore, layers: tuple[str, ...] = LAYERS, zorder: bool = False,
             retain_hours: int = 168) -> dict[str, dict]:
    """Compact (and with `zorder`, cluster) then vacuum every table of `layers`; what each one got."""
    done: dict[str, dict] = {}
    for layer in layers:
        for table in store.list_tables(layer):
            started = time.monotonic()
            files = store.compact(table, ZORDER.get(table, ()) if zorder else ())
            vacuumed = store.vacuum(table, retention_hours=retain_hours)
            done[table] = {**files, "files_vacuumed": len(vacuumed), "seconds": round(time.monotonic() - started, 1)}
    return done
