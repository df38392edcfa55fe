"""The S3-compatible object store (`s3://bucket/prefix`): AWS S3, MinIO, Ceph RGW, moto...

boto3 finds the endpoint and the credentials in its standard places (`AWS_ENDPOINT_URL`,
`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`, or its config files), so the same
code talks to any of them. A PUT is atomic in S3 (an object appears whole or not at all) and carries
its MD5, which the server checks, so a torn or corrupted upload is refused rather than stored.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from app.storage.files.base import (
    CHUNK_BYTES,
    Download,
    FileKind,
    FileStore,
    SpooledFile,
    StoredFile,
    file_name,
    parse_name,
    sha256_hex,
)

_MISSING = {"404", "NoSuchKey", "NotFound"}


def _client_config() -> Config:
    return Config(
        # One connection per request thread that may stream a photo at the same time.
        max_pool_connections=48,
        retries={"max_attempts": 5, "mode": "standard"},
        # Only the checksums S3 requires (the MD5 below): newer default CRC trailers are not understood
        # by every S3-compatible server.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


class S3FileStore(FileStore):
    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        # A client (unlike a boto3 session) is safe to share between threads.
        self._client = client or boto3.session.Session().client("s3", config=_client_config())

    def key(self, kind: FileKind, digest: str) -> str:
        name = file_name(kind, digest)
        return f"{self.prefix}/{name}" if self.prefix else name

    def put(self, kind: FileKind, data: bytes) -> str:
        # Always written, even when present: one request either way (a HEAD first would be two for a new
        # file), and the fresh Last-Modified keeps the sweep's grace period counting from this write.
        digest = sha256_hex(data)
        self._client.put_object(
            Bucket=self.bucket,
            Key=self.key(kind, digest),
            Body=data,
            ContentType=kind.media_type,
            ContentMD5=base64.b64encode(hashlib.md5(data).digest()).decode(),  # integrity, not security
        )
        return digest

    def put_file(self, kind: FileKind, source: SpooledFile) -> str:
        # The body is the open file: botocore reads it in pieces to sign and to send (and seeks back to
        # its start to retry), so the object never sits whole in memory. The MD5 is one more chunked pass.
        md5 = hashlib.md5()  # integrity, not security
        for chunk in source.chunks():
            md5.update(chunk)
        source.file.seek(0)
        self._client.put_object(
            Bucket=self.bucket,
            Key=self.key(kind, source.digest),
            Body=source.file,
            ContentLength=source.size,
            ContentType=kind.media_type,
            ContentMD5=base64.b64encode(md5.digest()).decode(),
        )
        return source.digest

    def exists(self, kind: FileKind, digest: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=self.key(kind, digest))
        except ClientError as exc:
            if _error_code(exc) in _MISSING:
                return False
            raise
        return True

    def open(self, kind: FileKind, digest: str, *, body: bool = True) -> Download | None:
        # Without the body, a HEAD request: the object's metadata, so nothing is transferred.
        fetch = self._client.get_object if body else self._client.head_object
        try:
            answer = fetch(Bucket=self.bucket, Key=self.key(kind, digest))
        except ClientError as exc:
            if _error_code(exc) in _MISSING:
                return None
            raise
        return Download(int(answer["ContentLength"]), _chunks(answer["Body"]) if body else iter(()))

    def delete(self, kind: FileKind, digest: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=self.key(kind, digest))

    def list(self) -> Iterator[StoredFile]:
        start = f"{self.prefix}/" if self.prefix else ""
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start)
        for page in pages:
            for item in page.get("Contents", ()):
                parsed = parse_name(item["Key"][len(start) :])
                if parsed is not None:
                    yield StoredFile(parsed[0], parsed[1], int(item["Size"]), item["LastModified"])

    def close(self) -> None:
        self._client.close()


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _chunks(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK_BYTES)
    finally:
        body.close()
