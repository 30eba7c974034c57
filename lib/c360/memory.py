"""Peak memory of a run's two processes: the Python driver (which also holds DuckDB and the driver-side
clustering) and Spark's driver JVM, for the run summary and the benchmarks."""

from __future__ import annotations

import resource
import sys
from pathlib import Path

from pyspark.sql import SparkSession


def _vm_hwm_mib(pid: int) -> int | None:
    """A process's peak resident set (Linux /proc VmHWM), None where /proc does not tell."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    return next((round(int(line.split()[1]) / 1024) for line in lines if line.startswith("VmHWM")), None)


def peak_memory_mib(spark: SparkSession) -> dict[str, int | None]:
    """{'python': peak RSS of this process, 'jvm': of the Spark driver JVM} in MiB (None: not known here)."""
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    python = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20)
    try:
        jvm_pid = int(spark._jvm.java.lang.ProcessHandle.current().pid())  # noqa: SLF001
    except Exception:  # noqa: BLE001 - a Spark Connect session has no JVM of its own here
        return {"python": python, "jvm": None}
    return {"python": python, "jvm": _vm_hwm_mib(jvm_pid)}
