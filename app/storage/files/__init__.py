"""Content-addressed photos and overlays behind one interface (`FileStore`), on the filesystem
(`LocalFileStore`, the default) or in S3-compatible object storage (`S3FileStore`), chosen by one
setting (`POSTURE_STORAGE_URL`): `open_store(url)`."""

from __future__ import annotations

from pathlib import Path

from app.storage.files.base import (
    CHUNK_BYTES,
    Download,
    FileKind,
    FileStore,
    SpooledFile,
    StoredFile,
    check_digest,
    file_name,
    parse_name,
    sha256_hex,
)
from app.storage.files.local import LocalFileStore

__all__ = [
    "CHUNK_BYTES",
    "Download",
    "FileKind",
    "FileStore",
    "LocalFileStore",
    "SpooledFile",
    "StoredFile",
    "check_digest",
    "file_name",
    "open_store",
    "parse_name",
    "sha256_hex",
]


def open_store(location: str | Path) -> FileStore:
    """The store at `location`: `s3://bucket[/prefix]`, or a directory path."""
    text = str(location)
    if text.startswith("s3://"):
        bucket, _, prefix = text[len("s3://") :].partition("/")
        if not bucket:
            raise ValueError(f"no bucket in storage URL {text!r} (expected s3://bucket/prefix)")
        from app.storage.files.s3 import S3FileStore  # boto3 is loaded only for object storage

        return S3FileStore(bucket, prefix)
    if "://" in text:
        raise ValueError(f"unsupported storage URL {text!r}: use a directory path or s3://bucket/prefix")
    return LocalFileStore(Path(text))
