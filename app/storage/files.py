"""Content-addressed files under the data dir: `files/<kind>/<aa>/<sha256>.<ext>`.

Writes go to a temporary file in the same directory, are flushed to disk and renamed into place, so a
reader (or a crash) never sees half a file. The database decides when a file is no longer referenced
(see `app.storage.repository`); this module only stores, finds and removes bytes.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from enum import StrEnum
from pathlib import Path

_SHA256 = re.compile(r"[0-9a-f]{64}")


class FileKind(StrEnum):
    PHOTO = "photo"
    OVERLAY = "overlay"

    @property
    def extension(self) -> str:
        return ".jpg" if self is FileKind.PHOTO else ".png"

    @property
    def media_type(self) -> str:
        return "image/jpeg" if self is FileKind.PHOTO else "image/png"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, kind: FileKind, digest: str) -> Path:
        if not _SHA256.fullmatch(digest):
            raise ValueError(f"not a SHA-256 hex digest: {digest!r}")
        return self.root / kind.value / digest[:2] / f"{digest}{kind.extension}"

    def put(self, kind: FileKind, data: bytes) -> str:
        """Store `data` (idempotent) and return its SHA-256."""
        digest = sha256_hex(data)
        target = self.path(kind, digest)
        if target.is_file() and target.stat().st_size == len(data):
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=kind.extension)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def exists(self, kind: FileKind, digest: str) -> bool:
        return self.path(kind, digest).is_file()

    def remove(self, kind: FileKind, digest: str) -> None:
        self.path(kind, digest).unlink(missing_ok=True)
