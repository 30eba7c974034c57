"""Two processes race for the lock 50 times, on a local folder and on a real S3 API (moto's server on
loopback): never two holders at once, every epoch taken by one process only, and locks left by a "killed"
holder taken over once their lease ran out."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROUNDS = 50
GAP = 0.25  # seconds between rounds
LEASE = 0.6  # a dead holder's lock is free again two or three rounds later


def _race(where: str, tmp_path: Path, project_root: Path) -> list[dict]:
    starts = [time.time() + 3 + i * GAP for i in range(ROUNDS)]
    logs = [tmp_path / f"racer{i}.json" for i in range(2)]
    racers = [subprocess.Popen([sys.executable, "-m", "tests.lock.racer", where, str(log), str(LEASE),
                                *map(str, starts)], cwd=project_root) for log in logs]
    assert [r.wait(timeout=120) for r in racers] == [0, 0]
    return [dict(h, racer=i) for i, log in enumerate(logs) for h in json.loads(log.read_text())]


def _never_two_holders(held: list[dict]) -> None:
    epochs = [h["epoch"] for h in held]
    assert len(epochs) == len(set(epochs)), "an epoch was taken twice"
    spans = sorted((h["took"], h["let_go"] if not h["died"] else h["renewed"] + LEASE, h["racer"]) for h in held)
    for (_, end, who), (start, _, other) in zip(spans, spans[1:]):
        assert start >= end - 1e-3, f"racer {other} took the lock at {start} while racer {who} held it until {end}"
    rounds = {h["round"] for h in held}
    assert len(rounds) > ROUNDS / 2 and len({h["racer"] for h in held}) == 2, (len(rounds), held)
    assert any(h["died"] for h in held) and max(epochs) == len(epochs), "dead holders' locks were taken over"


@pytest.mark.parametrize("engine", ["local", "s3"])
def test_two_processes_racing_fifty_times_never_both_hold_the_lock(
        engine: str, tmp_path: Path, project_root: Path, request: pytest.FixtureRequest) -> None:
    where = str(tmp_path / "_lock") if engine == "local" else request.getfixturevalue("s3_endpoint")
    _never_two_holders(_race(where, tmp_path, project_root))
