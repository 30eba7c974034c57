"""The lock's objects under a prefix of an S3 bucket (or any store speaking S3's API with conditional
writes), through boto3: creation is a PUT with `If-None-Match: *`, which the store refuses with 412
Precondition Failed when the object exists (409 when another conditional write of it is in flight)."""

from __future__ import annotations

from c360.lock.base import LockStore


class S3LockStore(LockStore):
    """Objects `<prefix>/<name>` in `bucket`; `client` is a boto3 S3 client (its endpoint, credentials and
    region as boto3 finds them: environment, profile, instance role; AWS_ENDPOINT_URL for another store)."""

    def __init__(self, bucket: str, prefix: str, client: object | None = None) -> None:
        if client is None:
            import boto3  # the s3 extra: only a warehouse on S3 needs it

            client = boto3.client("s3")
        self.client, self.bucket, self.prefix = client, bucket, prefix.strip("/")
        self.where = f"s3://{bucket}/{self.prefix}"

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def create(self, name: str, body: bytes) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(name), Body=body, IfNoneMatch="*")
            return True
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in (409, 412):
                return False
            raise

    def read(self, name: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(name))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise

    def replace(self, name: str, body: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(name), Body=body)

    def names(self) -> list[str]:
        found = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + "/"):
            found += [item["Key"].rsplit("/", 1)[-1] for item in page.get("Contents", [])]
        return sorted(found)

    def remove(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(name))
