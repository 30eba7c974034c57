"""The lock's stores: a local folder, and a real S3 API (moto's server on loopback) through boto3."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest

from c360.lock.base import LockStore
from c360.lock.local import LocalLockStore

BUCKET = "c360-lock"
_prefixes = count()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a free loopback port, with one bucket."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client(endpoint).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def client(endpoint: str) -> object:
    """A boto3 S3 client of the moto server (any credentials do)."""
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                        region_name="us-east-1")


def s3_store(endpoint: str, prefix: str) -> LockStore:
    from c360.lock.s3 import S3LockStore

    return S3LockStore(BUCKET, prefix, client(endpoint))


@pytest.fixture(params=["local", "s3"])
def lock_store(request: pytest.FixtureRequest, tmp_path: Path) -> LockStore:
    """An empty lock store of each engine."""
    if request.param == "local":
        return LocalLockStore(tmp_path / "_lock")
    return s3_store(request.getfixturevalue("s3_endpoint"), f"wh{next(_prefixes)}/_lock")
