"""`c360 sql-server` started for a test, and beeline to ask it over JDBC on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def beeline() -> Path:
    """Spark's beeline, from the pyspark wheel."""
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "beeline"


@contextmanager
def sql_server(config: Path, refresh_seconds: float = 60) -> Iterator[int]:
    """`c360 sql-server` over `config`'s warehouse on a free loopback port, until the block ends."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "c360.cli", "sql-server", "--config", str(config), "--port",
                               str(port), "--refresh-seconds", str(refresh_seconds)], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        deadline, line = time.monotonic() + 180, ""
        while "listening" not in line and time.monotonic() < deadline and server.poll() is None:
            line = server.stdout.readline()
        assert "listening" in line, "sql-server did not start"
        yield port
    finally:
        server.terminate()
        server.wait(timeout=60)
