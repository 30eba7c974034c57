"""Benchmark results as data: every benchmark writes its figures here, and the docs' benchmarks page reads them.

A result is one JSON file, `bench/results/<benchmark>/<UTC time>-<commit>.json`, holding the command that made
it (absolute paths masked, so no file names a folder of the machine it ran on), the commit and whether the tree
had changes, the machine (cores, memory, Python, Java, operating system), the date and the figures. Figures are
what the script printed: a list of rows (one per size, set or contestant), each a flat-ish dict. The docs
render the latest file of each benchmark (`latest`), so a new measurement replaces the page's table without a
hand edit, and the history stays in the folder and in git.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def record(benchmark: str, figures: list[dict[str, Any]], argv: list[str] | None = None,
           folder: Path = RESULTS) -> Path:
    """Write one benchmark's figures with the command, commit, machine and date; return the file written."""
    now = dt.datetime.now(dt.timezone.utc)
    commit = commit_state()
    doc = {"benchmark": benchmark, "command": command(argv if argv is not None else sys.argv),
           "commit": commit["commit"], "tree_changed": commit["changed"], "machine": machine(),
           "date": now.isoformat(timespec="seconds"), "figures": figures}
    target = folder / benchmark / f"{now:%Y%m%dT%H%M%SZ}-{commit['commit'] or 'nogit'}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(doc, indent=1, default=str) + "\n")
    print(f"results written to {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target.name}",
          file=sys.stderr)
    return target


def command(argv: list[str]) -> str:
    """The command line as someone would type it in the project root: `python scripts/x.py …`, with any
    absolute path replaced by DIR (a work folder says nothing about the result and names this machine)."""
    script, *args = argv
    path = Path(script)
    shown = str(path.resolve().relative_to(ROOT)) if path.resolve().is_relative_to(ROOT) else path.name
    return " ".join(["python", shown, *("DIR" if os.path.isabs(a) else a for a in args)])


def machine() -> dict[str, Any]:
    """What the figures ran on: cores, memory, Python, Java and operating system."""
    return {"cores": os.cpu_count(), "memory_gib": _memory_gib(), "python": platform.python_version(),
            "java": _java(), "system": f"{platform.system()} {platform.machine()}"}


def latest(folder: Path = RESULTS) -> dict[str, dict[str, Any]]:
    """The newest result of each benchmark, by benchmark name (file names sort by time)."""
    out = {}
    for bench in sorted(p for p in folder.glob("*") if p.is_dir()):
        files = sorted(bench.glob("*.json"))
        if files:
            out[bench.name] = json.loads(files[-1].read_text())
    return out


def commit_state() -> dict[str, Any]:
    """The checkout's short commit and whether tracked files differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
    return {"commit": git("rev-parse", "--short", "HEAD") or None,
            "changed": bool(git("status", "--porcelain", "--untracked-files=no"))}


def _memory_gib() -> float | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    found = re.search(r"MemTotal:\s+(\d+) kB", text)
    return round(int(found.group(1)) / 2**20, 1) if found else None


def _java() -> str | None:
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False).stderr
    except OSError:
        return None
    found = re.search(r'version "([^"]+)"', out)
    return found.group(1) if found else None
