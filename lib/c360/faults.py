"""Named places where a test kills this process, to prove what a crash there leaves (see tests/test_crashes.py).

`C360_KILL_AT` names one place:
  write:<table>[#n]   just before this process's n-th commit to <table> (`*`: to any table): what a crash
                      between two commits leaves;
  files:<table>       as soon as a new data file appears in <table>'s folder: a crash in the middle of one
                      write the engine does in a single call (delta-rs runs a MERGE in Rust, out of reach of
                      any Python hook);
  stage:<name>        when stage <name> has finished, before the next starts.
The process group gets SIGKILL (the JVM with it): no handler, no `finally`, no flush, like a machine losing
power. Unset, which is always outside tests, each place costs one environment lookup.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

ENV = "C360_KILL_AT"
_passes: Counter = Counter()


def _target() -> tuple[str, str, int] | None:
    """(kind, name, n) of C360_KILL_AT, or None."""
    spec = os.environ.get(ENV)
    if not spec:
        return None
    kind, _, rest = spec.partition(":")
    name, _, nth = rest.partition("#")
    return kind, name, int(nth or 1)


def _die(why: str) -> None:
    os.write(2, f"c360: {ENV}: killed {why}\n".encode())
    os.killpg(os.getpgrp(), signal.SIGKILL)


def reached(kind: str, name: str) -> None:
    """Die here when C360_KILL_AT names this place (and this is its n-th pass)."""
    target = _target()
    if target is None or target[0] != kind or target[1] not in (name, "*"):
        return
    _passes[target[1]] += 1
    if _passes[target[1]] == target[2]:
        _die(f"at {kind}:{name} (pass {target[2]})")


def _data_files(folder: Path) -> set[str]:
    return {str(p) for p in folder.rglob("*.parquet") if "_delta_log" not in p.parts} if folder.exists() else set()


def watch(path_of: Callable[[str], str]) -> None:
    """With C360_KILL_AT=files:<table>, start a thread that dies on the first data file <table>'s folder gains
    (`path_of`: table -> its folder, a local path or file: URI)."""
    target = _target()
    if target is None or target[0] != "files":
        return
    folder = Path(path_of(target[1]).removeprefix("file:"))
    before = _data_files(folder)

    def poll() -> None:
        while not (_data_files(folder) - before):
            time.sleep(0.02)
        _die(f"on the first new data file of {target[1]}")

    threading.Thread(target=poll, name="c360-faults", daemon=True).start()
