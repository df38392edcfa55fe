"""The filesystem store: `<root>/<kind>/<aa>/<sha256>.<ext>` (the default: `<data dir>/files`).

Writes go to a temporary file in the target's directory, are flushed to disk and renamed into place,
so a reader (or a crash) never sees half a file; a crash before the rename leaves a `.tmp-*` file,
which the sweep removes (`remove_partial_writes`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

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

_TEMP_PREFIX = ".tmp-"


class LocalFileStore(FileStore):
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.url = str(self.root)

    def path(self, kind: FileKind, digest: str) -> Path:
        return self.root / file_name(kind, digest)

    def put(self, kind: FileKind, data: bytes) -> str:
        digest = sha256_hex(data)
        self._write(kind, digest, len(data), lambda handle: handle.write(data))
        return digest

    def put_file(self, kind: FileKind, source: SpooledFile) -> str:
        def copy(handle: BinaryIO) -> None:
            for chunk in source.chunks():
                handle.write(chunk)

        self._write(kind, source.digest, source.size, copy)
        return source.digest

    def _write(self, kind: FileKind, digest: str, size: int, write: Callable[[BinaryIO], object]) -> None:
        target = self.path(kind, digest)
        try:
            if target.stat().st_size == size:
                # Already stored. A fresh time keeps the sweep's grace period counting from this write.
                os.utime(target)
                return
        except FileNotFoundError:
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=_TEMP_PREFIX, suffix=kind.extension)
            try:
                with os.fdopen(fd, "wb") as handle:
                    write(handle)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, target)
                return
            except FileNotFoundError:
                # A sweep with no grace period took the temporary file for a crashed write's: again.
                continue
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        raise FileNotFoundError(f"could not write {target}: its temporary file kept disappearing")

    def exists(self, kind: FileKind, digest: str) -> bool:
        return self.path(kind, digest).is_file()

    def open(self, kind: FileKind, digest: str, *, body: bool = True) -> Download | None:
        # `body` changes nothing here: opening is a stat, and the server sends the file from its path.
        path = self.path(kind, digest)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return None
        return Download(size, _chunks(path), path)

    def delete(self, kind: FileKind, digest: str) -> None:
        self.path(kind, digest).unlink(missing_ok=True)

    def list(self) -> Iterator[StoredFile]:
        for kind in FileKind:
            for entry in _files_under(self.root / kind.value):
                name = entry.path[len(str(self.root)) + 1 :].replace(os.sep, "/")
                parsed = parse_name(name)
                if parsed is None:
                    continue
                try:
                    stat = entry.stat()
                except FileNotFoundError:  # removed since the directory was read
                    continue
                modified = datetime.fromtimestamp(stat.st_mtime, UTC)
                yield StoredFile(parsed[0], parsed[1], stat.st_size, modified)

    def remove_partial_writes(self, before: datetime) -> int:
        removed = 0
        for kind in FileKind:
            for entry in _files_under(self.root / kind.value):
                if not entry.name.startswith(_TEMP_PREFIX):
                    continue
                try:
                    if datetime.fromtimestamp(entry.stat().st_mtime, UTC) < before:
                        os.unlink(entry.path)
                        removed += 1
                except FileNotFoundError:  # removed by another sweep
                    pass
        return removed


def _files_under(directory: Path) -> Iterator[os.DirEntry[str]]:
    """The files of `directory`'s subdirectories (the `aa/` level)."""
    try:
        subdirectories = [e for e in os.scandir(directory) if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return
    for sub in subdirectories:
        try:
            with os.scandir(sub.path) as entries:
                yield from (e for e in entries if e.is_file(follow_symlinks=False))
        except FileNotFoundError:
            continue


def _chunks(path: Path) -> Iterator[bytes]:
    """The file a chunk at a time, opened on the first (so a download never read holds no handle)."""
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk
