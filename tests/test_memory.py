"""Peak memory of the driver's Python process and its JVM, as the run summaries report it."""

from __future__ import annotations

import sys

import pytest
from pyspark.sql import SparkSession

from c360.memory import peak_memory_mib


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the JVM's peak comes from Linux's /proc")
def test_both_processes_report_a_plausible_peak(spark: SparkSession) -> None:
    peak = peak_memory_mib(spark)
    assert peak["python"] is not None and 50 < peak["python"] < 64_000
    assert peak["jvm"] is not None and 100 < peak["jvm"] < 64_000
