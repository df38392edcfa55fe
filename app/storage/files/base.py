"""What every file store does, whatever holds the bytes: the stored files' names and the interface.

A stored file is named by its content: `<kind>/<aa>/<sha256>.<ext>` (`aa`: the hash's first two hex
digits, so no directory or listing page grows without bound). The same bytes are stored once, whoever
uploads them, and a name never changes meaning: writing is idempotent, and the database decides when a
file is no longer referenced (`app.storage.repository`, `app.storage.sweep`). A store only stores,
finds, lists and removes bytes.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

_SHA256 = re.compile(r"[0-9a-f]{64}")
CHUNK_BYTES = 256 * 1024
"""Downloads and copies move this much at a time: no file is ever held whole in the server."""


class FileKind(StrEnum):
    PHOTO = "photo"
    OVERLAY = "overlay"  # a photo's annotated PNG, and a movement's deepest frame
    CLIP = "clip"  # a movement clip as uploaded (MP4, MOV, WebM...: its bytes say which)

    @property
    def extension(self) -> str:
        return {"photo": ".jpg", "overlay": ".png", "clip": ".bin"}[self.value]

    @property
    def media_type(self) -> str:
        return {"photo": "image/jpeg", "overlay": "image/png", "clip": "application/octet-stream"}[self.value]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class SpooledFile:
    """Bytes to store that are in an open file (a clip upload, spooled to disk by the multipart
    parser), never read whole: `measure` takes its size and SHA-256 a chunk at a time, and `chunks`
    reads it again from the start, so storing it holds one chunk in memory, not the file."""

    file: BinaryIO
    size: int
    digest: str

    @classmethod
    def measure(cls, file: BinaryIO) -> SpooledFile:
        file.seek(0)
        hasher, size = hashlib.sha256(), 0
        while chunk := file.read(CHUNK_BYTES):
            hasher.update(chunk)
            size += len(chunk)
        return cls(file, size, hasher.hexdigest())

    def chunks(self) -> Iterator[bytes]:
        """The bytes from the start, a chunk at a time; an error if the file changed since `measure`."""
        self.file.seek(0)
        remaining = self.size
        while remaining > 0:
            chunk = self.file.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                raise ValueError("the spooled file is shorter than when it was measured")
            remaining -= len(chunk)
            yield chunk


def check_digest(digest: str) -> str:
    """`digest` if it is a SHA-256 hex digest; a name built from anything else could leave the store."""
    if not _SHA256.fullmatch(digest):
        raise ValueError(f"not a SHA-256 hex digest: {digest!r}")
    return digest


def file_name(kind: FileKind, digest: str) -> str:
    """The file's name inside a store: `photo/ab/ab12….jpg`."""
    check_digest(digest)
    return f"{kind.value}/{digest[:2]}/{digest}{kind.extension}"


_NAME = re.compile(r"(photo|overlay|clip)/([0-9a-f]{2})/([0-9a-f]{64})\.(jpg|png|bin)")


def parse_name(name: str) -> tuple[FileKind, str] | None:
    """(kind, digest) of a stored file's name; None for anything else (never touched by a sweep)."""
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    kind, prefix, digest, extension = match.groups()
    file_kind = FileKind(kind)
    if prefix != digest[:2] or f".{extension}" != file_kind.extension:
        return None
    return file_kind, digest


@dataclass(frozen=True)
class StoredFile:
    """One file of a listing. `modified_at` (aware UTC) dates it for the sweep's grace period."""

    kind: FileKind
    digest: str
    size: int
    modified_at: datetime


@dataclass
class Download:
    """An opened stored file. `chunks` yields it a piece at a time and closes it at the end (or when
    closed early); a local store also gives its `path`, which the server can send directly."""

    size: int
    chunks: Iterator[bytes]
    path: Path | None = None

    def close(self) -> None:
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()


class FileStore(ABC):
    """The storage interface. Every implementation is safe to share between threads."""

    url: str
    """Where the files are (a directory, or `s3://bucket/prefix`), for messages."""

    @abstractmethod
    def put(self, kind: FileKind, data: bytes) -> str:
        """Store `data` under its SHA-256 and return the digest. Idempotent, and atomic: a reader (or a
        crash) sees the whole file or none of it."""

    @abstractmethod
    def put_file(self, kind: FileKind, source: SpooledFile) -> str:
        """`put` for bytes in a file (`source.digest` names them), copied a chunk at a time: the
        memory this takes is bounded by a chunk, whatever the file's size."""

    def put_any(self, kind: FileKind, data: bytes | SpooledFile) -> str:
        return self.put_file(kind, data) if isinstance(data, SpooledFile) else self.put(kind, data)

    @abstractmethod
    def exists(self, kind: FileKind, digest: str) -> bool: ...

    @abstractmethod
    def open(self, kind: FileKind, digest: str, *, body: bool = True) -> Download | None:
        """The file to stream, or None when it is not stored. `body=False` (a HEAD): only its size, from
        the store's metadata where the store has to fetch a body (object storage), and no `chunks`."""

    @abstractmethod
    def delete(self, kind: FileKind, digest: str) -> None:
        """Remove the file; removing a missing file is not an error."""

    @abstractmethod
    def list(self) -> Iterator[StoredFile]:
        """Every stored file (in no particular order); other files under the store are skipped."""

    def remove_partial_writes(self, before: datetime) -> int:
        """Remove leftovers of writes that a crash interrupted, older than `before`; their count."""
        return 0

    def read(self, kind: FileKind, digest: str) -> bytes | None:
        """The whole file (for tests and small tools; the server streams with `open`)."""
        download = self.open(kind, digest)
        if download is None:
            return None
        return b"".join(download.chunks)

    def hash_of(self, kind: FileKind, digest: str) -> str | None:
        """The SHA-256 of the stored bytes, read a chunk at a time; None when the file is not stored."""
        download = self.open(kind, digest)
        if download is None:
            return None
        hasher = hashlib.sha256()
        for chunk in download.chunks:
            hasher.update(chunk)
        return hasher.hexdigest()

    def close(self) -> None:  # noqa: B027 - most stores hold nothing to release
        """Release connections (an S3 client's pool)."""
