"""A real S3 server for the tests: moto's standalone server (`moto[server]`), a separate process on
127.0.0.1 reached over HTTP, exactly as the service reaches AWS, MinIO or Ceph (nothing is patched in the
test process). boto3 finds it through its standard variables, which `s3_environment` sets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def moto_server(log_dir: Path) -> Iterator[str]:
    """Start the server on a free port; its endpoint URL until the context ends."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log_dir / "moto.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, (log_dir / "moto.log").read_text()
                try:
                    httpx.get(f"{url}/moto-api/", timeout=1)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "the S3 server did not start"
                    time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def s3_environment(endpoint: str) -> dict[str, str]:
    """boto3's standard variables for the test server; no real account's credentials or config apply."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def new_bucket(prefix: str = "posture") -> str:
    """A new, empty bucket (the environment must point at the server): its `s3://bucket/prefix` URL."""
    name = f"posture-test-{uuid.uuid4().hex[:16]}"
    client = boto3.client("s3")
    client.create_bucket(Bucket=name)
    client.close()
    return f"s3://{name}/{prefix}"


def bucket_keys(url: str) -> list[str]:
    """Every object key under the URL's prefix (anything at all, not only stored files)."""
    bucket, _, prefix = url[len("s3://") :].partition("/")
    client = boto3.client("s3")
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", ()))
    finally:
        client.close()
